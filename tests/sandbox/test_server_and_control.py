"""Sandbox process lifecycle, concurrency, request log and control API."""

from __future__ import annotations

import re
import signal
import socket
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from sandbox.testing import SandboxControl, SandboxControlError, SandboxProcess
from tests.sandbox.flow import (
    DEMO_CLOUD_ID,
    REDIRECT_URI,
    TIMEOUT_SECONDS,
    authorize_parameters,
    bearer,
    exchange_code,
    get_issue,
    obtain_code,
    obtain_tokens,
    register_client,
)

CONCURRENT_CLIENTS = 16


@pytest.fixture(scope="module")
def private_sandbox() -> Iterator[SandboxProcess]:
    """Start a sandbox that only this module uses, so resets disturb no one."""
    with SandboxProcess(seed="demo") as process:
        yield process


def control_error(call) -> SandboxControlError:
    with pytest.raises(SandboxControlError) as caught:
        call()
    return caught.value


def test_ready_line_reports_real_port(jira_sandbox):
    # when
    parts = urlsplit(jira_sandbox.base_url)

    # then
    assert parts.scheme == "http"
    assert parts.hostname == "127.0.0.1"
    assert parts.port is not None and parts.port > 0


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
def test_process_exits_cleanly_on_signal(signal_number):
    # given
    process = SandboxProcess(seed="none").start()

    # when
    process.send_signal(signal_number)
    exit_code = process.wait(timeout=10)
    process.stop()

    # then
    assert exit_code == 0
    assert "Stopped" in process.read_log()


def test_server_answers_while_another_connection_stalls(jira_sandbox):
    # given: a client that sent half a request and went quiet
    parts = urlsplit(jira_sandbox.base_url)
    stalled = socket.create_connection((parts.hostname, parts.port), timeout=5)
    stalled.sendall(b"GET /_sandbox/clock HTTP/1.1\r\nHost: 127.0.0.1\r\n")

    try:
        # when
        response = requests.get(f"{jira_sandbox.base_url}/_sandbox/clock", timeout=3)
    finally:
        stalled.close()

    # then
    assert response.status_code == 200


def test_concurrent_code_exchanges_all_succeed(jira_sandbox, sandbox_control):
    # given
    base_url = jira_sandbox.base_url
    client = register_client(sandbox_control)
    codes = [
        obtain_code(base_url, client, ["read:jira-work", "offline_access"])
        for _ in range(CONCURRENT_CLIENTS)
    ]
    results: list[requests.Response] = []
    results_lock = threading.Lock()
    start = threading.Barrier(CONCURRENT_CLIENTS)

    def exchange(code: str) -> None:
        start.wait(timeout=10)
        response = exchange_code(base_url, client, code)
        with results_lock:
            results.append(response)

    # when
    threads = [threading.Thread(target=exchange, args=(code,)) for code in codes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    # then
    assert len(results) == CONCURRENT_CLIENTS
    assert all(response.status_code == 200 for response in results)
    access_tokens = {response.json()["access_token"] for response in results}
    assert len(access_tokens) == CONCURRENT_CLIENTS


def test_request_log_records_non_control_requests_only(jira_sandbox, sandbox_control):
    # given
    base_url = jira_sandbox.base_url
    _, tokens = obtain_tokens(base_url, sandbox_control)
    sandbox_control.clear_requests_log()

    # when
    get_issue(
        base_url, tokens["access_token"], "DEMO-424242", params={"fields": "summary"}
    )
    sandbox_control.now()
    log = sandbox_control.requests_log()

    # then
    issue_path = f"/ex/jira/{DEMO_CLOUD_ID}/rest/api/3/issue/DEMO-424242"
    assert [entry["path"] for entry in log] == [issue_path]
    assert log[0]["method"] == "GET"
    assert log[0]["status"] == 404
    assert re.match(r"\d{4}-\d\d-\d\dT", log[0]["at"])
    assert set(log[0]) == {"method", "path", "status", "at"}
    assert tokens["access_token"] not in str(log)


def test_request_log_can_be_cleared(jira_sandbox, sandbox_control):
    # given
    requests.get(f"{jira_sandbox.base_url}/authorize", timeout=TIMEOUT_SECONDS)

    # when
    sandbox_control.clear_requests_log()

    # then
    assert sandbox_control.requests_log() == []


def test_control_api_names_invalid_fields(jira_sandbox, sandbox_control):
    # given
    cases = [
        (lambda: sandbox_control.register_client("", [REDIRECT_URI]), "name"),
        (lambda: sandbox_control.register_client("App", []), "redirect_uris"),
        (
            lambda: sandbox_control.register_client("App", ["not a url"]),
            "redirect_uris",
        ),
        (lambda: sandbox_control.add_site("Site", "ftp://x"), "url"),
        (
            lambda: sandbox_control.add_user("U", "u@example.test", sites=["missing"]),
            "sites",
        ),
        (
            lambda: sandbox_control.add_user(
                "U", "u@example.test", sites=[], global_permissions=["ROOT"]
            ),
            "global_permissions",
        ),
        (lambda: sandbox_control.add_project(DEMO_CLOUD_ID, "lower", "P"), "key"),
        (
            lambda: sandbox_control.add_project(
                DEMO_CLOUD_ID, "PERM", "P", {"nobody": ["BROWSE_PROJECTS"]}
            ),
            "permissions",
        ),
        (
            lambda: sandbox_control.add_project(
                DEMO_CLOUD_ID, "PERM", "P", {"x": ["FLY"]}
            ),
            "permissions",
        ),
        (lambda: sandbox_control.advance_clock(-1), "advance_seconds"),
    ]

    for call, field_name in cases:
        # when
        error = control_error(call)

        # then
        assert error.status == 400, field_name
        assert f'"field": "{field_name}"' in error.body, field_name


def test_control_api_unknown_site_is_not_found(jira_sandbox, sandbox_control):
    # when
    error = control_error(lambda: sandbox_control.issues("no-such-site"))

    # then
    assert error.status == 404


def test_registering_existing_client_id_updates_it(jira_sandbox, sandbox_control):
    # given
    base_url = jira_sandbox.base_url
    client = register_client(sandbox_control)
    sandbox_control.register_client(
        "Renamed app",
        [REDIRECT_URI, "http://127.0.0.1:9/second"],
        client_id=client.client_id,
        client_secret="rotated-secret",
    )
    code = obtain_code(base_url, client, ["read:jira-work"])

    # when
    with_old_secret = exchange_code(base_url, client, code)
    client.client_secret = "rotated-secret"
    with_new_secret = exchange_code(base_url, client, code)
    consent_page = requests.get(
        f"{base_url}/authorize",
        params=authorize_parameters(client, ["read:jira-work"]),
        timeout=TIMEOUT_SECONDS,
    )

    # then
    assert with_old_secret.status_code == 401
    assert with_new_secret.status_code == 200
    assert "Renamed app" in consent_page.text


def test_clock_advances_by_requested_seconds(private_sandbox):
    # given
    control = SandboxControl(private_sandbox.base_url)
    before = requests.get(
        f"{private_sandbox.base_url}/_sandbox/clock", timeout=5
    ).json()

    # when
    control.advance_clock(7200)
    after = requests.get(f"{private_sandbox.base_url}/_sandbox/clock", timeout=5).json()

    # then
    assert after["offset_seconds"] == before["offset_seconds"] + 7200


def test_reset_restores_seed_and_clock(private_sandbox):
    # given
    base_url = private_sandbox.base_url
    control = SandboxControl(base_url)
    client, tokens = obtain_tokens(base_url, control)
    control.add_site("Extra", "https://extra.atlassian.net", cloud_id="extra-site")
    control.advance_clock(3 * 24 * 3600)

    # when
    control.reset()

    # then
    assert control.requests_log() == []
    clock = requests.get(f"{base_url}/_sandbox/clock", timeout=5).json()
    assert clock["offset_seconds"] == 0
    assert control_error(lambda: control.issues("extra-site")).status == 404
    assert control.issues(DEMO_CLOUD_ID) == []
    assert control_error(lambda: control.token_requests(client.client_id)).status == 404
    unknown_token = get_issue(base_url, tokens["access_token"], "DEMO-1")
    assert unknown_token.status_code == 401


def test_none_seed_starts_empty():
    # given
    with SandboxProcess(seed="none") as process:
        control = SandboxControl(process.base_url)

        # when
        error = control_error(lambda: control.issues(DEMO_CLOUD_ID))
        site = control.add_site("Fresh", "https://fresh.atlassian.net")

    # then
    assert error.status == 404
    assert re.fullmatch(r"[0-9a-f-]{36}", site["cloud_id"])


def test_bearer_token_never_reaches_logs(private_sandbox):
    # given
    base_url = private_sandbox.base_url
    control = SandboxControl(base_url)
    control.clear_requests_log()

    # when
    requests.get(
        f"{base_url}/oauth/token/accessible-resources",
        headers=bearer("secret-looking-token"),
        timeout=TIMEOUT_SECONDS,
    )

    # then
    assert "secret-looking-token" not in str(control.requests_log())
    assert "secret-looking-token" not in private_sandbox.read_log()
