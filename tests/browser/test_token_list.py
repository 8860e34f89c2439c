"""An administrator finds, copies from and deletes tokens in a real browser."""

import pytest
from playwright.sync_api import Page, expect

from tests import factories
from tests.browser.pages import assert_accessible, log_in
from tokens.models import AccessToken, AuditEvent
from tokens.views import TOKENS_PER_PAGE


@pytest.mark.django_db(transaction=True)
def test_list_searches_and_paginates(
    page: Page, screenshot, live_server, owner, tenant
):
    # Given more tokens than fit on one page, two of them about billing
    for number in range(TOKENS_PER_PAGE + 3):
        factories.make_token(tenant, name=f"Team {number:02d}")
    factories.make_token(tenant, name="Billing Cloud")
    application = factories.make_application(tenant, name="Billing Desk")
    factories.make_token(tenant, application, name="Desk")
    log_in(page, live_server.url, owner.email)

    # When the list opens, it shows the first page and a way to the next
    rows = page.locator("table.list tbody tr")
    expect(rows).to_have_count(TOKENS_PER_PAGE)
    expect(page.get_by_text("Page 1 of 2")).to_be_visible()
    assert_accessible(page)
    screenshot("token-list")
    page.get_by_role("link", name="Next").click()
    expect(rows).to_have_count(5)
    expect(page.get_by_text("Page 2 of 2")).to_be_visible()

    # When the administrator searches, by token name or application name
    page.get_by_label("Search tokens").fill("billing")
    page.get_by_label("Search tokens").press("Enter")
    expect(page.get_by_text("2 tokens match “billing”.")).to_be_visible()
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Billing Cloud")
    expect(rows.nth(1)).to_contain_text("Application: Billing Desk")
    expect(page.locator(".pagination")).to_have_count(0)
    screenshot("token-search")

    # And a search without matches reports it and links to the whole list
    page.get_by_label("Search tokens").fill("nothing like this")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("No access token matches “nothing like this”.")).to_be_visible()
    page.get_by_role("link", name="Show all tokens").click()
    expect(rows).to_have_count(TOKENS_PER_PAGE)


@pytest.mark.django_db(transaction=True)
def test_copy_button_copies_redirect_uri(page: Page, live_server, owner, tenant):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    log_in(page, live_server.url, owner.email)

    page.get_by_role("button", name="Copy").click()

    expect(page.get_by_text("Copied.")).to_be_visible()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == f"{live_server.url}/tokens/oauth/callback/"


@pytest.mark.django_db(transaction=True)
def test_delete_removes_token(page: Page, screenshot, live_server, owner, tenant):
    # Given a token
    token = factories.make_token(tenant, name="Old Jira")
    log_in(page, live_server.url, owner.email)
    page.get_by_role("link", name="Old Jira").click()
    expect(page.get_by_role("heading", name="Access Token: Old Jira")).to_be_visible()

    # When the administrator deletes it and confirms
    page.get_by_role("link", name="Delete").click()
    expect(page.get_by_role("heading", name="Delete access token Old Jira?")).to_be_visible()
    assert_accessible(page)
    screenshot("token-delete")
    page.get_by_role("button", name="Delete").click()

    # Then the list confirms it and no longer shows it, and the audit log keeps it
    expect(page.get_by_text("Token Old Jira deleted.")).to_be_visible()
    expect(page.get_by_role("link", name="Old Jira")).to_have_count(0)
    assert not AccessToken.objects.filter(pk=token.pk).exists()
    assert AuditEvent.objects.filter(
        token_name="Old Jira", action=AuditEvent.Action.TOKEN_DELETED
    ).exists()
