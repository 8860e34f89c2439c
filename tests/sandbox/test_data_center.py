"""Jira Data Center: its OAuth 2.0 provider and REST v2 under /dc/<instance>."""

from __future__ import annotations

import base64
import hashlib
import secrets

import pytest
import requests

from tests.sandbox.flow import (
    DEMO_ADMIN,
    DEMO_READ_ONLY,
    TIMEOUT_SECONDS,
    dc_call,
    dc_consent,
    dc_obtain_tokens,
    dc_token,
    dc_url,
    register_dc_client,
)


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def code_fields(client, code: str, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        "code": code,
        "redirect_uri": client.redirect_uri,
        **extra,
    }


def test_consent_page_lists_instance_users(jira_sandbox, sandbox_control):
    client = register_dc_client(sandbox_control)

    page = requests.get(
        dc_url(jira_sandbox.base_url, "rest/oauth2/latest/authorize"),
        params={
            "client_id": client.client_id,
            "redirect_uri": client.redirect_uri,
            "response_type": "code",
            "scope": "WRITE",
            "state": "s",
        },
        timeout=TIMEOUT_SECONDS,
    )

    assert page.status_code == 200
    assert "Demo Admin (admin)" in page.text


def test_code_exchange_returns_dc_token_response(jira_sandbox, sandbox_control):
    _, tokens = dc_obtain_tokens(jira_sandbox.base_url, sandbox_control)

    assert set(tokens) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "created_at",
        "scope",
    }
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 3600
    assert tokens["scope"] == "WRITE"


@pytest.mark.parametrize("method", ["S256", "plain"])
def test_pkce_verifier_must_match(jira_sandbox, sandbox_control, method):
    base = jira_sandbox.base_url
    client = register_dc_client(sandbox_control)
    verifier = secrets.token_urlsafe(48)
    challenge = s256(verifier) if method == "S256" else verifier
    wrong = dc_token(
        base,
        code_fields(
            client,
            dc_consent(base, client, challenge=(challenge, method)),
            code_verifier=secrets.token_urlsafe(48),
        ),
    )
    right = dc_token(
        base,
        code_fields(
            client,
            dc_consent(base, client, challenge=(challenge, method)),
            code_verifier=verifier,
        ),
    )

    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    assert right.status_code == 200


def test_token_request_may_use_the_query_string(jira_sandbox, sandbox_control):
    base = jira_sandbox.base_url
    client = register_dc_client(sandbox_control)
    code = dc_consent(base, client)

    response = requests.post(
        dc_url(base, "rest/oauth2/latest/token"),
        params=code_fields(client, code),
        timeout=TIMEOUT_SECONDS,
    )

    assert response.status_code == 200


def test_refresh_needs_redirect_uri_and_ends_old_pair(jira_sandbox, sandbox_control):
    base = jira_sandbox.base_url
    client, tokens = dc_obtain_tokens(base, sandbox_control)
    fields = {
        "grant_type": "refresh_token",
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        "refresh_token": tokens["refresh_token"],
    }

    without_redirect = dc_token(base, fields)
    refreshed = dc_token(base, {**fields, "redirect_uri": client.redirect_uri})
    reused = dc_token(base, {**fields, "redirect_uri": client.redirect_uri})
    old_access = dc_call("GET", base, tokens["access_token"], "myself")
    new_access = dc_call("GET", base, refreshed.json()["access_token"], "myself")

    assert without_redirect.status_code == 400
    assert refreshed.status_code == 200
    assert reused.status_code == 400
    assert old_access.status_code == 401
    assert new_access.status_code == 200
    assert new_access.json()["name"] == "admin"


def test_cloud_token_endpoint_rejects_dc_clients(jira_sandbox, sandbox_control):
    client = register_dc_client(sandbox_control)

    response = requests.post(
        f"{jira_sandbox.base_url}/oauth/token",
        json={
            "grant_type": "refresh_token",
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "refresh_token": "x",
        },
        timeout=TIMEOUT_SECONDS,
    )

    assert response.status_code == 401


def test_rest_v2_uses_strings_and_usernames(jira_sandbox, sandbox_control):
    base = jira_sandbox.base_url
    _, tokens = dc_obtain_tokens(base, sandbox_control)
    token = tokens["access_token"]

    created = dc_call(
        "POST",
        base,
        token,
        "issue",
        json={
            "fields": {
                "project": {"key": "DEMO"},
                "issuetype": {"name": "Task"},
                "summary": "On Data Center",
                "description": "Wiki *text*",
            }
        },
    )
    key = created.json()["key"]
    assigned = dc_call(
        "PUT", base, token, f"issue/{key}/assignee", json={"name": "admin"}
    )
    commented = dc_call(
        "POST", base, token, f"issue/{key}/comment", json={"body": "Seen."}
    )
    issue = dc_call("GET", base, token, f"issue/{key}").json()

    assert created.status_code == 201
    assert assigned.status_code == 204
    assert commented.status_code == 201
    assert issue["fields"]["description"] == "Wiki *text*"
    assert issue["fields"]["assignee"]["name"] == "admin"
    assert issue["fields"]["comment"]["comments"][0]["body"] == "Seen."


def test_assign_without_permission_is_401_on_dc(jira_sandbox, sandbox_control):
    base = jira_sandbox.base_url
    _, admin = dc_obtain_tokens(base, sandbox_control)
    _, reader = dc_obtain_tokens(base, sandbox_control, account_id=DEMO_READ_ONLY)
    key = dc_call(
        "POST",
        base,
        admin["access_token"],
        "issue",
        json={
            "fields": {
                "project": {"key": "DEMO"},
                "issuetype": {"name": "Task"},
                "summary": "x",
            }
        },
    ).json()["key"]

    response = dc_call(
        "PUT",
        base,
        reader["access_token"],
        f"issue/{key}/assignee",
        json={"name": "admin"},
    )

    assert response.status_code == 401


def test_mypermissions_returns_every_permission_on_dc(jira_sandbox, sandbox_control):
    base = jira_sandbox.base_url
    _, tokens = dc_obtain_tokens(base, sandbox_control, scope="READ")

    response = dc_call("GET", base, tokens["access_token"], "mypermissions")

    permissions = response.json()["permissions"]
    assert response.status_code == 200
    assert permissions["ADMINISTER"]["havePermission"] is True
    assert "TRANSITION_ISSUES" in permissions


def test_scope_too_low_is_401(jira_sandbox, sandbox_control):
    base = jira_sandbox.base_url
    _, tokens = dc_obtain_tokens(base, sandbox_control, scope="WRITE")

    response = dc_call(
        "POST",
        base,
        tokens["access_token"],
        "project",
        json={
            "key": "NOPE",
            "name": "Nope",
            "projectTypeKey": "software",
            "lead": "admin",
        },
    )

    assert response.status_code == 401


def test_dc_token_is_not_accepted_by_the_cloud_gateway(jira_sandbox, sandbox_control):
    from tests.sandbox.flow import jira_call

    _, tokens = dc_obtain_tokens(jira_sandbox.base_url, sandbox_control)

    response = jira_call("GET", jira_sandbox.base_url, tokens["access_token"], "myself")

    assert response.status_code == 401
    assert DEMO_ADMIN not in response.text
