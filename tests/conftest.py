import ipaddress
import socket
from urllib.parse import urlsplit

import pytest

from tests import factories

pytest_plugins = ["tests.sandbox_fixtures", "tests.renewal_fixtures"]


LOCAL_NAMES = {"localhost", "testserver"}


@pytest.fixture(autouse=True)
def offline_dns(monkeypatch):
    """Resolve only IP literals, localhost and names a test adds; fail the rest.

    Tests so send no DNS query off this machine. A test makes a name resolve by
    adding it to the returned dict, for example {"jira.example.test": "127.0.0.1"}.
    """
    names: dict[str, str] = {}
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if name in names:
            return real_getaddrinfo(names[name], port, *args, **kwargs)
        if name is None or name.lower() in LOCAL_NAMES or _is_numeric(name):
            return real_getaddrinfo(host, port, *args, **kwargs)
        raise socket.gaierror(socket.EAI_NONAME, f"{name} is not resolved in tests")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


def _is_numeric(name: str) -> bool:
    """Tell whether the C resolver reads name as an address without asking DNS."""
    try:
        ipaddress.ip_address(name.strip("[]").split("%", 1)[0])
        return True
    except ValueError:
        pass
    try:
        socket.inet_aton(name)
        return True
    except OSError:
        return False


@pytest.fixture
def owner(db):
    """An administrator of the tenant under test."""
    return factories.make_user("owner@example.test")


@pytest.fixture
def tenant(owner):
    return factories.make_tenant("Acme", administrator=owner)


@pytest.fixture
def teammate(tenant):
    """An app designer of the same tenant."""
    user = factories.make_user("teammate@example.test")
    factories.add_member(tenant, user)
    return user


@pytest.fixture
def outsider(db):
    """An administrator of another tenant."""
    user = factories.make_user("outsider@example.test")
    factories.make_tenant("Other Co", administrator=user)
    return user


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def sandbox_settings(settings, jira_sandbox):
    """Point the product at the running Jira sandbox, the one host the guard lets by."""
    settings.ATLASSIAN_AUTH_URL = jira_sandbox.base_url
    settings.ATLASSIAN_API_URL = jira_sandbox.base_url
    settings.OUTBOUND_ALLOWED_HOSTS = [urlsplit(jira_sandbox.base_url).netloc]
    return settings
