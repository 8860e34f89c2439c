"""Jira REST resources: Cloud v3 behind the gateway and Data Center v2.

Each resource is one entry of ``urlpatterns``, relative to
``/ex/jira/<cloud_id>/rest/api/3/`` (Cloud) and ``/dc/<instance>/rest/api/2/``
(Data Center). ``jira_endpoint`` maps each HTTP method to the scope it needs
and a handler that receives a GatewayContext, so adding a resource means
writing its handlers and one ``path()`` line. Handlers read the flavour from
the context: rich text, user references and some status codes differ.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.http import HttpResponse, JsonResponse
from django.urls import path

from sandbox import jira_activities
from sandbox.gateway import GatewayContext, jira_endpoint, jira_error
from sandbox.jira_issues import (
    INVALID_PAYLOAD,
    IssueRequestError,
    create_issue,
    find_visible_issue,
)
from sandbox.jira_render import (
    expand_names,
    render_attachment,
    render_comment,
    render_issue,
    render_user,
)
from sandbox.jira_workflow import STATUSES, Transition
from sandbox.state import User, get_store

logger = logging.getLogger(__name__)

READ_WORK = "read:jira-work"
WRITE_WORK = "write:jira-work"
READ_USER = "read:jira-user"
MANAGE_CONFIGURATION = "manage:jira-configuration"
XSRF_CHECK_FAILED = "XSRF check failed"


def read_json_body(context: GatewayContext) -> Any:
    """Return the parsed JSON body; raise IssueRequestError as Jira would."""
    if context.request.content_type != "application/json":
        raise IssueRequestError(415, ["Unsupported Media Type: send application/json."])
    try:
        return json.loads(context.request.body)
    except (ValueError, UnicodeDecodeError) as error:
        raise IssueRequestError(400, [INVALID_PAYLOAD]) from error


def error_response(error: IssueRequestError) -> JsonResponse:
    """Return Jira's error body for an IssueRequestError."""
    return jira_error(error.status, error.error_messages, error.errors)


def create_issue_view(context: GatewayContext) -> HttpResponse:
    """Create Issue: POST /rest/api/3/issue."""
    try:
        payload = read_json_body(context)
        issue = create_issue(context.state, context.site, context.user, payload)
    except IssueRequestError as error:
        logger.info(
            "Rejected Create Issue on site %s for account %s: %s %s, fields %s",
            context.site.cloud_id,
            context.user.account_id,
            error.status,
            error.error_messages,
            sorted(error.errors),
        )
        return error_response(error)
    logger.info(
        "Created issue %s (%s) on site %s for account %s",
        issue.key,
        issue.id,
        context.site.cloud_id,
        context.user.account_id,
    )
    body = {
        "id": issue.id,
        "key": issue.key,
        "self": context.api_url(f"issue/{issue.id}"),
    }
    return JsonResponse(body, status=201)


def get_issue_view(context: GatewayContext, issue_id_or_key: str) -> HttpResponse:
    """Get Issue: GET /rest/api/3/issue/{issueIdOrKey}."""
    try:
        issue = find_visible_issue(context.site, context.user, issue_id_or_key)
    except IssueRequestError as error:
        return error_response(error)
    body = render_issue(
        context.api_url,
        context.site,
        context.state,
        issue,
        fields_parameter=context.request.GET.get("fields"),
        expand_parameter=context.request.GET.get("expand"),
    )
    if "transitions" in expand_names(context.request.GET.get("expand")):
        # The same list as Get Transitions gives this user for this issue.
        _, transitions = jira_activities.list_transitions(
            context.site, context.user, issue.key, None
        )
        body["transitions"] = [
            _render_transition(context, transition, with_fields=False)
            for transition in transitions
        ]
    return JsonResponse(body)


def _rejected(
    context: GatewayContext, activity: str, error: IssueRequestError
) -> JsonResponse:
    logger.info(
        "Rejected %s on site %s for account %s: %s %s, fields %s",
        activity,
        context.site.cloud_id,
        context.user.account_id,
        error.status,
        error.error_messages,
        sorted(error.errors),
    )
    return error_response(error)


def assign_view(context: GatewayContext, issue_id_or_key: str) -> HttpResponse:
    """Add Assignee: PUT issue/{issueIdOrKey}/assignee."""
    try:
        payload = read_json_body(context)
        jira_activities.assign_issue(
            context.state, context.site, context.user, issue_id_or_key, payload
        )
    except IssueRequestError as error:
        return _rejected(context, "Add Assignee", error)
    return HttpResponse(status=204)


def attachments_view(context: GatewayContext, issue_id_or_key: str) -> HttpResponse:
    """Add Attachment: POST issue/{issueIdOrKey}/attachments (multipart)."""
    request = context.request
    if request.headers.get("X-Atlassian-Token", "").lower() != "no-check":
        return jira_error(403, [XSRF_CHECK_FAILED])
    if request.content_type != "multipart/form-data":
        return jira_error(415, ["Unsupported Media Type: send multipart/form-data."])
    try:
        attached = jira_activities.attach_files(
            context.state,
            context.site,
            context.user,
            issue_id_or_key,
            request.FILES.getlist("file"),
            get_store().attachment_dir,
        )
    except IssueRequestError as error:
        return _rejected(context, "Add Attachment", error)
    body = [
        render_attachment(context.api_url, context.site, context.state, attachment)
        for attachment in attached
    ]
    return JsonResponse(body, safe=False)


def comment_view(context: GatewayContext, issue_id_or_key: str) -> HttpResponse:
    """Add Comments: POST issue/{issueIdOrKey}/comment."""
    try:
        payload = read_json_body(context)
        issue, comment = jira_activities.add_comment(
            context.state, context.site, context.user, issue_id_or_key, payload
        )
    except IssueRequestError as error:
        return _rejected(context, "Add Comments", error)
    body = render_comment(context.api_url, context.site, context.state, issue, comment)
    return JsonResponse(body, status=201)


def update_issue_view(context: GatewayContext, issue_id_or_key: str) -> HttpResponse:
    """Update Issue: PUT issue/{issueIdOrKey}; Cloud returns the issue on request."""
    query = context.request.GET
    try:
        payload = read_json_body(context)
        issue = jira_activities.update_issue(
            context.state,
            context.site,
            context.user,
            issue_id_or_key,
            payload,
            query.get("notifyUsers"),
        )
    except IssueRequestError as error:
        return _rejected(context, "Update Issue", error)
    if context.is_cloud and query.get("returnIssue", "").lower() == "true":
        body = render_issue(
            context.api_url,
            context.site,
            context.state,
            issue,
            None,
            query.get("expand"),
        )
        return JsonResponse(body)
    return HttpResponse(status=204)


def delete_issue_view(context: GatewayContext, issue_id_or_key: str) -> HttpResponse:
    """Delete Issue: DELETE issue/{issueIdOrKey}?deleteSubtasks=true|false."""
    try:
        jira_activities.delete_issue(
            context.site,
            context.user,
            issue_id_or_key,
            context.request.GET.get("deleteSubtasks"),
            get_store().attachment_dir,
        )
    except IssueRequestError as error:
        return _rejected(context, "Delete Issue", error)
    return HttpResponse(status=204)


def _render_transition(
    context: GatewayContext, transition: Transition, with_fields: bool
) -> dict[str, Any]:
    status = STATUSES[transition.to_status_id]
    body: dict[str, Any] = {
        "id": transition.id,
        "name": transition.name,
        "to": {
            "self": context.api_url(f"status/{status['id']}"),
            "id": status["id"],
            "name": status["name"],
            "statusCategory": {
                "self": context.api_url(f"statuscategory/{status['category']['id']}"),
                **status["category"],
            },
        },
        "hasScreen": False,
        "isGlobal": False,
        "isInitial": False,
        "isAvailable": True,
        "isConditional": False,
        "isLooped": False,
    }
    if with_fields:
        body["fields"] = {}
    return body


def transitions_view(context: GatewayContext, issue_id_or_key: str) -> HttpResponse:
    """Get Transitions: GET issue/{issueIdOrKey}/transitions."""
    query = context.request.GET
    try:
        _, transitions = jira_activities.list_transitions(
            context.site, context.user, issue_id_or_key, query.get("transitionId")
        )
    except IssueRequestError as error:
        return error_response(error)
    with_fields = "transitions.fields" in (query.get("expand") or "").split(",")
    body = {
        "expand": "transitions",
        "transitions": [
            _render_transition(context, transition, with_fields)
            for transition in transitions
        ],
    }
    return JsonResponse(body)


def do_transition_view(context: GatewayContext, issue_id_or_key: str) -> HttpResponse:
    """Transition Issue: POST issue/{issueIdOrKey}/transitions."""
    try:
        payload = read_json_body(context)
        jira_activities.transition_issue(
            context.state, context.site, context.user, issue_id_or_key, payload
        )
    except IssueRequestError as error:
        return _rejected(context, "Update Issue Status", error)
    return HttpResponse(status=204)


def create_project_view(context: GatewayContext) -> HttpResponse:
    """Create Project: POST project (ADMINISTER global permission)."""
    try:
        payload = read_json_body(context)
        details = jira_activities.validate_project(
            context.state, context.site, context.user, payload
        )
    except IssueRequestError as error:
        return _rejected(context, "Create Project", error)
    project = jira_activities.create_project(context.site, context.user, details)
    logger.info(
        "Created project %s (%s) on site %s",
        project.key,
        project.id,
        context.site.cloud_id,
    )
    body = {
        "self": context.api_url(f"project/{project.id}"),
        "id": int(project.id),
        "key": project.key,
    }
    return JsonResponse(body, status=201)


def my_permissions_view(context: GatewayContext) -> HttpResponse:
    """Get My Permissions: GET mypermissions."""
    try:
        permissions = jira_activities.my_permissions(
            context.site, context.user, context.request.GET.dict()
        )
    except IssueRequestError as error:
        return error_response(error)
    return JsonResponse({"permissions": permissions})


def _render_full_user(context: GatewayContext, user: User) -> dict[str, Any]:
    body = render_user(context.api_url, context.site, context.state, user.account_id)
    assert body is not None
    if context.is_cloud:
        body["emailAddress"] = user.email
    return body


def myself_view(context: GatewayContext) -> HttpResponse:
    """Get Current User: GET myself."""
    return JsonResponse(_render_full_user(context, context.user))


def assignable_search_view(context: GatewayContext) -> HttpResponse:
    """Find Assignable Users: GET user/assignable/search."""
    try:
        users = jira_activities.assignable_users(
            context.state, context.site, context.user, context.request.GET.dict()
        )
    except IssueRequestError as error:
        return error_response(error)
    body = [_render_full_user(context, user) for user in users]
    return JsonResponse(body, safe=False)


urlpatterns = [
    path(
        "issue",
        jira_endpoint(POST=(WRITE_WORK, create_issue_view)),
        name="jira-issue-collection",
    ),
    path(
        "issue/<str:issue_id_or_key>",
        jira_endpoint(
            GET=(READ_WORK, get_issue_view),
            PUT=(WRITE_WORK, update_issue_view),
            DELETE=(WRITE_WORK, delete_issue_view),
        ),
        name="jira-issue",
    ),
    path(
        "issue/<str:issue_id_or_key>/assignee",
        jira_endpoint(PUT=(WRITE_WORK, assign_view)),
        name="jira-issue-assignee",
    ),
    path(
        "issue/<str:issue_id_or_key>/attachments",
        jira_endpoint(POST=(WRITE_WORK, attachments_view)),
        name="jira-issue-attachments",
    ),
    path(
        "issue/<str:issue_id_or_key>/comment",
        jira_endpoint(POST=(WRITE_WORK, comment_view)),
        name="jira-issue-comment",
    ),
    path(
        "issue/<str:issue_id_or_key>/transitions",
        jira_endpoint(
            GET=(READ_WORK, transitions_view),
            POST=(WRITE_WORK, do_transition_view),
        ),
        name="jira-issue-transitions",
    ),
    path(
        "project",
        jira_endpoint(POST=(MANAGE_CONFIGURATION, create_project_view)),
        name="jira-project-collection",
    ),
    path(
        "mypermissions",
        jira_endpoint(GET=(READ_WORK, my_permissions_view)),
        name="jira-mypermissions",
    ),
    path("myself", jira_endpoint(GET=(READ_USER, myself_view)), name="jira-myself"),
    path(
        "user/assignable/search",
        jira_endpoint(GET=(READ_USER, assignable_search_view)),
        name="jira-assignable-search",
    ),
]
