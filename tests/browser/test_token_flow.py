"""An administrator configures and connects a token in a real browser."""

import pytest
from playwright.sync_api import Page, expect

from tests.browser.pages import assert_accessible, log_in
from tokens.models import AccessToken, TokenStatus


@pytest.mark.django_db(transaction=True)
def test_administrator_configures_and_connects_token(
    page: Page, screenshot, live_server, sandbox_settings, sandbox_control, owner, tenant
):
    callback_url = f"{live_server.url}/tokens/oauth/callback/"
    client = sandbox_control.register_client(
        name="Manage Center", redirect_uris=[callback_url]
    )
    log_in(page, live_server.url, owner.email)

    page.get_by_role("link", name="New access token").click()
    expect(page.get_by_label("Callback URL")).to_have_value(callback_url)
    expect(page.get_by_label("Renewal Rate")).to_have_value("60")
    page.get_by_label("Token Name").fill("Jira Cloud")
    page.get_by_label("Jira Portal URL").fill("https://demo.atlassian.net/")
    page.get_by_label("Consumer Key").fill(client["client_id"])
    page.get_by_label("Consumer Secret").fill(client["client_secret"])
    page.get_by_label("Description").fill("Connects Acme to Jira Cloud.\nOwned by IT.")
    assert_accessible(page)
    screenshot("token-configuration")
    page.get_by_role("button", name="Get OAuth 2.0 Access Token").click()

    expect(page.get_by_role("button", name="Accept")).to_be_visible()
    screenshot("sandbox-consent")
    page.get_by_role("button", name="Accept").click()

    expect(page.get_by_text("is connected to https://demo.atlassian.net")).to_be_visible()
    expect(page.locator(".badge.connected").first).to_have_text("Connected")
    expect(page.get_by_text("Value set")).to_have_count(2)
    assert_accessible(page)
    screenshot("token-connected")
    token = AccessToken.objects.get(tenant=tenant, name="Jira Cloud")
    assert token.status == TokenStatus.CONNECTED
    assert client["client_secret"] not in page.content()


@pytest.mark.django_db(transaction=True)
def test_every_field_is_labelled_and_reachable_by_keyboard(page: Page, live_server, owner, tenant):
    log_in(page, live_server.url, owner.email)
    page.goto(f"{live_server.url}/tokens/new/")

    fields = page.locator("form.card input:not([type=hidden]), form.card select, form.card textarea")
    names = fields.evaluate_all("els => els.map(e => e.id)")
    assert len(names) >= 8
    for field_id in names:
        assert page.locator(f"label[for='{field_id}']").count() == 1, field_id

    page.get_by_label("Token Name").focus()
    reached = set()
    for _ in range(40):
        reached.add(page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()"))
        page.keyboard.press("Tab")
    assert set(names) <= reached
    assert "Get OAuth 2.0 Access Token" in reached
    assert "Save" in reached
