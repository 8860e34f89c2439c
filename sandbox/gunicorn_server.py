"""Keep-alive HTTP/1.1 server for the sandbox: gunicorn's gthread worker, one process.

All sandbox state lives in memory, so exactly one worker process serves every
request, on a pool of threads. gunicorn's arbiter (this process) binds the
socket, forks that worker and stops it on SIGINT or SIGTERM. The worker is
never replaced: a second worker would start from the seed and serve different
state, so when the worker dies the whole server stops with exit status 1.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from typing import Any

from gunicorn import glogging
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.errors import HaltServer
from gunicorn.workers.base import Worker

logger = logging.getLogger(__name__)

# Pending connections that wait in the kernel while every thread is busy.
BACKLOG = 1024
# Seconds an idle keep-alive connection stays open. Clients that pool
# connections (requests, urllib3) may reuse one that the server is closing at
# that moment, so a long interval makes that race rare.
KEEPALIVE_SECONDS = 60
# Seconds the arbiter waits for the worker to exit before it kills it.
STOP_TIMEOUT_SECONDS = 3

Announce = Callable[[str, int], None]


class SandboxLogger(glogging.Logger):
    """gunicorn's messages through the sandbox's loggers, which write to stderr.

    The access line is "METHOD path status", as the wsgiref server writes it:
    no query string, so no credential sent in one reaches the log.
    """

    def setup(self, cfg: Any) -> None:
        self.cfg = cfg
        self.error_log = logging.getLogger("sandbox.gunicorn")
        self.access_log = logging.getLogger("sandbox.server")

    def access(
        self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any
    ) -> None:
        if not self.access_log.isEnabledFor(logging.INFO):
            return
        status = str(resp.status).split(None, 1)[0]
        path = environ.get("RAW_URI", "").split("?", 1)[0]
        self.access_log.info("%s %s %s", environ.get("REQUEST_METHOD"), path, status)


class SandboxApplication(BaseApplication):
    """gunicorn application that serves an already loaded WSGI callable."""

    def __init__(self, application: Any, options: dict[str, Any]) -> None:
        self.application = application
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self) -> Any:
        return self.application


class SandboxArbiter(Arbiter):
    """Arbiter that keeps exactly one worker and stops at once on SIGTERM.

    SIGTTIN, SIGTTOU, SIGHUP and SIGUSR2 would add, remove, reload or re-execute
    workers, so they are ignored. SIGTERM stops as quickly as SIGINT, as the
    wsgiref server does: in-flight requests are cut off rather than drained.
    """

    def handle_term(self) -> None:
        self.handle_int()

    def handle_ttin(self) -> None:
        self.log.warning("Ignored SIGTTIN: the sandbox runs exactly one worker")

    def handle_ttou(self) -> None:
        self.log.warning("Ignored SIGTTOU: the sandbox runs exactly one worker")

    def handle_hup(self) -> None:
        self.log.warning("Ignored SIGHUP: a new worker would lose the state")

    def handle_usr2(self) -> None:
        self.log.warning("Ignored SIGUSR2: a new master would lose the state")


def _stop_when_worker_exits(arbiter: Arbiter, worker: Worker) -> None:
    # The arbiter closes its listeners before it stops the worker on purpose.
    if arbiter.LISTENERS:
        raise HaltServer("The worker exited, and its in-memory state with it.", 1)


def serve(
    application: Any, host: str, port: int, threads: int, announce: Announce
) -> int:
    """Serve until SIGINT or SIGTERM; return the exit status.

    `announce` runs in the worker once it accepts connections, with the bound
    host and port.
    """
    try:
        listener = socket.create_server((host, port), backlog=BACKLOG)
    except OSError as error:
        logger.error("Cannot listen on %s:%s: %s", host, port, error)
        return 1
    bound_host, bound_port = listener.getsockname()[:2]

    def worker_ready(worker: Worker) -> None:
        announce(bound_host, bound_port)

    options = {
        # gunicorn takes over the descriptor and closes it when it stops.
        "bind": [f"fd://{listener.detach()}"],
        "workers": 1,
        "worker_class": "gthread",
        "threads": threads,
        "keepalive": KEEPALIVE_SECONDS,
        # The worker's heartbeat is not checked: a restarted worker would lose
        # the state, so a stuck one is better left for a person to inspect.
        "timeout": 0,
        "graceful_timeout": STOP_TIMEOUT_SECONDS,
        # Long authorization URLs and headers pass, as wsgiref lets them.
        "limit_request_line": 0,
        "limit_request_field_size": 0,
        # No proxy sits in front, so forwarded headers come from the client itself.
        "forwarded_allow_ips": "",
        "control_socket_disable": True,
        "logger_class": SandboxLogger,
        "post_worker_init": worker_ready,
        "child_exit": _stop_when_worker_exits,
    }
    arbiter_pid = os.getpid()
    try:
        SandboxArbiter(SandboxApplication(application, options)).run()
    except SystemExit as exit_request:
        status = exit_request.code
        if os.getpid() != arbiter_pid:
            # The forked worker unwinds through this call too. It leaves here
            # so that the arbiter's clean-up (logging "Stopped", deleting the
            # attachment folder) runs once, in the arbiter, and so that a
            # thread still busy with a request cannot delay the exit.
            logging.shutdown()
            os._exit(status if isinstance(status, int) else 1)
        if status is None:
            return 0
        return status if isinstance(status, int) else 1
    return 0
