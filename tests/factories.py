"""Plain builders for test rows, going through the product's own services."""

import itertools

from tenants.models import Application, Membership, Tenant
from tenants.services import tenant_create, user_create
from tokens.models import AccessToken
from tokens.services import TokenFields, token_create

PASSWORD = "correct-horse-battery-9"
_sequence = itertools.count(1)


def make_user(email: str | None = None):
    return user_create(email=email or f"user{next(_sequence)}@example.test", password=PASSWORD)


def make_tenant(name: str | None = None, *, administrator=None) -> Tenant:
    return tenant_create(
        name=name or f"Tenant {next(_sequence)}",
        administrator=administrator or make_user(),
    )


def add_member(tenant: Tenant, user, role: str = Membership.Role.APP_DESIGNER) -> Membership:
    return Membership.objects.create(tenant=tenant, user=user, role=role)


def make_application(tenant: Tenant, name: str = "Orders", kind: str = "process") -> Application:
    return Application.objects.create(tenant=tenant, name=name, kind=kind)


def token_fields(**overrides) -> TokenFields:
    values = {
        "name": f"Jira {next(_sequence)}",
        "portal_url": "https://demo.atlassian.net",
        "consumer_key": "clientid123",
        "consumer_secret": "consumer-secret-value",
        "callback_url": "http://testserver/tokens/oauth/callback/",
        "description": "",
        "renewal_rate": 60,
        "access_token": None,
    }
    values.update(overrides)
    return TokenFields(**values)


def make_token(tenant: Tenant, application: Application | None = None, **overrides) -> AccessToken:
    return token_create(tenant=tenant, application=application, fields=token_fields(**overrides))
