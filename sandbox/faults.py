"""Planned faults: answer matching requests badly a bounded number of times.

Tests plan a fault through the control API (POST /_sandbox/faults) to see how a
client copes with throttling, outages, slow answers and revoked grants. A fault
matches by HTTP method and by path prefix or regular expression, on any path
outside /_sandbox/: the token endpoints of both flavours as well as the Jira
REST API. Each fault fires `count` times and then stays listed, spent, until
DELETE /_sandbox/faults or a reset clears it.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from sandbox.state import Fault, SandboxState, get_store
from sandbox.tokens import revoke_family

logger = logging.getLogger(__name__)

CONTROL_PREFIX = "/_sandbox/"
FAULT_KINDS = ("status", "slow", "revoke")
MAX_FAULTS = 100
MAX_FAULT_COUNT = 1000
MAX_DELAY_SECONDS = 60.0
MAX_RETRY_AFTER_SECONDS = 3600
TOKEN_ENDPOINT_SUFFIXES = ("/oauth/token", "/rest/oauth2/latest/token")
RATE_LIMIT = 100


def fault_to_json(fault: Fault) -> dict[str, Any]:
    """Return the control API view of a fault."""
    return {
        "id": fault.id,
        "kind": fault.kind,
        "method": fault.method,
        "path_prefix": fault.path_prefix,
        "path_regex": fault.path_regex,
        "remaining": fault.remaining,
        "matched": fault.matched,
        "status": fault.status,
        "retry_after": fault.retry_after,
        "delay_seconds": fault.delay_seconds,
    }


def add_fault(state: SandboxState, fault: Fault) -> None:
    """Plan a fault, dropping the oldest spent one when the list is full."""
    if len(state.faults) >= MAX_FAULTS:
        spent = next((f for f in state.faults if f.remaining == 0), None)
        if spent is None:
            raise ValueError(f"At most {MAX_FAULTS} unspent faults may be planned.")
        state.faults.remove(spent)
    fault.id = fault.id or secrets.token_hex(6)
    state.faults.append(fault)


def take_fault(state: SandboxState, method: str, path: str) -> Fault | None:
    """Return the first unspent fault matching the request, counting it as fired."""
    for fault in state.faults:
        if fault.remaining <= 0:
            continue
        if fault.method is not None and fault.method != method.upper():
            continue
        if fault.path_prefix is not None and not path.startswith(fault.path_prefix):
            continue
        if fault.path_regex is not None and not re.search(fault.path_regex, path):
            continue
        fault.remaining -= 1
        fault.matched += 1
        return fault
    return None


class FaultMiddleware:
    """Apply the first planned fault that matches each non-control request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(CONTROL_PREFIX):
            return self.get_response(request)
        store = get_store()
        if not store.state.faults:
            # Reading the list without the lock is safe. A fault planned at this
            # moment misses this request, as if the request had come just before.
            return self.get_response(request)
        with store.lock:
            fault = take_fault(store.state, request.method or "", request.path)
            if fault is not None:
                logger.info(
                    "Fault %s (%s) fires on %s %s",
                    fault.id,
                    fault.kind,
                    request.method,
                    request.path,
                )
            if fault is not None and fault.kind == "revoke":
                _revoke_presented_family(store.state, request)
        if fault is None or fault.kind == "revoke":
            return self.get_response(request)
        if fault.kind == "slow":
            # Sleep without the lock so that other requests go on meanwhile.
            time.sleep(fault.delay_seconds)
            return self.get_response(request)
        return _fault_response(request, fault)


def _fault_response(request: HttpRequest, fault: Fault) -> HttpResponse:
    status = fault.status
    message = {
        429: "Rate limit exceeded.",
        500: "Internal server error.",
        503: "Service unavailable.",
    }.get(status, f"Fault answered HTTP {status}.")
    if request.path.endswith(TOKEN_ENDPOINT_SUFFIXES):
        error = "temporarily_unavailable" if status in (429, 503) else "server_error"
        body: dict[str, Any] = {"error": error, "error_description": message}
    else:
        body = {"errorMessages": [message], "errors": {}}
    response = JsonResponse(body, status=status)
    retry_after = fault.retry_after
    if status == 429:
        retry_after = 1 if retry_after is None else retry_after
        reset = datetime.now(UTC) + timedelta(seconds=retry_after)
        response["X-RateLimit-Limit"] = str(RATE_LIMIT)
        response["X-RateLimit-Remaining"] = "0"
        response["X-RateLimit-Reset"] = reset.isoformat(timespec="seconds")
        response["RateLimit-Reason"] = "jira-burst-based"
    if retry_after is not None and status in (429, 503):
        response["Retry-After"] = str(retry_after)
    return response


def _revoke_presented_family(state: SandboxState, request: HttpRequest) -> None:
    family_id = None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip() in state.access_tokens:
        family_id = state.access_tokens[token.strip()].family_id
    else:
        refresh_token = _presented_refresh_token(request)
        record = state.refresh_tokens.get(refresh_token) if refresh_token else None
        family_id = record.family_id if record is not None else None
    family = state.families.get(family_id) if family_id else None
    if family is not None:
        revoke_family(state, family, "revoked by a planned fault")


def _presented_refresh_token(request: HttpRequest) -> str | None:
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return None
        value = body.get("refresh_token") if isinstance(body, dict) else None
        return value if isinstance(value, str) else None
    return request.POST.get("refresh_token") or request.GET.get("refresh_token")
