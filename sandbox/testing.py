"""Helpers for tests and demos: run the sandbox as a subprocess and drive it.

This module imports neither Django nor the sandbox's views, so the product's test
suite can use it under any settings module.
"""

from __future__ import annotations

import logging
import os
import queue
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import requests

logger = logging.getLogger(__name__)

READY_PREFIX = "Jira sandbox listening on "
READY_TIMEOUT_SECONDS = 15.0
STOP_TIMEOUT_SECONDS = 5.0
CONTROL_REQUEST_TIMEOUT_SECONDS = 10.0
REPOSITORY_ROOT = Path(__file__).resolve().parent.parent


class SandboxStartError(RuntimeError):
    """The sandbox process exited or stayed silent before printing its ready line."""


class SandboxControlError(RuntimeError):
    """A control API call returned an error status."""

    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"{method} {path} returned {status}: {body}")
        self.status = status
        self.body = body


class SandboxProcess:
    """Sandbox server running as ``python -m sandbox --port 0`` in a subprocess.

    Its stderr (the server log) goes to a temporary file, `log_path`, because a
    full pipe without a reader would block the server. `server` ("gunicorn" or
    "wsgiref") and `threads` (gunicorn only) are passed as --server and
    --threads; None keeps the command's default. `access_log=False` passes
    --no-access-log.
    """

    def __init__(
        self,
        seed: str = "demo",
        host: str = "127.0.0.1",
        openapi_dir: Path | str | None = None,
        server: str | None = None,
        threads: int | None = None,
        access_log: bool = True,
    ) -> None:
        self.seed = seed
        self.host = host
        self.openapi_dir = str(openapi_dir) if openapi_dir else ""
        self.server = server
        self.threads = threads
        self.access_log = access_log
        self.base_url = ""
        self.log_path: Path | None = None
        self._process: subprocess.Popen[str] | None = None
        self._log_file: IO[bytes] | None = None

    def start(self) -> SandboxProcess:
        """Start the server and wait for its ready line; raise SandboxStartError."""
        log_file = tempfile.NamedTemporaryFile(
            prefix="jira-sandbox-", suffix=".log", delete=False
        )
        self._log_file = log_file
        self.log_path = Path(log_file.name)

        environment = dict(os.environ)
        environment["DJANGO_SETTINGS_MODULE"] = "sandbox.settings"
        environment["PYTHONUNBUFFERED"] = "1"
        # Only --openapi-dir decides whether requests are validated.
        environment.pop("SANDBOX_OPENAPI_DIR", None)
        existing_path = environment.get("PYTHONPATH")
        environment["PYTHONPATH"] = os.pathsep.join(
            [str(REPOSITORY_ROOT)] + ([existing_path] if existing_path else [])
        )
        command = [
            sys.executable,
            "-m",
            "sandbox",
            "--host",
            self.host,
            "--port",
            "0",
            "--seed",
            self.seed,
        ]
        if self.openapi_dir:
            command += ["--openapi-dir", self.openapi_dir]
        if self.server is not None:
            command += ["--server", self.server]
        if self.threads is not None:
            command += ["--threads", str(self.threads)]
        if not self.access_log:
            command.append("--no-access-log")
        self._process = subprocess.Popen(
            command,
            cwd=REPOSITORY_ROOT,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
        )
        line = self._read_ready_line(READY_TIMEOUT_SECONDS)
        self.base_url = line[len(READY_PREFIX) :].strip()
        logger.info(
            "Jira sandbox started at %s (log: %s)", self.base_url, self.log_path
        )
        return self

    def _read_ready_line(self, timeout: float) -> str:
        assert self._process is not None and self._process.stdout is not None
        lines: queue.Queue[str] = queue.Queue()
        stdout = self._process.stdout
        reader = threading.Thread(
            target=lambda: lines.put(stdout.readline()), daemon=True
        )
        reader.start()
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            self.stop()
            raise SandboxStartError(
                f"The sandbox printed no ready line within {timeout} s. "
                f"Server log:\n{self.read_log()}"
            ) from None
        if not line.startswith(READY_PREFIX):
            self.stop()
            raise SandboxStartError(
                f"The sandbox exited or printed {line!r} instead of its ready line. "
                f"Server log:\n{self.read_log()}"
            )
        return line

    def read_log(self) -> str:
        """Return the server log written so far."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Stop the server with SIGTERM, killing it if it does not exit in 5 s."""
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                logger.warning("Jira sandbox ignored SIGTERM; killing it")
                process.kill()
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
        if process is not None and process.stdout is not None:
            process.stdout.close()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def send_signal(self, signal_number: int) -> None:
        """Send a signal to the server process."""
        assert self._process is not None, "start() was not called"
        self._process.send_signal(signal_number)

    def wait(self, timeout: float) -> int:
        """Wait for the process to exit; return its exit status."""
        assert self._process is not None, "start() was not called"
        return self._process.wait(timeout=timeout)

    @property
    def pid(self) -> int:
        """Process id of the server; with gunicorn, of the arbiter that forked it."""
        assert self._process is not None, "start() was not called"
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        """Exit status of the process, or None while it runs."""
        return self._process.poll() if self._process is not None else None

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class SandboxControl:
    """Client of the sandbox's control API under /_sandbox/."""

    def __init__(self, base_url: str, session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()

    def _call(
        self,
        method: str,
        path: str,
        json: Any = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        response = self.session.request(
            method,
            f"{self.base_url}{path}",
            json=json,
            params=params,
            timeout=CONTROL_REQUEST_TIMEOUT_SECONDS,
        )
        if response.status_code >= 400:
            raise SandboxControlError(method, path, response.status_code, response.text)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def register_client(
        self,
        name: str,
        redirect_uris: list[str],
        client_id: str | None = None,
        client_secret: str | None = None,
        instance: str | None = None,
    ) -> dict[str, Any]:
        """Register an OAuth client (or update it); return id, secret, name, URIs.

        With an instance, the client is an incoming application link of that
        Data Center instance; without, an app of Atlassian's developer console.
        """
        body: dict[str, Any] = {"name": name, "redirect_uris": redirect_uris}
        if client_id is not None:
            body["client_id"] = client_id
        if client_secret is not None:
            body["client_secret"] = client_secret
        if instance is not None:
            body["instance"] = instance
        return self._call("POST", "/_sandbox/clients", json=body)

    def add_site(
        self,
        name: str,
        url: str,
        cloud_id: str | None = None,
        attachment_max_bytes: int | None = None,
    ) -> dict[str, Any]:
        """Add a Jira Cloud site (or update it); return it with its cloud_id."""
        body: dict[str, Any] = {"name": name, "url": url}
        if cloud_id is not None:
            body["cloud_id"] = cloud_id
        if attachment_max_bytes is not None:
            body["attachment_max_bytes"] = attachment_max_bytes
        return self._call("POST", "/_sandbox/sites", json=body)

    def add_dc_instance(
        self, instance: str, name: str, attachment_max_bytes: int | None = None
    ) -> dict[str, Any]:
        """Add a Jira Data Center instance; return it with its portal_url."""
        body: dict[str, Any] = {"instance": instance, "name": name}
        if attachment_max_bytes is not None:
            body["attachment_max_bytes"] = attachment_max_bytes
        return self._call("POST", "/_sandbox/dc-instances", json=body)

    def add_user(
        self,
        display_name: str,
        email: str,
        sites: list[str],
        account_id: str | None = None,
        global_permissions: list[str] | None = None,
        username: str | None = None,
    ) -> dict[str, Any]:
        """Add a user who can use the given sites or instances (or update it).

        Data Center names users by username; give one for users of an instance.
        """
        body: dict[str, Any] = {
            "display_name": display_name,
            "email": email,
            "sites": sites,
            "global_permissions": global_permissions or [],
        }
        if account_id is not None:
            body["account_id"] = account_id
        if username is not None:
            body["username"] = username
        return self._call("POST", "/_sandbox/users", json=body)

    def add_project(
        self,
        cloud_id: str,
        key: str,
        name: str,
        permissions: dict[str, list[str]] | None = None,
        lead: str | None = None,
        assignee_type: str | None = None,
    ) -> dict[str, Any]:
        """Add a project to a site or instance, permissions keyed by account id.

        lead is an account id; assignee_type PROJECT_LEAD makes "-1" assign the
        lead.
        """
        body: dict[str, Any] = {
            "key": key,
            "name": name,
            "permissions": permissions or {},
        }
        if lead is not None:
            body["lead"] = lead
        if assignee_type is not None:
            body["assignee_type"] = assignee_type
        return self._call("POST", f"/_sandbox/sites/{cloud_id}/projects", json=body)

    def add_fault(
        self,
        kind: str,
        *,
        count: int = 1,
        method: str | None = None,
        path_prefix: str | None = None,
        path_regex: str | None = None,
        status: int | None = None,
        retry_after: int | None = None,
        delay_seconds: float | None = None,
    ) -> dict[str, Any]:
        """Plan a fault for the next `count` matching requests; return it.

        kind "status" answers `status` (503 unless given; 429 and 503 carry
        Retry-After), "slow" waits `delay_seconds` before answering normally, and
        "revoke" revokes the token family of the bearer or refresh token sent.
        """
        body: dict[str, Any] = {"kind": kind, "count": count}
        optional = {
            "method": method,
            "path_prefix": path_prefix,
            "path_regex": path_regex,
            "status": status,
            "retry_after": retry_after,
            "delay_seconds": delay_seconds,
        }
        body.update(
            {name: value for name, value in optional.items() if value is not None}
        )
        return self._call("POST", "/_sandbox/faults", json=body)

    def throttle(
        self,
        path_prefix: str,
        *,
        count: int = 1,
        retry_after: int = 1,
        method: str | None = None,
    ) -> dict[str, Any]:
        """Answer the next `count` matching requests with 429 and Retry-After."""
        return self.add_fault(
            "status",
            count=count,
            method=method,
            path_prefix=path_prefix,
            status=429,
            retry_after=retry_after,
        )

    def fail(
        self,
        path_prefix: str,
        *,
        status: int = 503,
        count: int = 1,
        method: str | None = None,
    ) -> dict[str, Any]:
        """Answer the next `count` matching requests with a server error."""
        return self.add_fault(
            "status", count=count, method=method, path_prefix=path_prefix, status=status
        )

    def slow_down(
        self,
        path_prefix: str,
        *,
        delay_seconds: float,
        count: int = 1,
        method: str | None = None,
    ) -> dict[str, Any]:
        """Answer the next `count` matching requests normally after a delay."""
        return self.add_fault(
            "slow",
            count=count,
            method=method,
            path_prefix=path_prefix,
            delay_seconds=delay_seconds,
        )

    def revoke_on(
        self, path_prefix: str, *, count: int = 1, method: str | None = None
    ) -> dict[str, Any]:
        """Revoke the token family presented by the next matching request."""
        return self.add_fault(
            "revoke", count=count, method=method, path_prefix=path_prefix
        )

    def faults(self) -> list[dict[str, Any]]:
        """Return the planned faults, with how often each fired and has left."""
        return self._call("GET", "/_sandbox/faults")

    def clear_faults(self) -> None:
        """Drop every planned fault."""
        self._call("DELETE", "/_sandbox/faults")

    def issues(self, cloud_id: str) -> list[dict[str, Any]]:
        """Return the issues stored on a site, with raw field values."""
        return self._call("GET", f"/_sandbox/sites/{cloud_id}/issues")

    def requests_log(self) -> list[dict[str, Any]]:
        """Return the request log: method, path, status and time of each request."""
        return self._call("GET", "/_sandbox/requests")

    def clear_requests_log(self) -> None:
        """Empty the request log."""
        self._call("DELETE", "/_sandbox/requests")

    def token_requests(self, client_id: str) -> dict[str, Any]:
        """Return the token endpoint call counts of a client, overall and per family."""
        return self._call(
            "GET", "/_sandbox/token-requests", params={"client_id": client_id}
        )

    def advance_clock(self, seconds: float) -> str:
        """Move the sandbox clock forward; return the new time (ISO 8601)."""
        result = self._call(
            "POST", "/_sandbox/clock", json={"advance_seconds": seconds}
        )
        return result["now"]

    def now(self) -> str:
        """Return the sandbox time (ISO 8601)."""
        return self._call("GET", "/_sandbox/clock")["now"]

    def reset(self) -> None:
        """Restore the seed the server started with, clock included."""
        self._call("POST", "/_sandbox/reset")
