"""The API call's key-and-token lookup, against the ORM's statement of the same rule."""

import uuid

import pytest

from tenants.selectors import tokens_choosable_for
from tenants.services import api_key_create
from tests import factories
from tokens.selectors import api_key_get_for_call


@pytest.fixture
def scoped_tokens(tenant):
    """Return the Orders application and tokens of every scope around it."""
    orders = factories.make_application(tenant, "Orders")
    billing = factories.make_application(tenant, "Billing")
    outsider = factories.make_tenant("Other")
    tokens = {
        "global": factories.make_token(tenant),
        "orders": factories.make_token(tenant, orders),
        "billing": factories.make_token(tenant, billing),
        "other tenant": factories.make_token(outsider),
    }
    return orders, tokens


@pytest.mark.django_db
def test_application_key_matches_choosable_tokens(tenant, scoped_tokens):
    orders, tokens = scoped_tokens
    api_key, key = api_key_create(tenant=tenant, name="orders", application=orders)
    prefix = key.split("_")[1]
    choosable = set(tokens_choosable_for(orders).values_list("pk", flat=True))

    for label, token in tokens.items():
        found = api_key_get_for_call(prefix=prefix, token_id=token.pk)
        assert found.pk == api_key.pk, label
        requested = found.requested_token
        assert (requested is not None) == (token.pk in choosable), label
        if requested is not None:
            assert requested.pk == token.pk
            # The consumer secret's column is deferred, and still loads on access.
            assert requested.get_secret("consumer_secret") == token.get_secret(
                "consumer_secret"
            )


@pytest.mark.django_db
def test_tenant_key_finds_global_tokens_only(tenant, scoped_tokens):
    _, tokens = scoped_tokens
    _, key = api_key_create(tenant=tenant, name="tenant-wide")
    prefix = key.split("_")[1]

    found = {
        label: api_key_get_for_call(prefix=prefix, token_id=token.pk).requested_token
        for label, token in tokens.items()
    }

    assert found["global"].pk == tokens["global"].pk
    assert found["orders"] is None
    assert found["billing"] is None
    assert found["other tenant"] is None


@pytest.mark.django_db
def test_unknown_prefix_or_token_finds_nothing(tenant, scoped_tokens):
    _, tokens = scoped_tokens
    _, key = api_key_create(tenant=tenant, name="tenant-wide")

    prefix = key.split("_")[1]

    global_id = tokens["global"].pk
    unknown_key = api_key_get_for_call(prefix="000000000000", token_id=global_id)
    unknown_token = api_key_get_for_call(prefix=prefix, token_id=uuid.uuid4())
    no_token = api_key_get_for_call(prefix=prefix, token_id=None)

    assert unknown_key is None
    assert unknown_token.requested_token is None
    assert no_token.requested_token is None
