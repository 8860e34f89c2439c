"""The Jira activities other than Create Issue and Get Issue, on both flavours.

Each function validates a request against the stored state, changes the state
and returns what the view needs, or raises IssueRequestError with Jira's status
and messages. Callers hold the store lock.

Messages for a missing issue, an invalid transition and a project key that
breaks the key pattern follow Jira's wording. The permission messages, the
mypermissions errors and the Create Project lead and template messages are the
sandbox's own and unverified.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.files.uploadedfile import UploadedFile

from sandbox.jira_issues import (
    INVALID_PAYLOAD,
    AssigneeError,
    IssueRequestError,
    cannot_set,
    find_site_user,
    find_visible_issue,
    merge_update_operations,
    resolve_assignee,
    user_reference_key,
    validate_duedate,
    validate_labels,
    validate_priority,
    validate_assignee,
    validate_rich_text,
    validate_summary,
)
from sandbox.jira_workflow import Transition
from sandbox.state import (
    GLOBAL_PERMISSIONS,
    PROJECT_PERMISSIONS,
    Attachment,
    Comment,
    Issue,
    Project,
    SandboxState,
    Site,
    User,
)

PROJECT_KEY_PATTERN = re.compile(r"[A-Z][A-Z0-9]+")
PROJECT_KEY_MAX_LENGTH = 10
PROJECT_NAME_MAX_LENGTH = 80
PROJECT_TYPES = ("software", "service_desk", "business")
# Template keys and the project type each makes.
PROJECT_TEMPLATES = {
    "com.pyxis.greenhopper.jira:gh-simplified-agility-kanban": "software",
    "com.pyxis.greenhopper.jira:gh-simplified-agility-scrum": "software",
    "com.pyxis.greenhopper.jira:gh-simplified-basic": "software",
    "com.pyxis.greenhopper.jira:gh-simplified-kanban-classic": "software",
    "com.pyxis.greenhopper.jira:gh-simplified-scrum-classic": "software",
    "com.atlassian.servicedesk:simplified-it-service-management": "service_desk",
    "com.atlassian.jira-core-project-templates:jira-core-simplified-task-tracking": (
        "business"
    ),
    "com.atlassian.jira-core-project-templates:jira-core-project-management": (
        "business"
    ),
}
EDITABLE_FIELDS = frozenset(
    {"summary", "description", "labels", "priority", "assignee", "duedate"}
)
TRANSITION_SCREEN_FIELDS = frozenset({"resolution"})
COMMENT_MAX_LENGTH = 32767

NO_ASSIGN_PERMISSION = "You do not have permission to assign issues."
NO_EDIT_PERMISSION = "You do not have permission to edit issues in this project."
NO_DELETE_PERMISSION = "You do not have permission to delete issues in this project."
NO_COMMENT_PERMISSION = "You do not have the permission to comment on this issue."
NO_ATTACH_PERMISSION = (
    "You do not have permission to create attachments for this issue."
)
NO_TRANSITION_PERMISSION = "You do not have permission to transition this issue."
NO_ADMIN_PERMISSION = "You must have global administrator rights to create a project."
NOTIFY_NEEDS_ADMIN = (
    "To discard the user notification either admin or project admin permissions "
    "are required."
)


def _project_of(site: Site, issue: Issue) -> Project:
    project = site.find_project(issue.project_id)
    assert project is not None
    return project


def _require(
    project: Project, user: User, permission: str, status: int, message: str
) -> None:
    if not project.user_has(user.account_id, permission):
        raise IssueRequestError(status, [message])


def _require_object(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise IssueRequestError(400, [INVALID_PAYLOAD])
    return payload


# Add Assignee


def assign_issue(
    state: SandboxState, site: Site, user: User, id_or_key: str, payload: Any
) -> None:
    """Set or clear the assignee; "-1" picks the project default.

    Cloud answers 403 when the caller may not assign; Data Center 401.
    """
    issue = find_visible_issue(site, user, id_or_key)
    project = _project_of(site, issue)
    _require(
        project,
        user,
        "ASSIGN_ISSUES",
        403 if site.is_cloud else 401,
        NO_ASSIGN_PERMISSION,
    )
    body = _require_object(payload)
    key = user_reference_key(site)
    if key not in body:
        raise IssueRequestError(
            400, [], {"assignee": f'Specify the assignee as {{"{key}": "..."}}.'}
        )
    identifier = body[key]
    if identifier is None:
        assignee = None
    elif not isinstance(identifier, str) or not identifier:
        raise IssueRequestError(400, [], {"assignee": f"{key} must be a string."})
    else:
        outcome = resolve_assignee(state, site, project, identifier)
        if isinstance(outcome, AssigneeError):
            raise IssueRequestError(400, [], {"assignee": outcome.message})
        assignee = outcome
    issue.assignee_account_id = assignee
    issue.updated = state.now()


# Add Attachment


def attach_files(
    state: SandboxState,
    site: Site,
    user: User,
    id_or_key: str,
    uploads: list[UploadedFile],
    folder: Path,
) -> list[Attachment]:
    """Store uploaded files on the issue and return the new attachments.

    Every file is checked before any is stored, so a rejected request attaches
    nothing. Cloud answers 413 for a file over the site's limit, Data Center 404.
    """
    issue = find_visible_issue(site, user, id_or_key)
    project = _project_of(site, issue)
    _require(project, user, "CREATE_ATTACHMENTS", 403, NO_ATTACH_PERMISSION)
    if not uploads:
        raise IssueRequestError(
            400, ["Send each file as a multipart/form-data part named file."]
        )
    for upload in uploads:
        if (upload.size or 0) > site.attachment_max_bytes:
            raise IssueRequestError(
                413 if site.is_cloud else 404,
                [
                    f"The file {upload.name} is too large: the limit is "
                    f"{site.attachment_max_bytes} bytes."
                ],
            )

    now = state.now()
    attachments = []
    for upload in uploads:
        attachment_id = str(site.next_attachment_id)
        site.next_attachment_id += 1
        digest = hashlib.sha256()
        size = 0
        with open(folder / f"{site.cloud_id}-{attachment_id}", "wb") as stored:
            for chunk in upload.chunks():
                digest.update(chunk)
                size += len(chunk)
                stored.write(chunk)
        attachment = Attachment(
            id=attachment_id,
            filename=upload.name or "attachment",
            size=size,
            mime_type=upload.content_type or "application/octet-stream",
            sha256=digest.hexdigest(),
            author_account_id=user.account_id,
            created=now,
        )
        issue.attachments.append(attachment)
        attachments.append(attachment)
    issue.updated = now
    return attachments


# Add Comments


def add_comment(
    state: SandboxState, site: Site, user: User, id_or_key: str, payload: Any
) -> tuple[Issue, Comment]:
    """Add a comment: an ADF body on Cloud, a string on Data Center."""
    issue = find_visible_issue(site, user, id_or_key)
    project = _project_of(site, issue)
    _require(project, user, "ADD_COMMENTS", 403, NO_COMMENT_PERMISSION)
    body = _require_object(payload)
    comment_body = _comment_body(site, body.get("body"))
    visibility = body.get("visibility")
    if visibility is not None and not (
        isinstance(visibility, dict)
        and visibility.get("type") in ("role", "group")
        and isinstance(visibility.get("value") or visibility.get("identifier"), str)
    ):
        raise IssueRequestError(
            400, [], {"visibility": "Give visibility as {type: role|group, value}."}
        )
    comment = Comment(
        id=str(site.next_comment_id),
        author_account_id=user.account_id,
        body=comment_body,
        created=state.now(),
        visibility=visibility,
    )
    site.next_comment_id += 1
    issue.comments.append(comment)
    issue.updated = comment.created
    return issue, comment


def _comment_body(site: Site, value: Any) -> Any:
    errors: dict[str, str] = {}
    if value is None or value == "":
        raise IssueRequestError(400, [], {"comment": "Comment body can not be empty!"})
    checked = validate_rich_text(site, "comment", {"comment": value}, errors)
    if errors:
        raise IssueRequestError(400, [], errors)
    if isinstance(checked, str) and len(checked) > COMMENT_MAX_LENGTH:
        raise IssueRequestError(400, [], {"comment": "The entered text is too long."})
    return checked


# Delete Issue


def delete_issue(
    site: Site, user: User, id_or_key: str, delete_subtasks: str | None, folder: Path
) -> None:
    """Delete an issue, and its sub-tasks when deleteSubtasks is "true"."""
    issue = find_visible_issue(site, user, id_or_key)
    project = _project_of(site, issue)
    _require(project, user, "DELETE_ISSUES", 403, NO_DELETE_PERMISSION)
    subtasks = [i for i in site.issues.values() if i.parent_id == issue.id]
    if subtasks and (delete_subtasks or "false").lower() != "true":
        raise IssueRequestError(
            400,
            [
                f"The issue '{issue.key}' has subtasks. To delete it, set the "
                "deleteSubtasks parameter to true."
            ],
        )
    for doomed in [*subtasks, issue]:
        for attachment in doomed.attachments:
            (folder / f"{site.cloud_id}-{attachment.id}").unlink(missing_ok=True)
        del site.issues[doomed.id]


# Update Issue


def update_issue(
    state: SandboxState,
    site: Site,
    user: User,
    id_or_key: str,
    payload: Any,
    notify_users: str | None,
) -> Issue:
    """Apply "fields" and "update" to an issue, ignoring any "transition"."""
    issue = find_visible_issue(site, user, id_or_key)
    project = _project_of(site, issue)
    _require(project, user, "EDIT_ISSUES", 403, NO_EDIT_PERMISSION)
    if (notify_users or "true").lower() == "false" and not (
        "ADMINISTER" in user.global_permissions
        or project.user_has(user.account_id, "ADMINISTER_PROJECTS")
    ):
        raise IssueRequestError(403, [NOTIFY_NEEDS_ADMIN])

    body = _require_object(payload)
    fields = body.get("fields", {})
    update = body.get("update", {})
    if not isinstance(fields, dict) or not isinstance(update, dict):
        raise IssueRequestError(400, [INVALID_PAYLOAD])
    errors: dict[str, str] = {}
    merged = merge_update_operations(
        fields,
        update,
        errors,
        base={"labels": list(issue.labels)},
        settable=EDITABLE_FIELDS,
    )
    changed = (set(fields) | set(update)) - set(errors)
    for name in changed:
        if name not in EDITABLE_FIELDS:
            errors[name] = cannot_set(name)

    values: dict[str, Any] = {}
    if "summary" in changed:
        values["summary"] = validate_summary(merged.get("summary"), errors)
    if "description" in changed:
        values["description"] = validate_rich_text(site, "description", merged, errors)
    if "labels" in changed:
        values["labels"] = validate_labels(merged.get("labels"), errors)
    if "priority" in changed:
        values["priority_id"] = validate_priority(merged.get("priority"), errors)
    if "duedate" in changed:
        values["duedate"] = validate_duedate(merged.get("duedate"), errors)
    if "assignee" in changed:
        values["assignee_account_id"] = validate_assignee(
            state, site, project, user, {"assignee": merged.get("assignee")}, errors
        )
    if errors:
        raise IssueRequestError(400, [], errors)

    for attribute, value in values.items():
        setattr(issue, attribute, value)
    issue.updated = state.now()
    return issue


# Update Issue Status


def list_transitions(
    site: Site, user: User, id_or_key: str, transition_id: str | None
) -> tuple[Issue, list[Transition]]:
    """Return the transitions the user may perform now; none without the permission."""
    issue = find_visible_issue(site, user, id_or_key)
    project = _project_of(site, issue)
    if not project.user_has(user.account_id, "TRANSITION_ISSUES"):
        return issue, []
    transitions = project.workflow.available_from(issue.status_id)
    if transition_id:
        transitions = [t for t in transitions if t.id == transition_id]
    return issue, transitions


def transition_issue(
    state: SandboxState, site: Site, user: User, id_or_key: str, payload: Any
) -> Issue:
    """Perform a transition; an optional comment goes in update.comment."""
    issue = find_visible_issue(site, user, id_or_key)
    project = _project_of(site, issue)
    body = _require_object(payload)
    reference = body.get("transition")
    transition_id = reference.get("id") if isinstance(reference, dict) else None
    if isinstance(transition_id, int) and not isinstance(transition_id, bool):
        transition_id = str(transition_id)
    if not isinstance(transition_id, str) or not transition_id:
        raise IssueRequestError(
            400, [], {"transition": "Missing 'transition' identifier"}
        )
    _require(project, user, "TRANSITION_ISSUES", 400, NO_TRANSITION_PERMISSION)
    available = {t.id: t for t in project.workflow.available_from(issue.status_id)}
    transition = available.get(transition_id)
    if transition is None:
        raise IssueRequestError(
            400, [f"Transition id '{transition_id}' is not valid for this issue."]
        )

    errors: dict[str, str] = {}
    fields = body.get("fields") or {}
    update = body.get("update") or {}
    if not isinstance(fields, dict) or not isinstance(update, dict):
        raise IssueRequestError(400, [INVALID_PAYLOAD])
    for name in fields:
        if name not in TRANSITION_SCREEN_FIELDS:
            errors[name] = cannot_set(name)
    comments = _transition_comments(site, update, errors)
    if errors:
        raise IssueRequestError(400, [], errors)

    now = state.now()
    for comment_body in comments:
        issue.comments.append(
            Comment(
                id=str(site.next_comment_id),
                author_account_id=user.account_id,
                body=comment_body,
                created=now,
            )
        )
        site.next_comment_id += 1
    issue.status_id = transition.to_status_id
    issue.updated = now
    return issue


def _transition_comments(
    site: Site, update: dict[str, Any], errors: dict[str, str]
) -> list[Any]:
    comments: list[Any] = []
    for name, operations in update.items():
        if name != "comment":
            errors[name] = cannot_set(name)
            continue
        if not isinstance(operations, list):
            errors["comment"] = "Operations on 'comment' must be a list."
            continue
        for operation in operations:
            added = operation.get("add") if isinstance(operation, dict) else None
            if not isinstance(added, dict):
                errors["comment"] = 'Only {"add": {"body": ...}} is supported.'
                break
            checked = validate_rich_text(
                site, "comment", {"comment": added.get("body")}, errors
            )
            if checked is None:
                errors.setdefault("comment", "Comment body can not be empty!")
                break
            comments.append(checked)
    return comments


# Create Project


@dataclass(frozen=True)
class ProjectDetails:
    """Validated Create Project body."""

    key: str
    name: str
    lead: User
    project_type_key: str
    template_key: str | None
    description: str
    assignee_type: str


def validate_project(
    state: SandboxState, site: Site, user: User, payload: Any
) -> ProjectDetails:
    """Validate a Create Project body; raise IssueRequestError if it is invalid.

    Only holders of the ADMINISTER global permission may create projects (403).
    Cloud names the lead by leadAccountId (or the deprecated lead), Data Center
    by lead, a username.
    """
    if "ADMINISTER" not in user.global_permissions:
        raise IssueRequestError(403, [NO_ADMIN_PERMISSION])
    body = _require_object(payload)
    errors: dict[str, str] = {}

    key = body.get("key")
    if not isinstance(key, str) or not key:
        errors["projectKey"] = "You must specify a unique project key."
    elif len(key) > PROJECT_KEY_MAX_LENGTH:
        errors["projectKey"] = (
            f"The project key must not exceed {PROJECT_KEY_MAX_LENGTH} characters "
            "in length."
        )
    elif not PROJECT_KEY_PATTERN.fullmatch(key):
        errors["projectKey"] = (
            "Project keys must start with an uppercase letter, followed by one or "
            "more uppercase alphanumeric characters."
        )
    elif key in site.projects:
        errors["projectKey"] = (
            f"Project '{site.projects[key].name}' uses this project key."
        )

    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        errors["projectName"] = "You must specify a valid project name."
    elif len(name) > PROJECT_NAME_MAX_LENGTH:
        errors["projectName"] = (
            f"The project name must not exceed {PROJECT_NAME_MAX_LENGTH} characters."
        )
    elif any(p.name.lower() == name.lower() for p in site.projects.values()):
        errors["projectName"] = "A project with that name already exists."

    lead = _project_lead(state, site, body, errors)
    project_type, template = _project_type(body, errors)
    assignee_type = body.get("assigneeType", "UNASSIGNED")
    if assignee_type not in ("PROJECT_LEAD", "UNASSIGNED"):
        errors["assigneeType"] = "Invalid assignee type."
    description = body.get("description") or ""
    if not isinstance(description, str):
        errors["description"] = "The description must be a string."

    if errors:
        raise IssueRequestError(400, [], errors)
    assert isinstance(key, str) and isinstance(name, str) and lead is not None
    return ProjectDetails(
        key=key,
        name=name,
        lead=lead,
        project_type_key=project_type or "software",
        template_key=template,
        description=description,
        assignee_type=assignee_type,
    )


def _project_lead(
    state: SandboxState, site: Site, body: dict[str, Any], errors: dict[str, str]
) -> User | None:
    if site.is_cloud:
        identifier = body.get("leadAccountId", body.get("lead"))
    else:
        identifier = body.get("lead")
    lead = None
    if isinstance(identifier, str) and identifier:
        lead = find_site_user(state, site, identifier)
    if lead is None:
        errors["projectLead"] = "You must specify a valid project lead."
    return lead


def _project_type(
    body: dict[str, Any], errors: dict[str, str]
) -> tuple[str | None, str | None]:
    project_type = body.get("projectTypeKey")
    template = body.get("projectTemplateKey")
    if template is not None:
        implied = PROJECT_TEMPLATES.get(template) if isinstance(template, str) else None
        if implied is None:
            errors["projectTemplateKey"] = f"Invalid project template key: {template}"
            return None, None
        if project_type is not None and project_type != implied:
            errors["projectTypeKey"] = (
                f"The project type {project_type} does not match the template, "
                f"which makes {implied} projects."
            )
            return None, None
        return implied, template
    if project_type is None:
        errors["projectTypeKey"] = "A project type or a project template is required."
        return None, None
    if project_type not in PROJECT_TYPES:
        errors["projectTypeKey"] = f"Invalid project type key: {project_type}"
        return None, None
    return project_type, None


def create_project(site: Site, creator: User, details: ProjectDetails) -> Project:
    """Store a validated project; its lead and creator get every project permission."""
    granted = set(PROJECT_PERMISSIONS)
    project = Project(
        id=str(site.next_project_id),
        key=details.key,
        name=details.name,
        permissions={
            details.lead.account_id: set(granted),
            creator.account_id: set(granted),
        },
        lead_account_id=details.lead.account_id,
        project_type_key=details.project_type_key,
        template_key=details.template_key,
        description=details.description,
        assignee_type=details.assignee_type,
    )
    site.next_project_id += 1
    site.projects[project.key] = project
    return project


# mypermissions and users


PERMISSION_IDS = {
    key: str(index)
    for index, key in enumerate((*GLOBAL_PERMISSIONS, *PROJECT_PERMISSIONS), start=1)
}


def my_permissions(
    site: Site, user: User, query: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """Return mypermissions' map of permission key to its description and grant.

    Cloud needs the permissions parameter and answers only those keys; Data
    Center answers every permission. Without a project or issue, a project
    permission is held when any project grants it.
    """
    if site.is_cloud:
        requested = [k.strip() for k in query.get("permissions", "").split(",")]
        requested = [k for k in requested if k]
        if not requested:
            raise IssueRequestError(
                400, ["The permissions query parameter is required."]
            )
        unknown = [k for k in requested if k not in PERMISSION_IDS]
        if unknown:
            raise IssueRequestError(
                400, [f"Unrecognized permission keys: {', '.join(unknown)}"]
            )
    else:
        requested = list(PERMISSION_IDS)

    projects = _permission_context(site, user, query)
    return {
        key: {
            "id": PERMISSION_IDS[key],
            "key": key,
            "name": key.replace("_", " ").title(),
            "type": "GLOBAL" if key in GLOBAL_PERMISSIONS else "PROJECT",
            "description": f"Holds the {key} permission.",
            "havePermission": _holds(user, key, projects),
        }
        for key in requested
    }


def _permission_context(
    site: Site, user: User, query: dict[str, str]
) -> Iterable[Project]:
    if query.get("issueKey") or query.get("issueId"):
        issue = find_visible_issue(
            site, user, query.get("issueKey") or query["issueId"]
        )
        return [_project_of(site, issue)]
    reference = query.get("projectKey") or query.get("projectId")
    if reference:
        project = site.find_project(reference)
        if project is None or not project.user_has(user.account_id, "BROWSE_PROJECTS"):
            raise IssueRequestError(
                404, [f"No project could be found with key or id '{reference}'."]
            )
        return [project]
    return list(site.projects.values())


def _holds(user: User, key: str, projects: Iterable[Project]) -> bool:
    if key in GLOBAL_PERMISSIONS:
        return key in user.global_permissions
    return any(project.user_has(user.account_id, key) for project in projects)


def assignable_users(
    state: SandboxState, site: Site, user: User, query: dict[str, str]
) -> list[User]:
    """Return the users who may be assigned issues of the project or issue."""
    if query.get("issueKey") or query.get("issueId"):
        issue = find_visible_issue(
            site, user, query.get("issueKey") or query["issueId"]
        )
        project = _project_of(site, issue)
    elif query.get("project"):
        found = site.find_project(query["project"])
        if found is None or not found.user_has(user.account_id, "BROWSE_PROJECTS"):
            raise IssueRequestError(
                404, [f"No project could be found with key '{query['project']}'."]
            )
        project = found
    else:
        raise IssueRequestError(
            400, ["Specify either the project or the issueKey parameter."]
        )
    text = (query.get("query") or query.get("username") or "").lower()
    wanted_account = query.get("accountId")
    matches = []
    for candidate in state.users.values():
        if site.cloud_id not in candidate.sites:
            continue
        if not project.user_has(candidate.account_id, "ASSIGNABLE_USER"):
            continue
        if wanted_account and candidate.account_id != wanted_account:
            continue
        searchable = " ".join(
            [candidate.display_name, candidate.email, candidate.username or ""]
        ).lower()
        if text and text not in searchable:
            continue
        matches.append(candidate)
    return matches
