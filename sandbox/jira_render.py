"""JSON rendering of stored issues as Jira REST v3 (Cloud) and v2 (DC) return them."""

from __future__ import annotations

import datetime
import html
from collections.abc import Callable
from typing import Any

from sandbox.jira_issues import FIELD_NAMES, PRIORITIES
from sandbox.jira_workflow import STATUSES
from sandbox.state import (
    Attachment,
    Comment,
    Issue,
    SandboxState,
    Site,
    format_jira_timestamp,
)

ApiUrl = Callable[[str], str]

ALL_FIELDS = tuple(FIELD_NAMES)
# Expansions that Jira lists in every issue's "expand" attribute.
ISSUE_EXPANDS = (
    "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"
)


def select_fields(parameter: str | None) -> list[str]:
    """Return the field ids that a "fields" query parameter requests, in Jira's order.

    "*all" and "*navigable" select every field, a name selects that field and
    "-name" removes it. Without any positive entry every field is selected.
    """
    if not parameter:
        return list(ALL_FIELDS)
    select_all = False
    included: set[str] = set()
    excluded: set[str] = set()
    for entry in parameter.split(","):
        entry = entry.strip()
        if entry in ("*all", "*navigable"):
            select_all = True
        elif entry.startswith("-"):
            excluded.add(entry[1:])
        elif entry:
            included.add(entry)
    if not select_all and not included:
        select_all = True
    return [
        name
        for name in ALL_FIELDS
        if (select_all or name in included) and name not in excluded
    ]


def expand_names(expand_parameter: str | None) -> set[str]:
    """Return the names in an expand query parameter such as "names,renderedFields"."""
    return {entry.strip() for entry in (expand_parameter or "").split(",")}


def render_issue(
    api_url: ApiUrl,
    site: Site,
    state: SandboxState,
    issue: Issue,
    fields_parameter: str | None,
    expand_parameter: str | None,
) -> dict[str, Any]:
    """Return the Get Issue body for an issue.

    api_url maps a REST path such as "issue/10000" to its absolute URL.
    """
    selected = select_fields(fields_parameter)
    all_values = _field_values(api_url, site, state, issue)
    fields = {
        name: all_values[name]
        for name in selected
        if name != "parent" or issue.parent_id is not None
    }
    body: dict[str, Any] = {
        "expand": ISSUE_EXPANDS,
        "id": issue.id,
        "self": api_url(f"issue/{issue.id}"),
        "key": issue.key,
        "fields": fields,
    }

    expands = expand_names(expand_parameter)
    if "names" in expands:
        body["names"] = {name: FIELD_NAMES[name] for name in fields}
    if "renderedFields" in expands:
        body["renderedFields"] = {name: _rendered_value(issue, name) for name in fields}
    return body


def _field_values(
    api_url: ApiUrl, site: Site, state: SandboxState, issue: Issue
) -> dict[str, Any]:
    project = site.find_project(issue.project_id)
    issue_type = next(
        item for item in site.issue_types if item.id == issue.issuetype_id
    )
    status = STATUSES[issue.status_id]
    parent = site.issues.get(issue.parent_id) if issue.parent_id else None
    return {
        "summary": issue.summary,
        "description": issue.description,
        "issuetype": {
            "self": api_url(f"issuetype/{issue_type.id}"),
            "id": issue_type.id,
            "name": issue_type.name,
            "subtask": issue_type.subtask,
        },
        "project": {
            "self": api_url(f"project/{issue.project_id}"),
            "id": issue.project_id,
            "key": project.key if project else None,
            "name": project.name if project else None,
            "projectTypeKey": project.project_type_key if project else "software",
        },
        "status": {
            "self": api_url(f"status/{status['id']}"),
            "id": status["id"],
            "name": status["name"],
            "statusCategory": {
                "self": api_url(f"statuscategory/{status['category']['id']}"),
                **status["category"],
            },
        },
        "reporter": render_user(api_url, site, state, issue.reporter_account_id),
        "assignee": render_user(api_url, site, state, issue.assignee_account_id),
        "labels": list(issue.labels),
        "priority": {
            "self": api_url(f"priority/{issue.priority_id}"),
            "id": issue.priority_id,
            "name": PRIORITIES[issue.priority_id],
        },
        "duedate": issue.duedate,
        "created": format_jira_timestamp(issue.created),
        "updated": format_jira_timestamp(issue.updated),
        "parent": (
            {"id": parent.id, "key": parent.key, "self": api_url(f"issue/{parent.id}")}
            if parent
            else None
        ),
        "comment": {
            "comments": [
                render_comment(api_url, site, state, issue, comment)
                for comment in issue.comments
            ],
            "maxResults": len(issue.comments),
            "total": len(issue.comments),
            "startAt": 0,
        },
        "attachment": [
            render_attachment(api_url, site, state, attachment)
            for attachment in issue.attachments
        ],
    }


def render_comment(
    api_url: ApiUrl, site: Site, state: SandboxState, issue: Issue, comment: Comment
) -> dict[str, Any]:
    """Return a comment as Add Comments and Get Issue return it."""
    author = render_user(api_url, site, state, comment.author_account_id)
    body: dict[str, Any] = {
        "self": api_url(f"issue/{issue.id}/comment/{comment.id}"),
        "id": comment.id,
        "author": author,
        "body": comment.body,
        "updateAuthor": author,
        "created": format_jira_timestamp(comment.created),
        "updated": format_jira_timestamp(comment.created),
    }
    if comment.visibility is not None:
        body["visibility"] = dict(comment.visibility)
    return body


def render_attachment(
    api_url: ApiUrl, site: Site, state: SandboxState, attachment: Attachment
) -> dict[str, Any]:
    """Return an attachment as Add Attachment and Get Issue return it."""
    return {
        "self": api_url(f"attachment/{attachment.id}"),
        "id": attachment.id,
        "filename": attachment.filename,
        "author": render_user(api_url, site, state, attachment.author_account_id),
        "created": format_jira_timestamp(attachment.created),
        "size": attachment.size,
        "mimeType": attachment.mime_type,
        "content": api_url(f"attachment/content/{attachment.id}"),
    }


def render_user(
    api_url: ApiUrl, site: Site, state: SandboxState, account_id: str | None
) -> dict[str, Any] | None:
    """Return a user reference: by account id on Cloud, by name and key on DC."""
    if account_id is None:
        return None
    user = state.users.get(account_id)
    display_name = user.display_name if user else "Former user"
    if site.is_cloud:
        return {
            "self": api_url(f"user?accountId={account_id}"),
            "accountId": account_id,
            "displayName": display_name,
            "active": user is not None,
            "accountType": "atlassian",
            "timeZone": "Etc/UTC",
        }
    username = user.username if user and user.username else account_id
    return {
        "self": api_url(f"user?username={username}"),
        "name": username,
        "key": account_id,
        "emailAddress": user.email if user else "",
        "displayName": display_name,
        "active": user is not None,
        "timeZone": "Etc/UTC",
    }


def _rendered_value(issue: Issue, name: str) -> str | None:
    if name == "description" and isinstance(issue.description, dict):
        return adf_to_html(issue.description)
    if name == "description" and isinstance(issue.description, str):
        return html.escape(issue.description).replace("\n", "<br/>")
    if name in ("created", "updated"):
        timestamp = issue.created if name == "created" else issue.updated
        moment = datetime.datetime.fromtimestamp(timestamp, datetime.UTC)
        hour = moment.hour % 12 or 12
        return moment.strftime("%d/%b/%y ") + f"{hour}:" + moment.strftime("%M %p")
    if name == "duedate" and issue.duedate:
        return datetime.date.fromisoformat(issue.duedate).strftime("%d/%b/%y")
    return None


_BLOCK_TAGS = {
    "paragraph": "p",
    "bulletList": "ul",
    "orderedList": "ol",
    "listItem": "li",
    "blockquote": "blockquote",
    "codeBlock": "pre",
    "table": "table",
    "tableRow": "tr",
    "tableHeader": "th",
    "tableCell": "td",
}
_MARK_TAGS = {"strong": "b", "em": "em", "code": "code", "strike": "del"}


def adf_to_html(document: dict[str, Any]) -> str:
    """Render an ADF document as simple HTML, as renderedFields does."""
    return "".join(_node_to_html(node) for node in document.get("content", []))


def _node_to_html(node: dict[str, Any]) -> str:
    node_type = node.get("type")
    if node_type == "text":
        text = html.escape(node.get("text", ""))
        for mark in node.get("marks", []):
            tag = _MARK_TAGS.get(mark.get("type"))
            if tag:
                text = f"<{tag}>{text}</{tag}>"
        return text
    if node_type == "hardBreak":
        return "<br/>"
    if node_type == "rule":
        return "<hr/>"
    inner = "".join(_node_to_html(child) for child in node.get("content", []))
    if node_type == "heading":
        level = node.get("attrs", {}).get("level", 1)
        level = level if level in range(1, 7) else 1
        return f"<h{level}>{inner}</h{level}>"
    tag = _BLOCK_TAGS.get(str(node_type))
    return f"<{tag}>{inner}</{tag}>" if tag else inner
