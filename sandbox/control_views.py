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
from sandbox.faults import (
    FAULT_KINDS,
    MAX_DELAY_SECONDS,
    MAX_FAULT_COUNT,
    MAX_RETRY_AFTER_SECONDS,
    add_fault,
    fault_to_json,
)
from sandbox.state import (
    DATA_CENTER,
    GLOBAL_PERMISSIONS,
    PROJECT_PERMISSIONS,
    Client,
    Fault,
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
INSTANCE_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9._@-]{1,60}")
MAX_ATTACHMENT_LIMIT = 1024 * 1024 * 1024


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


def require_int(
    body: dict[str, Any], name: str, minimum: int, maximum: int
) -> int | None:
    """Return an optional whole number within bounds."""
    value = body.get(name)
    if value is None:
        return None
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or not (minimum <= value <= maximum)
    ):
        raise ControlInputError(
            name, f"{name} must be a whole number from {minimum} to {maximum}."
        )
    return value


def client_to_json(client: Client) -> dict[str, Any]:
    """Return the control API view of a client, secret included."""
    return {
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        "name": client.name,
        "redirect_uris": list(client.redirect_uris),
        "instance": client.instance,
    }


def site_to_json(site: Site) -> dict[str, Any]:
    """Return the control API view of a site."""
    return {
        "cloud_id": site.cloud_id,
        "name": site.name,
        "url": site.url,
        "avatar_url": site.avatar_url,
        "flavour": site.flavour,
        "attachment_max_bytes": site.attachment_max_bytes,
    }


def user_to_json(user: User) -> dict[str, Any]:
    """Return the control API view of a user."""
    return {
        "account_id": user.account_id,
        "display_name": user.display_name,
        "email": user.email,
        "sites": list(user.sites),
        "global_permissions": sorted(user.global_permissions),
        "username": user.username,
    }


def project_to_json(site: Site, project: Project) -> dict[str, Any]:
    """Return the control API view of a project."""
    return {
        "id": project.id,
        "key": project.key,
        "name": project.name,
        "cloud_id": site.cloud_id,
        "lead": project.lead_account_id,
        "assignee_type": project.assignee_type,
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
    instance = require_string(body, "instance", required=False)

    store = get_store()
    with store.lock:
        if instance is not None:
            site = store.state.sites.get(instance)
            if site is None or site.is_cloud:
                raise ControlInputError(
                    "instance", f"No Data Center instance is named {instance}."
                )
        client, created = save_client(
            store.state, name, redirect_uris, client_id, client_secret, instance
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
    limit = require_int(body, "attachment_max_bytes", 1, MAX_ATTACHMENT_LIMIT)

    store = get_store()
    with store.lock:
        existing = store.state.sites.get(cloud_id or "")
        if existing is not None and not existing.is_cloud:
            raise ControlInputError(
                "cloud_id", f"{cloud_id} is a Data Center instance."
            )
        site, created = save_site(
            store.state, name, url, cloud_id, avatar_url, attachment_max_bytes=limit
        )
        payload = site_to_json(site)
    return JsonResponse(payload, status=201 if created else 200)


@control_endpoint("POST")
def dc_instances(request: HttpRequest) -> HttpResponse:
    """Add a Jira Data Center instance served at /dc/<instance>, or update it.

    Its users are added with POST /_sandbox/users (with a username), its
    incoming application links with POST /_sandbox/clients (with instance) and
    its projects with POST /_sandbox/sites/<instance>/projects.
    """
    body = read_body(request)
    instance = require_string(body, "instance")
    if not INSTANCE_PATTERN.fullmatch(instance):
        raise ControlInputError(
            "instance",
            "instance must be 1 to 40 lowercase letters, digits or hyphens.",
        )
    name = require_string(body, "name")
    limit = require_int(body, "attachment_max_bytes", 1, MAX_ATTACHMENT_LIMIT)
    portal_url = request.build_absolute_uri(f"/dc/{instance}")

    store = get_store()
    with store.lock:
        existing = store.state.sites.get(instance)
        if existing is not None and existing.is_cloud:
            raise ControlInputError("instance", f"{instance} is a Jira Cloud site.")
        site, created = save_site(
            store.state,
            name,
            portal_url,
            cloud_id=instance,
            flavour=DATA_CENTER,
            attachment_max_bytes=limit,
        )
        payload = {**site_to_json(site), "instance": instance, "portal_url": portal_url}
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
    username = require_string(body, "username", required=False)
    if username is not None and not USERNAME_PATTERN.fullmatch(username):
        raise ControlInputError(
            "username", "username must be 1 to 60 letters, digits or ._@-"
        )

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
        taken = next(
            (
                u
                for u in state.users.values()
                if username and u.username == username and u.account_id != account_id
            ),
            None,
        )
        if taken is not None:
            raise ControlInputError("username", f"{username} is taken.")
        user, created = save_user(
            state,
            display_name,
            email,
            site_ids,
            global_permissions,
            account_id,
            username=username,
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
    lead = require_string(body, "lead", required=False)
    assignee_type = body.get("assignee_type", "UNASSIGNED")
    if assignee_type not in ("PROJECT_LEAD", "UNASSIGNED"):
        raise ControlInputError(
            "assignee_type", "assignee_type must be PROJECT_LEAD or UNASSIGNED."
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
        if lead is not None and lead not in state.users:
            raise ControlInputError("lead", f"lead names an unknown account id {lead}.")
        project, created = save_project(
            site, key, name, permissions, lead, assignee_type
        )
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


@control_endpoint("GET", "POST", "DELETE")
def faults(request: HttpRequest) -> HttpResponse:
    """List planned faults (GET), plan one (POST) or clear them all (DELETE).

    POST takes kind ("status", "slow" or "revoke"), count (how many matching
    requests it answers, default 1), method and path_prefix or path_regex to
    match, and status (default 503) with retry_after seconds, or delay_seconds.
    """
    store = get_store()
    if request.method == "GET":
        with store.lock:
            payload = [fault_to_json(fault) for fault in store.state.faults]
        return JsonResponse(payload, safe=False)
    if request.method == "DELETE":
        with store.lock:
            store.state.faults.clear()
        logger.info("Cleared the planned faults")
        return HttpResponse(status=204)

    fault = _fault_from_body(read_body(request))
    with store.lock:
        try:
            add_fault(store.state, fault)
        except ValueError as error:
            raise ControlInputError("kind", str(error)) from None
        payload = fault_to_json(fault)
    logger.info(
        "Planned fault %s: %s x%s on %s %s",
        fault.id,
        fault.kind,
        fault.remaining,
        fault.method or "any method",
        fault.path_prefix or fault.path_regex or "any path",
    )
    return JsonResponse(payload, status=201)


def _fault_from_body(body: dict[str, Any]) -> Fault:
    kind = body.get("kind")
    if kind not in FAULT_KINDS:
        raise ControlInputError(
            "kind", f"kind must be one of {', '.join(FAULT_KINDS)}."
        )
    count = require_int(body, "count", 1, MAX_FAULT_COUNT) or 1
    method = require_string(body, "method", required=False)
    path_prefix = require_string(body, "path_prefix", required=False)
    path_regex = require_string(body, "path_regex", required=False)
    if path_prefix is not None and path_regex is not None:
        raise ControlInputError(
            "path_regex", "Give path_prefix or path_regex, not both."
        )
    if path_regex is not None:
        try:
            re.compile(path_regex)
        except re.error as error:
            raise ControlInputError(
                "path_regex", f"path_regex is invalid: {error}."
            ) from None
    status = require_int(body, "status", 400, 599) or 503
    retry_after = require_int(body, "retry_after", 0, MAX_RETRY_AFTER_SECONDS)
    delay = body.get("delay_seconds", 0)
    valid_delay = (
        isinstance(delay, int | float)
        and not isinstance(delay, bool)
        and math.isfinite(delay)
        and 0 <= delay <= MAX_DELAY_SECONDS
    )
    if not valid_delay:
        raise ControlInputError(
            "delay_seconds",
            f"delay_seconds must be a number from 0 to {MAX_DELAY_SECONDS}.",
        )
    if kind == "slow" and not delay:
        raise ControlInputError("delay_seconds", "A slow fault needs delay_seconds.")
    return Fault(
        id="",
        kind=kind,
        method=method.upper() if method else None,
        path_prefix=path_prefix,
        path_regex=path_regex,
        remaining=count,
        status=status,
        retry_after=retry_after,
        delay_seconds=float(delay),
    )


@control_endpoint("GET", "DELETE")
def requests_log(request: HttpRequest) -> HttpResponse:
    """Return the request log (GET) or clear it (DELETE)."""
    store = get_store()
    with store.lock:
        log = store.state.request_log
        if request.method == "DELETE":
            log.clear()
            return HttpResponse(status=204)
        entries = list(log)
    payload = [
        {"method": method, "path": path, "status": status, "at": format_iso(at)}
        for method, path, status, at in entries
    ]
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
