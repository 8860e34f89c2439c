"""Compare renewal throughput through Celery with a plain two-process loop.

    .venv/bin/python -m benchmarks.renewal.celery_vs_loop [--tokens 10000]

One run, on this machine's PostgreSQL (127.0.0.1:5432, user postgres) and Redis
(127.0.0.1:6379, database 12 only):

1. Create the scratch database renewal_throughput, migrate it and start the Jira
   sandbox on a free port.
2. Register one OAuth client and, per token, post an accepted consent and
   exchange its code, so that each of 2 x N connected Cloud tokens has a
   refresh token of its own.
3. Path A: start Celery workers, send one renewal sweep and time from that send
   until every token of the first set has last_renewed_at.
4. Path B: two processes, each renewing half of the second set with
   tokens.services.token_renew, timed from the claim until both are done.
5. Print tokens per second, the ratio A/B, peak RSS (VmHWM) and CPU seconds of
   each process, then stop every process, flush Redis database 12 and drop the
   scratch database.

The whole run stops itself after 15 minutes.
"""

import argparse
import base64
import concurrent.futures
import multiprocessing
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
import requests

ROOT = Path(__file__).resolve().parents[2]
ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
SCRATCH = "renewal_throughput"
REDIS_URL = "redis://127.0.0.1:6379/12"
CALLBACK = "https://manage-center.example/tokens/oauth/callback/"
TOTAL_SECONDS = 15 * 60
ISSUE_THREADS = 4
RENEWAL_TIMEOUT_SECONDS = 300
WORKER_START_SECONDS = 30
POLL_SECONDS = 0.2
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class BenchmarkError(Exception):
    """A step failed or timed out; the message names the step."""


def _out_of_time(signum: int, frame: object) -> None:
    raise BenchmarkError(f"The benchmark ran past {TOTAL_SECONDS} s and stopped.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=10_000, help="tokens per path")
    parser.add_argument("--workers", type=int, default=2, help="celery worker commands")
    parser.add_argument("--concurrency", type=int, default=1, help="per worker command")
    parser.add_argument(
        "--pool", default="prefork", choices=["prefork", "solo", "threads"]
    )
    parser.add_argument(
        "--order", default="ab", choices=["ab", "ba"], help="which path runs first"
    )
    parser.add_argument("--loglevel", default="WARNING", help="worker and app logs")
    parser.add_argument(
        "--profile", metavar="DIR", help="run each worker under cProfile, stats to DIR"
    )
    args = parser.parse_args()

    signal.signal(signal.SIGALRM, _out_of_time)
    signal.alarm(TOTAL_SECONDS)
    run = Run(args)
    try:
        run.execute()
        return 0
    except BenchmarkError as exc:
        print(f"FAILED: {exc}", flush=True)
        run.keep_logs = True
        return 1
    finally:
        signal.alarm(0)
        run.clean_up()


class Run:
    """Everything one benchmark run starts, so that clean_up can stop all of it."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.sandbox = None
        self.workers: list[subprocess.Popen] = []
        self.loopers: list[multiprocessing.Process] = []
        self.folder = Path(tempfile.mkdtemp(prefix="renewal-throughput-"))
        self.database_created = False
        self.keep_logs = False

    def execute(self) -> None:
        args = self.args
        print(f"{args.tokens} tokens per path; nproc {os.cpu_count()}", flush=True)
        self._create_database()
        self._start_sandbox()
        self._configure_django()

        client = self.control.register_client(
            name="Throughput", redirect_uris=[CALLBACK]
        )
        started = time.monotonic()
        grants = _issue_grants(self.sandbox.base_url, client, 2 * args.tokens)
        issue_seconds = time.monotonic() - started
        print(
            f"Issued {len(grants)} refresh tokens through consent and code exchange in "
            f"{issue_seconds:.1f} s ({len(grants) / issue_seconds:.0f}/s)",
            flush=True,
        )
        set_a, set_b = _create_tokens(client, grants, args.tokens)

        # The sandbox keeps every token it issued, so the second path meets a
        # larger store; --order ba shows how much that weighs.
        if args.order == "ab":
            a = self._path_a(set_a)
            b = self._path_b(set_b)
        else:
            b = self._path_b(set_b)
            a = self._path_a(set_a)
        _report(args, a, b)

    def _create_database(self) -> None:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {SCRATCH} WITH (FORCE)")
            admin.execute(f"CREATE DATABASE {SCRATCH}")
        self.database_created = True
        _flush_redis()

    def _start_sandbox(self) -> None:
        from sandbox.testing import SandboxControl, SandboxProcess

        self.sandbox = SandboxProcess(seed="demo").start()
        self.control = SandboxControl(self.sandbox.base_url)

    def _configure_django(self) -> None:
        """Point the product at the scratch database, Redis 12 and the sandbox."""
        base_url = self.sandbox.base_url
        key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        os.environ.update(
            {
                "DJANGO_SETTINGS_MODULE": "config.settings",
                "DJANGO_DEBUG": "false",
                "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
                "FIELD_ENCRYPTION_KEYS": f"bench:{key}",
                "MANAGE_CENTER_VAR_DIR": str(self.folder),
                "DATABASE_URL": ADMIN_URL.rsplit("/", 1)[0] + f"/{SCRATCH}",
                "REDIS_URL": REDIS_URL,
                "ATLASSIAN_AUTH_URL": base_url,
                "ATLASSIAN_API_URL": base_url,
                "OUTBOUND_ALLOWED_HOSTS": urlsplit(base_url).netloc,
                "LOG_LEVEL": self.args.loglevel,
                "PYTHONUNBUFFERED": "1",
            }
        )
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)

    def _path_a(self, token_ids: list[str]) -> dict:
        """Start the workers, send one sweep and wait for every renewal."""
        from django.db import connection

        from config.celery import app
        from tokens.tasks import renew_due_tokens_task

        self._start_workers()
        pids = [worker.pid for worker in self.workers]
        cpu_before = _cpu_seconds(pids) + _cpu_seconds([self.sandbox._process.pid])

        started = time.monotonic()
        renew_due_tokens_task.delay()
        deadline = started + RENEWAL_TIMEOUT_SECONDS
        while True:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM tokens_accesstoken "
                    "WHERE id = ANY(%s::uuid[]) AND last_renewed_at IS NULL",
                    [token_ids],
                )
                left = cursor.fetchone()[0]
            if left == 0:
                break
            if time.monotonic() > deadline:
                raise BenchmarkError(
                    f"Path A: {left} tokens were not renewed within "
                    f"{RENEWAL_TIMEOUT_SECONDS} s. Worker log: {self.folder}"
                )
            self._check_workers()
            time.sleep(POLL_SECONDS)
        seconds = time.monotonic() - started

        result = {
            "seconds": seconds,
            "renewed": len(token_ids),
            "memory": _tree_peak_rss(pids),
            "cpu": _cpu_seconds(pids) + _cpu_seconds([self.sandbox._process.pid])
            - cpu_before,
            "failed": _failed(token_ids),
        }
        app.close()
        self._stop_workers()
        return result

    def _start_workers(self) -> None:
        args = self.args
        celery = str(Path(sys.executable).parent / "celery")
        for number in range(args.workers):
            command = [
                celery, "-A", "config", "worker", "--pool", args.pool,
                "--concurrency", str(args.concurrency), "--loglevel", args.loglevel,
                "--without-gossip", "--without-mingle", "--without-heartbeat",
                "--hostname", f"throughput{number}@%h",
            ]
            if args.profile:
                stats = Path(args.profile).resolve() / f"worker{number}.prof"
                command[:1] = [sys.executable, "-m", "cProfile", "-o", str(stats),
                               "-m", "celery"]
            log = open(self.folder / f"worker{number}.log", "wb")
            self.workers.append(
                subprocess.Popen(
                    command, cwd=ROOT, env=dict(os.environ), stdout=log,
                    stderr=subprocess.STDOUT, start_new_session=True,
                )
            )
            log.close()
        command_line = " ".join(command[:-2]).replace(celery, "celery")
        command_line = command_line.replace(sys.executable, "python")
        print(f"Path A: {args.workers} x `{command_line}`", flush=True)

        from config.celery import app

        deadline = time.monotonic() + WORKER_START_SECONDS
        while len(app.control.ping(timeout=0.5)) < args.workers:
            self._check_workers()
            if time.monotonic() > deadline:
                raise BenchmarkError(
                    f"The workers did not respond to a ping within "
                    f"{WORKER_START_SECONDS} s. Their logs are in {self.folder}."
                )

    def _check_workers(self) -> None:
        for worker in self.workers:
            if worker.poll() is not None:
                raise BenchmarkError(
                    f"A worker exited with code {worker.returncode}; its log is in "
                    f"{self.folder}."
                )

    def _stop_workers(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.terminate()
        for worker in self.workers:
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(worker.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            worker.wait(timeout=10)
        self.workers = []

    def _path_b(self, token_ids: list[str]) -> dict:
        """Renew the second set in two plain processes, as the sweep would queue it."""
        from django.db import connections
        from django.utils import timezone

        from tokens.models import AccessToken

        context = multiprocessing.get_context("spawn")
        ready = context.Barrier(3, timeout=WORKER_START_SECONDS)
        go = context.Event()
        results = context.Queue()
        halves = [token_ids[0::2], token_ids[1::2]]
        self.loopers = [
            context.Process(target=_loop, args=(half, ready, go, results), daemon=True)
            for half in halves
        ]
        for looper in self.loopers:
            looper.start()
        ready.wait()
        sandbox_before = _cpu_seconds([self.sandbox._process.pid])
        print("Path B: 2 processes calling tokens.services.token_renew", flush=True)

        started = time.monotonic()
        # The same claim the sweep makes, without the messages.
        now = timezone.now()
        AccessToken.objects.filter(pk__in=token_ids).update(
            next_renewal_at=now + timedelta(minutes=2), renewal_queued_at=now
        )
        go.set()
        reports = []
        for _ in self.loopers:
            remaining = started + RENEWAL_TIMEOUT_SECONDS - time.monotonic()
            try:
                reports.append(results.get(timeout=max(1.0, remaining)))
            except Exception:
                raise BenchmarkError(
                    f"Path B did not finish within {RENEWAL_TIMEOUT_SECONDS} s."
                ) from None
        seconds = time.monotonic() - started

        for looper in self.loopers:
            looper.join(timeout=10)
        connections.close_all()
        return {
            "seconds": seconds,
            "renewed": sum(report["renewed"] for report in reports),
            "memory": [report["peak_rss_kb"] for report in reports],
            "cpu": sum(report["cpu"] - report["cpu_before"] for report in reports)
            + _cpu_seconds([self.sandbox._process.pid])
            - sandbox_before,
            "failed": _failed(token_ids),
        }

    def clean_up(self) -> None:
        for looper in self.loopers:
            if looper.is_alive():
                looper.terminate()
                looper.join(timeout=10)
        try:
            self._stop_workers()
        except Exception as exc:
            print(f"Stopping the workers failed: {exc}", flush=True)
        if self.sandbox is not None:
            log_path = self.sandbox.log_path
            self.sandbox.stop()
            if log_path is not None:
                log_path.unlink(missing_ok=True)
        if self.database_created:
            try:
                from django.db import connections

                connections.close_all()
            except Exception:
                pass
            with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {SCRATCH} WITH (FORCE)")
            _flush_redis()
        if self.keep_logs:
            print(f"Worker logs kept in {self.folder}", flush=True)
        else:
            shutil.rmtree(self.folder, ignore_errors=True)


def _flush_redis() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        client.flushdb()
    finally:
        client.close()


def _issue_grants(base_url: str, client: dict, count: int) -> list[dict]:
    """Return `count` token responses, each from its own accepted consent."""
    from django.conf import settings

    from sandbox.seed import DEMO_ADMIN_ACCOUNT_ID, DEMO_CLOUD_ID

    consent = {
        "audience": "api.atlassian.com",
        "client_id": client["client_id"],
        "scope": " ".join(settings.JIRA_OAUTH_SCOPES),
        "redirect_uri": CALLBACK,
        "state": "throughput",
        "response_type": "code",
        "prompt": "consent",
        "decision": "accept",
        "account_id": DEMO_ADMIN_ACCOUNT_ID,
        "cloud_id": DEMO_CLOUD_ID,
    }
    exchange = {
        "grant_type": "authorization_code",
        "client_id": client["client_id"],
        "client_secret": client["client_secret"],
        "redirect_uri": CALLBACK,
    }
    local = threading.local()

    def issue_one(_: int) -> dict:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            session.trust_env = False
        answer = session.post(
            f"{base_url}/authorize", data=consent, allow_redirects=False, timeout=10
        )
        if answer.status_code != 302:
            raise BenchmarkError(f"The consent returned HTTP {answer.status_code}.")
        code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
        answer = session.post(
            f"{base_url}/oauth/token", json={**exchange, "code": code}, timeout=10
        )
        if answer.status_code != 200:
            raise BenchmarkError(
                f"The code exchange returned HTTP {answer.status_code}."
            )
        return answer.json()

    with concurrent.futures.ThreadPoolExecutor(ISSUE_THREADS) as pool:
        return list(pool.map(issue_one, range(count)))


def _create_tokens(
    client: dict, grants: list[dict], per_path: int
) -> tuple[list[str], list[str]]:
    """Store the grants as connected tokens: the first half due now, the rest idle."""
    from django.utils import timezone

    from sandbox.seed import DEMO_CLOUD_ID, DEMO_SITE_URL
    from tenants.models import Tenant
    from tokens.models import AccessToken, TokenStatus

    tenant = Tenant.objects.create(name="Throughput")
    now = timezone.now()
    tokens = []
    for number, grant in enumerate(grants):
        token = AccessToken(
            id=uuid.uuid4(),
            tenant=tenant,
            name=f"Token {number:05d}",
            portal_url=DEMO_SITE_URL,
            consumer_key=client["client_id"],
            callback_url=CALLBACK,
            scopes=grant["scope"],
            cloud_id=DEMO_CLOUD_ID,
            site_url=DEMO_SITE_URL,
            renewal_rate=15,
            status=TokenStatus.CONNECTED,
            connected_at=now,
            access_token_expires_at=now + timedelta(seconds=grant["expires_in"]),
            # The second set waits for path B, which claims it as the sweep would.
            next_renewal_at=now - timedelta(minutes=1) if number < per_path else None,
        )
        token.set_secret("consumer_secret", client["client_secret"])
        token.set_secret("access_token", grant["access_token"])
        token.set_secret("refresh_token", grant["refresh_token"])
        tokens.append(token)
    AccessToken.objects.bulk_create(tokens, batch_size=1000)
    ids = [str(token.pk) for token in tokens]
    return ids[:per_path], ids[per_path:]


def _loop(token_ids: list[str], ready, go, results) -> None:
    """Renew each token in turn, as renew_token_task does, and report."""
    import django

    django.setup()
    from django.db import connection

    from tokens import services
    from tokens.models import AccessToken

    connection.ensure_connection()
    ready.wait()
    go.wait(timeout=RENEWAL_TIMEOUT_SECONDS)
    cpu_before = _cpu_seconds([os.getpid()])
    renewed = 0
    for token_id in token_ids:
        try:
            services.token_renew(token_id=token_id, only_if_queued=True)
            renewed += 1
        except (services.RenewalError, AccessToken.DoesNotExist):
            pass
    results.put(
        {
            "renewed": renewed,
            "cpu_before": cpu_before,
            "cpu": _cpu_seconds([os.getpid()]),
            "peak_rss_kb": _peak_rss_kb(os.getpid()),
        }
    )


def _failed(token_ids: list[str]) -> int:
    from tokens.models import AccessToken, TokenStatus

    return (
        AccessToken.objects.filter(pk__in=token_ids)
        .exclude(status=TokenStatus.CONNECTED)
        .count()
    )


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _tree(pids: list[int]) -> list[int]:
    every = []
    pending = list(pids)
    while pending:
        pid = pending.pop()
        every.append(pid)
        pending += _children(pid)
    return every


def _peak_rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree_peak_rss(pids: list[int]) -> list[int]:
    return [_peak_rss_kb(pid) for pid in _tree(pids)]


def _cpu_seconds(pids: list[int]) -> float:
    """Return user plus system CPU seconds of the processes and their children."""
    total = 0
    for pid in _tree(pids):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def _report(args: argparse.Namespace, a: dict, b: dict) -> None:
    rate_a = a["renewed"] / a["seconds"]
    rate_b = b["renewed"] / b["seconds"]
    print(
        f"\nA Celery ({args.workers} x {args.pool} --concurrency {args.concurrency}): "
        f"{a['renewed']} tokens in {a['seconds']:.1f} s = {rate_a:.0f}/s; "
        f"{a['failed']} not connected; CPU {a['cpu']:.1f} s "
        f"({1000 * a['cpu'] / a['renewed']:.1f} ms/token, workers and sandbox); "
        f"peak RSS per process {', '.join(f'{kb / 1024:.0f}' for kb in a['memory'])} MB"
    )
    print(
        f"B loop (2 processes): {b['renewed']} tokens in {b['seconds']:.1f} s = "
        f"{rate_b:.0f}/s; {b['failed']} not connected; CPU {b['cpu']:.1f} s "
        f"({1000 * b['cpu'] / b['renewed']:.1f} ms/token, loop and sandbox); "
        f"peak RSS per process {', '.join(f'{kb / 1024:.0f}' for kb in b['memory'])} MB"
    )
    print(f"A/B = {rate_a / rate_b:.0%} (target: at least 60%)", flush=True)


if __name__ == "__main__":
    sys.exit(main())
