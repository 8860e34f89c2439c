"""Atlassian's OAuth 2.0 (3LO) authorization server, over HTTP, with no database.

The authorization server and the API gateway are reached through
settings.ATLASSIAN_AUTH_URL and settings.ATLASSIAN_API_URL.
"""

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypedDict
from urllib.parse import quote, urlencode

import requests
from authlib.common.urls import url_decode
from authlib.integrations.base_client import OAuthError as AuthlibOAuthError
from authlib.integrations.requests_client import OAuth2Session
from django.conf import settings
from django.utils import timezone

from config.outbound import http_session

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
    """A timeout, a 5xx or a 429: the same request may succeed later."""


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
            f"The authorization server answered HTTP {response.status_code}; "
            "try again later.",
            status=response.status_code,
        )
    return response


def _session(client_id: str, client_secret: str) -> OAuth2Session:
    session = OAuth2Session(
        client_id,
        client_secret,
        token_endpoint_auth_method="client_secret_json",
    )
    session.register_client_auth_method(("client_secret_json", _client_secret_json))
    session.register_compliance_hook("access_token_response", _reject_unavailable)
    session.register_compliance_hook("refresh_token_response", _reject_unavailable)
    session.trust_env = False
    return session


def _token_endpoint() -> str:
    return f"{settings.ATLASSIAN_AUTH_URL.rstrip('/')}/oauth/token"


def _to_grant(token: dict, *, fallback_refresh_token: str = "") -> TokenGrant:
    try:
        access_token = token["access_token"]
        expires_in = int(token.get("expires_in", 3600))
    except (KeyError, TypeError, ValueError):
        raise OAuthError(
            "The authorization server's answer has no usable access_token."
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


def authorize_url(*, client_id: str, redirect_uri: str, state: str) -> str:
    """Return the consent URL the administrator's browser is sent to."""
    query = urlencode(
        {
            "audience": settings.ATLASSIAN_AUDIENCE,
            "client_id": client_id,
            "scope": " ".join(settings.JIRA_OAUTH_SCOPES),
            "redirect_uri": redirect_uri,
            "state": state,
            "response_type": "code",
            "prompt": "consent",
        },
        quote_via=quote,
    )
    return f"{settings.ATLASSIAN_AUTH_URL.rstrip('/')}/authorize?{query}"


def exchange_code(
    *, client_id: str, client_secret: str, code: str, redirect_uri: str
) -> TokenGrant:
    """Exchange an authorization code for an access token and a refresh token."""
    session = _session(client_id, client_secret)
    try:
        token = session.fetch_token(
            _token_endpoint(),
            grant_type="authorization_code",
            code=code,
            redirect_uri=redirect_uri,
            timeout=settings.JIRA_HTTP_TIMEOUT,
        )
    except AuthlibOAuthError as exc:
        raise _map_error(exc) from None
    except requests.RequestException as exc:
        raise TemporaryOAuthError(
            f"The authorization server could not be reached: {type(exc).__name__}."
        ) from None
    finally:
        session.close()
    return _to_grant(token)


def refresh(*, client_id: str, client_secret: str, refresh_token: str) -> TokenGrant:
    """Trade a refresh token for a new pair; Atlassian rotates the refresh token."""
    session = _session(client_id, client_secret)
    try:
        token = session.refresh_token(
            _token_endpoint(),
            refresh_token=refresh_token,
            timeout=settings.JIRA_HTTP_TIMEOUT,
        )
    except AuthlibOAuthError as exc:
        raise _map_error(exc) from None
    except requests.RequestException as exc:
        raise TemporaryOAuthError(
            f"The authorization server could not be reached: {type(exc).__name__}."
        ) from None
    finally:
        session.close()
    return _to_grant(token, fallback_refresh_token=refresh_token)


def accessible_resources(access_token: str) -> list[Site]:
    """Return the Jira sites this access token was granted."""
    url = f"{settings.ATLASSIAN_API_URL.rstrip('/')}/oauth/token/accessible-resources"
    try:
        response = http_session().get(
            url,
            headers={
                "Authorization": f"Bearer {access_token}",
                "Accept": "application/json",
            },
            timeout=settings.JIRA_HTTP_TIMEOUT,
        )
    except requests.RequestException as exc:
        raise TemporaryOAuthError(
            f"The API gateway could not be reached: {type(exc).__name__}."
        ) from None

    if response.status_code == 429 or response.status_code >= 500:
        raise TemporaryOAuthError(
            f"The API gateway answered HTTP {response.status_code}; try again later.",
            status=response.status_code,
        )
    if response.status_code != 200:
        raise OAuthError(
            f"The API gateway refused the access token (HTTP {response.status_code}).",
            status=response.status_code,
        )
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
