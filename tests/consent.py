"""Drive a consent through our views (in-process) and the Jira sandbox (HTTP)."""

from urllib.parse import urljoin

import requests
from django.urls import reverse

from tests.html_forms import parse_forms


def consent_callback_url(client, token, decision: str = "accept") -> str:
    """Start a consent, answer Jira's consent page, and return our callback URL."""
    started = client.post(reverse("tokens:connect", args=[token.pk]))
    assert started.status_code == 302
    authorize_url = started["Location"]

    page = requests.get(authorize_url, timeout=10)
    assert page.status_code == 200, page.text[:300]
    form = parse_forms(page.text)[0]
    answer = requests.post(
        urljoin(authorize_url, form.action),
        data={**form.fields, "decision": decision},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, answer.text[:300]
    return answer.headers["Location"]


def connect(client, token) -> None:
    """Run a whole accepted consent for token and check that it connected."""
    response = client.get(consent_callback_url(client, token))
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.status == "connected", token.last_error
