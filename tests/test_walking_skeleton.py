"""The whole path over real HTTP: configuration form, consent, callback, API."""

import re
from urllib.parse import urljoin

import pytest
import requests

from tenants.services import api_key_create
from tests import factories
from tests.html_forms import parse_forms
from tokens.models import AccessToken, TokenStatus

DEMO_CLOUD_ID = "3f7a2c1e-5b8d-4e6f-9a0b-1c2d3e4f5a6b"


class RecordingBrowser(requests.Session):
    """A requests session that keeps every response body it receives."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[str] = []

    def request(self, *args, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 15)
        response = super().request(*args, **kwargs)
        for hop in [*response.history, response]:
            self.bodies.append(hop.text)
            self.bodies.append(str(hop.headers))
        return response


def _form_with_csrf(browser: RecordingBrowser, url: str) -> dict[str, str]:
    page = browser.get(url)
    assert page.status_code == 200, page.text[:500]
    return parse_forms(page.text)[-1].fields


@pytest.mark.django_db(transaction=True)
def test_configure_consent_and_create_issue_end_to_end(
    live_server, sandbox_settings, sandbox_control, owner, tenant
):
    callback_url = f"{live_server.url}/tokens/oauth/callback/"
    oauth_client = sandbox_control.register_client(
        name="Manage Center e2e", redirect_uris=[callback_url]
    )
    _, api_key = api_key_create(tenant=tenant, name="e2e service")
    browser = RecordingBrowser()

    # The administrator logs in with email and password.
    login = _form_with_csrf(browser, f"{live_server.url}/accounts/login/")
    response = browser.post(
        f"{live_server.url}/accounts/login/",
        data={**login, "login": owner.email, "password": factories.PASSWORD},
    )
    assert response.url.endswith("/tokens/")

    # The configuration form: the callback URL is pre-filled with our own view.
    new_form = _form_with_csrf(browser, f"{live_server.url}/tokens/new/")
    assert new_form["callback_url"] == callback_url
    assert new_form["renewal_rate"] == "60"
    response = browser.post(
        f"{live_server.url}/tokens/new/",
        data={
            **new_form,
            "name": "Jira Cloud",
            "portal_url": "https://demo.atlassian.net/",
            "consumer_key": oauth_client["client_id"],
            "consumer_secret": oauth_client["client_secret"],
            "description": "End-to-end test token",
            "_connect": "1",
        },
        allow_redirects=False,
    )
    assert response.status_code == 302
    authorize_url = response.headers["Location"]
    assert authorize_url.startswith(f"{sandbox_settings.ATLASSIAN_AUTH_URL}/authorize?")

    # The sandbox's consent page, answered with Accept.
    consent_page = browser.get(authorize_url)
    assert consent_page.status_code == 200
    consent = parse_forms(consent_page.text)[0]
    assert ("decision", "accept") in consent.buttons
    response = browser.post(
        urljoin(authorize_url, consent.action),
        data={**consent.fields, "decision": "accept"},
    )

    # Back through the callback view to the token's page, connected.
    assert response.status_code == 200
    assert re.search(r"/tokens/[0-9a-f-]{36}/$", response.url)
    assert "is connected to https://demo.atlassian.net" in response.text
    token = AccessToken.objects.get(tenant=tenant, name="Jira Cloud")
    assert token.status == TokenStatus.CONNECTED
    assert token.cloud_id == DEMO_CLOUD_ID

    # A service creates an issue through the API with that token.
    api = f"{live_server.url}/api/v1/tokens/{token.pk}/issues"
    headers = {"Authorization": f"Api-Key {api_key}"}
    created = browser.post(
        api,
        json={
            "project": "DEMO",
            "issue_type": "Task",
            "summary": "Created end to end",
            "description": "First line\nSecond line",
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert re.fullmatch(r"DEMO-\d+", key)

    # The issue is in the sandbox, and Get Issue Details returns it.
    stored = [issue for issue in sandbox_control.issues(DEMO_CLOUD_ID) if issue["key"] == key]
    assert len(stored) == 1
    details = browser.get(f"{api}/{key}", headers=headers)
    assert details.status_code == 200, details.text
    assert details.json()["key"] == key
    assert details.json()["fields"]["summary"] == "Created end to end"
    assert details.json()["fields"]["description"]["type"] == "doc"

    # No secret value appeared in anything the browser or the service received.
    token.refresh_from_db()
    secrets = {
        "consumer secret": oauth_client["client_secret"],
        "access token": token.get_secret("access_token"),
        "refresh token": token.get_secret("refresh_token"),
    }
    assert all(secrets.values())
    for label, secret in secrets.items():
        leaks = [body[:80] for body in browser.bodies if secret in body]
        assert leaks == [], f"{label} leaked"
