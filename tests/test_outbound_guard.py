"""The outbound guard: forbidden destinations are rejected before any connection.

An audit hook records every socket connect of this process while these tests run,
and blocks any connect outside 127.0.0.0/8 and ::1, so that a broken guard fails a
test instead of sending traffic anywhere.
"""

import http.server
import ipaddress
import sys
import threading

import pytest

from activities import jira
from config import outbound
from tests.tokens.test_forms import _form
from tokens import oauth

CONNECTS: list[tuple] = []
_WATCHING = threading.Event()


def _watch_connects(event: str, args: tuple) -> None:
    if event != "socket.connect" or not _WATCHING.is_set():
        return
    address = args[1]
    if not isinstance(address, tuple):
        return
    CONNECTS.append(address)
    if not ipaddress.ip_address(address[0]).is_loopback:
        raise RuntimeError(f"Blocked a connect to {address[0]} in a guard test.")


sys.addaudithook(_watch_connects)


@pytest.fixture(autouse=True)
def watched_connects():
    CONNECTS.clear()
    _WATCHING.set()
    yield CONNECTS
    _WATCHING.clear()


class _RedirectHandler(http.server.BaseHTTPRequestHandler):
    target = ""

    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", self.target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def redirector(settings):
    """Return a server on 127.0.0.1, let through by the guard, that redirects."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RedirectHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host = f"127.0.0.1:{server.server_address[1]}"
    settings.OUTBOUND_ALLOWED_HOSTS = [host]

    def redirect_to(target: str) -> str:
        _RedirectHandler.target = target
        return f"http://{host}/"

    yield redirect_to
    server.shutdown()
    server.server_close()


FORBIDDEN_PORTALS = [
    ("https://127.0.0.1/", "127.0.0.1 is a loopback address"),
    ("https://2130706433/", "2130706433 is 127.0.0.1, a loopback address"),
    ("https://0x7f000001/", "0x7f000001 is 127.0.0.1, a loopback address"),
    ("https://0177.0.0.1/", "0177.0.0.1 is 127.0.0.1, a loopback address"),
    ("https://127.1/", "127.1 is 127.0.0.1, a loopback address"),
    ("https://[::1]/", "::1 is a loopback address"),
    ("https://[::ffff:127.0.0.1]/", "an IPv6 form of a loopback address"),
    ("https://[::ffff:a9fe:a9fe]/", "an IPv6 form of a cloud metadata address"),
    ("https://169.254.169.254/", "169.254.169.254 is a cloud metadata address"),
    ("https://2852039166/", "is 169.254.169.254, a cloud metadata address"),
    ("https://[fd00:ec2::254]/", "a cloud metadata address"),
    ("https://169.254.1.1/", "169.254.1.1 is a link-local address"),
    ("https://10.1.2.3/", "10.1.2.3 is a private address"),
    ("https://172.16.0.1/", "172.16.0.1 is a private address"),
    ("https://192.168.0.1/", "192.168.0.1 is a private address"),
    ("https://[fd12::1]/", "fd12::1 is a private address"),
    ("https://224.0.0.1/", "224.0.0.1 is a multicast address"),
    ("https://[ff02::1]/", "ff02::1 is a multicast address"),
    ("https://0.0.0.0/", "0.0.0.0 is a reserved address"),
    ("https://localhost/", "localhost (127.0.0.1) is a loopback address"),
]


@pytest.mark.parametrize("url, reason", FORBIDDEN_PORTALS)
def test_portal_url_rejects_forbidden_address(tenant, url, reason, watched_connects):
    form = _form(tenant, portal_url=url)

    assert not form.is_valid()
    assert reason in form.errors["portal_url"][0]
    assert "Enter the public address of your Jira site" in form.errors["portal_url"][0]
    assert watched_connects == []


def test_portal_url_rejects_name_resolving_to_loopback(
    tenant, offline_dns, watched_connects
):
    offline_dns["jira.rebound.test"] = "127.0.0.1"

    form = _form(tenant, portal_url="https://jira.rebound.test/")

    assert not form.is_valid()
    assert "jira.rebound.test (127.0.0.1) is a loopback address" in (
        form.errors["portal_url"][0]
    )
    assert watched_connects == []


def test_portal_url_rejects_plain_http(tenant):
    form = _form(tenant, portal_url="http://93.184.216.34/")

    assert not form.is_valid()
    assert "must start with https://" in form.errors["portal_url"][0]


def test_portal_url_accepts_public_address(tenant, offline_dns, watched_connects):
    offline_dns["acme.atlassian.net"] = "93.184.216.34"

    form = _form(tenant, portal_url="https://acme.atlassian.net/")

    assert form.is_valid(), form.errors
    assert watched_connects == []


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data/",
        "https://2130706433/",
        "https://0x7f000001/",
        "https://[::ffff:169.254.169.254]/",
        "https://10.0.0.1/",
        "http://93.184.216.34/",
        "https://localhost/",
    ],
)
def test_session_refuses_before_connecting(url, watched_connects):
    with pytest.raises(outbound.ForbiddenDestinationError, match="Refused to connect"):
        outbound.http_session().get(url, timeout=5)

    assert watched_connects == []


def test_name_that_changes_after_validation_is_refused_on_connect(
    tenant, offline_dns, watched_connects
):
    # Given a portal URL accepted while its name resolved to a public address
    offline_dns["jira.rebind.test"] = "93.184.216.34"
    assert _form(tenant, portal_url="https://jira.rebind.test/").is_valid()

    # When the name resolves to the metadata address at connection time
    offline_dns["jira.rebind.test"] = "169.254.169.254"
    with pytest.raises(outbound.ForbiddenDestinationError) as refused:
        outbound.http_session().get("https://jira.rebind.test/rest/api/2/myself", timeout=5)

    # Then the connection is refused with the reason and nothing was connected
    assert "jira.rebind.test (169.254.169.254) is a cloud metadata address" in str(
        refused.value
    )
    assert watched_connects == []


@pytest.mark.parametrize(
    "target, reason",
    [
        ("http://169.254.169.254/latest/meta-data/", "plain http"),
        ("https://169.254.169.254/latest/meta-data/", "a cloud metadata address"),
        ("https://[::ffff:10.0.0.1]/", "an IPv6 form of a private address"),
        ("https://127.0.0.1:9/", "127.0.0.1 is a loopback address"),
    ],
)
def test_redirect_to_forbidden_host_is_refused(redirector, target, reason, watched_connects):
    start = redirector(target)

    with pytest.raises(outbound.ForbiddenDestinationError) as refused:
        outbound.http_session().get(start, timeout=5)

    assert reason in str(refused.value)
    assert [address[1] for address in watched_connects] == [int(start.split(":")[2][:-1])]


def test_allowed_host_passes_only_on_its_port(redirector, watched_connects):
    start = redirector("/")
    port = int(start.split(":")[2][:-1])

    response = outbound.http_session().get(start, timeout=5, allow_redirects=False)

    assert response.status_code == 302
    with pytest.raises(outbound.ForbiddenDestinationError, match="plain http"):
        outbound.http_session().get(f"http://127.0.0.1:{port + 1}/", timeout=5)
    assert {address[1] for address in watched_connects} == {port}


def test_token_requests_pass_the_guard(watched_connects):
    server = oauth.data_center_server("https://169.254.169.254")

    with pytest.raises(oauth.TemporaryOAuthError, match="ForbiddenDestinationError"):
        oauth.exchange_code(
            server,
            client_id="client",
            client_secret="secret",
            code="code",
            redirect_uri="https://manage.example.com/cb",
            code_verifier="v" * 50,
        )

    assert watched_connects == []


@pytest.mark.parametrize(
    "api_base, reason",
    [
        ("https://169.254.169.254/rest/api/2", "a cloud metadata address"),
        ("https://0x7f000001/rest/api/2", "a loopback address"),
        ("https://[::ffff:10.0.0.1]/rest/api/2", "an IPv6 form of a private address"),
        ("http://93.184.216.34/rest/api/2", "plain http"),
    ],
)
def test_jira_client_refuses_before_connecting(api_base, reason, watched_connects):
    site = jira.JiraSite(api_base=api_base, access_token="not-sent")

    with pytest.raises(jira.JiraUnavailableError, match="Refused to connect") as error:
        jira.get_issue(site, "DEMO-1")

    assert reason in str(error.value)
    assert "not-sent" not in str(error.value)
    assert watched_connects == []


def test_jira_client_does_not_follow_redirects(redirector, watched_connects):
    start = redirector("https://169.254.169.254/latest/meta-data/")
    site = jira.JiraSite(api_base=start.rstrip("/"), access_token="not-sent")

    with pytest.raises(jira.JiraError, match="redirect") as answered:
        jira.get_issue(site, "DEMO-1")

    assert answered.value.status == 302
    redirector_port = int(start.split(":")[2][:-1])
    assert [address[1] for address in watched_connects] == [redirector_port]


def test_pasted_token_check_reports_redirect(redirector, watched_connects):
    start = redirector("https://169.254.169.254/latest/meta-data/")

    with pytest.raises(oauth.OAuthError, match="returned a redirect") as error:
        oauth.data_center_check_access_token(start.rstrip("/"), "not-sent-anywhere-else")

    assert error.value.status == 302
    assert "not-sent-anywhere-else" not in str(error.value)
    redirector_port = int(start.split(":")[2][:-1])
    assert [address[1] for address in watched_connects] == [redirector_port]
