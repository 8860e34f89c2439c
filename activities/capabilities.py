"""Which of the nine activities a token may run, from Jira permissions and scopes."""

import hashlib
from dataclasses import dataclass
from typing import TypedDict

from django.core.cache import cache

from activities import jira

CACHE_SECONDS = 300
# Data Center scopes are hierarchical: each includes the ones below it.
_DC_SCOPE_RANK = {"READ": 1, "WRITE": 2, "ADMIN": 3, "SYSTEM_ADMIN": 4}


@dataclass(frozen=True)
class Activity:
    name: str
    permissions: tuple[str, ...]
    cloud_scope: str
    dc_scope: str


ACTIVITIES: dict[str, Activity] = {
    "add_assignee": Activity(
        "Add Assignee", ("BROWSE_PROJECTS", "ASSIGN_ISSUES"), "write:jira-work", "WRITE"
    ),
    "add_attachment": Activity(
        "Add Attachment", ("BROWSE_PROJECTS", "CREATE_ATTACHMENTS"), "write:jira-work",
        "WRITE",
    ),
    "add_comments": Activity(
        "Add Comments", ("BROWSE_PROJECTS", "ADD_COMMENTS"), "write:jira-work", "WRITE"
    ),
    "create_issue": Activity(
        "Create Issue", ("BROWSE_PROJECTS", "CREATE_ISSUES"), "write:jira-work", "WRITE"
    ),
    "create_project": Activity(
        "Create Project", ("ADMINISTER",), "manage:jira-configuration", "ADMIN"
    ),
    "delete_issue": Activity(
        "Delete Issue", ("BROWSE_PROJECTS", "DELETE_ISSUES"), "write:jira-work", "WRITE"
    ),
    "get_issue_details": Activity(
        "Get Issue Details", ("BROWSE_PROJECTS",), "read:jira-work", "READ"
    ),
    "update_issue": Activity(
        "Update Issue", ("BROWSE_PROJECTS", "EDIT_ISSUES"), "write:jira-work", "WRITE"
    ),
    "update_issue_status": Activity(
        "Update Issue Status", ("BROWSE_PROJECTS", "TRANSITION_ISSUES"),
        "write:jira-work", "WRITE",
    ),
}
ALL_PERMISSIONS = sorted({p for activity in ACTIVITIES.values() for p in activity.permissions})


class Capability(TypedDict):
    activity: str
    name: str
    allowed: bool
    missing_permissions: list[str]
    missing_scope: str | None


def _scope_granted(site: jira.JiraSite, granted: set[str], activity: Activity) -> bool:
    if not granted:
        # A token pasted by hand has no recorded scopes; Jira decides at call time.
        return True
    if site.is_cloud:
        return activity.cloud_scope in granted
    best = max((_DC_SCOPE_RANK.get(scope, 0) for scope in granted), default=0)
    return best >= _DC_SCOPE_RANK[activity.dc_scope]


def token_capabilities(
    site: jira.JiraSite, *, token_key: str, granted_scopes: str, project_key: str | None
) -> list[Capability]:
    """Return, for each activity, whether the token may run it in the project.

    Results are cached for five minutes per token, grant and project because
    Atlassian counts mypermissions as an expensive call.
    """
    scopes = set(granted_scopes.split())
    grant = hashlib.sha256(granted_scopes.encode()).hexdigest()[:16]
    cache_key = f"capabilities:{token_key}:{grant}:{project_key or '-'}"
    held = cache.get(cache_key)
    if held is None:
        held = jira.my_permissions(site, permissions=ALL_PERMISSIONS, project_key=project_key)
        cache.set(cache_key, held, CACHE_SECONDS)

    capabilities = []
    for key, activity in ACTIVITIES.items():
        missing = [p for p in activity.permissions if not held.get(p, False)]
        scope_ok = _scope_granted(site, scopes, activity)
        capabilities.append(
            Capability(
                activity=key,
                name=activity.name,
                allowed=not missing and scope_ok,
                missing_permissions=missing,
                missing_scope=None if scope_ok else (
                    activity.cloud_scope if site.is_cloud else activity.dc_scope
                ),
            )
        )
    return capabilities
