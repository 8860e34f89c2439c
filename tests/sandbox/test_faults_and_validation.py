"""Planned faults and OpenAPI request validation."""

from __future__ import annotations

import time

import pytest

from tests.sandbox.flow import (
    ALL_CLOUD_SCOPES,
    dc_call,
    dc_obtain_tokens,
    jira_call,
    obtain_tokens,
    post_token,
    refresh,
)


@pytest.fixture(autouse=True)
def no_faults_left(sandbox_control):
    yield
    sandbox_control.clear_faults()


def test_throttle_answers_429_count_times(jira_sandbox, sandbox_control):
    base = jira_sandbox.base_url
    _, tokens = obtain_tokens(base, sandbox_control, ALL_CLOUD_SCOPES)
    fault = sandbox_control.throttle("/ex/jira/", count=2, retry_after=7, method="GET")

    first = jira_call("GET", base, tokens["access_token"], "myself")
    second = jira_call("GET", base, tokens["access_token"], "myself")
    third = jira_call("GET", base, tokens["access_token"], "myself")

    assert first.status_code == 429
    assert first.headers["Retry-After"] == "7"
    assert first.headers["X-RateLimit-Remaining"] == "0"
    assert second.status_code == 429
    assert third.status_code == 200
    planned = {item["id"]: item for item in sandbox_control.faults()}
    assert planned[fault["id"]]["matched"] == 2


def test_fault_matches_method_and_regex(jira_sandbox, sandbox_control):
    base = jira_sandbox.base_url
    _, tokens = obtain_tokens(base, sandbox_control, ALL_CLOUD_SCOPES)
    sandbox_control.add_fault("status", path_regex=r"/mypermissions$", status=500)

    unmatched = jira_call("GET", base, tokens["access_token"], "myself")
    matched = jira_call(
        "GET",
        base,
        tokens["access_token"],
        "mypermissions",
        params={"permissions": "BROWSE_PROJECTS"},
    )

    assert unmatched.status_code == 200
    assert matched.status_code == 500


def test_token_endpoint_fault_uses_oauth_error_body(jira_sandbox, sandbox_control):
    sandbox_control.fail("/oauth/token", status=503)

    response = post_token(jira_sandbox.base_url, {"grant_type": "refresh_token"})

    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"


def test_slow_fault_delays_the_answer(jira_sandbox, sandbox_control):
    base = jira_sandbox.base_url
    _, tokens = obtain_tokens(base, sandbox_control, ALL_CLOUD_SCOPES)
    sandbox_control.slow_down("/ex/jira/", delay_seconds=0.6)

    started = time.monotonic()
    response = jira_call("GET", base, tokens["access_token"], "myself")

    assert response.status_code == 200
    assert time.monotonic() - started >= 0.6


def test_revoke_fault_kills_the_refresh_token_family(jira_sandbox, sandbox_control):
    base = jira_sandbox.base_url
    client, tokens = obtain_tokens(base, sandbox_control, ALL_CLOUD_SCOPES)
    sandbox_control.revoke_on("/oauth/token")

    refused = refresh(base, client, tokens["refresh_token"])
    api = jira_call("GET", base, tokens["access_token"], "myself")

    assert refused.status_code == 403
    assert refused.json()["error"] == "invalid_grant"
    assert api.status_code == 401


def test_fault_body_is_validated(jira_sandbox, sandbox_control):
    from sandbox.testing import SandboxControlError

    with pytest.raises(SandboxControlError) as raised:
        sandbox_control.add_fault("status", count=0)

    assert raised.value.status == 400


def test_cloud_request_breaking_the_spec_is_400(
    jira_sandbox, sandbox_control, spec_validation
):
    base = jira_sandbox.base_url
    _, tokens = obtain_tokens(base, sandbox_control, ALL_CLOUD_SCOPES)

    response = jira_call(
        "DELETE",
        base,
        tokens["access_token"],
        "issue/DEMO-1",
        params={"deleteSubtasks": "maybe"},
    )

    assert response.status_code == 400
    assert "deleteSubtasks" in response.json()["errorMessages"][0]
    assert response.json()["errors"] == {}


def test_dc_request_breaking_the_spec_is_400(
    jira_sandbox, sandbox_control, spec_validation
):
    base = jira_sandbox.base_url
    _, tokens = dc_obtain_tokens(base, sandbox_control)

    response = dc_call(
        "POST", base, tokens["access_token"], "issue/DEMO-1/comment", json={"body": 5}
    )

    assert response.status_code == 400
    assert "Request body" in response.json()["errorMessages"][0]


def test_spec_defects_do_not_reject_valid_requests(jira_sandbox, sandbox_control):
    base = jira_sandbox.base_url
    _, tokens = dc_obtain_tokens(base, sandbox_control)
    token = tokens["access_token"]
    key = dc_call(
        "POST",
        base,
        token,
        "issue",
        json={
            "fields": {
                "project": {"key": "DEMO"},
                "issuetype": {"name": "Task"},
                "summary": "text",
            }
        },
    ).json()["key"]

    unassigned = dc_call(
        "PUT", base, token, f"issue/{key}/assignee", json={"name": None}
    )
    listed = dc_call(
        "GET",
        base,
        token,
        f"issue/{key}/transitions",
        params={"expand": "transitions.fields"},
    )

    assert unassigned.status_code == 204
    assert listed.status_code == 200
