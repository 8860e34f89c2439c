"""Connect product tokens to the Jira sandbox as a chosen Jira user, either flavour."""

from __future__ import annotations

from urllib.parse import urljoin

import requests
from django.urls import reverse
from rest_framework.test import APIClient

from tenants.services import api_key_create
from tests import factories
from tests.html_forms import parse_forms
from tokens.models import AccessToken, Flavour

CALLBACK = "http://testserver/tokens/oauth/callback/"
DEMO_CLOUD_ID = "3f7a2c1e-5b8d-4e6f-9a0b-1c2d3e4f5a6b"
DEMO_SITE = "https://demo.atlassian.net"
DEMO_ADMIN = "5b10ac8d82e05b22cc7d4ef5"
DEMO_READ_ONLY = "5b10a2844c20165700ede21g"
DEMO_DC_INSTANCE = "demo"
PROBLEM = "application/problem+json"
TIMEOUT_SECONDS = 10


def api_client(tenant) -> APIClient:
    """Return a REST client that sends a new API key of the tenant."""
    _, key = api_key_create(tenant=tenant, name="activity tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def cloud_token(tenant, control) -> AccessToken:
    """Return an unconnected Cloud token whose client the sandbox knows."""
    registered = control.register_client(
        name="Cloud activities", redirect_uris=[CALLBACK]
    )
    return factories.make_token(
        tenant,
        consumer_key=registered["client_id"],
        consumer_secret=registered["client_secret"],
        callback_url=CALLBACK,
        portal_url=DEMO_SITE,
    )


def data_center_token(tenant, control, base_url: str) -> AccessToken:
    """Return an unconnected Data Center token for the demo instance."""
    registered = control.register_client(
        name="DC activities", redirect_uris=[CALLBACK], instance=DEMO_DC_INSTANCE
    )
    return factories.make_token(
        tenant,
        flavour=Flavour.DATA_CENTER,
        consumer_key=registered["client_id"],
        consumer_secret=registered["client_secret"],
        callback_url=CALLBACK,
        portal_url=f"{base_url}/dc/{DEMO_DC_INSTANCE}",
    )


def connect_as(client, token: AccessToken, account_id: str = DEMO_ADMIN) -> None:
    """Run an accepted consent as the given Jira user and check the token connected.

    The owner's browser session starts the consent; the sandbox's consent page
    is answered over HTTP, as a browser would.
    """
    started = client.post(reverse("tokens:connect", args=[token.pk]))
    assert started.status_code == 302
    authorize_url = started["Location"]

    page = requests.get(authorize_url, timeout=TIMEOUT_SECONDS)
    assert page.status_code == 200, page.text[:300]
    form = parse_forms(page.text)[0]
    fields = {**form.fields, "decision": "accept", "account_id": account_id}
    if token.flavour == Flavour.CLOUD:
        fields["cloud_id"] = DEMO_CLOUD_ID
    answer = requests.post(
        urljoin(authorize_url, form.action),
        data=fields,
        allow_redirects=False,
        timeout=TIMEOUT_SECONDS,
    )
    assert answer.status_code == 302, answer.text[:300]

    response = client.get(answer.headers["Location"])
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.status == "connected", token.last_error


def jira_calls(control, method: str, path_end: str) -> int:
    """Count the logged Jira REST calls with this method whose path ends so."""
    return len(
        [
            entry
            for entry in control.requests_log()
            if "/rest/api/" in entry["path"]
            and entry["method"] == method
            and entry["path"].endswith(path_end)
        ]
    )
