"""The sandbox's two HTTP servers: gunicorn's gthread worker and wsgiref."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from sandbox.testing import REPOSITORY_ROOT, SandboxControl, SandboxProcess
from tests.sandbox.flow import TIMEOUT_SECONDS

SLOW_REQUESTS = 12
SLOW_DELAY_SECONDS = 1.0
EXIT_TIMEOUT_SECONDS = 10


@pytest.fixture(scope="module", params=["gunicorn", "wsgiref"])
def server_sandbox(request: pytest.FixtureRequest) -> Iterator[SandboxProcess]:
    """Start a sandbox on each server in turn, for this module only."""
    with SandboxProcess(seed="demo", server=request.param) as process:
        yield process


def worker_pids(process: SandboxProcess) -> list[int]:
    """Return the ids of the processes that the sandbox process started (Linux)."""
    pid = process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in children.split()]


def test_ready_line_names_the_bound_port(server_sandbox):
    parts = urlsplit(server_sandbox.base_url)

    response = requests.get(f"{server_sandbox.base_url}/_sandbox/clock", timeout=5)

    assert parts.port is not None and parts.port > 0
    assert response.status_code == 200


def test_json_responses_carry_their_length(server_sandbox):
    response = requests.get(f"{server_sandbox.base_url}/_sandbox/clock", timeout=5)

    assert response.headers["Content-Length"] == str(len(response.content))
    assert "Transfer-Encoding" not in response.headers


def test_slow_responses_overlap(server_sandbox):
    # given: every request to an unknown site waits on a slow fault, then gets
    # 401 for its missing token
    base_url = server_sandbox.base_url
    control = SandboxControl(base_url)
    prefix = f"/ex/jira/{uuid.uuid4()}/"
    control.slow_down(prefix, delay_seconds=SLOW_DELAY_SECONDS, count=SLOW_REQUESTS)
    statuses: list[int] = []
    statuses_lock = threading.Lock()

    def call() -> None:
        response = requests.get(f"{base_url}{prefix}rest/api/3/myself", timeout=10)
        with statuses_lock:
            statuses.append(response.status_code)

    # when
    started = time.monotonic()
    threads = [threading.Thread(target=call) for _ in range(SLOW_REQUESTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=15)
    elapsed = time.monotonic() - started

    # then: the requests waited side by side, not one after another
    assert statuses == [401] * SLOW_REQUESTS
    assert elapsed < SLOW_REQUESTS * SLOW_DELAY_SECONDS / 3


@pytest.mark.parametrize("server", ["gunicorn", "wsgiref"])
@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
def test_each_server_exits_cleanly_on_signal(server, signal_number):
    # given
    process = SandboxProcess(seed="none", server=server).start()
    requests.get(f"{process.base_url}/_sandbox/clock", timeout=5)

    # when
    process.send_signal(signal_number)
    exit_code = process.wait(timeout=EXIT_TIMEOUT_SECONDS)
    process.stop()

    # then
    assert exit_code == 0
    assert process.read_log().count("Stopped") == 1


def test_gunicorn_keeps_the_connection_alive():
    with SandboxProcess(seed="none", server="gunicorn") as process:
        parts = urlsplit(process.base_url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
        try:
            # when: two requests on one connection
            connection.request("GET", "/_sandbox/clock")
            first = connection.getresponse()
            first.read()
            local_address = connection.sock.getsockname()
            connection.request("GET", "/_sandbox/clock")
            second = connection.getresponse()
            second.read()
            reused = connection.sock.getsockname() == local_address
        finally:
            connection.close()

    # then
    assert first.version == 11
    assert (first.status, second.status) == (200, 200)
    assert reused


def test_gunicorn_serves_from_exactly_one_worker():
    with SandboxProcess(seed="none", server="gunicorn", threads=4) as process:
        # when: SIGTTIN, which requests one more worker from gunicorn
        process.send_signal(signal.SIGTTIN)
        time.sleep(1.5)
        workers = worker_pids(process)
        answered = requests.get(f"{process.base_url}/_sandbox/clock", timeout=5)

    # then
    assert len(workers) == 1
    assert answered.status_code == 200
    assert "Ignored SIGTTIN" in process.read_log()


def test_gunicorn_stops_when_its_worker_dies():
    # given
    process = SandboxProcess(seed="demo", server="gunicorn").start()
    try:
        [worker] = worker_pids(process)

        # when: the worker, and the state in its memory, is gone
        os.kill(worker, signal.SIGKILL)
        exit_code = process.wait(timeout=EXIT_TIMEOUT_SECONDS)
    finally:
        process.stop()

    # then: the server stops instead of serving a fresh seed from a new worker
    assert exit_code == 1
    assert "The worker exited" in process.read_log()


@pytest.mark.parametrize("threads", ["0", "2"])
def test_threads_option_is_checked(threads):
    server = "gunicorn" if threads == "0" else "wsgiref"

    result = subprocess.run(
        [sys.executable, "-m", "sandbox", "--server", server, "--threads", threads],
        cwd=REPOSITORY_ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
    )

    assert result.returncode == 2
    assert "--threads" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("server", ["gunicorn", "wsgiref"])
@pytest.mark.parametrize("access_log", [True, False])
def test_access_log_switch(server, access_log):
    path = f"/no-such-page-{uuid.uuid4().hex}"
    process = SandboxProcess(seed="demo", server=server, access_log=access_log)

    with process:
        response = requests.get(f"{process.base_url}{path}", timeout=5)
    log = process.read_log()

    assert response.status_code == 404
    # The server's own messages stay either way; only the access lines go.
    assert "Stopped" in log
    assert (f"GET {path} 404" in log) is access_log
