"""Renewal rules, recovery and the token page's renewal controls, in-process."""

from datetime import timedelta

import psycopg
import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from tests import factories
from tests.consent import connect
from tests.renewal_fixtures import database_url
from tokens import services
from tokens.forms import AccessTokenForm
from tokens.models import AccessToken, AuditEvent, RenewalRate, TokenStatus
from tokens.selectors import tokens_due_for_renewal

CALLBACK = "http://testserver/tokens/oauth/callback/"


@pytest.fixture
def connected(owner_client, tenant, sandbox_control, sandbox_settings):
    def make(renewal_rate: int = 60) -> AccessToken:
        client = sandbox_control.register_client(
            name="Renewal", redirect_uris=[CALLBACK]
        )
        token = factories.make_token(
            tenant,
            consumer_key=client["client_id"],
            consumer_secret=client["client_secret"],
            callback_url=CALLBACK,
            renewal_rate=renewal_rate,
        )
        connect(owner_client, token)
        return AccessToken.objects.get(pk=token.pk)

    return make


def _refreshes(sandbox_control, token: AccessToken) -> int:
    counts = sandbox_control.token_requests(token.consumer_key)["by_grant_type"]
    return counts.get("refresh_token", 0)


@pytest.mark.parametrize("rate, minutes", [(15, 15), (30, 30), (60, 55)])
def test_next_renewal_follows_rate_within_expiry_margin(tenant, rate, minutes):
    # Given a token whose access token expires in an hour
    now = timezone.now()
    token = factories.make_token(tenant, renewal_rate=rate)
    token.set_secret("refresh_token", "refresh")
    token.access_token_expires_at = now + timedelta(hours=1)

    # When its next renewal is computed
    due = token.compute_next_renewal(now=now)

    # Then it follows the rate, but never passes 5 minutes before expiry
    assert due == now + timedelta(minutes=minutes)


def test_disabled_token_is_never_due(tenant):
    token = factories.make_token(tenant, renewal_rate=RenewalRate.DISABLED)
    token.set_secret("refresh_token", "refresh")
    AccessToken.objects.filter(pk=token.pk).update(
        status=TokenStatus.CONNECTED,
        next_renewal_at=timezone.now() - timedelta(hours=1),
    )

    due = tokens_due_for_renewal(now=timezone.now())

    assert token.compute_next_renewal(now=timezone.now()) is None
    assert not due.filter(pk=token.pk).exists()


def test_rate_change_reschedules_at_once(connected):
    # Given a token renewed every hour
    token = connected(60)
    before = token.next_renewal_at

    # When its rate becomes every 15 minutes
    fields = factories.token_fields(
        name=token.name, consumer_key=token.consumer_key, consumer_secret=None,
        callback_url=token.callback_url, renewal_rate=15,
    )
    with time_machine.travel(timezone.now(), tick=False):
        token = services.token_update(token=token, fields=fields)
        expected = timezone.now() + timedelta(minutes=15)

    # Then its next renewal moves to 15 minutes from now
    assert token.next_renewal_at == expected
    assert token.next_renewal_at < before


def test_new_consent_keeps_id_and_reschedules(owner_client, connected):
    token = connected(30)
    AccessToken.objects.filter(pk=token.pk).update(
        status=TokenStatus.CONSENT_NEEDED, next_renewal_at=None
    )

    connect(owner_client, token)

    token = AccessToken.objects.get(pk=token.pk)
    assert token.status == TokenStatus.CONNECTED
    assert token.next_renewal_at is not None


def test_recovery_after_reuse_interval_needs_consent_and_keeps_secrets(
    connected, sandbox_control
):
    # Given a token whose last renewal went out 10 minutes ago and never finished
    token = connected()
    refresh_token = token.get_secret("refresh_token")
    AccessToken.objects.filter(pk=token.pk).update(
        renewal_started_at=timezone.now() - timedelta(minutes=10)
    )

    # When it is renewed again
    with pytest.raises(services.RenewalError, match="reuse interval"):
        services.token_renew(token_id=token.pk)

    # Then it needs consent, no token request went out, and nothing was erased
    token = AccessToken.objects.get(pk=token.pk)
    assert token.status == TokenStatus.CONSENT_NEEDED
    assert token.next_renewal_at is None
    assert token.get_secret("refresh_token") == refresh_token
    assert _refreshes(sandbox_control, token) == 0


@pytest.mark.django_db(transaction=True)
def test_failed_commit_after_jira_answered_recovers(connected, sandbox_control):
    # Given a database that rejects the commit of the renewal's answer
    token = connected()
    old_refresh = token.get_secret("refresh_token")
    with psycopg.connect(database_url(connection.settings_dict), autocommit=True) as db:
        db.execute(
            "CREATE FUNCTION reject_new_version() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'commit failed'; END $$"
        )
        db.execute(
            "CREATE TRIGGER reject_new_version BEFORE UPDATE ON tokens_accesstoken "
            "FOR EACH ROW WHEN (NEW.version > OLD.version) "
            "EXECUTE FUNCTION reject_new_version()"
        )
        try:
            with pytest.raises(Exception, match="commit failed"):
                services.token_renew(token_id=token.pk)
        finally:
            db.execute("DROP TRIGGER reject_new_version ON tokens_accesstoken")
            db.execute("DROP FUNCTION reject_new_version()")
    AccessToken.objects.filter(pk=token.pk).update(renewal_lease_until=None)

    # When the next attempt runs
    renewed = services.token_renew(token_id=token.pk)

    # Then Jira's rotated token was recovered within the reuse interval
    assert renewed.status == TokenStatus.CONNECTED
    assert renewed.get_secret("refresh_token") != old_refresh
    assert renewed.renewal_started_at is None
    assert _refreshes(sandbox_control, token) == 2


def test_slow_renewal_does_not_overwrite_newer_token(connected):
    # Given a renewer whose lease ran out before its answer arrived
    token = connected()
    slow = services._claim_renewal(
        token_id=token.pk, only_if_expiring=False, only_if_queued=False
    )
    AccessToken.objects.filter(pk=token.pk).update(renewal_lease_until=None)
    newer = services.token_renew(token_id=token.pk)

    # When its answer is stored
    stored, failure = services._store_renewal(
        token_id=token.pk, claim=slow, grant=None, error=None
    )

    # Then the newer token stays
    assert failure is None
    assert stored.version == newer.version
    assert stored.get_secret("access_token") == newer.get_secret("access_token")


def test_disabled_expired_token_is_not_renewed_before_use(tenant):
    token = factories.make_token(tenant, renewal_rate=RenewalRate.DISABLED)
    token.set_secret("refresh_token", "refresh")
    token.status = TokenStatus.CONNECTED
    token.access_token_expires_at = timezone.now() - timedelta(seconds=1)
    token.save()

    with pytest.raises(services.TokenUnusableError, match="Disabled"):
        services.token_prepare_for_use(token=token)


def test_renew_now_queues_and_reports_progress(
    owner_client, connected, django_capture_on_commit_callbacks
):
    token = connected()

    with django_capture_on_commit_callbacks() as callbacks:
        response = owner_client.post(reverse("tokens:renew", args=[token.pk]))
    progress = owner_client.get(reverse("tokens:renewal_progress", args=[token.pk]))

    assert response.status_code == 302
    assert len(callbacks) == 1
    assert progress.json()["renewal"] == "queued"
    assert progress.json()["status"] == "connected"
    assert AuditEvent.objects.filter(
        token=token, action=AuditEvent.Action.RENEWAL_REQUESTED
    ).exists()


def test_renewal_progress_is_404_to_outsiders(client, outsider, connected):
    token = connected()
    client.force_login(outsider)

    response = client.get(reverse("tokens:renewal_progress", args=[token.pk]))

    assert response.status_code == 404


def test_token_page_shows_renewal_section(owner_client, connected):
    token = connected(60)

    page = owner_client.get(reverse("tokens:edit", args=[token.pk])).content.decode()

    assert "Renew now" in page
    assert "Last renewal" in page
    assert "a little more often than every 60 minutes" in page


@pytest.mark.parametrize(
    "rate, warned", [(0, True), (15, False), (30, False), (60, True)]
)
def test_form_warns_when_rate_cannot_keep_token_alive(tenant, rate, warned):
    form = AccessTokenForm(
        tenant=tenant, application=None, initial={"renewal_rate": rate}
    )

    assert bool(form.renewal_rate_warning()) is warned


def test_key_check_names_the_missing_key(connected, settings):
    connected()
    settings.FIELD_ENCRYPTION_KEYS = [
        "other:" + "A" * 43,
    ]

    with pytest.raises(CommandError, match="not in FIELD_ENCRYPTION_KEYS"):
        call_command("check_encryption_keys")


def test_throttled_renewal_waits_for_retry_after(connected, sandbox_control):
    connected = connected()
    sandbox_control.throttle("/oauth/token", retry_after=900, method="POST")
    before = timezone.now()

    try:
        with pytest.raises(services.RenewalError):
            services.token_renew(token_id=connected.pk)
    finally:
        sandbox_control.clear_faults()

    connected.refresh_from_db()
    assert connected.status == TokenStatus.RENEWAL_FAILING
    assert connected.get_secret("refresh_token")
    assert connected.next_renewal_at >= before + timedelta(seconds=900)
