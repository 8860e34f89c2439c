"""The consent flow: our views in-process, the Jira sandbox over real HTTP."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.forms.models import model_to_dict
from django.urls import reverse

from tests import factories
from tests.consent import consent_callback_url
from tokens.models import AccessToken, AuditEvent, TokenStatus

CALLBACK = "http://testserver/tokens/oauth/callback/"
DEMO_SITE = "https://demo.atlassian.net"


@pytest.fixture
def oauth_client(sandbox_control):
    return sandbox_control.register_client(name="Manage Center tests", redirect_uris=[CALLBACK])


@pytest.fixture
def token(tenant, oauth_client, sandbox_settings):
    return factories.make_token(
        tenant,
        consumer_key=oauth_client["client_id"],
        consumer_secret=oauth_client["client_secret"],
        callback_url=CALLBACK,
        portal_url=DEMO_SITE,
    )


def _stored(token: AccessToken) -> dict:
    row = AccessToken.objects.get(pk=token.pk)
    values = model_to_dict(row)
    values.pop("updated_at", None)
    return values


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_connect_redirects_to_authorize_with_required_parameters(owner_client, token):
    response = owner_client.post(reverse("tokens:connect", args=[token.pk]))

    location = urlsplit(response["Location"])
    query = parse_qs(location.query)
    assert location.path == "/authorize"
    assert query["audience"] == ["api.atlassian.com"]
    assert query["client_id"] == [token.consumer_key]
    assert "offline_access" in query["scope"][0].split(" ")
    assert query["redirect_uri"] == [CALLBACK]
    assert query["response_type"] == ["code"]
    assert query["prompt"] == ["consent"]
    assert query["state"][0].startswith(f"{token.pk}.")


def test_accepted_consent_connects_token(owner_client, token):
    callback = consent_callback_url(owner_client, token)

    response = owner_client.get(callback, follow=True)

    token.refresh_from_db()
    assert token.status == TokenStatus.CONNECTED
    assert token.cloud_id == "3f7a2c1e-5b8d-4e6f-9a0b-1c2d3e4f5a6b"
    assert token.site_url == DEMO_SITE
    assert "offline_access" in token.scopes
    assert token.get_secret("access_token")
    assert token.get_secret("refresh_token")
    assert token.access_token_expires_at is not None
    assert token.next_renewal_at is not None
    assert f"is connected to {DEMO_SITE}" in " ".join(_messages(response))


def test_tokens_are_encrypted_at_rest(owner_client, token):
    owner_client.get(consent_callback_url(owner_client, token))

    token.refresh_from_db()
    access_token = token.get_secret("access_token")
    assert access_token not in token.access_token_encrypted
    assert token.access_token_encrypted.startswith("v1.")
    assert token.refresh_token_encrypted.startswith("v1.")


def test_denied_consent_leaves_token_unchanged(owner_client, token):
    before = _stored(token)
    callback = consent_callback_url(owner_client, token, decision="deny")

    response = owner_client.get(callback, follow=True)

    assert _stored(token) == before
    assert "Access was denied on Jira's consent page" in " ".join(_messages(response))


def test_bad_state_leaves_token_unchanged(owner_client, token):
    before = _stored(token)
    callback = consent_callback_url(owner_client, token)
    tampered = callback.replace("state=", "state=x")

    response = owner_client.get(tampered, follow=True)

    assert _stored(token) == before
    assert "does not match a consent started in this browser" in " ".join(
        _messages(response)
    )


def test_state_from_another_session_is_rejected(owner_client, client, owner, token):
    callback = consent_callback_url(owner_client, token)
    before = _stored(token)
    other_browser = type(client)()
    other_browser.force_login(owner)

    response = other_browser.get(callback, follow=True)

    assert _stored(token) == before
    assert "does not match a consent started in this browser" in " ".join(
        _messages(response)
    )


def test_reused_state_leaves_token_unchanged(owner_client, token):
    callback = consent_callback_url(owner_client, token)
    owner_client.get(callback)
    after_first = _stored(token)

    response = owner_client.get(callback, follow=True)

    assert _stored(token) == after_first
    assert "it was already used" in " ".join(_messages(response))


def test_wrong_client_secret_leaves_token_unchanged(owner_client, token):
    token.set_secret("consumer_secret", "not-the-secret")
    token.save()
    before = _stored(token)
    callback = consent_callback_url(owner_client, token)

    response = owner_client.get(callback, follow=True)

    assert _stored(token) == before
    text = " ".join(_messages(response))
    assert "Jira rejected the consumer key or consumer secret" in text
    assert "not-the-secret" not in response.content.decode()
    assert AuditEvent.objects.filter(
        token=token, action=AuditEvent.Action.CONSENT_FAILED
    ).exists()


def test_portal_url_of_another_site_is_rejected(owner_client, token):
    AccessToken.objects.filter(pk=token.pk).update(portal_url="https://other.atlassian.net")
    token.refresh_from_db()
    before = _stored(token)

    response = owner_client.get(consent_callback_url(owner_client, token), follow=True)

    assert _stored(token) == before
    assert "not to https://other.atlassian.net" in " ".join(_messages(response))


def test_app_designer_cannot_start_consent(client, teammate, token):
    client.force_login(teammate)

    response = client.post(reverse("tokens:connect", args=[token.pk]))

    assert response.status_code == 403


def test_outsider_gets_404_for_connect(client, outsider, token):
    client.force_login(outsider)

    response = client.post(reverse("tokens:connect", args=[token.pk]))

    assert response.status_code == 404


def test_denied_consent_is_audited_as_denied(owner_client, token):
    callback = consent_callback_url(owner_client, token, decision="deny")

    response = owner_client.get(callback, follow=True)

    denial = AuditEvent.objects.get(token=token, action=AuditEvent.Action.CONSENT_FAILED)
    assert denial.result == AuditEvent.Result.DENIED
    assert not any("saved" in message for message in _messages(response))


def test_unchanged_save_writes_no_history_row(owner_client, token):
    edit_url = reverse("tokens:edit", args=[token.pk])
    form = owner_client.get(edit_url).context["form"]
    data = {name: value for name, value in form.initial.items() if value is not None}

    owner_client.post(edit_url, {**data, "_connect": "1"})

    assert not AuditEvent.objects.filter(
        token=token, action=AuditEvent.Action.TOKEN_UPDATED
    ).exists()
