#!/usr/bin/env python3
"""Run the Manage Center on this machine, or run its tests.

    python3 dev.py start   web, Celery worker with beat, and the Jira sandbox
    python3 dev.py test    the test suite, on PostgreSQL and Redis

Only the standard library is used here, because this script creates the virtual
environment that holds everything else.
"""

import argparse
import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".installed"

DEFAULT_TEST_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/manage_center"
DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/15"


def _requirements_digest() -> str:
    digest = hashlib.sha256()
    for name in ("pyproject.toml", "constraints.txt"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure_virtualenv() -> None:
    """Create .venv and install the pinned dependencies when they changed."""
    wanted = _requirements_digest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not PYTHON.exists():
        print("Creating the virtual environment in .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("Installing pinned dependencies (first run takes a minute) ...", flush=True)
    subprocess.run(
        [str(PYTHON), "-m", "pip", "install", "-qq", "--disable-pip-version-check",
         "-r", str(ROOT / "constraints.txt")],
        check=True,
    )
    STAMP.write_text(wanted)


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def _free_port(preferred: int) -> int:
    if not _port_open("127.0.0.1", preferred):
        return preferred
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Processes:
    """The child processes of `start`, each in its own process group."""

    def __init__(self) -> None:
        self.children: list[tuple[str, subprocess.Popen]] = []

    def spawn(self, name: str, args: list[str], env: dict[str, str], **kwargs) -> subprocess.Popen:
        process = subprocess.Popen(args, cwd=ROOT, env=env, start_new_session=True, **kwargs)
        self.children.append((name, process))
        return process

    def stop(self) -> None:
        # A second Ctrl-C while the children stop would leave them half stopped.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        # Only the group leaders get SIGTERM: Celery then shuts its pool down
        # itself, which a signal to the whole group would interrupt.
        for _, process in self.children:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 15
        for name, process in self.children:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"{name} did not stop within 15 s; killing it.", flush=True)
            # Whatever is left of the group, such as pool workers, goes too.
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def start(args: argparse.Namespace) -> int:
    ensure_virtualenv()
    web_port = _free_port(args.port)
    sandbox_port = _free_port(args.sandbox_port)
    site_url = f"http://127.0.0.1:{web_port}"
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    env = {
        **os.environ,
        "DJANGO_DEBUG": "true",
        "ATLASSIAN_AUTH_URL": sandbox_url,
        "ATLASSIAN_API_URL": sandbox_url,
        "PYTHONUNBUFFERED": "1",
    }

    processes = Processes()
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        sandbox = processes.spawn(
            "sandbox",
            [str(PYTHON), "-m", "sandbox", "--port", str(sandbox_port)],
            env,
            stdout=subprocess.PIPE,
            text=True,
        )
        ready = sandbox.stdout.readline().strip()
        if not ready.startswith("Jira sandbox listening"):
            print(f"The Jira sandbox did not start: {ready or 'no output'}", flush=True)
            return 1
        print(ready, flush=True)
        # The sandbox logs to stderr; draining stdout keeps a full pipe from
        # blocking it.
        threading.Thread(target=sandbox.stdout.read, daemon=True).start()

        manage = [str(PYTHON), "manage.py"]
        subprocess.run([*manage, "migrate", "--no-input", "--verbosity", "0"], cwd=ROOT, env=env, check=True)
        seeded = subprocess.run(
            [*manage, "seed_demo", "--sandbox-url", sandbox_url, "--site-url", site_url],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True,
        )
        demo = dict(line.split("=", 1) for line in seeded.stdout.splitlines() if "=" in line)

        processes.spawn(
            "web", [*manage, "runserver", f"127.0.0.1:{web_port}", "--noreload"], env
        )
        processes.spawn(
            "worker",
            [str(VENV / "bin" / "celery"), "-A", "config", "worker", "--beat",
             "--loglevel", "INFO", "--concurrency", "2"],
            env,
        )
        _print_welcome(site_url, demo)

        while True:
            for name, process in processes.children:
                if process.poll() is not None:
                    print(f"{name} exited with code {process.returncode}; stopping.")
                    return 1
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nStopping web, worker, beat and the Jira sandbox ...", flush=True)
        return 0
    except subprocess.CalledProcessError as exc:
        print(f"Set-up step failed: {' '.join(map(str, exc.cmd[1:3]))}", flush=True)
        if exc.stderr:
            print(exc.stderr, flush=True)
        return 1
    finally:
        processes.stop()


def _print_welcome(site_url: str, demo: dict[str, str]) -> None:
    print(
        f"""
Manage Center is running at {site_url}/
  Log in as {demo['DEMO_EMAIL']} with password {demo['DEMO_PASSWORD']}.
  Open the token "Demo Jira" and click "Get OAuth 2.0 Access Token"; on the
  sandbox's consent page choose "Demo Jira" and Accept.
  Then create an issue through the API with the demo key (shown only now):

  curl -s -X POST {site_url}/api/v1/tokens/{demo['DEMO_TOKEN_ID']}/issues \\
    -H 'Authorization: Api-Key {demo['DEMO_API_KEY']}' \\
    -H 'Content-Type: application/json' \\
    -d '{{"project": "DEMO", "issue_type": "Task", "summary": "Hello from the API"}}'

Press Ctrl-C to stop everything.
""",
        flush=True,
    )


def test(pytest_args: list[str]) -> int:
    ensure_virtualenv()
    env = {
        **os.environ,
        "DATABASE_URL": os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL),
        "REDIS_URL": os.environ.get("TEST_REDIS_URL", DEFAULT_TEST_REDIS_URL),
        "DJANGO_DEBUG": "true",
    }
    for name, host, port in (("PostgreSQL", "127.0.0.1", 5432), ("Redis", "127.0.0.1", 6379)):
        if not _port_open(host, port):
            print(
                f"{name} is not reachable on {host}:{port}. The tests need it: start it "
                "(bash .ci/run does), then run this again.",
                flush=True,
            )
            return 2
    code = subprocess.run(
        [str(PYTHON), "-m", "pytest", *pytest_args], cwd=ROOT, env=env
    ).returncode
    if code == 5:
        print("pytest collected no tests: that is a failure here.", flush=True)
        return 1
    return code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start_parser = commands.add_parser("start", help="run web, worker, beat and sandbox")
    start_parser.add_argument("--port", type=int, default=8000)
    start_parser.add_argument("--sandbox-port", type=int, default=8765)
    commands.add_parser("test", help="run the test suite; other arguments go to pytest")
    args, pytest_args = parser.parse_known_args()
    if args.command == "start":
        if pytest_args:
            parser.error(f"unrecognized arguments: {' '.join(pytest_args)}")
        return start(args)
    return test(pytest_args)


if __name__ == "__main__":
    sys.exit(main())
