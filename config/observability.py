"""Request ids in logs, and the health and readiness endpoints."""

import contextvars
import logging
import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Give each request an id, from X-Request-ID when it is well formed.

    The id goes back in the response header and into every log record made
    while the request runs.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        reset = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(reset)
        response["X-Request-ID"] = request_id
        return response


class RequestIdFilter(logging.Filter):
    """Add request_id and an empty token_id default to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        if not hasattr(record, "token_id"):
            record.token_id = ""
        return True


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Tell a process supervisor that the web process answers."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readiness(request: HttpRequest) -> JsonResponse:
    """Check the database and, when one is configured, Redis; 503 if either fails."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 (any failure means "not ready")
        checks["database"] = f"failed: {type(exc).__name__}"
    if settings.REDIS_URL:
        try:
            cache.set("readiness-probe", "1", 5)
            checks["redis"] = "ok" if cache.get("readiness-probe") == "1" else "failed"
        except Exception as exc:  # noqa: BLE001
            checks["redis"] = f"failed: {type(exc).__name__}"

    ready = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )
