"""Middleware of the sandbox: the request log and the Content-Length header."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from sandbox.state import get_store

CONTROL_PREFIX = "/_sandbox/"


class RequestLogMiddleware:
    """Record the method, path, status and time of each non-control request.

    Only the path is stored: no query string, headers or body, so no
    credential reaches the log.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(CONTROL_PREFIX):
            store = get_store()
            with store.lock:
                state = store.state
                method, status = request.method or "", response.status_code
                state.request_log.append((method, request.path, status, state.now()))
        return response


# RFC 9110, section 8.6: a 204 response must not carry Content-Length, and a
# 304 may carry only the length of the full response, so both go without.
NO_CONTENT_LENGTH_STATUSES = (204, 304)


class ContentLengthMiddleware:
    """Set Content-Length on every complete response that has a body.

    Without it an HTTP/1.1 server must send the body in chunks, which costs
    more writes than one body of known length.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            not response.streaming
            and response.status_code >= 200
            and response.status_code not in NO_CONTENT_LENGTH_STATUSES
            and "Content-Length" not in response
        ):
            response["Content-Length"] = str(len(response.content))
        return response
