"""Measure Create Issue and Get Issue Details through the product, in one run.

Four targets take the same load from wrk (a pooled, keep-alive HTTP client):

- direct: the Jira sandbox itself, called with a bearer token as the product does;
- product: the Manage Center API on gunicorn, against PostgreSQL and the sandbox;
- bare: a bare Django JSON view on the same gunicorn settings;
- relay: a view of the bare project that passes each request to the sandbox
  through one pooled connection, with nothing else: the least any product can do.

The product's overhead is its median minus the direct median at one connection,
and its throughput is compared with the bare view's at 32 connections. The
relay's ratio at 32 connections bounds the product's from above.

    .venv/bin/python benchmarks/activities/run.py [--duration 12] [--rounds 3]
"""

import argparse
import base64
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import psycopg
import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sandbox.testing import SandboxProcess  # noqa: E402
from tests.html_forms import parse_forms  # noqa: E402

PYTHON = sys.executable
DATABASE = "bench_manage_center"
DEMO_CLOUD_ID = "3f7a2c1e-5b8d-4e6f-9a0b-1c2d3e4f5a6b"
CALLBACK = "http://127.0.0.1/tokens/oauth/callback/"
CREATE_BODY = {"project": "DEMO", "issue_type": "Task", "summary": "Benchmark issue"}
JIRA_CREATE_BODY = {
    "fields": {
        "project": {"key": "DEMO"},
        "issuetype": {"name": "Task"},
        "summary": "Benchmark issue",
    }
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=5)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def recreate_database(admin_url: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE}")


def direct_access_token(sandbox_url: str, client_id: str, client_secret: str) -> str:
    """Consent on the sandbox and exchange the code, as a plain HTTP client."""
    query = (
        f"audience=api.atlassian.com&client_id={client_id}&scope=read%3Ajira-work"
        f"%20write%3Ajira-work&redirect_uri={CALLBACK}&state=direct"
        "&response_type=code&prompt=consent"
    )
    url = f"{sandbox_url}/authorize?{query}"
    form = parse_forms(requests.get(url, timeout=10).text)[0]
    answer = requests.post(
        urljoin(url, form.action),
        data={**form.fields, "decision": "accept"},
        allow_redirects=False,
        timeout=10,
    )
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    token = requests.post(
        f"{sandbox_url}/oauth/token",
        json={
            "grant_type": "authorization_code",
            "client_id": client_id,
            "client_secret": client_secret,
            "code": code,
            "redirect_uri": CALLBACK,
        },
        timeout=10,
    )
    token.raise_for_status()
    return token.json()["access_token"]


def wrk_script(directory: Path, name: str, method: str, headers: dict, body: dict | None) -> Path:
    lines = [f'wrk.method = "{method}"']
    for header, value in headers.items():
        lines.append(f'wrk.headers["{header}"] = "{value}"')
    if body is not None:
        lines.append('wrk.headers["Content-Type"] = "application/json"')
        lines.append(f"wrk.body = {json.dumps(json.dumps(body))}")
    path = directory / f"{name}.lua"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


def _milliseconds(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if match is None:
        raise ValueError(f"wrk printed an unknown latency {value!r}")
    number, unit = match.groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(url: str, script: Path, connections: int, duration: int) -> dict:
    output = subprocess.run(
        ["wrk", "-t", str(min(connections, 2)), "-c", str(connections),
         "-d", f"{duration}s", "--latency", "--timeout", "10s", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout
    if "Latency Distribution" not in output:
        raise RuntimeError(f"wrk measured nothing at {url}:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    requests_done = int(re.search(r"(\d+) requests in", output).group(1))
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": _milliseconds(re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE).group(1)),
        "p99": _milliseconds(re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE).group(1)),
        "requests": requests_done,
        "errors": int(non_2xx.group(1)) if non_2xx else 0,
    }


def gunicorn(app: str, port: int, env: dict, args: argparse.Namespace) -> subprocess.Popen:
    command = [PYTHON, "-m", "gunicorn", app, "--config", "config/gunicorn.conf.py",
               "--bind", f"127.0.0.1:{port}", "--log-level", "warning"]
    if args.workers:
        command += ["--workers", str(args.workers)]
    if args.threads:
        command += ["--threads", str(args.threads)]
    return subprocess.Popen(command, cwd=ROOT, env=env)


@contextlib.contextmanager
def running_stack(args: argparse.Namespace) -> Iterator[dict[str, str]]:
    """Start the sandbox, the product and the bare view; yield their URLs and keys."""
    recreate_database(args.admin_database_url)
    threads = args.sandbox_threads if args.sandbox_server == "gunicorn" else None
    # Without its access log the sandbox spends less of the shared CPU per request.
    sandbox = SandboxProcess(
        seed="demo", server=args.sandbox_server, threads=threads, access_log=False
    ).start()
    processes: list[subprocess.Popen] = []
    env_file: Path | None = None
    try:
        key = base64.urlsafe_b64encode(os.urandom(32)).decode()
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": base64.urlsafe_b64encode(os.urandom(40)).decode(),
            "FIELD_ENCRYPTION_KEYS": f"bench:{key}",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "REDIS_URL": "redis://127.0.0.1:6379/11",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "ATLASSIAN_AUTH_URL": sandbox.base_url,
            "ATLASSIAN_API_URL": sandbox.base_url,
            "OUTBOUND_ALLOWED_HOSTS": urlsplit(sandbox.base_url).netloc,
            "LOG_LEVEL": "WARNING",
        }
        subprocess.run([PYTHON, "manage.py", "migrate", "--verbosity", "0"],
                       cwd=ROOT, env=env, check=True)
        seeding = subprocess.run(
            [PYTHON, "benchmarks/activities/seed.py"],
            cwd=ROOT, env=env, capture_output=True, text=True,
        )
        if seeding.returncode:
            raise RuntimeError(f"Seeding failed:\n{seeding.stderr[-3000:]}")
        seed = dict(line.split("=", 1) for line in seeding.stdout.splitlines() if "=" in line)
        bearer = direct_access_token(sandbox.base_url, seed["CLIENT_ID"], seed["CLIENT_SECRET"])

        product_port, bare_port = free_port(), free_port()
        processes.append(gunicorn("config.wsgi", product_port, env, args))
        jira_api = f"{sandbox.base_url}/ex/jira/{DEMO_CLOUD_ID}/rest/api/3"
        bare_env = {
            **env,
            "DJANGO_SETTINGS_MODULE": "benchmarks.activities.bare.settings",
            "BENCH_JIRA_API": jira_api,
            "BENCH_JIRA_BEARER": bearer,
        }
        processes.append(gunicorn("benchmarks.activities.bare.wsgi", bare_port, bare_env, args))
        product = f"http://127.0.0.1:{product_port}"
        bare = f"http://127.0.0.1:{bare_port}"
        wait_for(f"{product}/healthz")
        wait_for(f"{bare}/issues")
        # The product's environment, for profiling its code in another process.
        env_file = Path(tempfile.mkdtemp(prefix="bench-env-")) / "product.env"
        env_file.touch(mode=0o600)
        env_file.write_text("".join(
            f"{name}={env[name]}\n" for name in env if name not in os.environ
        ))
        yield {
            "jira": jira_api,
            "api": f"{product}/api/v1/tokens/{seed['TOKEN_ID']}",
            "bare": bare,
            "api_key": seed["API_KEY"],
            "bearer": bearer,
            "product_master_pid": str(processes[0].pid),
            "product_env_file": str(env_file),
        }
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=15)
        sandbox.stop()
        if env_file is not None:
            shutil.rmtree(env_file.parent, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--duration", type=int, default=12, help="seconds of load per row, over all rounds"
    )
    parser.add_argument(
        "--rounds", type=int, default=3,
        help="turns the targets take within each activity and connection count",
    )
    parser.add_argument("--workers", type=int, help="default: config/gunicorn.conf.py")
    parser.add_argument("--threads", type=int, help="default: config/gunicorn.conf.py")
    parser.add_argument(
        "--admin-database-url", default="postgres://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument(
        "--sandbox-server", choices=["gunicorn", "wsgiref"], default="gunicorn",
        help="the sandbox's HTTP server: gunicorn keeps connections open (default)",
    )
    parser.add_argument("--sandbox-threads", type=int, default=16)
    parser.add_argument(
        "--serve", action="store_true",
        help="start everything, print the URLs and keys, and wait (for profiling)",
    )
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error(f"--rounds {args.rounds} is invalid: give 1 or more")
    if args.duration < 2 * args.rounds:
        parser.error(
            f"--duration {args.duration} leaves less than 2 s to each of {args.rounds} "
            f"rounds: give --duration {2 * args.rounds} or more, or fewer rounds"
        )

    with running_stack(args) as stack:
        if args.serve:
            for name, value in stack.items():
                print(f"{name}={value}", flush=True)
            # A background job starts with SIGINT ignored; SIGTERM must stop the
            # stack too, so both unwind through running_stack's cleanup.
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(0))
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                return
        results = measure(stack, args)
    report(results, args)


def measure(stack: dict[str, str], args: argparse.Namespace) -> dict:
    jira, api, bare = stack["jira"], stack["api"], stack["bare"]
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        api_headers = {"Authorization": f"Api-Key {stack['api_key']}"}
        jira_headers = {"Authorization": f"Bearer {stack['bearer']}"}
        activities = {
            # activity: method, Jira's path, the product's path, its body, Jira's body
            "Create Issue": ("POST", "issue", "issues", CREATE_BODY, JIRA_CREATE_BODY),
            "Get Issue Details": ("GET", "issue/DEMO-1", "issues/DEMO-1", None, None),
        }
        targets = {}
        for number, (activity, request) in enumerate(activities.items(), start=1):
            method, jira_path, api_path, body, jira_body = request
            targets[activity] = {
                "direct": (f"{jira}/{jira_path}", wrk_script(
                    directory, f"d{number}", method, jira_headers, jira_body)),
                "product": (f"{api}/{api_path}", wrk_script(
                    directory, f"p{number}", method, api_headers, body)),
                "bare": (f"{bare}/{api_path}", wrk_script(
                    directory, f"b{number}", method, {}, body)),
                "relay": (f"{bare}/relay/{api_path}", wrk_script(
                    directory, f"r{number}", method, {}, jira_body)),
            }
        slices: dict[tuple, list[dict]] = {}
        for activity, by_target in targets.items():
            for url, script in by_target.values():
                # Warm every worker process and thread, not only the one that a
                # single connection would reach.
                run_wrk(url, script, 32, 2)
            for connections in (1, 32):
                # The targets take turns, so that a slower spell of a shared machine
                # falls on all of them rather than on one row.
                for _ in range(args.rounds):
                    for target, (url, script) in by_target.items():
                        slices.setdefault((activity, connections, target), []).append(
                            run_wrk(url, script, connections, args.duration // args.rounds)
                        )
    return {key: combined(runs) for key, runs in slices.items()}


def combined(runs: list[dict]) -> dict:
    """Combine one row's wrk runs of equal length into one measurement.

    Throughput is the mean of the runs. wrk reports percentiles, not samples, so
    the median is the median of the runs' medians and the p99 the highest p99.
    """
    medians = sorted(run["p50"] for run in runs)
    return {
        "rps": sum(run["rps"] for run in runs) / len(runs),
        "p50": medians[len(medians) // 2],
        "p99": max(run["p99"] for run in runs),
        "requests": sum(run["requests"] for run in runs),
        "errors": sum(run["errors"] for run in runs),
    }


def report(results: dict, args: argparse.Namespace) -> None:
    print(f"# {time.strftime('%Y-%m-%d')} on {platform.node()}: {os.cpu_count()} cores, "
          f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(f"# gunicorn with config/gunicorn.conf.py, workers "
          f"{args.workers or 'default'}, threads {args.threads or 'default'}; "
          f"sandbox on {args.sandbox_server} "
          f"({args.sandbox_threads} threads); wrk {args.duration} s per row "
          f"in {args.rounds} rounds")
    print("| activity | connections | target | req/s | median ms | p99 ms | non-2xx |")
    print("|---|---|---|---|---|---|---|")
    for (activity, connections, target), row in results.items():
        print(f"| {activity} | {connections} | {target} | {row['rps']:.0f} | "
              f"{row['p50']:.2f} | {row['p99']:.2f} | {row['errors']} |")
    print()
    for activity in ("Create Issue", "Get Issue Details"):
        direct = results[(activity, 1, "direct")]
        product = results[(activity, 1, "product")]
        added = product["p50"] - direct["p50"]
        bare = results[(activity, 32, "bare")]["rps"]
        ratio = results[(activity, 32, "product")]["rps"] / bare
        relay_ratio = results[(activity, 32, "relay")]["rps"] / bare
        print(f"{activity}: product adds {added:.2f} ms to the direct median at 1 "
              f"connection (target <= 2 ms); at 32 connections it reaches "
              f"{ratio:.2f} of the bare view's throughput (target >= 0.20), "
              f"the relay {relay_ratio:.2f}")


if __name__ == "__main__":
    main()
