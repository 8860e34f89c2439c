"""An access token pasted on the configuration screen is checked with Jira first."""

import socket

import pytest
from django.urls import reverse

from tests import factories
from tests.activities.sandbox_tokens import (
    DEMO_SITE,
    cloud_token as make_cloud_token,
    connect_as,
    data_center_token,
)
from tokens.models import AccessToken, Flavour, TokenStatus
from tokens.services import PastedTokenError, pasted_access_token_check


@pytest.fixture
def cloud_token(tenant, sandbox_control, sandbox_settings, owner_client):
    """Return a Cloud token connected by consent, whose access token can be pasted."""
    token = make_cloud_token(tenant, sandbox_control)
    connect_as(owner_client, token)
    token.refresh_from_db()
    return token


def _screen(token: AccessToken, **changes) -> dict:
    return {
        "name": "Pasted",
        "flavour": token.flavour,
        "portal_url": token.portal_url,
        "consumer_key": token.consumer_key,
        "consumer_secret": "another-consumer-secret",
        "callback_url": "https://manage.example.com/tokens/oauth/callback/",
        "description": "",
        "renewal_rate": "0",
        **changes,
    }


def test_working_cloud_token_is_saved_with_its_site(owner_client, cloud_token):
    pasted = cloud_token.get_secret("access_token")

    response = owner_client.post(
        reverse("tokens:create"), _screen(cloud_token, access_token=pasted)
    )

    assert response.status_code == 302, response.context["form"].errors
    saved = AccessToken.objects.get(name="Pasted")
    assert saved.status == TokenStatus.CONNECTED
    assert saved.cloud_id == cloud_token.cloud_id
    assert saved.site_url == DEMO_SITE
    assert saved.scopes
    assert saved.get_secret("access_token") == pasted


def test_rejected_cloud_token_is_not_saved(owner_client, cloud_token):
    response = owner_client.post(
        reverse("tokens:create"), _screen(cloud_token, access_token="not-a-live-token")
    )

    assert response.status_code == 200
    errors = response.context["form"].errors["access_token"]
    assert "rejected the access token (HTTP 401)" in errors[0]
    assert "Nothing was saved" in errors[0]
    assert "not-a-live-token" not in response.content.decode()
    assert not AccessToken.objects.filter(name="Pasted").exists()


def test_token_for_another_site_is_not_saved(owner_client, cloud_token):
    response = owner_client.post(
        reverse("tokens:edit", args=[cloud_token.pk]),
        _screen(
            cloud_token,
            name=cloud_token.name,
            portal_url="https://other.atlassian.net",
            access_token=cloud_token.get_secret("access_token"),
        ),
    )

    assert response.status_code == 200
    errors = response.context["form"].errors["access_token"]
    assert f"reaches {DEMO_SITE}, not https://other.atlassian.net" in errors[0]
    cloud_token.refresh_from_db()
    assert cloud_token.portal_url == DEMO_SITE
    assert cloud_token.status == TokenStatus.CONNECTED


def test_data_center_token_is_checked(
    owner_client, tenant, sandbox_control, jira_sandbox, sandbox_settings
):
    sandbox_settings.JIRA_ALLOW_HTTP = True
    token = data_center_token(tenant, sandbox_control, jira_sandbox.base_url)
    connect_as(owner_client, token)
    token.refresh_from_db()

    accepted = owner_client.post(
        reverse("tokens:create"),
        _screen(token, access_token=token.get_secret("access_token")),
    )
    rejected = owner_client.post(
        reverse("tokens:create"),
        _screen(token, name="Pasted badly", access_token="not-a-live-token"),
    )

    assert accepted.status_code == 302
    assert AccessToken.objects.get(name="Pasted").status == TokenStatus.CONNECTED
    assert rejected.status_code == 200
    assert "Jira rejected the access token (HTTP 401)" in (
        rejected.context["form"].errors["access_token"][0]
    )
    assert not AccessToken.objects.filter(name="Pasted badly").exists()


def test_unreachable_jira_saves_nothing(settings):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    settings.OUTBOUND_ALLOWED_HOSTS = [f"127.0.0.1:{port}"]
    settings.JIRA_ALLOW_HTTP = True
    fields = factories.token_fields(
        flavour=Flavour.DATA_CENTER,
        portal_url=f"http://127.0.0.1:{port}",
        access_token="pasted-while-down",
    )

    with pytest.raises(PastedTokenError) as error:
        pasted_access_token_check(fields=fields)

    assert "Jira could not be reached" in str(error.value)
    assert "save again when Jira can be reached" in str(error.value)
    assert "pasted-while-down" not in str(error.value)
