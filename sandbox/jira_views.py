"""Jira Cloud REST API v3 resources behind the gateway.

Each resource is one entry of ``urlpatterns``, relative to
``/ex/jira/<cloud_id>/rest/api/3/``. ``jira_endpoint`` maps each HTTP method to
the scope it needs and a handler that receives a GatewayContext, so adding a
resource means writing its handlers and one ``path()`` line.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.http import HttpResponse, JsonResponse
from django.urls import path

from sandbox.gateway import GatewayContext, jira_endpoint, jira_error
from sandbox.jira_issues import (
    INVALID_PAYLOAD,
    IssueRequestError,
    create_issue,
    find_visible_issue,
)
from sandbox.jira_render import render_issue

logger = logging.getLogger(__name__)

READ_WORK = "read:jira-work"
WRITE_WORK = "write:jira-work"


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
    return JsonResponse(body)


urlpatterns = [
    path(
        "issue",
        jira_endpoint(POST=(WRITE_WORK, create_issue_view)),
        name="jira-issue-collection",
    ),
    path(
        "issue/<str:issue_id_or_key>",
        jira_endpoint(GET=(READ_WORK, get_issue_view)),
        name="jira-issue",
    ),
]
