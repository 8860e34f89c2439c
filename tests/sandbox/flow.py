"""OAuth 2.0 (3LO) and Jira calls against the sandbox, over HTTP only."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from sandbox.testing import SandboxControl

TIMEOUT_SECONDS = 10

DEMO_CLOUD_ID = "3f7a2c1e-5b8d-4e6f-9a0b-1c2d3e4f5a6b"
DEMO_ADMIN = "5b10ac8d82e05b22cc7d4ef5"
DEMO_READ_ONLY = "5b10a2844c20165700ede21g"
# Never contacted: the tests read the redirect's Location header instead.
REDIRECT_URI = "http://127.0.0.1:9/oauth/callback"
ALL_WORK_SCOPES = ["read:jira-work", "write:jira-work", "offline_access"]


@dataclass
class RegisteredClient:
    """OAuth client registered through the control API."""

    client_id: str
    client_secret: str
    redirect_uri: str


def register_client(
    control: SandboxControl, name: str = "Test app"
) -> RegisteredClient:
    """Register a client with a fresh id so that tests never share one."""
    created = control.register_client(
        name=name,
        redirect_uris=[REDIRECT_URI],
        client_id=f"test-{secrets.token_hex(8)}",
    )
    return RegisteredClient(
        client_id=created["client_id"],
        client_secret=created["client_secret"],
        redirect_uri=REDIRECT_URI,
    )


def authorize_parameters(
    client: RegisteredClient, scopes: list[str], state: str = "state-123"
) -> dict[str, str]:
    """Return the query of an Atlassian authorization URL."""
    return {
        "audience": "api.atlassian.com",
        "client_id": client.client_id,
        "scope": " ".join(scopes),
        "redirect_uri": client.redirect_uri,
        "state": state,
        "response_type": "code",
        "prompt": "consent",
    }


def submit_consent(
    base_url: str,
    parameters: dict[str, str],
    decision: str = "accept",
    account_id: str = DEMO_ADMIN,
    cloud_id: str = DEMO_CLOUD_ID,
) -> requests.Response:
    """POST the consent form as the browser would; do not follow the redirect."""
    form = dict(parameters)
    form.update({"decision": decision, "account_id": account_id, "cloud_id": cloud_id})
    return requests.post(
        f"{base_url}/authorize",
        data=form,
        allow_redirects=False,
        timeout=TIMEOUT_SECONDS,
    )


def redirect_query(response: requests.Response) -> dict[str, str]:
    """Return the query parameters of a redirect response's Location."""
    location = response.headers["Location"]
    return {
        name: values[0] for name, values in parse_qs(urlsplit(location).query).items()
    }


def obtain_code(
    base_url: str,
    client: RegisteredClient,
    scopes: list[str],
    account_id: str = DEMO_ADMIN,
) -> str:
    """Consent as the user and return the authorization code."""
    response = submit_consent(
        base_url, authorize_parameters(client, scopes), account_id=account_id
    )
    assert response.status_code == 302, response.text
    return redirect_query(response)["code"]


def post_token(base_url: str, body: dict[str, Any]) -> requests.Response:
    """POST a JSON body to the token endpoint."""
    return requests.post(f"{base_url}/oauth/token", json=body, timeout=TIMEOUT_SECONDS)


def exchange_code(
    base_url: str, client: RegisteredClient, code: str
) -> requests.Response:
    """Redeem an authorization code."""
    return post_token(
        base_url,
        {
            "grant_type": "authorization_code",
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "code": code,
            "redirect_uri": client.redirect_uri,
        },
    )


def refresh(
    base_url: str, client: RegisteredClient, refresh_token: str
) -> requests.Response:
    """Exchange a refresh token for a new pair."""
    return post_token(
        base_url,
        {
            "grant_type": "refresh_token",
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "refresh_token": refresh_token,
        },
    )


def obtain_tokens(
    base_url: str,
    control: SandboxControl,
    scopes: list[str] | None = None,
    account_id: str = DEMO_ADMIN,
) -> tuple[RegisteredClient, dict[str, Any]]:
    """Register a client, consent and redeem the code; return client and tokens."""
    client = register_client(control)
    code = obtain_code(base_url, client, scopes or ALL_WORK_SCOPES, account_id)
    response = exchange_code(base_url, client, code)
    assert response.status_code == 200, response.text
    return client, response.json()


def jira_url(base_url: str, path: str, cloud_id: str = DEMO_CLOUD_ID) -> str:
    """Return the gateway URL of a Jira REST v3 path."""
    return f"{base_url}/ex/jira/{cloud_id}/rest/api/3/{path}"


def bearer(access_token: str) -> dict[str, str]:
    """Return the Authorization header for an access token."""
    return {"Authorization": f"Bearer {access_token}"}


def create_issue(
    base_url: str,
    access_token: str,
    fields: dict[str, Any],
    cloud_id: str = DEMO_CLOUD_ID,
) -> requests.Response:
    """Call Create Issue with the given fields."""
    return requests.post(
        jira_url(base_url, "issue", cloud_id),
        json={"fields": fields},
        headers=bearer(access_token),
        timeout=TIMEOUT_SECONDS,
    )


def get_issue(
    base_url: str,
    access_token: str,
    id_or_key: str,
    params: dict[str, str] | None = None,
    cloud_id: str = DEMO_CLOUD_ID,
) -> requests.Response:
    """Call Get Issue."""
    return requests.get(
        jira_url(base_url, f"issue/{id_or_key}", cloud_id),
        params=params,
        headers=bearer(access_token),
        timeout=TIMEOUT_SECONDS,
    )


def adf(text: str) -> dict[str, Any]:
    """Return a one-paragraph Atlassian Document."""
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


ALL_CLOUD_SCOPES = [
    "read:jira-work",
    "write:jira-work",
    "read:jira-user",
    "manage:jira-configuration",
    "offline_access",
]
DEMO_DC_INSTANCE = "demo"


def jira_call(
    method: str,
    base_url: str,
    access_token: str,
    path: str,
    cloud_id: str = DEMO_CLOUD_ID,
    **kwargs: Any,
) -> requests.Response:
    """Call a Jira REST v3 path on a Cloud site through the gateway."""
    return requests.request(
        method,
        jira_url(base_url, path, cloud_id),
        headers={**bearer(access_token), **kwargs.pop("headers", {})},
        timeout=TIMEOUT_SECONDS,
        **kwargs,
    )


def dc_url(base_url: str, path: str, instance: str = DEMO_DC_INSTANCE) -> str:
    """Return the URL of a path under a Data Center instance's portal."""
    return f"{base_url}/dc/{instance}/{path}"


def dc_call(
    method: str,
    base_url: str,
    access_token: str,
    path: str,
    instance: str = DEMO_DC_INSTANCE,
    **kwargs: Any,
) -> requests.Response:
    """Call a Jira REST v2 path on a Data Center instance."""
    return requests.request(
        method,
        dc_url(base_url, f"rest/api/2/{path}", instance),
        headers={**bearer(access_token), **kwargs.pop("headers", {})},
        timeout=TIMEOUT_SECONDS,
        **kwargs,
    )


def register_dc_client(
    control: SandboxControl, instance: str = DEMO_DC_INSTANCE
) -> RegisteredClient:
    """Register an incoming application link with a fresh id on the instance."""
    created = control.register_client(
        name="DC test app",
        redirect_uris=[REDIRECT_URI],
        client_id=f"dc-{secrets.token_hex(8)}",
        instance=instance,
    )
    return RegisteredClient(
        client_id=created["client_id"],
        client_secret=created["client_secret"],
        redirect_uri=REDIRECT_URI,
    )


def dc_consent(
    base_url: str,
    client: RegisteredClient,
    scope: str = "WRITE",
    account_id: str = DEMO_ADMIN,
    instance: str = DEMO_DC_INSTANCE,
    challenge: tuple[str, str] | None = None,
) -> str:
    """Consent on a Data Center instance and return the authorization code."""
    form = {
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "response_type": "code",
        "state": "dc-state",
        "scope": scope,
        "decision": "accept",
        "account_id": account_id,
    }
    if challenge is not None:
        form["code_challenge"], form["code_challenge_method"] = challenge
    response = requests.post(
        dc_url(base_url, "rest/oauth2/latest/authorize", instance),
        data=form,
        allow_redirects=False,
        timeout=TIMEOUT_SECONDS,
    )
    assert response.status_code == 302, response.text
    return redirect_query(response)["code"]


def dc_token(
    base_url: str, fields: dict[str, str], instance: str = DEMO_DC_INSTANCE
) -> requests.Response:
    """POST a form-encoded body to an instance's token endpoint."""
    return requests.post(
        dc_url(base_url, "rest/oauth2/latest/token", instance),
        data=fields,
        timeout=TIMEOUT_SECONDS,
    )


def dc_obtain_tokens(
    base_url: str,
    control: SandboxControl,
    scope: str = "WRITE",
    account_id: str = DEMO_ADMIN,
) -> tuple[RegisteredClient, dict[str, Any]]:
    """Register a DC client, consent and redeem the code; return client and tokens."""
    client = register_dc_client(control)
    code = dc_consent(base_url, client, scope, account_id)
    response = dc_token(
        base_url,
        {
            "grant_type": "authorization_code",
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "code": code,
            "redirect_uri": client.redirect_uri,
        },
    )
    assert response.status_code == 200, response.text
    return client, response.json()
