"""The Data Center consent flow: our views in-process, the sandbox over HTTP."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.urls import reverse

from tests.activities.sandbox_tokens import (
    DEMO_DC_INSTANCE,
    connect_as,
    data_center_token,
)
from tokens import oauth
from tokens.models import TokenStatus


@pytest.fixture
def token(tenant, sandbox_control, jira_sandbox, sandbox_settings):
    sandbox_settings.JIRA_ALLOW_HTTP = True
    return data_center_token(tenant, sandbox_control, jira_sandbox.base_url)


def test_connect_redirects_to_the_portal_with_pkce(owner_client, token):
    response = owner_client.post(reverse("tokens:connect", args=[token.pk]))

    location = urlsplit(response["Location"])
    query = parse_qs(location.query)
    assert location.path == f"/dc/{DEMO_DC_INSTANCE}/rest/oauth2/latest/authorize"
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert query["scope"] == ["WRITE"]
    assert "audience" not in query


def test_accepted_consent_connects_the_token(owner_client, token, sandbox_control):
    connect_as(owner_client, token)

    token.refresh_from_db()
    assert token.status == TokenStatus.CONNECTED
    assert token.site_url == token.portal_url
    assert token.scopes == "WRITE"
    assert token.get_secret("refresh_token")
    counts = sandbox_control.token_requests(token.consumer_key)
    assert counts["by_grant_type"] == {"authorization_code": 1}


def test_refresh_sends_redirect_uri_and_ends_the_old_pair(owner_client, token):
    connect_as(owner_client, token)
    old_access = token.get_secret("access_token")

    grant = oauth.refresh(
        token.oauth_server(),
        client_id=token.consumer_key,
        client_secret=token.get_secret("consumer_secret"),
        refresh_token=token.get_secret("refresh_token"),
        redirect_uri=token.callback_url,
    )

    myself = f"{token.portal_url}/rest/api/2/myself"
    old = requests.get(
        myself, headers={"Authorization": f"Bearer {old_access}"}, timeout=10
    )
    new = requests.get(
        myself, headers={"Authorization": f"Bearer {grant.access_token}"}, timeout=10
    )
    assert grant.refresh_token != token.get_secret("refresh_token")
    assert old.status_code == 401
    assert new.status_code == 200


def test_refresh_with_another_redirect_uri_is_rejected(owner_client, token):
    connect_as(owner_client, token)

    with pytest.raises(oauth.InvalidGrantError):
        oauth.refresh(
            token.oauth_server(),
            client_id=token.consumer_key,
            client_secret=token.get_secret("consumer_secret"),
            refresh_token=token.get_secret("refresh_token"),
            redirect_uri="http://testserver/elsewhere/",
        )
