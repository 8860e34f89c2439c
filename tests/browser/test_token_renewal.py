"""An administrator renews a token now and watches the renewal finish."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests import factories
from tests.browser.pages import assert_accessible, log_in
from tests.consent import connect
from tokens.models import AccessToken, AuditEvent

CALLBACK = "http://testserver/tokens/oauth/callback/"


@pytest.fixture
def connected_token(owner_client, tenant, sandbox_control, renewal_settings, jira_sandbox):
    """Return a token connected through a real consent with the Jira sandbox.

    The consent talks to the sandbox directly; renewals then go through the
    renewal fixtures' proxy, as in the worker tests.
    """
    client = sandbox_control.register_client(name="Renewal", redirect_uris=[CALLBACK])
    token = factories.make_token(
        tenant,
        name="Jira Cloud",
        consumer_key=client["client_id"],
        consumer_secret=client["client_secret"],
        callback_url=CALLBACK,
    )
    proxy_url = renewal_settings.ATLASSIAN_AUTH_URL
    renewal_settings.ATLASSIAN_AUTH_URL = jira_sandbox.base_url
    try:
        connect(owner_client, token)
    finally:
        renewal_settings.ATLASSIAN_AUTH_URL = proxy_url
    return AccessToken.objects.get(pk=token.pk)


@pytest.mark.django_db(transaction=True)
def test_renew_now_adds_history_row(
    page: Page, screenshot, live_server, owner, connected_token, start_worker
):
    # Given a connected token, its page, and a Celery worker
    start_worker()
    log_in(page, live_server.url, owner.email)
    page.get_by_role("link", name="Jira Cloud").click()
    history = page.locator("#token-history")
    expect(history).not_to_contain_text("Token renewed")
    assert_accessible(page)

    # When the administrator clicks Renew now
    page.get_by_role("button", name="Renew now").click()

    # Then the page follows the renewal and reloads with the outcome. The "queued"
    # message is not awaited: with a worker running, the renewal can finish and the
    # page reload before the message is seen (the next test covers that state).
    expect(history.locator("tr", has_text="Token renewed")).to_have_count(1)
    expect(page.locator("#renewal-progress")).to_have_attribute("data-state", "idle")
    expect(page.locator("#token-status")).to_have_text("Connected")
    screenshot("token-renewed")
    renewed = AccessToken.objects.get(pk=connected_token.pk)
    assert renewed.last_renewed_at > connected_token.last_renewed_at
    assert AuditEvent.objects.filter(
        token=renewed, action=AuditEvent.Action.TOKEN_RENEWED
    ).exists()


@pytest.mark.django_db(transaction=True)
def test_progress_follows_queued_renewal(
    page: Page, live_server, owner, connected_token, start_worker
):
    # Given a renewal that waits in the queue because no worker runs yet
    log_in(page, live_server.url, owner.email)
    page.get_by_role("link", name="Jira Cloud").click()
    page.get_by_role("button", name="Renew now").click()
    progress = page.locator("#renewal-progress")
    expect(progress).to_have_text("Renewal queued: waiting for a worker…")
    expect(progress).to_have_class(re.compile(r"\bbusy\b"))

    # When a worker starts and takes it
    start_worker()

    # Then the line follows it to the end and the page shows the renewal
    expect(page.locator("#token-history")).to_contain_text("Token renewed", timeout=20_000)
    expect(progress).to_have_text("")
