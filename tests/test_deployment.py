"""The compose stack's processes start from docker-compose.yml without Docker.

No Docker engine runs here, so each service's command and environment are taken
from the file and started as plain processes on this machine's PostgreSQL and
Redis, in a scratch database of their own.
"""

import base64
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import requests
import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ADMIN_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/13"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _interpolate(value: str) -> str:
    """Expand compose's ${NAME:-default} and ${NAME:?message} forms."""

    def expand(match: re.Match) -> str:
        name, operator, argument = match.groups()
        if name in os.environ:
            return os.environ[name]
        if operator == ":?":
            return ""  # the caller sets every required variable below
        return argument

    return re.sub(r"\$\{(\w+)(:-|:\?)([^}]*)\}", expand, value)


def _environment(service: dict, database: str) -> dict[str, str]:
    """Return the service's environment, with this machine's servers and secrets."""
    environment = {
        name: _interpolate(str(value)) for name, value in service["environment"].items()
    }
    environment.update(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{database}",
        REDIS_URL=REDIS_URL,
        DJANGO_SECRET_KEY=base64.urlsafe_b64encode(os.urandom(40)).decode(),
        FIELD_ENCRYPTION_KEYS="k1:" + base64.urlsafe_b64encode(os.urandom(32)).decode(),
        DJANGO_ALLOWED_HOSTS="localhost,127.0.0.1",
        DJANGO_STATIC_ROOT=str(ROOT / "var" / "compose-static"),
    )
    return {**os.environ, **environment, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}


@pytest.fixture
def scratch_database() -> Iterator[str]:
    name = f"compose_check_{os.getpid()}"
    with psycopg.connect(ADMIN_DATABASE_URL, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {name}")
    yield name
    with psycopg.connect(ADMIN_DATABASE_URL, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _wait(predicate, *, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    pytest.fail(f"{what} within {timeout} s. Its output:\n{log.read_text()[-3000:]}")


def test_compose_file_defines_the_production_processes():
    services = _compose()["services"]

    assert {"postgres", "redis", "migrate", "web", "worker", "beat"} <= set(services)
    assert services["web"]["command"][0] == "gunicorn"
    assert services["beat"]["command"][:4] == ["celery", "-A", "config", "beat"]
    assert services["web"]["environment"]["DJANGO_DEBUG"] == "false"
    assert "/readyz" in " ".join(services["web"]["healthcheck"]["test"])


def test_compose_processes_start_without_docker(scratch_database, tmp_path):
    services = _compose()["services"]
    processes: list[subprocess.Popen] = []
    port = _free_port()
    try:
        migrate = services["migrate"]
        migrated = subprocess.run(
            migrate["command"], cwd=ROOT, env=_environment(migrate, scratch_database),
            capture_output=True, text=True, timeout=120,
        )
        assert migrated.returncode == 0, migrated.stderr[-2000:]
        # The image runs collectstatic at build time, as the Dockerfile says.
        collected = subprocess.run(
            ["python", "manage.py", "collectstatic", "--no-input", "--verbosity=0"],
            cwd=ROOT, env=_environment(migrate, scratch_database),
            capture_output=True, text=True, timeout=120,
        )
        assert collected.returncode == 0, collected.stderr[-2000:]

        web_command = [
            f"--bind=127.0.0.1:{port}" if part.startswith("--bind=") else part
            for part in services["web"]["command"]
        ]
        web_log, worker_log, beat_log = (tmp_path / f"{n}.log" for n in ("web", "worker", "beat"))
        processes.append(
            _start(web_command, _environment(services["web"], scratch_database), web_log)
        )
        processes.append(
            _start(services["worker"]["command"],
                   _environment(services["worker"], scratch_database), worker_log)
        )
        beat_command = [
            f"--schedule={tmp_path / 'beat-schedule'}" if part.startswith("--schedule=")
            else part
            for part in services["beat"]["command"]
        ]
        processes.append(
            _start(beat_command, _environment(services["beat"], scratch_database), beat_log)
        )

        def web_ready() -> bool:
            try:
                return requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).ok
            except requests.RequestException:
                return False

        _wait(web_ready, timeout=60, what="web did not become ready", log=web_log)
        readiness = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).json()
        assert readiness == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}
        _wait(lambda: "ready." in worker_log.read_text(), timeout=60,
              what="the worker did not start", log=worker_log)
        _wait(lambda: "beat: Starting" in beat_log.read_text(), timeout=60,
              what="beat did not start", log=beat_log)
        ping = subprocess.run(
            ["celery", "-A", "config", "inspect", "ping", "--timeout=5"],
            cwd=ROOT, env=_environment(services["worker"], scratch_database),
            capture_output=True, text=True, timeout=60,
        )
        assert "pong" in ping.stdout, ping.stdout + ping.stderr
        login = requests.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=5,
                             headers={"X-Forwarded-Proto": "https"})
        assert login.status_code == 200
        assert "/static/css/app." in login.text
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
