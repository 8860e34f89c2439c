"""Serve the Jira sandbox: ``python -m sandbox [--port P] [--openapi-dir DIR] ...``.

Once the socket listens, prints exactly one line to stdout,
``Jira sandbox listening on http://HOST:PORT``, and serves until SIGINT or
SIGTERM. Logs go to stderr.

``--server`` selects the HTTP server. ``gunicorn`` runs gunicorn's gthread
worker in one process with ``--threads`` threads and keeps HTTP/1.1 connections
alive (see sandbox/gunicorn_server.py). ``wsgiref``, the standard library's
server, speaks HTTP/1.0 and opens a new connection and thread for every request,
which costs more CPU per request.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from types import FrameType
from typing import Any

logger = logging.getLogger("sandbox.main")

SHUTDOWN_POLL_SECONDS = 0.5
SERVERS = ("gunicorn", "wsgiref")
DEFAULT_SERVER = "gunicorn"
# Every request that waits on a slow fault occupies a thread, and tests run up
# to about 20 clients at once.
DEFAULT_THREADS = 32


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    from sandbox.seed import SEEDS

    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description=(
            "Local stand-in for Atlassian OAuth 2.0 (3LO), Jira Cloud REST v3 and "
            "Jira Data Center REST v2 with its OAuth 2.0 provider."
        ),
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="IPv4 address to listen on (default: 127.0.0.1)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=8765,
        help="TCP port to listen on; 0 picks a free port (default: 8765)",
    )
    parser.add_argument(
        "--openapi-dir",
        default=os.environ.get("SANDBOX_OPENAPI_DIR", ""),
        help=(
            "folder holding Atlassian's Jira OpenAPI specs; when given, every Jira "
            "REST request is validated against them (default: $SANDBOX_OPENAPI_DIR)"
        ),
    )
    parser.add_argument(
        "--seed",
        choices=sorted(SEEDS),
        default="demo",
        help="starting data, restored by POST /_sandbox/reset (default: demo)",
    )
    parser.add_argument(
        "--server",
        choices=SERVERS,
        default=DEFAULT_SERVER,
        help=f"HTTP server (default: {DEFAULT_SERVER})",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help=(
            "request threads of the gunicorn server; each request waiting on a "
            f"slow fault occupies one (default: {DEFAULT_THREADS})"
        ),
    )
    parser.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=(
            "log a line per request (default); --no-access-log keeps a load test's "
            "log small and its CPU time for the requests"
        ),
    )
    arguments = parser.parse_args(argv)
    if arguments.threads is not None:
        if arguments.server != "gunicorn":
            parser.error("--threads applies to --server gunicorn only")
        if arguments.threads < 1:
            parser.error("--threads must be at least 1")
    return arguments


def announce(host: str, port: int, seed: str) -> None:
    """Print the ready line that SandboxProcess waits for, and log it."""
    print(f"Jira sandbox listening on http://{host}:{port}", flush=True)
    logger.info("Serving on %s:%s with seed %s", host, port, seed)


def main(argv: list[str] | None = None) -> int:
    """Start the server and block until a stop signal arrives; return the exit code."""
    arguments = parse_arguments(argv)

    # Each request logs a line. The log format shows neither the thread, the
    # process nor the calling line, so records skip collecting them, with the
    # switches that the "Optimization" section of Python's logging HOWTO names.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None

    # Set, not setdefault: a parent test run may export the product's settings.
    os.environ["DJANGO_SETTINGS_MODULE"] = "sandbox.settings"
    os.environ["SANDBOX_ALLOWED_HOSTS"] = arguments.host
    os.environ["SANDBOX_OPENAPI_DIR"] = arguments.openapi_dir

    import django

    django.setup()

    from django.core.wsgi import get_wsgi_application

    from sandbox.openapi import SpecLoadError
    from sandbox.state import configure_store

    store = configure_store(arguments.seed)
    try:
        application = get_wsgi_application()
    except SpecLoadError as error:
        logger.error("%s", error)
        store.close()
        return 1
    if not arguments.access_log:
        # Both servers write their access lines to this logger, at INFO. Set after
        # get_wsgi_application(), whose logging set-up resets child loggers.
        logging.getLogger("sandbox.server").setLevel(logging.WARNING)
    if arguments.server == "gunicorn":
        from sandbox import gunicorn_server

        status = gunicorn_server.serve(
            application,
            arguments.host,
            arguments.port,
            arguments.threads or DEFAULT_THREADS,
            lambda host, port: announce(host, port, arguments.seed),
        )
    else:
        status = serve_wsgiref(application, arguments)
    store.close()
    if status == 0:
        logger.info("Stopped")
    return status


def serve_wsgiref(application: Any, arguments: argparse.Namespace) -> int:
    """Serve on the standard library's threaded server until a stop signal."""
    from wsgiref.simple_server import make_server

    from sandbox.server import LoggingRequestHandler, ThreadingWSGIServer

    try:
        server = make_server(
            arguments.host,
            arguments.port,
            application,
            server_class=ThreadingWSGIServer,
            handler_class=LoggingRequestHandler,
        )
    except OSError as error:
        logger.error(
            "Cannot listen on %s:%s: %s", arguments.host, arguments.port, error
        )
        return 1

    stop_requested = threading.Event()

    def request_stop(signal_number: int, frame: FrameType | None) -> None:
        logger.info("Received signal %s, stopping", signal_number)
        stop_requested.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    serving = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
    )
    serving.start()
    host, port = server.server_address[:2]
    announce(str(host), port, arguments.seed)

    # A timed wait keeps the main thread returning to the interpreter, where
    # Python runs signal handlers.
    while not stop_requested.wait(SHUTDOWN_POLL_SECONDS):
        pass

    server.shutdown()
    server.server_close()
    serving.join(timeout=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
