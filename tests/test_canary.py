"""A full flow run with marked secret values, then a search for them everywhere.

Pages, API responses, log records, audit rows, Celery messages and exception texts
are collected while an administrator configures tokens, connects one through the
Jira sandbox, creates an API key, and a service calls the API; renewals and
failures run too. No marked value may appear in any of them, except the new API
key in the one response that shows it once.
"""

import logging

import pytest
from celery.signals import before_task_publish
from django.urls import reverse
from rest_framework.test import APIClient

from config.celery import app as celery_app
from tests import factories
from tests.consent import connect
from tests.html_forms import parse_forms
from tokens import services
from tokens.models import AccessToken, AuditEvent
from tokens.tasks import renew_token_task

CALLBACK = "http://localhost/tokens/oauth/callback/"
CONSUMER_SECRET = "CANARY-consumer-secret-5d1e"
PASTED_TOKEN = "CANARY-pasted-token-8b2c"
REJECTED_SECRET = "CANARY rejected secret"
WRONG_SECRET = "CANARY-wrong-secret-0a77"


@pytest.fixture
def celery_messages():
    """Record every Celery message this process publishes, then drop the queue."""
    published: list[str] = []

    def record(body=None, headers=None, **kwargs):
        published.append(repr(body) + repr(headers))

    before_task_publish.connect(record, weak=False)
    yield published
    before_task_publish.disconnect(record)
    with celery_app.connection_for_write() as connection:
        connection.default_channel.queue_purge("celery")


@pytest.mark.django_db
def test_no_secret_leaves_the_product(
    owner_client, tenant, sandbox_control, sandbox_settings, caplog, celery_messages
):
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    errors: list[str] = []

    def keep(response):
        seen.append(response.content.decode(errors="replace"))
        seen.append(str(response.headers))
        return response

    # Given an administrator who configures a token with a marked consumer secret
    client_id = sandbox_control.register_client(
        name="Canary", redirect_uris=[CALLBACK], client_secret=CONSUMER_SECRET
    )["client_id"]
    new = parse_forms(keep(owner_client.get(reverse("tokens:create"))).content.decode())
    fields = {
        **new[-1].fields,
        "name": "Canary",
        "portal_url": "https://demo.atlassian.net/",
        "consumer_key": client_id,
        "consumer_secret": CONSUMER_SECRET,
        "callback_url": CALLBACK,
    }
    saved = keep(owner_client.post(reverse("tokens:create"), fields))
    assert saved.status_code == 302, saved.content.decode()[-3000:]
    token = AccessToken.objects.get(tenant=tenant, name="Canary")

    # ... a form error for a secret with spaces, and a pasted token on another one
    keep(
        owner_client.post(
            reverse("tokens:edit", args=[token.pk]),
            {**fields, "access_token": REJECTED_SECRET},
        )
    )
    application = factories.make_application(tenant, "Orders")
    pasted = factories.make_token(tenant, application, access_token=PASTED_TOKEN)

    # When it connects, renews through Celery, and a service calls the API
    connect(owner_client, token)
    first_pair = _pair(token)
    # The message goes to the broker over a connection of its own, which leaves the
    # app's producer pool alone, and is dropped afterwards. The renewal itself runs
    # here, because an eager task run closes this test's database connection.
    with celery_app.connection_for_write() as broker:
        renew_token_task.apply_async(args=[str(token.pk)], connection=broker)
    services.token_renew(token_id=token.pk)
    second_pair = _pair(token)
    assert second_pair["refresh token"] != first_pair["refresh token"]

    created = keep(
        owner_client.post(reverse("tenants:api_keys"), {"name": "Canary service"})
    )
    api_key = created.context["created_key"]
    seen.pop(-2)  # the one response that shows the key, once by design
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key}")
    keep(api.get(reverse("activities:token-capabilities", args=[token.pk])))
    keep(
        api.post(
            reverse("activities:issue-create", args=[token.pk]),
            {"project": "DEMO", "issue_type": "Task", "summary": "Canary"},
            format="json",
        )
    )
    keep(api.get(reverse("activities:issue-detail", args=[token.pk, "DEMO-99999"])))
    keep(api.get(reverse("activities:token-capabilities", args=[pasted.pk])))

    # ... and failures: a wrong client secret, and a revoked key
    with_wrong = factories.make_token(
        tenant, consumer_key=client_id, consumer_secret=WRONG_SECRET
    )
    with_wrong.set_secret("refresh_token", second_pair["refresh token"])
    with_wrong.status = "connected"
    with_wrong.save()
    try:
        services.token_renew(token_id=with_wrong.pk)
    except services.RenewalError as exc:
        errors.append(f"{exc!r} {exc}")
    assert errors, "the renewal with a wrong client secret did not fail"
    owner_client.post(
        reverse("tenants:api_key-revoke", args=[created.context["api_keys"][0].pk])
    )
    keep(api.get(reverse("activities:token-capabilities", args=[token.pk])))

    for name in ("tokens:list", "tenants:api_keys", "tenants:audit", "tenants:applications"):
        keep(owner_client.get(reverse(name)))
    for url in (
        reverse("tokens:edit", args=[token.pk]),
        reverse("tokens:delete", args=[token.pk]),
        reverse("tenants:application", args=[application.pk]),
    ):
        keep(owner_client.get(url))

    # Then no marked value is anywhere
    places = {
        "pages and API responses": seen,
        "log records": [
            f"{r.getMessage()} {r.exc_text or ''} {r.__dict__}" for r in caplog.records
        ],
        "audit rows": [
            f"{e.token_name} {e.detail} {e.action}" for e in AuditEvent.objects.all()
        ],
        "Celery messages": celery_messages,
        "exception texts": errors,
    }
    secrets = {
        "consumer secret": CONSUMER_SECRET,
        "wrong consumer secret": WRONG_SECRET,
        "rejected secret": REJECTED_SECRET,
        "pasted access token": PASTED_TOKEN,
        "API key": api_key,
        **{f"first {k}": v for k, v in first_pair.items()},
        **{f"renewed {k}": v for k, v in second_pair.items()},
    }
    assert celery_messages, "no Celery message was recorded"
    assert len(seen) > 20
    for label, secret in secrets.items():
        assert secret
        for place, texts in places.items():
            leaks = [text[:80] for text in texts if secret in text]
            assert leaks == [], f"{label} found in {place}"


def _pair(token: AccessToken) -> dict[str, str]:
    token.refresh_from_db()
    return {
        "access token": token.get_secret("access_token"),
        "refresh token": token.get_secret("refresh_token"),
    }
