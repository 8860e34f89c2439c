"""An administrator gives an application a token of its own in a real browser."""

import pytest
from playwright.sync_api import Page, expect

from tenants.models import Application
from tests.browser.pages import assert_accessible, log_in
from tokens.models import AccessToken


@pytest.mark.django_db(transaction=True)
def test_application_token_lifecycle(page: Page, screenshot, live_server, owner, tenant):
    log_in(page, live_server.url, owner.email)

    # When the administrator creates a process-based application
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Applications").click()
    expect(page.get_by_role("heading", name="Applications", exact=True)).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Name").fill("Orders")
    page.get_by_label("Kind").select_option(label="Process-based")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_text("Application Orders created.")).to_be_visible()

    # And adds an application-level token to it
    page.get_by_role("link", name="New application-level token").click()
    expect(page.get_by_text("Application level: shared by the processes of Orders")).to_be_visible()
    page.get_by_label("Token Name").fill("Orders Jira")
    page.get_by_label("Jira Portal URL").fill("https://orders.atlassian.net/")
    page.get_by_label("Consumer Key").fill("orders-client")
    page.get_by_label("Consumer Secret").fill("orders-secret-value")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Token Orders Jira saved.")).to_be_visible()

    # And chooses that token for the application's Jira activities
    page.locator(".crumbs").get_by_role("link", name="Orders").click()
    page.get_by_label("Access token").select_option(label="Orders Jira (this application)")
    page.get_by_role("button", name="Save choice").click()
    expect(page.get_by_text("Token choice of Orders saved.")).to_be_visible()
    assert_accessible(page)
    screenshot("application-token")
    application = Application.objects.get(tenant=tenant, name="Orders")
    assert application.token.name == "Orders Jira"

    # Then deleting the token names the application that loses it
    page.get_by_role("link", name="Orders Jira").click()
    expect(page.locator("#token-used-by")).to_have_text("Orders")
    page.get_by_role("link", name="Delete").click()
    expect(page.locator("#token-used-by")).to_contain_text("Orders")
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_text("Token Orders Jira deleted.")).to_be_visible()
    assert not AccessToken.objects.filter(tenant=tenant, name="Orders Jira").exists()

    # And the application goes last, after a confirmation
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Applications").click()
    page.get_by_role("link", name="Orders").click()
    expect(page.get_by_label("Access token")).to_have_value("")
    page.get_by_role("link", name="Delete").click()
    expect(page.get_by_text("It has no application-level tokens.")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_text("Application Orders deleted.")).to_be_visible()
    assert not Application.objects.filter(pk=application.pk).exists()
