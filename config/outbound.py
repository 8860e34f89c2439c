"""The process's pooled HTTP clients for calls to Jira and Atlassian, and their guard.

Activities call Jira through http_pool(), a urllib3 pool manager: it costs about a
third of the CPU time of a requests session per call, and an activity call makes one.
OAuth code, which Authlib builds on requests, uses http_session(). Both share the
guard.

Every connection the session opens is checked as it opens: the host name is resolved
once, each address is checked, and the socket connects to a checked address. A DNS
answer that changes after a form accepted a URL therefore cannot reach a forbidden
address, and neither can a redirect, since each hop opens its own connection.

Forbidden are loopback, private, link-local, shared, reserved, multicast and cloud
metadata addresses, including IPv4 addresses written inside IPv6 ones, and plain
http unless settings.JIRA_ALLOW_HTTP is on. settings.OUTBOUND_ALLOWED_HOSTS names
the only exceptions ("host" or "host:port"): those hosts may use any address and
http, for development and for the Jira sandbox.
"""

import functools
import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import PoolManager
from urllib3.exceptions import MaxRetryError, NewConnectionError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Instance metadata services listen on these. Most are also link-local or private,
# and they are listed so that the rule does not depend on that.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",
        "169.254.170.2",
        "100.100.100.200",
        "fd00:ec2::254",
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class ForbiddenDestination(Exception):
    """A URL or address that the server must not connect to; the message gives why."""


class UnresolvableHost(ForbiddenDestination):
    """A host name that DNS does not resolve, at least not now."""


class ForbiddenDestinationError(requests.ConnectionError):
    """The guard refused to open a connection; no socket was connected."""


class RefusedConnection(NewConnectionError):
    """Carry a refusal through urllib3, which retries or wraps other errors."""

    def __init__(self, conn: HTTPConnection, reason: str) -> None:
        super().__init__(conn, reason)
        self.reason = reason


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def forbidden_reason(address: IPAddress) -> str:
    """Return why the server may not connect to the address, or "" when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            reason = forbidden_reason(embedded)
            return f"an IPv6 form of {reason}" if reason else ""
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified or address.is_reserved:
        return "a reserved address"
    if address.is_private or not address.is_global:
        return "a private address"
    return ""


def host_is_allowed(host: str, port: int | None) -> bool:
    """Tell whether settings.OUTBOUND_ALLOWED_HOSTS names this host, or host and port."""
    host = host.strip("[]").rstrip(".").lower()
    for entry in settings.OUTBOUND_ALLOWED_HOSTS:
        entry = entry.lower()
        if entry == host or (port is not None and entry == f"{host}:{port}"):
            return True
        if entry.startswith("[") and entry in (f"[{host}]", f"[{host}]:{port}"):
            return True
    return False


def resolve_checked(host: str, port: int, *, https: bool) -> list[str]:
    """Resolve host and return its addresses, or raise ForbiddenDestination.

    Every address that the name resolves to must pass, so a name that mixes a public address
    with a forbidden one is refused as a whole.
    """
    if host_is_allowed(host, port):
        return [info[4][0] for info in _resolve(host, port)]
    if not https and not settings.JIRA_ALLOW_HTTP:
        raise ForbiddenDestination(
            f"http://{host}:{port} is plain http; only https is allowed."
        )

    addresses: list[str] = []
    for info in _resolve(host, port):
        text = info[4][0]
        reason = forbidden_reason(ipaddress.ip_address(text.split("%", 1)[0]))
        if reason:
            shown = host if host == text else f"{host} ({text})"
            raise ForbiddenDestination(f"{shown} is {reason}.")
        if text not in addresses:
            addresses.append(text)
    return addresses


def _resolve(host: str, port: int) -> list[tuple]:
    try:
        return socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvableHost(f"{host} cannot be resolved ({exc}).") from None


def check_url(url: str) -> None:
    """Raise ForbiddenDestination unless the server may fetch url.

    Forms call this to explain a refusal early; the connection is checked again
    when it opens, which is the check that counts.
    """
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ForbiddenDestination(f"{url} is not an absolute http or https URL.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ForbiddenDestination(f"{url} has a port that is not a number.") from None
    resolve_checked(parts.hostname, port, https=parts.scheme == "https")


class _GuardedConnectionMixin:
    """Resolve and check the host when a connection opens, then connect by address."""

    def _new_conn(self) -> socket.socket:
        https = isinstance(self, HTTPSConnection)
        try:
            addresses = resolve_checked(self._dns_host, self.port, https=https)
        except ForbiddenDestination as exc:
            raise RefusedConnection(self, str(exc)) from exc

        # TLS still checks the certificate against self.host; only the socket
        # connects to the address that passed the check.
        name = self._dns_host
        failure: Exception | None = None
        try:
            for address in addresses:
                self._dns_host = address
                try:
                    return super()._new_conn()
                except NewConnectionError as exc:
                    failure = exc
        finally:
            self._dns_host = name
        raise failure or NewConnectionError(self, f"{name} has no address.")


class GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class _GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class _GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


_GUARDED_POOLS = {
    "http": _GuardedHTTPConnectionPool,
    "https": _GuardedHTTPSConnectionPool,
}


class GuardedPoolManager(PoolManager):
    """A urllib3 pool manager whose every connection passes the outbound guard.

    A refusal raises RefusedConnection before any socket connects.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pool_classes_by_scheme = _GUARDED_POOLS


class GuardedHTTPAdapter(HTTPAdapter):
    """An adapter whose every connection passes the outbound guard.

    A refusal raises ForbiddenDestinationError, a requests.ConnectionError, so
    callers that handle unreachable hosts handle it too.
    """

    def init_poolmanager(self, *args: object, **kwargs: object) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _GUARDED_POOLS

    def send(
        self, request: requests.PreparedRequest, **kwargs: object
    ) -> requests.Response:
        try:
            return super().send(request, **kwargs)
        except requests.ConnectionError as exc:
            cause = exc.args[0] if exc.args else None
            if isinstance(cause, MaxRetryError) and isinstance(
                cause.reason, RefusedConnection
            ):
                raise ForbiddenDestinationError(
                    f"Refused to connect: {cause.reason.reason}", request=request
                ) from None
            raise


def guard_session(session: requests.Session) -> requests.Session:
    """Mount the guarded adapter on session and make it ignore proxy variables."""
    adapter = GuardedHTTPAdapter(pool_connections=16, pool_maxsize=64, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    # Proxies from the environment are ignored so that calls go where settings say,
    # and through the guard rather than a proxy's own resolver.
    session.trust_env = False
    return session


@functools.cache
def http_session() -> requests.Session:
    """Return this process's shared session; requests pools connections per host."""
    return guard_session(requests.Session())


@functools.cache
def http_pool() -> GuardedPoolManager:
    """Return this process's shared pool manager, which keeps connections per host.

    It neither retries nor follows redirects unless a call requests it, and reads no
    proxy settings from the environment.
    """
    return GuardedPoolManager(num_pools=16, maxsize=64, retries=False)
