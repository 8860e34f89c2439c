"""Page middleware runs for pages and is skipped by activity calls of the API."""

import uuid

from django.urls import reverse

from config.middleware import API_CONTENT_SECURITY_POLICY
from tenants.services import api_key_create


def test_api_call_skips_page_middleware(client, tenant):
    _, key = api_key_create(tenant=tenant, name="service")

    response = client.get(
        f"/api/v1/tokens/{uuid.uuid4()}/issues/DEMO-1",
        HTTP_AUTHORIZATION=f"Api-Key {key}",
    )

    assert response.status_code == 404
    assert response["Content-Security-Policy"] == API_CONTENT_SECURITY_POLICY
    assert "Cookie" not in response.get("Vary", "")
    assert not response.cookies
    assert response.wsgi_request.membership is None


def test_page_runs_page_middleware(client, db):
    response = client.get(reverse("account_login"))

    assert response.status_code == 200
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "Cookie" in response["Vary"]
    assert response.wsgi_request.session is not None


def test_signed_in_page_has_user_and_tenant(client, tenant, owner):
    client.force_login(owner)

    response = client.get(reverse("tokens:list"))

    assert response.status_code == 200
    assert response.wsgi_request.user == owner
    assert response.wsgi_request.membership.tenant == tenant
