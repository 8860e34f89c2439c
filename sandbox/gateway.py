"""Bearer authentication and routing for Jira REST paths of both flavours.

Jira Cloud is reached through the API gateway, /ex/jira/<cloud_id>/rest/api/3/,
and a Jira Data Center instance at /dc/<instance>/rest/api/2/ (its portal URL is
/dc/<instance>). On Cloud, checks run in the gateway's order, each returning 401
or 404 before any Jira code runs:

1. missing, unknown, revoked or expired access token: 401 Unauthorized;
2. unknown cloud id: 404 {"code": 404, "message": "Not Found"};
3. cloud id that the token's grant does not cover, or that the user can no longer
   use: 401 Unauthorized;
4. HTTP method that the resource does not offer: 405;
5. token without the scope the operation needs: 401 "Unauthorized; scope does not
   match".

NOTE: the real gateway's status for a cloud id that no site has is unverified. The
sandbox returns 404 so that a typo in a cloud id is distinguished from a bad token.

Data Center has no gateway: a missing or bad bearer token, a token of another
instance or one whose scope is too low gets 401 with Jira's own error body.
Data Center scopes are hierarchical (READ < WRITE < ADMIN < SYSTEM_ADMIN), and
each Cloud scope maps to the lowest one that covers it.
NOTE: the wording of Data Center's 401 for a scope that is too low is unverified.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Concatenate

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from sandbox.state import (
    DC_SCOPES,
    SandboxState,
    Site,
    TokenFamily,
    User,
    get_store,
)
from sandbox.tokens import find_access_token_family

logger = logging.getLogger(__name__)

JIRA_API_PREFIX = "rest/api/3"
DC_API_PREFIX = "rest/api/2"
DC_SCOPE_FOR_CLOUD_SCOPE = {
    "read:jira-work": "READ",
    "read:jira-user": "READ",
    "write:jira-work": "WRITE",
    "manage:jira-configuration": "ADMIN",
}
DC_NOT_AUTHENTICATED = (
    "You are not authenticated. Authentication required to perform this operation."
)
DC_SCOPE_TOO_LOW = "The OAuth 2.0 access token's scope does not allow this operation."


@dataclass
class GatewayContext:
    """Authenticated gateway request: who calls, on which site, with what grant."""

    request: HttpRequest
    state: SandboxState
    site: Site
    user: User
    family: TokenFamily

    @property
    def is_cloud(self) -> bool:
        """Whether the request is for Jira Cloud rather than Data Center."""
        return self.site.is_cloud

    @cached_property
    def api_base_url(self) -> str:
        """Absolute URL of the REST API root, without a trailing slash."""
        base = self.request.build_absolute_uri("/").rstrip("/")
        if self.site.is_cloud:
            return f"{base}/ex/jira/{self.site.cloud_id}/{JIRA_API_PREFIX}"
        return f"{base}/dc/{self.site.cloud_id}/{DC_API_PREFIX}"

    def api_url(self, path: str) -> str:
        """Return the absolute URL of a REST resource path (v3 Cloud, v2 DC)."""
        return f"{self.api_base_url}/{path}"


JiraHandler = Callable[Concatenate[GatewayContext, ...], HttpResponse]


def parse_bearer_token(request: HttpRequest) -> str | None:
    """Return the token of an "Authorization: Bearer" header, or None."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    return token or None


def gateway_error(status: int, message: str) -> JsonResponse:
    """Return the gateway's own error body, {"code", "message"}."""
    return JsonResponse({"code": status, "message": message}, status=status)


def unauthorized() -> JsonResponse:
    """Return the gateway's 401 for a bad or missing token."""
    return gateway_error(401, "Unauthorized")


def jira_error(
    status: int,
    error_messages: list[str] | None = None,
    errors: dict[str, str] | None = None,
) -> JsonResponse:
    """Return Jira's error body, {"errorMessages": [...], "errors": {...}}."""
    body = {"errorMessages": error_messages or [], "errors": errors or {}}
    return JsonResponse(body, status=status)


def dc_scope_covers(granted: list[str], cloud_scope: str) -> bool:
    """Return whether Data Center scopes cover what a Cloud scope allows."""
    needed = DC_SCOPES.index(DC_SCOPE_FOR_CLOUD_SCOPE[cloud_scope])
    ranks = [DC_SCOPES.index(scope) for scope in granted if scope in DC_SCOPES]
    return bool(ranks) and max(ranks) >= needed


def jira_endpoint(**handlers: tuple[str, JiraHandler]) -> Callable[..., HttpResponse]:
    """Build a Jira REST view from {HTTP method: (required scope, handler)}.

    The scope is a Cloud scope; Data Center checks the scope it maps to. The
    handler runs with the store lock held and receives a GatewayContext followed
    by the URL keyword arguments other than cloud_id or instance.
    """

    @csrf_exempt
    def view(
        request: HttpRequest,
        cloud_id: str | None = None,
        instance: str | None = None,
        **kwargs: Any,
    ) -> HttpResponse:
        if request.content_type == "multipart/form-data":
            # Parse uploads before taking the lock, so that a large file does not
            # hold up every other request.
            request.FILES  # noqa: B018

        token = parse_bearer_token(request)
        store = get_store()
        with store.lock:
            state = store.state
            family = find_access_token_family(state, token) if token else None
            if instance is not None:
                authenticated = _authenticate_data_center(
                    request, state, family, instance
                )
            else:
                authenticated = _authenticate_cloud(
                    request, state, family, cloud_id or ""
                )
            if isinstance(authenticated, HttpResponse):
                return authenticated
            site, user, family = authenticated

            entry = handlers.get(request.method or "")
            if entry is None:
                response = (
                    gateway_error(405, "Method Not Allowed")
                    if site.is_cloud
                    else jira_error(405, ["Method Not Allowed"])
                )
                response["Allow"] = ", ".join(sorted(handlers))
                return response

            required_scope, handler = entry
            if site.is_cloud:
                scope_ok = required_scope in family.scopes
            else:
                scope_ok = dc_scope_covers(family.scopes, required_scope)
            if not scope_ok:
                logger.info(
                    "Rejected %s %s: family %s lacks scope %s",
                    request.method,
                    request.path,
                    family.family_id,
                    required_scope,
                )
                if site.is_cloud:
                    return gateway_error(401, "Unauthorized; scope does not match")
                return jira_error(401, [DC_SCOPE_TOO_LOW])

            context = GatewayContext(
                request=request, state=state, site=site, user=user, family=family
            )
            return handler(context, **kwargs)

    return view


Authenticated = tuple[Site, User, TokenFamily]


def _authenticate_cloud(
    request: HttpRequest,
    state: SandboxState,
    family: TokenFamily | None,
    cloud_id: str,
) -> Authenticated | HttpResponse:
    if family is None or family.instance is not None:
        logger.info(
            "Rejected %s %s: missing or invalid access token",
            request.method,
            request.path,
        )
        return unauthorized()

    site = state.sites.get(cloud_id)
    if site is None or not site.is_cloud:
        logger.info(
            "Rejected %s %s: no site has cloud id %s",
            request.method,
            request.path,
            cloud_id,
        )
        return gateway_error(404, "Not Found")

    user = state.users.get(family.account_id)
    granted_sites = state.grants.get((family.client_id, family.account_id), [])
    if user is None or cloud_id not in granted_sites or cloud_id not in user.sites:
        logger.info(
            "Rejected %s %s: grant of family %s does not cover site %s",
            request.method,
            request.path,
            family.family_id,
            cloud_id,
        )
        return unauthorized()
    return site, user, family


def _authenticate_data_center(
    request: HttpRequest,
    state: SandboxState,
    family: TokenFamily | None,
    instance: str,
) -> Authenticated | HttpResponse:
    site = state.sites.get(instance)
    if site is None or site.is_cloud:
        return jira_error(404, ["Not Found"])

    user = state.users.get(family.account_id) if family is not None else None
    if (
        family is None
        or family.instance != instance
        or user is None
        or instance not in user.sites
    ):
        logger.info(
            "Rejected %s %s: missing or invalid access token",
            request.method,
            request.path,
        )
        response = jira_error(401, [DC_NOT_AUTHENTICATED])
        response["WWW-Authenticate"] = 'Bearer realm="OAuth"'
        return response
    return site, user, family


def gateway_not_found(request: HttpRequest, **kwargs: Any) -> JsonResponse:
    """Return the gateway's JSON 404 for a path that no resource matches."""
    return gateway_error(404, "Not Found")


def data_center_not_found(request: HttpRequest, **kwargs: Any) -> JsonResponse:
    """Return Jira's JSON 404 for a Data Center path that no resource matches."""
    return jira_error(404, ["Not Found"])
