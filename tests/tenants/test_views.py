"""The tenant pages: roles, applications, API keys and the audit log."""

import pytest
from django.core import mail
from django.urls import reverse

from tenants.models import ApiKey, Application, Membership
from tenants.services import api_key_create
from tests import factories
from tokens.models import AccessToken, AuditEvent


@pytest.fixture
def designer_client(client, teammate):
    client.force_login(teammate)
    return client


@pytest.mark.django_db
def test_administrator_invites_member_by_email(
    owner_client, tenant, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            reverse("tenants:members"),
            {"email": "New.Person@Example.test", "role": "app_designer"},
        )

    assert response.status_code == 302
    member = Membership.objects.get(tenant=tenant, user__email="new.person@example.test")
    assert member.role == "app_designer"
    assert member.user.has_usable_password() is False
    assert len(mail.outbox) == 1
    assert "Forgot your password?" in mail.outbox[0].body


@pytest.mark.django_db
def test_invite_rejects_existing_member_with_fix(owner_client, teammate):
    response = owner_client.post(
        reverse("tenants:members"), {"email": teammate.email, "role": "app_designer"}
    )

    assert response.status_code == 200
    assert "is already a member of Acme" in response.content.decode()


@pytest.mark.django_db
def test_last_administrator_keeps_the_role(owner_client, owner, tenant):
    membership = owner.memberships.get(tenant=tenant)

    owner_client.post(
        reverse("tenants:member", args=[membership.pk]), {"role": "app_designer"}
    )

    membership.refresh_from_db()
    assert membership.role == "administrator"


@pytest.mark.django_db
def test_designer_cannot_invite_and_is_audited(designer_client, tenant):
    response = designer_client.post(
        reverse("tenants:members"), {"email": "x@example.test", "role": "administrator"}
    )

    assert response.status_code == 403
    denial = AuditEvent.objects.get(tenant=tenant, action="access_denied")
    assert denial.result == "denied"


@pytest.mark.django_db
def test_application_delete_lists_and_deletes_its_tokens(owner_client, tenant):
    application = factories.make_application(tenant, "Orders")
    factories.make_token(tenant, application, name="Orders Jira")
    kept = factories.make_token(tenant, name="Global Jira")
    url = reverse("tenants:application-delete", args=[application.pk])

    confirmation = owner_client.get(url)
    deleted = owner_client.post(url)

    assert "Orders Jira" in confirmation.content.decode()
    assert deleted.status_code == 302
    assert not Application.objects.filter(pk=application.pk).exists()
    assert list(AccessToken.objects.filter(tenant=tenant)) == [kept]
    assert AuditEvent.objects.filter(action="token_deleted", token_name="Orders Jira").exists()


@pytest.mark.django_db
def test_designer_chooses_only_own_or_global_token(designer_client, teammate, tenant):
    mine = factories.make_application(tenant, "Mine")
    other = factories.make_application(tenant, "Other")
    mine.designers.add(teammate)
    other_token = factories.make_token(tenant, other, name="Other Jira")
    global_token = factories.make_token(tenant, name="Global Jira")
    url = reverse("tenants:application-token", args=[mine.pk])

    refused = designer_client.post(url, {"token": other_token.pk})
    chosen = designer_client.post(url, {"token": global_token.pk})

    assert "not one of this application" in refused.content.decode()
    assert chosen.status_code == 302
    mine.refresh_from_db()
    assert mine.token == global_token


@pytest.mark.django_db
def test_designer_manages_only_applications_they_design(designer_client, teammate, tenant):
    mine = factories.make_application(tenant, "Mine")
    other = factories.make_application(tenant, "Other")
    mine.designers.add(teammate)

    own = designer_client.get(reverse("tokens:create") + f"?application={mine.pk}")
    foreign = designer_client.get(reverse("tokens:create") + f"?application={other.pk}")
    global_token = designer_client.get(reverse("tokens:create"))

    assert own.status_code == 200
    assert foreign.status_code == 404
    assert global_token.status_code == 403


@pytest.mark.django_db
def test_api_key_is_shown_once_and_stored_hashed(owner_client, tenant):
    created = owner_client.post(reverse("tenants:api_keys"), {"name": "Orders sync"})
    listed = owner_client.get(reverse("tenants:api_keys"))

    key = created.context["created_key"]
    stored = ApiKey.objects.get(tenant=tenant)
    assert key in created.content.decode()
    assert created["Cache-Control"] == "no-store"
    assert key not in listed.content.decode()
    assert key not in stored.digest


@pytest.mark.django_db
def test_revoked_key_shows_revocation(owner_client, tenant):
    api_key, _ = api_key_create(tenant=tenant, name="Old")

    owner_client.post(reverse("tenants:api_key-revoke", args=[api_key.pk]))

    api_key.refresh_from_db()
    assert api_key.is_active is False


@pytest.mark.django_db
def test_audit_log_filters_by_action(owner_client, tenant):
    factories.make_token(tenant, name="Audited")
    api_key_create(tenant=tenant, name="Key")

    response = owner_client.get(reverse("tenants:audit"), {"action": "api_key_created"})

    events = list(response.context["page"])
    assert [event.action for event in events] == ["api_key_created"]


@pytest.mark.django_db
def test_audit_log_names_invalid_filter_value(owner_client, tenant):
    response = owner_client.get(reverse("tenants:audit"), {"since": "yesterday"})

    assert "Enter the start date as YYYY-MM-DD." in response.content.decode()


@pytest.mark.django_db
def test_audit_log_is_for_administrators(designer_client):
    assert designer_client.get(reverse("tenants:audit")).status_code == 403


@pytest.mark.parametrize(
    "kind, hint",
    [
        ("process", "Application level: shared by the processes of Billing."),
        ("form", "Application level: usable only by the form-based app Billing."),
    ],
)
def test_new_token_page_states_app_scope(owner_client, tenant, kind, hint):
    application = factories.make_application(tenant, name="Billing", kind=kind)

    response = owner_client.get(reverse("tokens:create") + f"?application={application.pk}")

    assert response.status_code == 200
    assert hint in response.content.decode()
