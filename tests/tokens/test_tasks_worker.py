"""Renewal through a real Celery worker, Redis and the Jira sandbox over HTTP."""

import threading
from datetime import timedelta

import psycopg
import pytest
import time_machine
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from tenants.services import api_key_create
from tests import factories
from tests.consent import connect
from tests.renewal_fixtures import database_url, wait_for
from tokens import services
from tokens.models import AccessToken, AuditEvent, TokenStatus
from tokens.tasks import renew_due_tokens_task, renew_token_task

pytestmark = pytest.mark.django_db(transaction=True)

CALLBACK = "http://testserver/tokens/oauth/callback/"
WAIT_SECONDS = 20


@pytest.fixture
def connected(owner_client, tenant, sandbox_control, renewal_settings, jira_sandbox):
    """Return a function that makes a token connected through a real consent.

    The consent talks to the sandbox directly; renewals then go through the proxy.
    """

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
        proxy_url = renewal_settings.ATLASSIAN_AUTH_URL
        renewal_settings.ATLASSIAN_AUTH_URL = jira_sandbox.base_url
        try:
            connect(owner_client, token)
        finally:
            renewal_settings.ATLASSIAN_AUTH_URL = proxy_url
        return AccessToken.objects.get(pk=token.pk)

    return make


def _refreshes(sandbox_control, token: AccessToken) -> int:
    counts = sandbox_control.token_requests(token.consumer_key)["by_grant_type"]
    return counts.get("refresh_token", 0)


def _settled(*tokens: AccessToken) -> bool:
    """Tell whether no renewal of these tokens is queued or under way."""
    return not AccessToken.objects.filter(
        pk__in=[token.pk for token in tokens], renewal_queued_at__isnull=False
    ).exists()


def _queue_without_audit(token: AccessToken) -> None:
    """Queue a renewal as the sweep does, which writes no audit event."""
    AccessToken.objects.filter(pk=token.pk).update(renewal_queued_at=timezone.now())
    renew_token_task.delay(str(token.pk))


def _sweep_at(moment) -> int:
    with time_machine.travel(moment, tick=True):
        return renew_due_tokens_task()


def test_each_rate_is_renewed_on_its_own_schedule(
    connected, start_worker, sandbox_control
):
    # Given tokens renewed every 15, 30 and 60 minutes, one Disabled, and a worker
    start = timezone.now()
    by_rate = {rate: connected(rate) for rate in (0, 15, 30, 60)}
    start_worker()

    # When the sweep runs 16, 31 and 56 minutes later
    renewed = {}
    for minutes in (16, 31, 56):
        _sweep_at(start + timedelta(minutes=minutes))
        wait_for(
            lambda: _settled(*by_rate.values()), timeout=WAIT_SECONDS, what="renewals"
        )
        renewed[minutes] = {
            rate: _refreshes(sandbox_control, token) for rate, token in by_rate.items()
        }

    # Then each token was renewed when its rate, or its expiry, made it due
    assert renewed[16] == {0: 0, 15: 1, 30: 0, 60: 0}
    assert renewed[31] == {0: 0, 15: 2, 30: 1, 60: 0}
    # The hourly token renews 5 minutes before its access token expires.
    assert renewed[56] == {0: 0, 15: 3, 30: 2, 60: 1}
    token = AccessToken.objects.get(pk=by_rate[60].pk)
    assert token.status == TokenStatus.CONNECTED
    assert token.version == 2


def test_twenty_concurrent_calls_and_renewals_make_one_token_request(
    tenant, connected, start_worker, sandbox_control
):
    # Given an expired token, a worker, and renewals queued for it
    token = connected()
    AccessToken.objects.filter(pk=token.pk).update(
        access_token_expires_at=timezone.now() - timedelta(seconds=1)
    )
    _, key = api_key_create(tenant=tenant, name="load")
    start_worker()
    results: list[int] = []

    def call() -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
        try:
            response = client.post(
                f"/api/v1/tokens/{token.pk}/issues",
                {"project": "DEMO", "issue_type": "Task", "summary": "Concurrent"},
                format="json",
            )
            results.append(response.status_code)
        finally:
            connection.close()

    # When 20 activity calls run at once while the renewals run in the worker
    for _ in range(3):
        services.token_renewal_request(token=token)
    threads = [threading.Thread(target=call) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT_SECONDS)
    wait_for(lambda: _settled(token), timeout=WAIT_SECONDS, what="the queued renewals")

    # Then Jira saw one token request, and every call succeeded
    assert _refreshes(sandbox_control, token) == 1
    assert results == [201] * 20
    assert AccessToken.objects.get(pk=token.pk).version == 2


def test_worker_killed_between_jira_answer_and_commit_recovers(
    connected, start_worker, sandbox_control
):
    # Given a worker whose renewal got Jira's answer but cannot commit it, because
    # the audit table is locked
    token = connected()
    old_refresh = token.get_secret("refresh_token")
    worker = start_worker()
    with psycopg.connect(database_url(connection.settings_dict)) as blocker:
        blocker.execute("SET lock_timeout = '20s'")
        blocker.execute("LOCK TABLE tokens_auditevent IN SHARE ROW EXCLUSIVE MODE")
        _queue_without_audit(token)
        wait_for(
            lambda: _refreshes(sandbox_control, token) == 1,
            timeout=WAIT_SECONDS, what="Jira's answer",
        )

        # When the worker is killed before its commit
        worker.kill()
        blocker.rollback()

    # Then the stored token still holds the rotated refresh token and the record
    # of the unfinished renewal
    token = AccessToken.objects.get(pk=token.pk)
    assert token.get_secret("refresh_token") == old_refresh
    assert token.renewal_started_at is not None

    # And the next attempt, once the lease has run out, recovers the connection
    wait_for(
        lambda: not AccessToken.objects.get(pk=token.pk).renewal_lease_held(
            now=timezone.now()
        ),
        timeout=WAIT_SECONDS, what="the lease to run out",
    )
    start_worker()
    _queue_without_audit(token)
    wait_for(lambda: _settled(token), timeout=WAIT_SECONDS, what="the recovery")
    token = AccessToken.objects.get(pk=token.pk)
    assert token.status == TokenStatus.CONNECTED
    assert token.get_secret("refresh_token") != old_refresh
    assert token.renewal_started_at is None
    assert _refreshes(sandbox_control, token) == 2
    assert AuditEvent.objects.filter(
        token=token, detail__startswith="Recovered a renewal"
    ).exists()


@pytest.mark.parametrize("fault", ["500", "429", "timeout"])
def test_outage_is_retried_with_backoff_and_the_token_kept(
    fault, connected, start_worker, token_proxy, sandbox_control
):
    # Given a token whose first renewal meets an outage
    token = connected()
    access_token = token.get_secret("access_token")
    start_worker()
    if fault == "timeout":
        token_proxy.stall()
    else:
        token_proxy.fail(int(fault))

    # When the renewal runs
    before = timezone.now()
    services.token_renewal_request(token=token)
    wait_for(lambda: _settled(token), timeout=WAIT_SECONDS, what="the failed renewal")

    # Then the token stays usable, shows the failure and waits before retrying
    failing = AccessToken.objects.get(pk=token.pk)
    assert failing.status == TokenStatus.RENEWAL_FAILING
    assert failing.last_error
    assert failing.get_secret("access_token") == access_token
    assert failing.next_renewal_at >= before + timedelta(seconds=15)
    assert failing.next_renewal_at <= timezone.now() + timedelta(seconds=30)
    assert services.token_prepare_for_use(token=failing).pk == token.pk

    # And the sweep after the backoff renews it
    _sweep_at(failing.next_renewal_at + timedelta(seconds=1))
    wait_for(lambda: _settled(token), timeout=WAIT_SECONDS, what="the retry")
    renewed = AccessToken.objects.get(pk=token.pk)
    assert renewed.status == TokenStatus.CONNECTED
    assert renewed.last_error == ""
    assert renewed.get_secret("access_token") != access_token


def test_invalid_grant_marks_consent_needed_and_stops_renewals(
    connected, start_worker, sandbox_control
):
    # Given a token whose refresh token Jira no longer knows
    token = connected(15)
    token.set_secret("refresh_token", "revoked-refresh-token")
    token.save()
    start_worker()

    # When its renewal runs, and later sweeps run
    services.token_renewal_request(token=token)
    wait_for(lambda: _settled(token), timeout=WAIT_SECONDS, what="the renewal")
    later = [_sweep_at(timezone.now() + timedelta(hours=hours)) for hours in (1, 24)]

    # Then it needs consent, keeps its secrets and is never tried again
    token = AccessToken.objects.get(pk=token.pk)
    assert token.status == TokenStatus.CONSENT_NEEDED
    assert "get a new OAuth 2.0 access token" in token.last_error
    assert token.next_renewal_at is None
    assert token.get_secret("refresh_token") == "revoked-refresh-token"
    assert later == [0, 0]
    assert _refreshes(sandbox_control, token) == 1


def test_redis_restart_during_a_sweep_loses_no_renewal(
    connected, start_worker, redis_server, sandbox_control, settings
):
    # Given due tokens queued by a sweep whose messages die with Redis
    settings.TOKEN_RENEWAL_BATCH_SIZE = 2
    tokens = [connected(15) for _ in range(5)]
    now = timezone.now() + timedelta(minutes=16)
    assert _sweep_at(now) == 5
    redis_server.restart()
    start_worker()

    # When the next sweeps run, the last one after the queue interval
    _sweep_at(now + timedelta(seconds=30))
    _sweep_at(now + timedelta(seconds=settings.TOKEN_RENEWAL_QUEUE_SECONDS + 1))
    wait_for(lambda: _settled(*tokens), timeout=WAIT_SECONDS, what="the renewals")

    # Then every token was renewed exactly once
    assert [_refreshes(sandbox_control, token) for token in tokens] == [1] * 5
    assert all(
        token.status == TokenStatus.CONNECTED
        for token in AccessToken.objects.filter(pk__in=[t.pk for t in tokens])
    )


def test_two_sweeps_at_once_renew_each_token_once(
    connected, start_worker, sandbox_control, settings
):
    # Given many due tokens and two beats' sweeps starting together
    settings.TOKEN_RENEWAL_BATCH_SIZE = 3
    tokens = [connected(15) for _ in range(12)]
    moment = timezone.now() + timedelta(minutes=16)
    queued: list[int] = []
    barrier = threading.Barrier(2, timeout=WAIT_SECONDS)

    def sweep() -> None:
        try:
            barrier.wait()
            queued.append(_sweep_at(moment))
        finally:
            connection.close()

    # When both run
    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT_SECONDS)
    # The worker starts after the sweeps, because the sweeps run 16 minutes ahead
    # and the worker keeps real time. A token renewed meanwhile would be due again at
    # the sweeps' moment and be queued twice, which no real sweep can see.
    start_worker()
    wait_for(lambda: _settled(*tokens), timeout=WAIT_SECONDS, what="the renewals")

    # Then together they queued each token once, and Jira saw one renewal each
    assert sum(queued) == 12
    assert [_refreshes(sandbox_control, token) for token in tokens] == [1] * 12


def _worker_backends() -> set[int]:
    """Return the PostgreSQL backends of this database other than the test's own."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        return {row[0] for row in cursor.fetchall()}


def test_worker_reuses_its_database_connection(connected, start_worker):
    # Given a worker that has renewed one token
    tokens = [connected() for _ in range(4)]
    start_worker()
    _queue_without_audit(tokens[0])
    wait_for(lambda: _settled(tokens[0]), timeout=WAIT_SECONDS, what="the renewal")
    first = wait_for(
        _worker_backends, timeout=WAIT_SECONDS, what="a connection kept open"
    )

    # When it renews three more, one after another
    for token in tokens[1:]:
        _queue_without_audit(token)
        wait_for(lambda: _settled(token), timeout=WAIT_SECONDS, what="the renewal")

    # Then the connections it opened first are still the ones it uses
    assert first <= _worker_backends()
    assert len(_worker_backends()) <= 2
