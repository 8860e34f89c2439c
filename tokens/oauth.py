"""Atlassian's OAuth 2.0 (3LO) authorization server, over HTTP, with no database.

The authorization server and the API gateway are reached through
settings.ATLASSIAN_AUTH_URL and settings.ATLASSIAN_API_URL.
"""

import contextlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypedDict
from urllib.parse import quote, urlencode

import requests
from authlib.common.urls import url_decode
from authlib.integrations.base_client import OAuthError as AuthlibOAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from django.conf import settings
from django.utils import timezone

from config.outbound import guard_session, http_session

logger = logging.getLogger(__name__)


class OAuthError(Exception):
    """The authorization server rejected a request or could not be reached."""

    def __init__(self, message: str, *, error: str = "", status: int | None = None):
        super().__init__(message)
        self.error = error
        self.status = status


class InvalidClientError(OAuthError):
    """The consumer key or consumer secret was rejected."""


class InvalidGrantError(OAuthError):
    """The code or refresh token is dead: only a new consent helps."""


class TemporaryOAuthError(OAuthError):
    """A timeout, a 5xx or a 429: the same request may succeed later.

    `retry_after` is the wait in seconds from a 429 or 503 Retry-After header, if any.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


def _retry_after_seconds(response: requests.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return None


class Site(TypedDict):
    id: str
    name: str
    url: str
    scopes: list[str]


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    refresh_token: str
    expires_at: datetime
    scopes: str

    def __repr__(self) -> str:
        return f"TokenGrant(expires_at={self.expires_at!r}, scopes={self.scopes!r})"


@dataclass(frozen=True)
class OAuthServer:
    """The endpoints and rules of one flavour of Jira's OAuth 2.0 code grant.

    Jira Cloud uses Atlassian's central server, with JSON token requests and no
    PKCE. Jira Data Center serves its own endpoints under the portal URL, takes
    form-encoded token requests, supports PKCE and checks redirect_uri on refresh.
    """

    authorize_endpoint: str
    token_endpoint: str
    scopes: tuple[str, ...]
    audience: str | None
    uses_pkce: bool
    json_token_requests: bool
    redirect_uri_on_refresh: bool


def cloud_server() -> OAuthServer:
    base = settings.ATLASSIAN_AUTH_URL.rstrip("/")
    return OAuthServer(
        authorize_endpoint=f"{base}/authorize",
        token_endpoint=f"{base}/oauth/token",
        scopes=tuple(settings.JIRA_OAUTH_SCOPES),
        audience=settings.ATLASSIAN_AUDIENCE,
        uses_pkce=False,
        json_token_requests=True,
        redirect_uri_on_refresh=False,
    )


def data_center_server(portal_url: str) -> OAuthServer:
    base = f"{portal_url.rstrip('/')}/rest/oauth2/latest"
    return OAuthServer(
        authorize_endpoint=f"{base}/authorize",
        token_endpoint=f"{base}/token",
        scopes=tuple(settings.JIRA_DC_OAUTH_SCOPES),
        audience=None,
        uses_pkce=True,
        json_token_requests=False,
        redirect_uri_on_refresh=True,
    )


def _client_secret_json(client, method: str, uri: str, headers: dict, body):
    """Send the token request as JSON with the client credentials in the body.

    Atlassian's token endpoint takes a JSON body; Authlib builds a form body, so
    this client-auth hook converts it.
    """
    fields = dict(url_decode(body.decode() if isinstance(body, bytes) else body or ""))
    fields["client_id"] = client.client_id
    fields["client_secret"] = client.client_secret
    body = json.dumps(fields)
    headers["Content-Type"] = "application/json"
    headers["Accept"] = "application/json"
    headers["Content-Length"] = str(len(body.encode()))
    return uri, headers, body


def _reject_unavailable(response: requests.Response) -> requests.Response:
    if response.status_code == 429 or response.status_code >= 500:
        raise TemporaryOAuthError(
            f"The authorization server returned HTTP {response.status_code}; "
            "try again later.",
            status=response.status_code,
            retry_after=_retry_after_seconds(response),
        )
    return response


def _session(server: OAuthServer, client_id: str, client_secret: str) -> OAuth2Session:
    session = OAuth2Session(
        client_id,
        client_secret,
        token_endpoint_auth_method=(
            "client_secret_json" if server.json_token_requests else "client_secret_post"
        ),
    )
    session.register_client_auth_method(("client_secret_json", _client_secret_json))
    session.register_compliance_hook("access_token_response", _reject_unavailable)
    session.register_compliance_hook("refresh_token_response", _reject_unavailable)
    # Token requests pass the same outbound guard as every other call.
    return guard_session(session)


def _to_grant(token: dict, *, fallback_refresh_token: str = "") -> TokenGrant:
    try:
        access_token = token["access_token"]
        expires_in = int(token.get("expires_in", 3600))
    except (KeyError, TypeError, ValueError):
        raise OAuthError(
            "The authorization server's response has no usable access_token."
        ) from None
    return TokenGrant(
        access_token=access_token,
        refresh_token=token.get("refresh_token") or fallback_refresh_token,
        expires_at=timezone.now() + timedelta(seconds=expires_in),
        scopes=str(token.get("scope", "")),
    )


def _map_error(exc: AuthlibOAuthError) -> OAuthError:
    description = exc.description or exc.error
    if exc.error in {"invalid_client", "access_denied", "unauthorized_client"}:
        return InvalidClientError(
            "Jira rejected the consumer key or consumer secret "
            f"({exc.error}): check both against the app in Jira's developer console.",
            error=exc.error,
        )
    if exc.error == "invalid_grant":
        return InvalidGrantError(
            f"Jira no longer accepts this grant ({description}); get a new OAuth 2.0 "
            "access token to reconnect.",
            error=exc.error,
        )
    return OAuthError(
        f"The authorization server rejected the request: {exc.error}: {description}",
        error=exc.error,
    )


def authorize_url(
    server: OAuthServer,
    *,
    client_id: str,
    redirect_uri: str,
    state: str,
    code_verifier: str | None = None,
) -> str:
    """Return the consent URL the administrator's browser is sent to."""
    params = {
        "client_id": client_id,
        "scope": " ".join(server.scopes),
        "redirect_uri": redirect_uri,
        "state": state,
        "response_type": "code",
        "prompt": "consent",
    }
    if server.audience:
        params = {"audience": server.audience, **params}
    if server.uses_pkce:
        if not code_verifier:
            raise ValueError("This server needs a PKCE code_verifier.")
        params["code_challenge"] = create_s256_code_challenge(code_verifier)
        params["code_challenge_method"] = "S256"
    return f"{server.authorize_endpoint}?{urlencode(params, quote_via=quote)}"


@contextlib.contextmanager
def _token_request(
    server: OAuthServer, client_id: str, client_secret: str
) -> Iterator[OAuth2Session]:
    """Yield a session for one token request and turn its failures into OAuthError."""
    session = _session(server, client_id, client_secret)
    try:
        yield session
    except AuthlibOAuthError as exc:
        raise _map_error(exc) from None
    except requests.RequestException as exc:
        raise TemporaryOAuthError(
            f"The authorization server could not be reached: {type(exc).__name__}."
        ) from None
    finally:
        session.close()


def exchange_code(
    server: OAuthServer,
    *,
    client_id: str,
    client_secret: str,
    code: str,
    redirect_uri: str,
    code_verifier: str | None = None,
) -> TokenGrant:
    """Exchange an authorization code for an access token and a refresh token."""
    extra = {"code_verifier": code_verifier} if server.uses_pkce else {}
    with _token_request(server, client_id, client_secret) as session:
        token = session.fetch_token(
            server.token_endpoint,
            grant_type="authorization_code",
            code=code,
            redirect_uri=redirect_uri,
            timeout=settings.JIRA_HTTP_TIMEOUT,
            **extra,
        )
    return _to_grant(token)


def refresh(
    server: OAuthServer,
    *,
    client_id: str,
    client_secret: str,
    refresh_token: str,
    redirect_uri: str,
) -> TokenGrant:
    """Trade a refresh token for a new pair; both flavours rotate the refresh token."""
    extra = {"redirect_uri": redirect_uri} if server.redirect_uri_on_refresh else {}
    with _token_request(server, client_id, client_secret) as session:
        token = session.refresh_token(
            server.token_endpoint,
            refresh_token=refresh_token,
            timeout=settings.JIRA_HTTP_TIMEOUT,
            **extra,
        )
    return _to_grant(token, fallback_refresh_token=refresh_token)


def data_center_check_access_token(portal_url: str, access_token: str) -> None:
    """Raise OAuthError unless Jira Data Center accepts the access token.

    GET /rest/api/2/myself needs no permission beyond a valid token, so its status
    is about the token alone.
    """
    _bearer_get(f"{portal_url.rstrip('/')}/rest/api/2/myself", access_token, "Jira")


def _bearer_get(url: str, access_token: str, server: str) -> requests.Response:
    """GET url with the access token; raise OAuthError unless the status is 200."""
    try:
        response = http_session().get(
            url,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            timeout=settings.JIRA_HTTP_TIMEOUT,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise TemporaryOAuthError(
            f"{server} could not be reached: {type(exc).__name__}."
        ) from None
    if response.status_code == 429 or response.status_code >= 500:
        raise TemporaryOAuthError(
            f"{server} returned HTTP {response.status_code}; try again later.",
            status=response.status_code,
        )
    if 300 <= response.status_code < 400:
        raise OAuthError(
            f"{server} returned a redirect (HTTP {response.status_code}); check that "
            "the address is the site's own https address.",
            status=response.status_code,
        )
    if response.status_code != 200:
        raise OAuthError(
            f"{server} rejected the access token (HTTP {response.status_code}).",
            status=response.status_code,
        )
    return response


def accessible_resources(access_token: str) -> list[Site]:
    """Return the Jira sites this access token was granted."""
    url = f"{settings.ATLASSIAN_API_URL.rstrip('/')}/oauth/token/accessible-resources"
    response = _bearer_get(url, access_token, "The API gateway")
    try:
        sites = response.json()
        return [
            Site(
                id=str(site["id"]),
                name=str(site.get("name", "")),
                url=str(site["url"]),
                scopes=list(site.get("scopes", [])),
            )
            for site in sites
        ]
    except (ValueError, KeyError, TypeError):
        raise OAuthError("The API gateway's list of sites is malformed.") from None
