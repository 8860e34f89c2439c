"""Every page and API route, given ids of another tenant or another application.

Each answers 404, the same as for a missing id, changes nothing, and makes no
request to Jira.
"""

import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from tenants.models import ApiKey, Application, Membership
from tenants.services import api_key_create
from tests import factories
from tokens.models import AccessToken

ID_PARAMETERS = {"token_id", "application_id", "api_key_id", "membership_id"}
OTHER_PARAMETERS = {"issue_key": "DEMO-1"}
API_METHODS = ("get", "post", "put", "patch", "delete")


def _routes(patterns=None, namespace=None):
    """Yield (route name, parameter names, view) for every URL with parameters."""
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace in {"admin"}:
                continue
            yield from _routes(pattern.url_patterns, pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern) and pattern.pattern.converters:
            name = f"{namespace}:{pattern.name}" if namespace else pattern.name
            yield name, set(pattern.pattern.converters), pattern.callback


@pytest.fixture
def world(tenant, outsider, sandbox_settings, sandbox_control):
    """Build tenant A with two applications and tenant B with one of each row."""
    other = outsider.memberships.get().tenant
    first, second = (
        factories.make_application(tenant, "First"),
        factories.make_application(tenant, "Second", kind="form"),
    )
    foreign_app = factories.make_application(other, "Theirs")
    foreign_token = factories.make_token(other, access_token="their-token")
    factories.make_token(other, application=foreign_app, access_token="their-app-token")
    foreign_key, _ = api_key_create(tenant=other, name="theirs")
    sandbox_control.clear_requests_log()
    return {
        "first": first,
        "second": second,
        "global": factories.make_token(tenant, access_token="our-global"),
        "first_token": factories.make_token(tenant, first, access_token="first-token"),
        "second_token": factories.make_token(tenant, second, access_token="second-token"),
        "foreign": {
            "token_id": foreign_token.pk,
            "application_id": foreign_app.pk,
            "api_key_id": foreign_key.pk,
            "membership_id": outsider.memberships.get().pk,
        },
    }


def _snapshot() -> list:
    return [
        sorted(AccessToken.objects.values_list("pk", "name", "status", "updated_at")),
        sorted(Application.objects.values_list("pk", "name", "token")),
        sorted(ApiKey.objects.values_list("pk", "revoked_at")),
        sorted(Membership.objects.values_list("pk", "role")),
    ]


def test_every_route_with_an_id_is_walked():
    parameters = set().union(*(params for _, params, _ in _routes()))

    assert parameters <= ID_PARAMETERS | set(OTHER_PARAMETERS)


@pytest.mark.django_db
def test_pages_answer_404_for_another_tenants_ids(owner_client, world, sandbox_control):
    before = _snapshot()
    walked = []

    for name, params, _ in _routes():
        if name.startswith("activities:"):
            continue
        url = reverse(name, kwargs={p: world["foreign"][p] for p in params})
        statuses = {
            owner_client.get(url).status_code,
            owner_client.post(url, {"name": "Taken", "role": "administrator"}).status_code,
        }
        walked.append(name)
        assert statuses <= {404, 405}, (name, statuses)
        assert 404 in statuses, name

    assert len(walked) >= 12
    assert _snapshot() == before
    assert sandbox_control.requests_log() == []


@pytest.mark.django_db
def test_pages_answer_404_for_another_applications_ids(
    client, teammate, world, sandbox_control
):
    # Given an app designer of First, and ids that belong to Second
    world["first"].designers.add(teammate)
    second_key, _ = api_key_create(
        tenant=world["second"].tenant, name="second", application=world["second"]
    )
    ids = {
        "token_id": world["second_token"].pk,
        "application_id": world["second"].pk,
        "api_key_id": second_key.pk,
    }
    client.force_login(teammate)
    before = _snapshot()
    walked = []

    # When the designer asks for every page that takes such an id
    for name, params, _ in _routes():
        if name.startswith("activities:") or not params <= set(ids):
            continue
        url = reverse(name, kwargs={p: ids[p] for p in params})
        statuses = {
            client.get(url).status_code,
            client.post(url, {"name": "Taken", "token": ""}).status_code,
        }
        walked.append(name)

        # Then each answers 404 (or 405 for a method the page lacks)
        assert statuses <= {404, 405}, (name, statuses)
        assert 404 in statuses, name

    assert len(walked) >= 10
    assert _snapshot() == before
    assert sandbox_control.requests_log() == []


@pytest.mark.django_db
def test_designer_lists_show_only_own_and_global_rows(client, teammate, world):
    world["first"].designers.add(teammate)
    client.force_login(teammate)

    tokens = client.get(reverse("tokens:list")).content.decode()
    applications = client.get(reverse("tenants:applications")).content.decode()

    assert world["global"].name in tokens
    assert world["first_token"].name in tokens
    assert world["second_token"].name not in tokens
    assert "First" in applications
    assert "Second" not in applications


def _api_client(api_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key}")
    return client


def _api_calls(token_id):
    for name, params, view in _routes():
        if not name.startswith("activities:"):
            continue
        kwargs = {"token_id": token_id}
        kwargs.update({p: OTHER_PARAMETERS[p] for p in params if p in OTHER_PARAMETERS})
        methods = [m for m in API_METHODS if hasattr(view.cls, m)]
        for method in methods:
            yield name, method, reverse(name, kwargs=kwargs)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "key_scope, token",
    [
        ("tenant", "foreign"),
        ("first", "foreign"),
        ("first", "second_token"),
        ("tenant", "first_token"),
    ],
)
def test_api_answers_404_outside_the_keys_scope(world, sandbox_control, key_scope, token):
    # Given a key of the tenant or of its first application
    application = world["first"] if key_scope == "first" else None
    _, key = api_key_create(
        tenant=world["first"].tenant, name="scoped", application=application
    )
    client = _api_client(key)
    token_id = (
        world["foreign"]["token_id"] if token == "foreign" else world[token].pk
    )
    before = _snapshot()

    # When it calls every activity with a token outside its scope
    answers = {
        (name, method): getattr(client, method)(url, {}, format="json")
        for name, method, url in _api_calls(token_id)
    }

    # Then each answer is the 404 of a missing token, and Jira heard nothing
    missing = _api_client(key).get(
        reverse(
            "activities:issue-detail",
            kwargs={"token_id": uuid.UUID(int=0), "issue_key": "A-1"},
        )
    )
    assert len(answers) >= 8
    for call, response in answers.items():
        assert response.status_code == 404, call
        assert response.json()["title"] == missing.json()["title"], call
    assert _snapshot() == before
    assert sandbox_control.requests_log() == []


@pytest.mark.django_db
def test_application_key_reaches_its_own_and_global_tokens(world, sandbox_control):
    _, key = api_key_create(
        tenant=world["first"].tenant, name="first", application=world["first"]
    )
    client = _api_client(key)

    for token in ("first_token", "global"):
        response = client.get(
            reverse(
                "activities:token-capabilities", kwargs={"token_id": world[token].pk}
            )
        )
        assert response.status_code != 404, token
