"""Bearer authentication and routing for the API gateway paths (/ex/jira/...).

Checks run in the gateway's order, each returning 401 or 404 before any Jira
code runs:

1. missing, unknown, revoked or expired access token: 401 Unauthorized;
2. unknown cloud id: 404 {"code": 404, "message": "Not Found"};
3. cloud id that the token's grant does not cover, or that the user can no longer
   use: 401 Unauthorized;
4. HTTP method that the resource does not offer: 405;
5. token without the scope the operation needs: 401 "Unauthorized; scope does not
   match".

NOTE: the real gateway's status for a cloud id that no site has is unverified. The
sandbox returns 404 so that a typo in a cloud id is distinguished from a bad token.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Concatenate

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from sandbox.state import SandboxState, Site, TokenFamily, User, get_store
from sandbox.tokens import find_access_token_family

logger = logging.getLogger(__name__)

JIRA_API_PREFIX = "rest/api/3"


@dataclass
class GatewayContext:
    """Authenticated gateway request: who calls, on which site, with what grant."""

    request: HttpRequest
    state: SandboxState
    site: Site
    user: User
    family: TokenFamily

    def api_url(self, path: str) -> str:
        """Return the absolute gateway URL of a Jira REST v3 resource path."""
        base = self.request.build_absolute_uri("/").rstrip("/")
        return f"{base}/ex/jira/{self.site.cloud_id}/{JIRA_API_PREFIX}/{path}"


JiraHandler = Callable[Concatenate[GatewayContext, ...], HttpResponse]


def parse_bearer_token(request: HttpRequest) -> str | None:
    """Return the token of an "Authorization: Bearer" header, or None."""
    header = request.headers.get("Authorization", "")
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


def jira_endpoint(**handlers: tuple[str, JiraHandler]) -> Callable[..., HttpResponse]:
    """Build a gateway view from {HTTP method: (required scope, handler)}.

    The handler runs with the store lock held and receives a GatewayContext
    followed by the URL keyword arguments other than cloud_id.
    """

    @csrf_exempt
    def view(request: HttpRequest, cloud_id: str, **kwargs: Any) -> HttpResponse:
        token = parse_bearer_token(request)
        store = get_store()
        with store.lock:
            state = store.state
            family = find_access_token_family(state, token) if token else None
            if family is None:
                logger.info(
                    "Rejected %s %s: missing or invalid access token",
                    request.method,
                    request.path,
                )
                return unauthorized()

            site = state.sites.get(cloud_id)
            if site is None:
                logger.info(
                    "Rejected %s %s: no site has cloud id %s",
                    request.method,
                    request.path,
                    cloud_id,
                )
                return gateway_error(404, "Not Found")

            user = state.users.get(family.account_id)
            granted_sites = state.grants.get((family.client_id, family.account_id), [])
            if (
                user is None
                or cloud_id not in granted_sites
                or cloud_id not in user.sites
            ):
                logger.info(
                    "Rejected %s %s: grant of family %s does not cover site %s",
                    request.method,
                    request.path,
                    family.family_id,
                    cloud_id,
                )
                return unauthorized()

            entry = handlers.get(request.method or "")
            if entry is None:
                response = gateway_error(405, "Method Not Allowed")
                response["Allow"] = ", ".join(sorted(handlers))
                return response

            required_scope, handler = entry
            if required_scope not in family.scopes:
                logger.info(
                    "Rejected %s %s: family %s lacks scope %s",
                    request.method,
                    request.path,
                    family.family_id,
                    required_scope,
                )
                return gateway_error(401, "Unauthorized; scope does not match")

            context = GatewayContext(
                request=request, state=state, site=site, user=user, family=family
            )
            return handler(context, **kwargs)

    return view


def gateway_not_found(request: HttpRequest, **kwargs: Any) -> JsonResponse:
    """Return the gateway's JSON 404 for a path that no resource matches."""
    return gateway_error(404, "Not Found")
