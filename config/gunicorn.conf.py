"""gunicorn settings of the web process.

The Dockerfile, docker-compose.yml and the activities benchmark share them, and
options on the command line override them.
"""

import os


def _positive_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip() or str(default)
    if not value.isdigit() or int(value) < 1:
        raise SystemExit(
            f"{name}={value!r} is invalid: set a whole number of 1 or more."
        )
    return int(value)


bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = _positive_int("WEB_CONCURRENCY", 2)
# Calls to Jira spend most of their time waiting, so a process serves several at once.
worker_class = "gthread"
threads = _positive_int("GUNICORN_THREADS", 8)
# Every worker listens on a socket of its own and the kernel spreads new connections
# across them. On one shared socket, keep-alive clients pile onto the worker that
# accepted first while the others idle.
reuse_port = True
