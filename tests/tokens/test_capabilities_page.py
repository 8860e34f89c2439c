import pytest
from django.urls import reverse

from tests import factories
from tests.consent import connect

CALLBACK = "http://testserver/tokens/oauth/callback/"


@pytest.fixture
def connected_token(tenant, owner_client, sandbox_control, sandbox_settings):
    oauth_client = sandbox_control.register_client(name="Panel", redirect_uris=[CALLBACK])
    token = factories.make_token(
        tenant,
        consumer_key=oauth_client["client_id"],
        consumer_secret=oauth_client["client_secret"],
        callback_url=CALLBACK,
    )
    connect(owner_client, token)
    return token


def test_panel_lists_activities_for_project(owner_client, connected_token):
    url = reverse("tokens:capabilities", args=[connected_token.pk])

    response = owner_client.get(url, {"project": "DEMO"})

    assert response.status_code == 200
    rows = {c["name"]: c for c in response.context["capabilities"]}
    assert len(rows) == 9
    assert rows["Create Issue"]["allowed"] is True
    assert rows["Get Issue Details"]["allowed"] is True
    assert b"In project DEMO" in response.content


def test_panel_rejects_malformed_project_key(owner_client, connected_token):
    url = reverse("tokens:capabilities", args=[connected_token.pk])

    response = owner_client.get(url, {"project": "demo key"})

    assert response.context["capabilities"] is None
    assert "Give a project key" in response.content.decode()


def test_panel_explains_unconnected_token(owner_client, tenant):
    token = factories.make_token(tenant)

    response = owner_client.get(
        reverse("tokens:capabilities", args=[token.pk]), {"project": ""}
    )

    assert "not connected" in response.context["error"]


def test_panel_is_404_for_outsiders(client, outsider, connected_token):
    client.force_login(outsider)

    response = client.get(reverse("tokens:capabilities", args=[connected_token.pk]))

    assert response.status_code == 404
