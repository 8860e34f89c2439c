"""The Jira client when a connection to Jira cannot open in time or closes unanswered."""

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from activities import jira

CONNECT_TIMEOUT_SECONDS = 0.3


@pytest.fixture
def unanswered_port(settings) -> Iterator[int]:
    """Return a port on 127.0.0.1 whose listener lets no new connection open.

    Linux drops a SYN while the listener's accept queue is full, so with a backlog
    of 0 and one connection waiting unaccepted, every further connect times out.
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    waiting = socket.create_connection(("127.0.0.1", port), timeout=5)
    settings.OUTBOUND_ALLOWED_HOSTS = [f"127.0.0.1:{port}"]
    settings.JIRA_ALLOW_HTTP = True
    settings.JIRA_HTTP_TIMEOUT = CONNECT_TIMEOUT_SECONDS
    yield port
    waiting.close()
    listener.close()


def _site(port: int) -> jira.JiraSite:
    return jira.JiraSite(
        api_base=f"http://127.0.0.1:{port}/rest/api/3", access_token="bearer-not-shown"
    )


def test_create_connect_timeout_message(unanswered_port):
    fields = {"project": {"key": "DEMO"}, "issuetype": {"name": "Task"}, "summary": "x"}

    with pytest.raises(jira.JiraUnavailableError) as error:
        jira.create_issue(_site(unanswered_port), fields=fields)

    message = str(error.value)
    assert "did not accept a connection within 0.3 seconds" in message
    assert "the request was not sent" in message
    assert "may have been applied" not in message
    assert "bearer-not-shown" not in message


def test_get_connect_timeout_is_retried(unanswered_port):
    started = time.monotonic()

    with pytest.raises(jira.JiraUnavailableError, match="was not sent"):
        jira.get_issue(_site(unanswered_port), "DEMO-1")

    # A GET is safe to repeat, so each of the three attempts waits out the timeout.
    assert time.monotonic() - started >= 3 * CONNECT_TIMEOUT_SECONDS


class _ClosingServer:
    """An HTTP server on 127.0.0.1 that closes its first connections unanswered.

    Each of the first `closes` connections is closed after its request arrives,
    as a server does when it ends a kept-alive connection that a client reuses.
    Later connections get a 200 with a JSON issue. It serves at most 10.
    """

    def __init__(self, closes: int) -> None:
        self.closes = closes
        self.requests: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(5)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        for _ in range(10):
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(5)
                self.requests.append(connection.recv(65536))
                if len(self.requests) <= self.closes:
                    continue
                body = b'{"id": "10000", "key": "DEMO-1"}'
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Connection: close\r\nContent-Length: "
                    + str(len(body)).encode() + b"\r\n\r\n" + body
                )

    def close(self) -> None:
        # Shutting the listener down wakes the accept() that close() alone would not.
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.thread.join(timeout=5)


@pytest.fixture
def closing_server(settings) -> Iterator[Callable[[int], _ClosingServer]]:
    servers: list[_ClosingServer] = []

    def start(closes: int) -> _ClosingServer:
        server = _ClosingServer(closes)
        servers.append(server)
        settings.OUTBOUND_ALLOWED_HOSTS = [f"127.0.0.1:{server.port}"]
        settings.JIRA_ALLOW_HTTP = True
        return server

    yield start
    for server in servers:
        server.close()


def test_get_on_closed_connection_is_retried(closing_server):
    server = closing_server(closes=1)

    issue = jira.get_issue(_site(server.port), "DEMO-1")

    assert issue["key"] == "DEMO-1"
    assert len(server.requests) == 2
    assert all(request.startswith(b"GET ") for request in server.requests)


def test_create_on_closed_connection_is_not_repeated(closing_server):
    server = closing_server(closes=1)
    fields = {"project": {"key": "DEMO"}, "issuetype": {"name": "Task"}, "summary": "x"}

    with pytest.raises(jira.JiraUnavailableError) as error:
        jira.create_issue(_site(server.port), fields=fields)

    assert "closed the connection without sending a response" in str(error.value)
    assert "may have been applied" in str(error.value)
    assert len(server.requests) == 1


def test_jira_error_joins_messages_as_sentences():
    error = jira.JiraError(
        400,
        error_messages=["Project 'Sales' uses this project key."],
        errors={"projectName": "A project with that name already exists"},
    )

    assert str(error) == (
        "Jira returned HTTP 400: Project 'Sales' uses this project key. "
        "A project with that name already exists."
    )
