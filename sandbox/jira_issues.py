"""Validation and storage of issues created through Jira REST v3.

Messages for a missing summary, project or issue type, an invalid issue type,
unknown fields and a non-ADF description use Jira Cloud's wording. The summary
length, summary newline, date and invalid-payload messages are recalled from Jira
Cloud responses but unverified. Label, priority, assignee, parent and
update-operation messages are the sandbox's own.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from sandbox.state import (
    Issue,
    IssueType,
    Project,
    SandboxState,
    Site,
    User,
)

SUMMARY_MAX_LENGTH = 255
LABEL_MAX_LENGTH = 255
# ADF nesting deeper than this is rejected rather than walked.
ADF_MAX_DEPTH = 64

PRIORITIES = {
    "1": "Highest",
    "2": "High",
    "3": "Medium",
    "4": "Low",
    "5": "Lowest",
}
DEFAULT_PRIORITY_ID = "3"

FIELD_NAMES = {
    "summary": "Summary",
    "description": "Description",
    "issuetype": "Issue Type",
    "project": "Project",
    "status": "Status",
    "reporter": "Reporter",
    "assignee": "Assignee",
    "labels": "Labels",
    "priority": "Priority",
    "duedate": "Due date",
    "created": "Created",
    "updated": "Updated",
    "parent": "Parent",
    "comment": "Comment",
    "attachment": "Attachment",
}
SETTABLE_FIELDS = frozenset(
    {
        "project",
        "issuetype",
        "summary",
        "description",
        "labels",
        "priority",
        "assignee",
        "duedate",
        "parent",
    }
)

INVALID_PROJECT = "Specify a valid project ID or key"
# NOTE: whether Jira Cloud returns 400 or 403 for this is unverified. The sandbox
# returns 400 with the message in errorMessages.
NO_CREATE_PERMISSION = "You do not have permission to create issues in this project."
ISSUE_NOT_FOUND = "Issue does not exist or you do not have permission to see it."
INVALID_PAYLOAD = (
    "Invalid request payload. Refer to the REST API documentation and try again."
)


class IssueRequestError(Exception):
    """Rejected issue request, returned as Jira's errorMessages/errors body."""

    def __init__(
        self,
        status: int,
        error_messages: list[str] | None = None,
        errors: dict[str, str] | None = None,
    ) -> None:
        super().__init__(error_messages, errors)
        self.status = status
        self.error_messages = error_messages or []
        self.errors = errors or {}


def cannot_set(field_name: str) -> str:
    """Return Jira's message for a field that is unknown or not on the screen."""
    return (
        f"Field '{field_name}' cannot be set. It is not on the appropriate screen, "
        "or unknown."
    )


@dataclass
class ValidatedIssue:
    """Field values of a create request after validation."""

    project: Project
    issue_type: IssueType
    summary: str
    description: dict[str, Any] | None
    labels: list[str]
    priority_id: str
    assignee_account_id: str | None
    duedate: str | None
    parent: Issue | None


def create_issue(
    state: SandboxState, site: Site, reporter: User, payload: Any
) -> Issue:
    """Validate a Create Issue body and store the issue; raise IssueRequestError."""
    validated = validate_create_request(state, site, reporter, payload)
    now = state.now()
    project = validated.project
    issue = Issue(
        id=str(site.next_issue_id),
        key=f"{project.key}-{project.next_issue_number}",
        project_id=project.id,
        issuetype_id=validated.issue_type.id,
        summary=validated.summary,
        description=validated.description,
        labels=validated.labels,
        priority_id=validated.priority_id,
        reporter_account_id=reporter.account_id,
        assignee_account_id=validated.assignee_account_id,
        duedate=validated.duedate,
        status_id=project.workflow.initial_status_id,
        parent_id=validated.parent.id if validated.parent else None,
        created=now,
        updated=now,
    )
    site.next_issue_id += 1
    project.next_issue_number += 1
    site.issues[issue.id] = issue
    return issue


def validate_create_request(
    state: SandboxState, site: Site, reporter: User, payload: Any
) -> ValidatedIssue:
    """Validate a Create Issue body; raise IssueRequestError if it is invalid.

    Field errors are collected so that one response names every bad field. A
    project that is missing, unknown or not browsable stops validation of the
    fields that depend on it (issue type, parent). Lacking CREATE_ISSUES on a
    visible project is rejected with 400 and only an errorMessages entry.
    """
    if not isinstance(payload, dict):
        raise IssueRequestError(400, [INVALID_PAYLOAD])
    fields = payload.get("fields", {})
    update = payload.get("update", {})
    if not isinstance(fields, dict) or not isinstance(update, dict):
        raise IssueRequestError(400, [INVALID_PAYLOAD])

    errors: dict[str, str] = {}
    fields = merge_update_operations(fields, update, errors)
    for name in fields:
        if name not in SETTABLE_FIELDS:
            errors[name] = cannot_set(name)

    project = resolve_project(site, reporter, fields.get("project"))
    if project is None:
        errors["project"] = INVALID_PROJECT
    elif not project.user_has(reporter.account_id, "CREATE_ISSUES"):
        raise IssueRequestError(400, [NO_CREATE_PERMISSION])

    issue_type = None
    if project is not None:
        issue_type = resolve_issue_type(site, fields.get("issuetype"), errors)

    summary = validate_summary(fields.get("summary"), errors)
    description = validate_rich_text(site, "description", fields, errors)
    labels = validate_labels(fields.get("labels", []), errors)
    priority_id = validate_priority(fields.get("priority"), errors)
    assignee_account_id = None
    if project is not None:
        assignee_account_id = validate_assignee(
            state, site, project, reporter, fields, errors
        )
    duedate = validate_duedate(fields.get("duedate"), errors)
    parent = None
    if project is not None and issue_type is not None:
        parent = validate_parent(site, project, issue_type, fields, errors)

    if errors:
        raise IssueRequestError(400, [], errors)
    assert project is not None
    assert issue_type is not None
    assert summary is not None
    return ValidatedIssue(
        project=project,
        issue_type=issue_type,
        summary=summary,
        description=description,
        labels=labels,
        priority_id=priority_id,
        assignee_account_id=assignee_account_id,
        duedate=duedate,
        parent=parent,
    )


def merge_update_operations(
    fields: dict[str, Any],
    update: dict[str, Any],
    errors: dict[str, str],
    base: dict[str, Any] | None = None,
    settable: frozenset[str] = SETTABLE_FIELDS,
) -> dict[str, Any]:
    """Apply "update" operations on top of "fields" and return the merged fields.

    Supported: {"set": value} on any settable field, and {"add": label} or
    {"remove": label} on labels, starting from the labels in `base` (the
    issue's current values on an edit). A field given in both "fields" and
    "update" is rejected.
    """
    merged = {**(base or {}), **fields}
    for name, operations in update.items():
        if name not in settable:
            errors[name] = cannot_set(name)
            continue
        if name in fields:
            errors[name] = (
                f"Field '{name}' cannot be given in both 'fields' and 'update'."
            )
            continue
        if not isinstance(operations, list):
            errors[name] = f"Operations on '{name}' must be a list."
            continue
        for operation in operations:
            if not _apply_operation(merged, name, operation):
                errors[name] = (
                    f"Unsupported operation on '{name}': use set, or add and "
                    "remove on labels."
                )
                break
    return merged


def _apply_operation(fields: dict[str, Any], name: str, operation: Any) -> bool:
    if not isinstance(operation, dict) or len(operation) != 1:
        return False
    verb, value = next(iter(operation.items()))
    if verb == "set":
        fields[name] = value
        return True
    if name != "labels" or verb not in ("add", "remove"):
        return False
    labels = fields.get("labels")
    labels = list(labels) if isinstance(labels, list) else []
    if verb == "add" and value not in labels:
        labels.append(value)
    if verb == "remove" and value in labels:
        labels.remove(value)
    fields["labels"] = labels
    return True


def resolve_project(site: Site, user: User, reference: Any) -> Project | None:
    """Return the project named by {"key"} or {"id"} if the user can browse it."""
    if not isinstance(reference, dict):
        return None
    project = None
    for attribute in ("id", "key"):
        value = reference.get(attribute)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and value:
            project = site.find_project(value)
            break
    if project is None or not project.user_has(user.account_id, "BROWSE_PROJECTS"):
        return None
    return project


def resolve_issue_type(
    site: Site, reference: Any, errors: dict[str, str]
) -> IssueType | None:
    """Return the issue type named by {"id"} or {"name"}, or record the error."""
    if not isinstance(reference, dict) or not (
        reference.get("id") or reference.get("name")
    ):
        errors["issuetype"] = "Specify an issue type"
        return None
    requested_id = reference.get("id")
    if isinstance(requested_id, int) and not isinstance(requested_id, bool):
        requested_id = str(requested_id)
    requested_name = reference.get("name")
    for issue_type in site.issue_types:
        if requested_id is not None:
            if issue_type.id == requested_id:
                return issue_type
        elif isinstance(requested_name, str):
            if issue_type.name.lower() == requested_name.lower():
                return issue_type
    errors["issuetype"] = "The issue type selected is invalid."
    return None


def validate_summary(value: Any, errors: dict[str, str]) -> str | None:
    """Return the summary, or record why it is invalid."""
    if value is None or (isinstance(value, str) and not value.strip()):
        errors["summary"] = "You must specify a summary of the issue."
        return None
    if not isinstance(value, str):
        errors["summary"] = "Operation value must be a string"
        return None
    if "\n" in value or "\r" in value:
        errors["summary"] = (
            "The summary is invalid because it contains newline characters."
        )
        return None
    if len(value) > SUMMARY_MAX_LENGTH:
        errors["summary"] = "Summary must be less than 255 characters."
        return None
    return value


def is_atlassian_document(value: Any) -> bool:
    """Return whether the value is a well-formed ADF document (doc, version 1)."""
    if not isinstance(value, dict):
        return False
    if value.get("type") != "doc" or value.get("version") != 1:
        return False
    content = value.get("content")
    if not isinstance(content, list):
        return False
    return all(_is_adf_node(node, depth=1) for node in content)


def _is_adf_node(node: Any, depth: int) -> bool:
    if depth > ADF_MAX_DEPTH or not isinstance(node, dict):
        return False
    node_type = node.get("type")
    if not isinstance(node_type, str) or not node_type or node_type == "doc":
        return False
    if node_type == "text" and not (isinstance(node.get("text"), str) and node["text"]):
        return False
    marks = node.get("marks", [])
    if not isinstance(marks, list):
        return False
    for mark in marks:
        if not isinstance(mark, dict) or not isinstance(mark.get("type"), str):
            return False
    content = node.get("content", [])
    if not isinstance(content, list):
        return False
    return all(_is_adf_node(child, depth + 1) for child in content)


def validate_rich_text(
    site: Site, name: str, fields: dict[str, Any], errors: dict[str, str]
) -> Any:
    """Return a rich-text field's value (ADF on Cloud, a string on Data Center)."""
    value = fields.get(name)
    if value is None:
        return None
    if site.is_cloud and not is_atlassian_document(value):
        errors[name] = "Operation value must be an Atlassian Document"
        return None
    if not site.is_cloud and not isinstance(value, str):
        errors[name] = "Operation value must be a string"
        return None
    return value


def user_reference_key(site: Site) -> str:
    """Return the attribute that names a user: accountId on Cloud, name on DC."""
    return "accountId" if site.is_cloud else "name"


def find_site_user(state: SandboxState, site: Site, identifier: str) -> User | None:
    """Return the user of the site named by account id (Cloud) or username (DC)."""
    if site.is_cloud:
        user = state.users.get(identifier)
    else:
        user = next((u for u in state.users.values() if u.username == identifier), None)
    if user is None or site.cloud_id not in user.sites:
        return None
    return user


def validate_labels(value: Any, errors: dict[str, str]) -> list[str]:
    """Return the labels, or record why they are invalid."""
    if value is None:
        return []
    if not isinstance(value, list):
        errors["labels"] = "Labels must be a list of strings."
        return []
    labels: list[str] = []
    for label in value:
        if not isinstance(label, str) or not label:
            errors["labels"] = "Labels must be non-empty strings."
            return []
        if any(character.isspace() for character in label):
            errors["labels"] = f"The label '{label}' contains spaces which is invalid."
            return []
        if len(label) > LABEL_MAX_LENGTH:
            errors["labels"] = (
                f"The label '{label[:20]}...' is longer than {LABEL_MAX_LENGTH} "
                "characters."
            )
            return []
        if label not in labels:
            labels.append(label)
    return labels


def validate_priority(value: Any, errors: dict[str, str]) -> str:
    """Return the priority id, defaulting to Medium, or record the error."""
    if value is None:
        return DEFAULT_PRIORITY_ID
    if not isinstance(value, dict) or not (value.get("id") or value.get("name")):
        errors["priority"] = "Specify the Priority (id or name) in the string format"
        return DEFAULT_PRIORITY_ID
    requested_id = value.get("id")
    if requested_id is not None:
        if str(requested_id) in PRIORITIES:
            return str(requested_id)
    elif isinstance(value.get("name"), str):
        requested_name = value["name"].lower()
        for priority_id, name in PRIORITIES.items():
            if name.lower() == requested_name:
                return priority_id
    errors["priority"] = "The priority selected is invalid."
    return DEFAULT_PRIORITY_ID


def validate_assignee(
    state: SandboxState,
    site: Site,
    project: Project,
    reporter: User,
    fields: dict[str, Any],
    errors: dict[str, str],
) -> str | None:
    """Return the assignee's account id (None: unassigned), or record the error.

    A reporter without ASSIGN_ISSUES gets the "cannot be set" error for assignee,
    as for a field that the create screen does not show.
    """
    if "assignee" not in fields:
        return None
    value = fields["assignee"]
    if value is None:
        return None
    if not project.user_has(reporter.account_id, "ASSIGN_ISSUES"):
        errors["assignee"] = cannot_set("assignee")
        return None
    key = user_reference_key(site)
    identifier = value.get(key, value.get("id")) if isinstance(value, dict) else None
    if (
        isinstance(value, dict)
        and identifier is None
        and (key in value or "id" in value)
    ):
        return None
    if not isinstance(identifier, str) or not identifier:
        errors["assignee"] = f'Specify the assignee as {{"{key}": "..."}}.'
        return None
    outcome = resolve_assignee(state, site, project, identifier)
    if isinstance(outcome, AssigneeError):
        errors["assignee"] = outcome.message
        return None
    return outcome


@dataclass(frozen=True)
class AssigneeError:
    """Why a user cannot be the assignee."""

    message: str


def resolve_assignee(
    state: SandboxState, site: Site, project: Project, identifier: str
) -> str | None | AssigneeError:
    """Return the account id an assignee reference names, None, or the error.

    "-1" picks the project's default assignee: its lead when the project assigns
    new issues to the lead, otherwise nobody.
    """
    if identifier == "-1":
        if project.assignee_type == "PROJECT_LEAD":
            return project.lead_account_id
        return None
    user = find_site_user(state, site, identifier)
    if user is None:
        return AssigneeError(f"User '{identifier}' does not exist.")
    if not project.user_has(user.account_id, "ASSIGNABLE_USER"):
        return AssigneeError(f"User '{identifier}' cannot be assigned issues.")
    return user.account_id


def validate_duedate(value: Any, errors: dict[str, str]) -> str | None:
    """Return the due date as YYYY-MM-DD, or record the error."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    errors["duedate"] = f"Error parsing date string: {value}"
    return None


def validate_parent(
    site: Site,
    project: Project,
    issue_type: IssueType,
    fields: dict[str, Any],
    errors: dict[str, str],
) -> Issue | None:
    """Return the parent issue a sub-task needs, or record the error.

    The sandbox has no epics, so only sub-tasks take a parent.
    """
    reference = fields.get("parent")
    if not issue_type.subtask:
        if reference is not None:
            errors["parent"] = cannot_set("parent")
        return None
    if not isinstance(reference, dict):
        errors["parent"] = 'A sub-task needs a parent issue: {"key": "..."}.'
        return None
    requested = reference.get("key") or reference.get("id")
    parent = site.find_issue(str(requested)) if requested else None
    valid = parent is not None and parent.project_id == project.id
    if parent is not None and valid:
        parent_type = next(
            (item for item in site.issue_types if item.id == parent.issuetype_id),
            None,
        )
        valid = parent_type is not None and not parent_type.subtask
    if not valid:
        errors["parent"] = (
            "The parent issue is invalid: it must be a non-sub-task issue in the "
            "same project."
        )
        return None
    return parent


def find_visible_issue(site: Site, user: User, id_or_key: str) -> Issue:
    """Return the issue if the user can browse its project; raise 404 otherwise."""
    issue = site.find_issue(id_or_key)
    if issue is not None:
        project = site.find_project(issue.project_id)
        if project is not None and project.user_has(user.account_id, "BROWSE_PROJECTS"):
            return issue
    raise IssueRequestError(404, [ISSUE_NOT_FOUND])
