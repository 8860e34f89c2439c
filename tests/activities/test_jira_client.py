"""The Jira client's errors when a connection to Jira cannot be opened in time."""

import socket
import time
from collections.abc import Iterator

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
