from urllib.parse import urlsplit

import pytest

from tests import factories

pytest_plugins = ["tests.sandbox_fixtures", "tests.renewal_fixtures"]


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
