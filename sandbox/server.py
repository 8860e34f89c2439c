"""Multi-threaded WSGI server for the sandbox, built on the standard library."""

from __future__ import annotations

import logging
import socketserver
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

logger = logging.getLogger(__name__)


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    """WSGIServer that serves each connection on its own thread."""

    daemon_threads = True
    # Bursts of concurrent clients in load tests queue here instead of being reset.
    request_queue_size = 128


class LoggingRequestHandler(WSGIRequestHandler):
    """Request handler that logs method, path and status, never the query string."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log one request line without the query string or headers."""
        method, _, rest = self.requestline.partition(" ")
        path = rest.split(" ", 1)[0].split("?", 1)[0]
        logger.info("%s %s %s", method, path, code)

    def log_message(self, format: str, *args: Any) -> None:
        """Route wsgiref's other messages, such as errors, to logging."""
        logger.warning("%s: " + format, self.address_string(), *args)
