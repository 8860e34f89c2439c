"""Middleware that records every non-control request in the request log."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from sandbox.state import format_iso, get_store

CONTROL_PREFIX = "/_sandbox/"


class RequestLogMiddleware:
    """Append {"method", "path", "status", "at"} for each non-control request.

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
                state.request_log.append(
                    {
                        "method": request.method,
                        "path": request.path,
                        "status": response.status_code,
                        "at": format_iso(state.now()),
                    }
                )
        return response
