"""Pytest plugin with the real processes renewal tests run against.

A private Redis server (so that a test may restart it), a proxy in front of the
Jira sandbox's token endpoint that can answer with faults, and Celery workers
started as subprocesses on the test database.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_SECONDS = 20.0
STOP_TIMEOUT_SECONDS = 10.0
# The worker's token requests time out after this, so timeouts test quickly.
WORKER_HTTP_TIMEOUT = 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], object], *, timeout: float, what: str) -> object:
    """Poll condition until it returns something true, or fail after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"Timed out after {timeout} s waiting for {what}.")


class RedisServer:
    """A redis-server process on a free port, without persistence."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.directory = tempfile.mkdtemp(prefix="renewal-redis-")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port),
             "--save", "", "--appendonly", "no", "--dir", self.directory],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for(self._answers, timeout=START_TIMEOUT_SECONDS, what="redis-server")
        return self

    def _answers(self) -> bool:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", self.port)) != 0:
                return False
            sock.sendall(b"PING\r\n")
            try:
                return sock.recv(16).startswith(b"+PONG")
            except OSError:
                return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)

    def restart(self) -> None:
        """Stop the server, losing every message it held, and start it again."""
        self.stop()
        self.start()


class TokenEndpointProxy:
    """An HTTP proxy to the sandbox that can answer token requests with faults.

    fail(500) answers the next token requests with HTTP 500; fail(429) adds a
    Retry-After; stall() holds requests past the worker's timeout. Everything
    else, and token requests once the faults are used up, goes to the sandbox.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.faults: list[tuple[str, int]] = []
        self.lock = threading.Lock()
        self.token_requests = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy.forward(self)

            def do_POST(self) -> None:
                proxy.forward(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def fail(self, status: int, *, times: int = 1) -> None:
        with self.lock:
            self.faults.extend([("status", status)] * times)

    def stall(self, *, times: int = 1) -> None:
        with self.lock:
            self.faults.extend([("stall", 0)] * times)

    def reset(self) -> None:
        with self.lock:
            self.faults.clear()
            self.token_requests = 0

    def forward(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        fault = None
        if handler.path.endswith("/token"):
            with self.lock:
                self.token_requests += 1
                fault = self.faults.pop(0) if self.faults else None
        if fault and fault[0] == "stall":
            time.sleep(WORKER_HTTP_TIMEOUT + 1)
            return
        if fault:
            payload = b'{"error": "temporarily_unavailable"}'
            handler.send_response(fault[1])
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            if fault[1] == 429:
                handler.send_header("Retry-After", "1")
            handler.end_headers()
            handler.wfile.write(payload)
            return
        headers = {
            name: value for name, value in handler.headers.items()
            if name.lower() in {"content-type", "accept", "authorization"}
        }
        answer = requests.request(
            handler.command, self.upstream + handler.path, data=body, headers=headers,
            timeout=10, allow_redirects=False,
        )
        handler.send_response(answer.status_code)
        handler.send_header("Content-Type", answer.headers.get("Content-Type", ""))
        handler.send_header("Content-Length", str(len(answer.content)))
        handler.end_headers()
        handler.wfile.write(answer.content)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class CeleryWorker:
    """`celery worker` in a subprocess of its own, on the test database."""

    def __init__(self, env: dict[str, str], *, concurrency: int = 2) -> None:
        self.log = tempfile.NamedTemporaryFile(prefix="renewal-worker-", suffix=".log")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker",
             "--loglevel", "INFO", "--pool", "prefork",
             "--concurrency", str(concurrency),
             "--without-gossip", "--without-mingle", "--without-heartbeat",
             "--hostname", f"renewal-test-{os.getpid()}-{_free_port()}@%h"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self._ready, timeout=START_TIMEOUT_SECONDS, what="the Celery worker")

    def read_log(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"The worker exited:\n{self.read_log()[-3000:]}")
        return " ready." in self.read_log()

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes, as a crash would."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=STOP_TIMEOUT_SECONDS)

    def stop(self) -> None:
        # Every test leaves its renewals settled, so nothing is lost by not
        # waiting for a warm shutdown.
        self.kill()
        self.log.close()


def database_url(settings_dict: dict) -> str:
    user = settings_dict.get("USER") or ""
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings_dict['NAME']}"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed; renewal tests need it.")
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def token_proxy(jira_sandbox) -> Iterator[TokenEndpointProxy]:
    proxy = TokenEndpointProxy(jira_sandbox.base_url)
    try:
        yield proxy
    finally:
        proxy.close()


@pytest.fixture
def renewal_settings(settings, jira_sandbox, token_proxy, redis_server):
    """Point this process at the proxy, the sandbox and the private Redis."""
    from config.celery import app

    token_proxy.reset()
    settings.ATLASSIAN_AUTH_URL = token_proxy.url
    settings.ATLASSIAN_API_URL = jira_sandbox.base_url
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.JIRA_HTTP_TIMEOUT = WORKER_HTTP_TIMEOUT
    settings.TOKEN_RENEWAL_LEASE_SECONDS = WORKER_HTTP_TIMEOUT + 2
    previous = app.conf.broker_url
    app.conf.broker_url = redis_server.url
    app.close()
    yield settings
    app.conf.broker_url = previous
    app.close()


@pytest.fixture
def start_worker(renewal_settings, redis_server, token_proxy, jira_sandbox):
    """Return a function that starts a Celery worker; all are stopped afterwards."""
    from django.conf import settings
    from django.db import connection

    workers: list[CeleryWorker] = []
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "true",
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": redis_server.url,
        "ATLASSIAN_AUTH_URL": token_proxy.url,
        "ATLASSIAN_API_URL": jira_sandbox.base_url,
        "OUTBOUND_ALLOWED_HOSTS": "127.0.0.1",
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "JIRA_HTTP_TIMEOUT": str(WORKER_HTTP_TIMEOUT),
        "TOKEN_RENEWAL_LEASE_SECONDS": str(WORKER_HTTP_TIMEOUT + 2),
        "PYTHONUNBUFFERED": "1",
    }

    def start(**overrides: str) -> CeleryWorker:
        worker = CeleryWorker({**env, **overrides})
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
