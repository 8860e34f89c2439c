"""Rotating refresh tokens, reuse detection and token lifetimes."""

from __future__ import annotations

import json

import requests

from tests.sandbox.flow import (
    DEMO_ADMIN,
    DEMO_CLOUD_ID,
    TIMEOUT_SECONDS,
    authorize_parameters,
    bearer,
    create_issue,
    get_issue,
    obtain_tokens,
    refresh,
)

REUSE_INTERVAL = 10 * 60
DAY = 24 * 3600
# The sandbox drops dead credentials after every 1000 codes or token pairs issued.
SWEEP_EVERY_ISSUED_CREDENTIALS = 1000


def token_accepted(base_url: str, access_token: str) -> bool:
    """Return whether the gateway accepts the access token."""
    response = requests.get(
        f"{base_url}/oauth/token/accessible-resources",
        headers=bearer(access_token),
        timeout=TIMEOUT_SECONDS,
    )
    return response.status_code == 200


def test_refresh_rotates_both_tokens(jira_sandbox, sandbox_control):
    # given
    base_url = jira_sandbox.base_url
    client, first = obtain_tokens(base_url, sandbox_control)

    # when
    response = refresh(base_url, client, first["refresh_token"])

    # then
    second = response.json()
    assert response.status_code == 200
    assert second["token_type"] == "Bearer"
    assert second["expires_in"] == 3600
    assert second["scope"] == first["scope"]
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert token_accepted(base_url, second["access_token"])


def test_rotated_refresh_token_works_within_reuse_interval(
    jira_sandbox, sandbox_control
):
    # given
    base_url = jira_sandbox.base_url
    client, first = obtain_tokens(base_url, sandbox_control)
    second = refresh(base_url, client, first["refresh_token"]).json()
    sandbox_control.advance_clock(REUSE_INTERVAL - 60)

    # when
    response = refresh(base_url, client, first["refresh_token"])

    # then
    third = response.json()
    assert response.status_code == 200
    assert third["refresh_token"] not in (
        first["refresh_token"],
        second["refresh_token"],
    )
    assert third["access_token"] != second["access_token"]
    assert token_accepted(base_url, third["access_token"])
    assert token_accepted(base_url, second["access_token"])
    assert refresh(base_url, client, second["refresh_token"]).status_code == 200


def test_refresh_token_reuse_after_interval_revokes_family(
    jira_sandbox, sandbox_control
):
    # given
    base_url = jira_sandbox.base_url
    client, first = obtain_tokens(base_url, sandbox_control)
    second = refresh(base_url, client, first["refresh_token"]).json()
    sandbox_control.advance_clock(REUSE_INTERVAL + 1)
    assert token_accepted(base_url, second["access_token"])

    # when
    response = refresh(base_url, client, first["refresh_token"])

    # then
    assert response.status_code == 403
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "Unknown or invalid refresh token.",
    }
    newest_access = create_issue(
        base_url,
        second["access_token"],
        {"project": {"key": "DEMO"}, "issuetype": {"name": "Task"}, "summary": "x"},
    )
    assert newest_access.status_code == 401
    assert newest_access.json() == {"code": 401, "message": "Unauthorized"}
    assert refresh(base_url, client, second["refresh_token"]).status_code == 403
    family = sandbox_control.token_requests(client.client_id)["families"][0]
    assert family["revoked"] is True


def test_old_access_token_dies_ten_minutes_after_rotation(
    jira_sandbox, sandbox_control
):
    # given
    base_url = jira_sandbox.base_url
    client, first = obtain_tokens(base_url, sandbox_control)
    second = refresh(base_url, client, first["refresh_token"]).json()

    # when
    sandbox_control.advance_clock(REUSE_INTERVAL - 5)
    alive_before_interval = token_accepted(base_url, first["access_token"])
    sandbox_control.advance_clock(10)
    alive_after_interval = token_accepted(base_url, first["access_token"])

    # then
    assert alive_before_interval is True
    assert alive_after_interval is False
    assert token_accepted(base_url, second["access_token"]) is True


def test_access_token_expires_after_an_hour(jira_sandbox, sandbox_control):
    # given
    base_url = jira_sandbox.base_url
    _, tokens = obtain_tokens(base_url, sandbox_control)
    created = create_issue(
        base_url,
        tokens["access_token"],
        {"project": {"key": "DEMO"}, "issuetype": {"name": "Task"}, "summary": "x"},
    ).json()

    # when
    sandbox_control.advance_clock(3600 - 5)
    before_expiry = get_issue(base_url, tokens["access_token"], created["key"])
    sandbox_control.advance_clock(10)
    after_expiry = get_issue(base_url, tokens["access_token"], created["key"])

    # then
    assert before_expiry.status_code == 200
    assert after_expiry.status_code == 401
    assert after_expiry.json() == {"code": 401, "message": "Unauthorized"}


def test_refresh_token_unused_for_90_days_is_rejected(jira_sandbox, sandbox_control):
    # given
    base_url = jira_sandbox.base_url
    client, tokens = obtain_tokens(base_url, sandbox_control)
    sandbox_control.advance_clock(90 * DAY + 1)

    # when
    response = refresh(base_url, client, tokens["refresh_token"])

    # then
    assert response.status_code == 403
    assert response.json()["error_description"] == "Unknown or invalid refresh token."


def test_token_family_expires_after_365_days(jira_sandbox, sandbox_control):
    # given
    base_url = jira_sandbox.base_url
    client, tokens = obtain_tokens(base_url, sandbox_control)
    refresh_token = tokens["refresh_token"]
    for _ in range(4):
        sandbox_control.advance_clock(89 * DAY)
        rotated = refresh(base_url, client, refresh_token)
        assert rotated.status_code == 200
        refresh_token = rotated.json()["refresh_token"]

    # when
    sandbox_control.advance_clock(10 * DAY)
    response = refresh(base_url, client, refresh_token)

    # then
    assert response.status_code == 403
    assert response.json()["error"] == "invalid_grant"


def test_unknown_refresh_token_is_rejected(jira_sandbox, sandbox_control):
    # given
    base_url = jira_sandbox.base_url
    client, _ = obtain_tokens(base_url, sandbox_control)

    # when
    response = refresh(base_url, client, "not-a-refresh-token")

    # then
    assert response.status_code == 403
    assert response.json()["error_description"] == "Unknown or invalid refresh token."


def test_refresh_token_of_another_client_is_rejected(jira_sandbox, sandbox_control):
    # given
    base_url = jira_sandbox.base_url
    _, tokens = obtain_tokens(base_url, sandbox_control)
    other_client, _ = obtain_tokens(base_url, sandbox_control)

    # when
    response = refresh(base_url, other_client, tokens["refresh_token"])

    # then
    assert response.status_code == 403
    assert response.json()["error"] == "invalid_grant"


def test_token_requests_counted_per_family(jira_sandbox, sandbox_control):
    # given
    base_url = jira_sandbox.base_url
    client, first = obtain_tokens(base_url, sandbox_control)
    second = refresh(base_url, client, first["refresh_token"]).json()
    refresh(base_url, client, second["refresh_token"])

    # when
    counts = sandbox_control.token_requests(client.client_id)

    # then
    assert counts["client_id"] == client.client_id
    assert counts["total"] == 3
    assert counts["by_grant_type"] == {"authorization_code": 1, "refresh_token": 2}
    assert len(counts["families"]) == 1
    assert counts["families"][0]["requests"] == {
        "authorization_code": 1,
        "refresh_token": 2,
    }
    assert counts["families"][0]["revoked"] is False
    assert first["refresh_token"] not in json.dumps(counts)
    assert second["access_token"] not in json.dumps(counts)


def test_sweep_keeps_rotated_refresh_tokens(jira_sandbox, sandbox_control):
    # given: a rotated family, then enough new codes to trigger a credential sweep
    base_url = jira_sandbox.base_url
    client, first = obtain_tokens(base_url, sandbox_control)
    second = refresh(base_url, client, first["refresh_token"]).json()
    sandbox_control.advance_clock(REUSE_INTERVAL + 1)
    parameters = authorize_parameters(client, ["read:jira-work"])
    with requests.Session() as session:
        for _ in range(SWEEP_EVERY_ISSUED_CREDENTIALS):
            consent = session.post(
                f"{base_url}/authorize",
                data={
                    **parameters,
                    "decision": "accept",
                    "account_id": DEMO_ADMIN,
                    "cloud_id": DEMO_CLOUD_ID,
                },
                allow_redirects=False,
                timeout=TIMEOUT_SECONDS,
            )
            assert consent.status_code == 302

    # when
    reuse = refresh(base_url, client, first["refresh_token"])

    # then
    assert reuse.status_code == 403
    assert refresh(base_url, client, second["refresh_token"]).status_code == 403
