"""Control API under /_sandbox/ for test and demo setup (JSON in, JSON out).

Invalid input gets 400 {"error": "invalid_request", "field", "message"}. Creating
a client, site, user or project returns 201; posting an existing id or key
updates that record and returns 200.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from sandbox.directory import save_client, save_project, save_site, save_user
from sandbox.state import (
    GLOBAL_PERMISSIONS,
    PROJECT_PERMISSIONS,
    Client,
    Project,
    SandboxState,
    Site,
    User,
    format_iso,
    get_store,
)

logger = logging.getLogger(__name__)

# Jira's default project key pattern: an uppercase letter, then uppercase letters,
# digits or underscores, 2 to 10 characters in all.
PROJECT_KEY_PATTERN = re.compile(r"[A-Z][A-Z0-9_]{1,9}")
MAX_CLOCK_ADVANCE_SECONDS = 10 * 365 * 24 * 3600


class ControlInputError(Exception):
    """Invalid control API input, naming the field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


ControlView = Callable[..., HttpResponse]


def control_endpoint(*methods: str) -> Callable[[ControlView], ControlView]:
    """Restrict a control view to the given methods and turn input errors into 400."""

    def decorate(view: ControlView) -> ControlView:
        @csrf_exempt
        def wrapped(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                response = JsonResponse(
                    {"error": "method_not_allowed", "message": "Method not allowed."},
                    status=405,
                )
                response["Allow"] = ", ".join(methods)
                return response
            try:
                return view(request, **kwargs)
            except ControlInputError as error:
                logger.info(
                    "Rejected control request %s %s: %s",
                    request.method,
                    request.path,
                    error.message,
                )
                return JsonResponse(
                    {
                        "error": "invalid_request",
                        "field": error.field,
                        "message": error.message,
                    },
                    status=400,
                )

        wrapped.__name__ = view.__name__
        wrapped.__doc__ = view.__doc__
        return wrapped

    return decorate


def not_found(message: str) -> JsonResponse:
    """Return a control API 404 with a message."""
    return JsonResponse({"error": "not_found", "message": message}, status=404)


def read_body(request: HttpRequest) -> dict[str, Any]:
    """Return the JSON object in the request body; raise ControlInputError if not."""
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError) as error:
        raise ControlInputError(
            "body", "The request body is not valid JSON."
        ) from error
    if not isinstance(body, dict):
        raise ControlInputError("body", "The request body must be a JSON object.")
    return body


def require_string(
    body: dict[str, Any], name: str, required: bool = True
) -> str | None:
    """Return a non-empty string field, or None if optional and absent."""
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ControlInputError(name, f"{name} must be a non-empty string.")
    return value


def require_url(body: dict[str, Any], name: str, value: Any = None) -> str:
    """Return an absolute http(s) URL field."""
    candidate = body.get(name) if value is None else value
    if isinstance(candidate, str):
        parts = urlsplit(candidate)
        if parts.scheme in ("http", "https") and parts.netloc:
            return candidate
    raise ControlInputError(name, f"{name} must be an absolute http or https URL.")


def require_string_list(
    body: dict[str, Any],
    name: str,
    allowed: frozenset[str] | tuple[str, ...] | None = None,
    required: bool = True,
) -> list[str]:
    """Return a list of strings, each one of `allowed` when that is given."""
    value = body.get(name)
    if value is None and not required:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ControlInputError(name, f"{name} must be a list of strings.")
    if allowed is not None:
        unknown = [item for item in value if item not in allowed]
        if unknown:
            raise ControlInputError(
                name, f"{name} contains unknown values: {', '.join(unknown)}."
            )
    return value


def client_to_json(client: Client) -> dict[str, Any]:
    """Return the control API view of a client, secret included."""
    return {
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        "name": client.name,
        "redirect_uris": list(client.redirect_uris),
    }


def site_to_json(site: Site) -> dict[str, Any]:
    """Return the control API view of a site."""
    return {
        "cloud_id": site.cloud_id,
        "name": site.name,
        "url": site.url,
        "avatar_url": site.avatar_url,
    }


def user_to_json(user: User) -> dict[str, Any]:
    """Return the control API view of a user."""
    return {
        "account_id": user.account_id,
        "display_name": user.display_name,
        "email": user.email,
        "sites": list(user.sites),
        "global_permissions": sorted(user.global_permissions),
    }


def project_to_json(site: Site, project: Project) -> dict[str, Any]:
    """Return the control API view of a project."""
    return {
        "id": project.id,
        "key": project.key,
        "name": project.name,
        "cloud_id": site.cloud_id,
        "permissions": {
            account_id: sorted(granted)
            for account_id, granted in project.permissions.items()
        },
        "issue_types": [
            {"id": item.id, "name": item.name, "subtask": item.subtask}
            for item in site.issue_types
        ],
    }


@control_endpoint("POST")
def clients(request: HttpRequest) -> HttpResponse:
    """Register an OAuth client, or update the one with the given client_id."""
    body = read_body(request)
    name = require_string(body, "name")
    redirect_uris = require_string_list(body, "redirect_uris")
    if not redirect_uris:
        raise ControlInputError("redirect_uris", "redirect_uris must not be empty.")
    for uri in redirect_uris:
        require_url(body, "redirect_uris", value=uri)
    client_id = require_string(body, "client_id", required=False)
    client_secret = require_string(body, "client_secret", required=False)

    store = get_store()
    with store.lock:
        client, created = save_client(
            store.state, name, redirect_uris, client_id, client_secret
        )
        payload = client_to_json(client)
    logger.info(
        "%s client %s", "Registered" if created else "Updated", client.client_id
    )
    return JsonResponse(payload, status=201 if created else 200)


@control_endpoint("POST")
def sites(request: HttpRequest) -> HttpResponse:
    """Add a site, or update the one with the given cloud_id."""
    body = read_body(request)
    name = require_string(body, "name")
    url = require_url(body, "url")
    cloud_id = require_string(body, "cloud_id", required=False)
    avatar_url = require_url(body, "avatar_url") if "avatar_url" in body else None

    store = get_store()
    with store.lock:
        site, created = save_site(store.state, name, url, cloud_id, avatar_url)
        payload = site_to_json(site)
    return JsonResponse(payload, status=201 if created else 200)


@control_endpoint("POST")
def users(request: HttpRequest) -> HttpResponse:
    """Add a user, or update the one with the given account_id."""
    body = read_body(request)
    display_name = require_string(body, "display_name")
    email = require_string(body, "email")
    if "@" not in email:
        raise ControlInputError("email", "email must be an email address.")
    account_id = require_string(body, "account_id", required=False)
    global_permissions = require_string_list(
        body, "global_permissions", allowed=GLOBAL_PERMISSIONS, required=False
    )
    site_ids = require_string_list(body, "sites", required=False)

    store = get_store()
    with store.lock:
        state = store.state
        unknown_sites = [
            cloud_id for cloud_id in site_ids if cloud_id not in state.sites
        ]
        if unknown_sites:
            raise ControlInputError(
                "sites",
                f"sites contains unknown cloud ids: {', '.join(unknown_sites)}.",
            )
        user, created = save_user(
            state, display_name, email, site_ids, global_permissions, account_id
        )
        payload = user_to_json(user)
    return JsonResponse(payload, status=201 if created else 200)


@control_endpoint("POST")
def projects(request: HttpRequest, cloud_id: str) -> HttpResponse:
    """Add a project to a site, or update the one with the given key."""
    body = read_body(request)
    key = require_string(body, "key")
    if not PROJECT_KEY_PATTERN.fullmatch(key):
        raise ControlInputError(
            "key",
            "key must be 2 to 10 characters: an uppercase letter, then uppercase "
            "letters, digits or underscores.",
        )
    name = require_string(body, "name")
    permissions = body.get("permissions", {})
    if not isinstance(permissions, dict):
        raise ControlInputError(
            "permissions", "permissions must map account ids to permission lists."
        )
    for granted in permissions.values():
        require_string_list(
            {"permissions": granted}, "permissions", allowed=PROJECT_PERMISSIONS
        )

    store = get_store()
    with store.lock:
        state = store.state
        site = state.sites.get(cloud_id)
        if site is None:
            return not_found(f"No site has cloud id {cloud_id}.")
        unknown_users = [
            account for account in permissions if account not in state.users
        ]
        if unknown_users:
            raise ControlInputError(
                "permissions",
                f"permissions names unknown account ids: {', '.join(unknown_users)}.",
            )
        project, created = save_project(site, key, name, permissions)
        payload = project_to_json(site, project)
    return JsonResponse(payload, status=201 if created else 200)


@control_endpoint("GET")
def issues(request: HttpRequest, cloud_id: str) -> HttpResponse:
    """List the issues stored on a site with their raw field values."""
    store = get_store()
    with store.lock:
        site = store.state.sites.get(cloud_id)
        if site is None:
            return not_found(f"No site has cloud id {cloud_id}.")
        payload = [issue.to_raw() for issue in site.issues.values()]
    return JsonResponse(payload, safe=False)


@control_endpoint("GET", "DELETE")
def requests_log(request: HttpRequest) -> HttpResponse:
    """Return the request log (GET) or clear it (DELETE)."""
    store = get_store()
    with store.lock:
        log = store.state.request_log
        if request.method == "DELETE":
            log.clear()
            return HttpResponse(status=204)
        payload = list(log)
    return JsonResponse(payload, safe=False)


@control_endpoint("GET")
def token_requests(request: HttpRequest) -> HttpResponse:
    """Count token endpoint calls of a client, overall and per token family.

    Only calls that passed client authentication are counted.
    """
    client_id = request.GET.get("client_id", "")
    if not client_id:
        raise ControlInputError("client_id", "Pass the client_id query parameter.")
    store = get_store()
    with store.lock:
        state = store.state
        if client_id not in state.clients:
            return not_found(f"No client has client_id {client_id}.")
        payload = token_request_counts(state, client_id)
    return JsonResponse(payload)


def token_request_counts(state: SandboxState, client_id: str) -> dict[str, Any]:
    """Return the per-grant-type and per-family token request counts of a client."""
    by_grant_type = dict(state.token_requests.get(client_id, {}))
    families = [
        {
            "family_id": family.family_id,
            "account_id": family.account_id,
            "scopes": list(family.scopes),
            "created_at": format_iso(family.created_at),
            "revoked": family.revoked,
            "revoked_at": (
                format_iso(family.revoked_at) if family.revoked_at is not None else None
            ),
            "revoked_reason": family.revoked_reason,
            "requests": dict(family.requests),
        }
        for family in state.families.values()
        if family.client_id == client_id
    ]
    return {
        "client_id": client_id,
        "total": sum(by_grant_type.values()),
        "by_grant_type": by_grant_type,
        "families": families,
    }


@control_endpoint("GET", "POST")
def clock(request: HttpRequest) -> HttpResponse:
    """Return the sandbox time (GET) or move it forward (POST advance_seconds)."""
    store = get_store()
    if request.method == "POST":
        body = read_body(request)
        seconds = body.get("advance_seconds")
        valid = (
            isinstance(seconds, int | float)
            and not isinstance(seconds, bool)
            and math.isfinite(seconds)
            and 0 <= seconds <= MAX_CLOCK_ADVANCE_SECONDS
        )
        if not valid:
            raise ControlInputError(
                "advance_seconds",
                "advance_seconds must be a number of seconds from 0 to "
                f"{MAX_CLOCK_ADVANCE_SECONDS}; the clock never moves back.",
            )
        with store.lock:
            store.state.clock_offset += seconds
            logger.info("Advanced the clock by %s s", seconds)
    with store.lock:
        state = store.state
        payload = {"now": format_iso(state.now()), "offset_seconds": state.clock_offset}
    return JsonResponse(payload)


@control_endpoint("POST")
def reset(request: HttpRequest) -> HttpResponse:
    """Return the whole state, clock included, to the seed the server started with."""
    store = get_store()
    with store.lock:
        store.reset()
        seed = store.seed
    logger.info("Reset the state to seed %s", seed)
    return JsonResponse({"seed": seed})
