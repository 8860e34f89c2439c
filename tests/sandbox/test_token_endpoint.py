"""Token endpoint: code exchange, client authentication and accessible resources."""

from __future__ import annotations

import requests

from tests.sandbox.flow import (
    DEMO_CLOUD_ID,
    TIMEOUT_SECONDS,
    authorize_parameters,
    bearer,
    exchange_code,
    obtain_code,
    obtain_tokens,
    post_token,
    redirect_query,
    register_client,
    submit_consent,
)


def accessible_resources(base_url: str, headers: dict[str, str]) -> requests.Response:
    return requests.get(
        f"{base_url}/oauth/token/accessible-resources",
        headers=headers,
        timeout=TIMEOUT_SECONDS,
    )


def test_code_exchange_with_offline_access_returns_refresh_token(
    jira_sandbox, sandbox_control
):
    # given
    client = register_client(sandbox_control)
    scopes = ["read:jira-work", "write:jira-work", "offline_access"]
    code = obtain_code(jira_sandbox.base_url, client, scopes)

    # when
    response = exchange_code(jira_sandbox.base_url, client, code)

    # then
    body = response.json()
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "read:jira-work write:jira-work offline_access"
    assert len(body["access_token"]) >= 43
    assert len(body["refresh_token"]) >= 43
    assert body["access_token"] != body["refresh_token"]


def test_no_offline_access_means_no_refresh_token(jira_sandbox, sandbox_control):
    # given
    client = register_client(sandbox_control)
    code = obtain_code(jira_sandbox.base_url, client, ["read:jira-work"])

    # when
    response = exchange_code(jira_sandbox.base_url, client, code)

    # then
    body = response.json()
    assert response.status_code == 200
    assert body["scope"] == "read:jira-work"
    assert "refresh_token" not in body
    assert body["access_token"]


def test_wrong_client_secret_is_unauthorized(jira_sandbox, sandbox_control):
    # given
    client = register_client(sandbox_control)
    code = obtain_code(jira_sandbox.base_url, client, ["read:jira-work"])

    # when
    response = post_token(
        jira_sandbox.base_url,
        {
            "grant_type": "authorization_code",
            "client_id": client.client_id,
            "client_secret": client.client_secret + "x",
            "code": code,
            "redirect_uri": client.redirect_uri,
        },
    )

    # then
    assert response.status_code == 401
    assert response.json() == {
        "error": "access_denied",
        "error_description": "Unauthorized",
    }


def test_unknown_client_is_unauthorized(jira_sandbox):
    # when
    response = post_token(
        jira_sandbox.base_url,
        {
            "grant_type": "refresh_token",
            "client_id": "no-such-client",
            "client_secret": "secret",
            "refresh_token": "token",
        },
    )

    # then
    assert response.status_code == 401
    assert response.json()["error"] == "access_denied"


def test_reused_code_is_rejected_and_revokes_its_tokens(jira_sandbox, sandbox_control):
    # given
    base_url = jira_sandbox.base_url
    client = register_client(sandbox_control)
    scopes = ["read:jira-work", "offline_access"]
    code = obtain_code(base_url, client, scopes)
    first = exchange_code(base_url, client, code).json()
    headers = bearer(first["access_token"])
    assert accessible_resources(base_url, headers).status_code == 200

    # when
    replay = exchange_code(base_url, client, code)

    # then
    assert replay.status_code == 403
    assert replay.json() == {
        "error": "invalid_grant",
        "error_description": "Invalid authorization code",
    }
    assert accessible_resources(base_url, headers).status_code == 401
    refreshed = post_token(
        base_url,
        {
            "grant_type": "refresh_token",
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "refresh_token": first["refresh_token"],
        },
    )
    assert refreshed.status_code == 403


def test_code_bound_to_redirect_uri_and_client(jira_sandbox, sandbox_control):
    # given
    base_url = jira_sandbox.base_url
    client = register_client(sandbox_control)
    other_client = register_client(sandbox_control)
    code = obtain_code(base_url, client, ["read:jira-work"])

    # when
    wrong_uri = post_token(
        base_url,
        {
            "grant_type": "authorization_code",
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "code": code,
            "redirect_uri": client.redirect_uri + "/elsewhere",
        },
    )
    wrong_client = exchange_code(base_url, other_client, code)
    still_valid = exchange_code(base_url, client, code)

    # then
    assert wrong_uri.status_code == 403
    assert wrong_uri.json()["error_description"] == "Invalid authorization code"
    assert wrong_client.status_code == 403
    assert still_valid.status_code == 200


def test_code_expires_after_five_minutes(jira_sandbox, sandbox_control):
    # given
    client = register_client(sandbox_control)
    code = obtain_code(jira_sandbox.base_url, client, ["read:jira-work"])
    sandbox_control.advance_clock(5 * 60 + 1)

    # when
    response = exchange_code(jira_sandbox.base_url, client, code)

    # then
    assert response.status_code == 403
    assert response.json()["error"] == "invalid_grant"


def test_non_json_body_is_unsupported_media_type(jira_sandbox, sandbox_control):
    # given
    client = register_client(sandbox_control)

    # when
    response = requests.post(
        f"{jira_sandbox.base_url}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "code": "code",
            "redirect_uri": client.redirect_uri,
        },
        timeout=TIMEOUT_SECONDS,
    )

    # then
    assert response.status_code == 415
    assert response.json()["error"] == "invalid_request"
    assert "application/json" in response.json()["error_description"]


def test_missing_fields_are_named_in_invalid_request(jira_sandbox, sandbox_control):
    # given
    client = register_client(sandbox_control)
    base = {"client_id": client.client_id, "client_secret": client.client_secret}
    cases = [
        (
            {"client_id": client.client_id, "grant_type": "refresh_token"},
            "client_secret",
        ),
        ({**base}, "grant_type"),
        ({**base, "grant_type": "authorization_code", "code": "c"}, "redirect_uri"),
        ({**base, "grant_type": "refresh_token"}, "refresh_token"),
    ]

    for body, missing_field in cases:
        # when
        response = post_token(jira_sandbox.base_url, body)

        # then
        assert response.status_code == 400, missing_field
        assert response.json()["error"] == "invalid_request", missing_field
        assert missing_field in response.json()["error_description"], missing_field


def test_unsupported_grant_type_is_rejected(jira_sandbox, sandbox_control):
    # given
    client = register_client(sandbox_control)

    # when
    response = post_token(
        jira_sandbox.base_url,
        {
            "grant_type": "client_credentials",
            "client_id": client.client_id,
            "client_secret": client.client_secret,
        },
    )

    # then
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_accessible_resources_lists_granted_site(jira_sandbox, sandbox_control):
    # given
    scopes = ["read:jira-work", "write:jira-work"]
    _, tokens = obtain_tokens(jira_sandbox.base_url, sandbox_control, scopes)

    # when
    response = accessible_resources(
        jira_sandbox.base_url, bearer(tokens["access_token"])
    )

    # then
    assert response.status_code == 200
    assert response.json() == [
        {
            "id": DEMO_CLOUD_ID,
            "name": "Demo Jira",
            "url": "https://demo.atlassian.net",
            "scopes": scopes,
            "avatarUrl": response.json()[0]["avatarUrl"],
        }
    ]
    assert response.json()[0]["avatarUrl"].startswith("https://")


def test_accessible_resources_accumulate_consented_sites(jira_sandbox, sandbox_control):
    # given
    base_url = jira_sandbox.base_url
    second_site = sandbox_control.add_site(
        "Second Jira", "https://second.atlassian.net"
    )
    user = sandbox_control.add_user(
        "Two Sites", "two@demo.example", sites=[DEMO_CLOUD_ID, second_site["cloud_id"]]
    )
    client = register_client(sandbox_control)
    first_code = obtain_code(base_url, client, ["read:jira-work"], user["account_id"])
    first_tokens = exchange_code(base_url, client, first_code).json()

    # when
    consent = submit_consent(
        base_url,
        authorize_parameters(client, ["read:jira-work"]),
        account_id=user["account_id"],
        cloud_id=second_site["cloud_id"],
    )
    second_tokens = exchange_code(base_url, client, redirect_query(consent)["code"])
    response = accessible_resources(base_url, bearer(first_tokens["access_token"]))

    # then
    assert second_tokens.status_code == 200
    assert [site["id"] for site in response.json()] == [
        DEMO_CLOUD_ID,
        second_site["cloud_id"],
    ]


def test_accessible_resources_rejects_bad_tokens(jira_sandbox):
    # given
    cases = [{}, bearer("not-a-token"), {"Authorization": "Basic dXNlcjpwYXNz"}]

    for headers in cases:
        # when
        response = accessible_resources(jira_sandbox.base_url, headers)

        # then
        assert response.status_code == 401, headers
        assert response.json() == {"code": 401, "message": "Unauthorized"}, headers
