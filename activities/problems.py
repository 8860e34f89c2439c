"""Errors of the REST API as RFC 9457 problem details (application/problem+json)."""

import logging
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import Http404, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from activities.jira import MAX_FILES_PER_UPLOAD, JiraError, JiraUnavailableError
from activities.services import NoMatchingTransitionError
from tokens.services import TokenUnusableError

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
_TYPE_PREFIX = "urn:manage-center:problem:"


def problem_response(
    *, status_code: int, kind: str, title: str, detail: str, **extra: Any
) -> Response:
    body = {
        "type": f"{_TYPE_PREFIX}{kind}",
        "title": title,
        "status": status_code,
        "detail": detail,
        **extra,
    }
    return Response(body, status=status_code, content_type=PROBLEM_CONTENT_TYPE)


def _from_jira(exc: JiraError) -> Response:
    jira = {"status": exc.status, "errorMessages": exc.error_messages, "errors": exc.errors}
    if exc.status == 401:
        # Jira refused the token itself, which the caller cannot fix.
        return problem_response(
            status_code=status.HTTP_502_BAD_GATEWAY,
            kind="jira-token-rejected",
            title="Jira rejected the access token",
            detail=(
                f"Jira returned 401 ({exc.message or 'Unauthorized'}). An administrator "
                "must get a new OAuth 2.0 access token, with the scopes this activity "
                "needs."
            ),
            jira=jira,
        )
    if exc.status >= 500:
        return problem_response(
            status_code=status.HTTP_502_BAD_GATEWAY,
            kind="jira-unavailable",
            title="Jira failed",
            detail=f"Jira returned HTTP {exc.status}; try again later.",
            jira=jira,
        )
    response = problem_response(
        status_code=exc.status,
        kind="jira-error",
        title="Jira rejected the request",
        detail=f"{exc} {exc.hint}".strip(),
        jira=jira,
    )
    if exc.retry_after:
        response["Retry-After"] = exc.retry_after
    return response


def _from_upload_limit(exc: Exception) -> Response:
    if isinstance(exc, RequestDataTooBig):
        return problem_response(
            status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            kind="request-too-large",
            title="The request body is too large",
            detail=(
                f"The request body is over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes, "
                "the maximum outside file uploads. Shorten the text, and send files "
                "to the attachments endpoint as multipart/form-data."
            ),
        )
    if isinstance(exc, TooManyFilesSent):
        detail = (
            f"The request has more than {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files: "
            f"send at most {MAX_FILES_PER_UPLOAD} per request."
        )
    else:
        detail = (
            f"The request has more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} fields "
            "or query parameters: send only the documented ones."
        )
    return problem_response(
        status_code=status.HTTP_400_BAD_REQUEST,
        kind="too-many-parts",
        title="The request has too many parts",
        detail=detail,
    )


_KEY_HEADER_HINT = "send the API key in the header 'Authorization: Api-Key <key>'."
# Common schemes of the IANA registry, and of API keys. Only these are named back:
# any other first word may be the key itself.
_KNOWN_SCHEMES = frozenset(
    {"basic", "bearer", "digest", "hoba", "mutual", "negotiate", "oauth", "token",
     "apikey", "api-key"}
)


def _missing_key_detail(context: dict[str, Any]) -> str:
    """Say how to send the key, naming the header or scheme the caller used instead."""
    request = context.get("request")
    headers = request.headers if request is not None else {}
    authorization = headers.get("Authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if credentials and scheme.lower() in _KNOWN_SCHEMES:
        return f"The Authorization scheme {scheme!r} is not accepted: {_KEY_HEADER_HINT}"
    if authorization:
        return f"The Authorization header has no 'Api-Key' scheme: {_KEY_HEADER_HINT}"
    if "X-Api-Key" in headers:
        return f"The X-Api-Key header is not read: {_KEY_HEADER_HINT}"
    return f"No API key was sent: {_KEY_HEADER_HINT}"


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, JiraError):
        return _from_jira(exc)
    if isinstance(exc, JiraUnavailableError):
        return problem_response(
            status_code=status.HTTP_504_GATEWAY_TIMEOUT,
            kind="jira-unavailable",
            title="Jira is unavailable",
            detail=str(exc),
        )
    if isinstance(exc, NoMatchingTransitionError):
        return problem_response(
            status_code=status.HTTP_400_BAD_REQUEST,
            kind="no-matching-transition",
            title="No workflow transition matches",
            detail=str(exc),
            transitions=exc.transitions,
        )
    if isinstance(exc, TokenUnusableError):
        return problem_response(
            status_code=status.HTTP_409_CONFLICT,
            kind="token-unusable",
            title="The access token cannot be used",
            detail=str(exc),
        )
    if isinstance(exc, exceptions.ValidationError):
        return problem_response(
            status_code=status.HTTP_400_BAD_REQUEST,
            kind="validation-error",
            title="The request is invalid",
            detail="One or more fields are invalid; see errors.",
            errors=exc.detail,
        )
    if isinstance(exc, (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)):
        return _from_upload_limit(exc)
    if isinstance(exc, exceptions.NotAuthenticated):
        explained = exceptions.NotAuthenticated(_missing_key_detail(context))
        # DRF set the WWW-Authenticate value on the exception it raised.
        explained.auth_header = getattr(exc, "auth_header", None)
        exc = explained
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()

    response = exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data.get("detail", "") if isinstance(response.data, dict) else ""
    problem = problem_response(
        status_code=response.status_code,
        kind=getattr(exc, "default_code", "error").replace("_", "-"),
        # default_detail contains placeholders such as {method}, but the phrase does not.
        title=HTTPStatus(response.status_code).phrase,
        detail=str(detail),
    )
    for header in ("WWW-Authenticate", "Retry-After", "Allow"):
        if header in response:
            problem[header] = response[header]
    return problem


@csrf_exempt
def api_not_found(request, unmatched: str = "") -> HttpResponse:
    """Return a problem 404 for an /api/ URL that matches no endpoint, in any DEBUG mode.

    It is exempt from CSRF because API clients send no CSRF token: a POST to a
    mistyped URL must get this 404, not the CSRF failure page.
    """
    return api_aware_page_not_found(request, None)


def api_aware_page_not_found(request, exception) -> HttpResponse:
    """Return a problem document for unknown /api/ URLs and the HTML page for others."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {
                "type": f"{_TYPE_PREFIX}not-found",
                "title": "Not found",
                "status": 404,
                "detail": f"No API endpoint matches {request.path}; see /api/v1/docs/.",
            },
            status=404,
            content_type=PROBLEM_CONTENT_TYPE,
        )
    return defaults.page_not_found(request, exception)


def api_aware_server_error(request) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(
            {
                "type": f"{_TYPE_PREFIX}server-error",
                "title": "Internal server error",
                "status": 500,
                "detail": "The server failed; the error is logged with this request's id.",
            },
            status=500,
            content_type=PROBLEM_CONTENT_TYPE,
        )
    return defaults.server_error(request)
