"""The REST API in-process, with the Jira sandbox over real HTTP."""

from datetime import timedelta
from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from tenants.services import api_key_create
from tests import factories
from tests.consent import connect
from tokens.models import AccessToken, TokenStatus

CALLBACK = "http://testserver/tokens/oauth/callback/"
PROBLEM = "application/problem+json"


@pytest.fixture
def token(tenant, sandbox_control, sandbox_settings):
    oauth_client = sandbox_control.register_client(name="API tests", redirect_uris=[CALLBACK])
    return factories.make_token(
        tenant,
        consumer_key=oauth_client["client_id"],
        consumer_secret=oauth_client["client_secret"],
        callback_url=CALLBACK,
    )


@pytest.fixture
def connected_token(owner_client, token):
    connect(owner_client, token)
    return token


@pytest.fixture
def api(tenant):
    _, key = api_key_create(tenant=tenant, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def _issue_url(token, key: str | None = None) -> str:
    base = f"/api/v1/tokens/{token.pk}/issues"
    return f"{base}/{key}" if key else base


def _jira_requests(sandbox_control) -> int:
    return len([r for r in sandbox_control.requests_log() if "/rest/api/" in r["path"]])


def test_missing_api_key_gets_401_problem(token):
    response = APIClient().post(_issue_url(token), {}, format="json")

    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM
    assert response.json()["status"] == 401
    assert response["WWW-Authenticate"] == "Api-Key"


@pytest.mark.parametrize(
    "header, detail",
    [
        ("Api-Key nonsense", "The API key is malformed."),
        ("Api-Key mck_000000000000_wrong", "The API key is not valid."),
    ],
)
def test_bad_api_key_gets_401_problem(token, header, detail):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.post(_issue_url(token), {}, format="json")

    assert response.status_code == 401
    assert response.json()["detail"] == detail


def test_revoked_api_key_gets_401(tenant, token):
    api_key, key = api_key_create(tenant=tenant, name="old")
    api_key.revoked_at = timezone.now()
    api_key.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")

    response = client.post(_issue_url(token), {}, format="json")

    assert response.status_code == 401
    assert response.json()["detail"] == "The API key has been revoked."


@pytest.mark.parametrize(
    "body, field, message",
    [
        ({"issue_type": "Task", "summary": "x"}, "project", "This field is required."),
        ({"project": "demo", "issue_type": "Task", "summary": "x"}, "project", "project key"),
        ({"project": "DEMO", "issue_type": "Task", "summary": ""}, "summary", "may not be blank"),
        ({"project": "DEMO", "issue_type": "Task", "summary": "a\nb"}, "summary", "one line"),
        ({"project": "DEMO", "issue_type": "Task", "summary": "x" * 256}, "summary", "255"),
        (
            {"project": "DEMO", "issue_type": "Task", "summary": "x", "labels": ["a b"]},
            "labels",
            "cannot contain spaces",
        ),
        (
            {"project": "DEMO", "issue_type": "Task", "summary": "x", "description": 5},
            "description",
            "Atlassian Document Format",
        ),
        (
            {"project": "DEMO", "issue_type": "Task", "summary": "x", "due_date": "4/12/26"},
            "due_date",
            "YYYY-MM-DD",
        ),
        (
            {"project": "DEMO", "issue_type": "Task", "summary": "x",
             "extra_fields": {"summary": "y"}},
            "extra_fields",
            "customfield_NNNNN",
        ),
    ],
)
def test_create_issue_validates_before_calling_jira(
    api, connected_token, sandbox_control, body, field, message
):
    calls_before = _jira_requests(sandbox_control)

    response = api.post(_issue_url(connected_token), body, format="json")

    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    problem = response.json()
    assert problem["type"] == "urn:manage-center:problem:validation-error"
    assert message in str(problem["errors"][field])
    assert _jira_requests(sandbox_control) == calls_before


def test_create_issue_sends_plain_text_description_as_adf(api, connected_token, sandbox_control):
    response = api.post(
        _issue_url(connected_token),
        {
            "project": "DEMO",
            "issue_type": "Bug",
            "summary": "Plain text description",
            "description": "Para one\n\nPara two",
            "labels": ["api", "test"],
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    details = api.get(_issue_url(connected_token, response.json()["key"])).json()
    description = details["fields"]["description"]
    assert description["type"] == "doc"
    assert [block["content"][0]["text"] for block in description["content"]] == [
        "Para one",
        "Para two",
    ]
    assert details["fields"]["labels"] == ["api", "test"]


def test_jira_validation_errors_are_kept(api, connected_token):
    response = api.post(
        _issue_url(connected_token),
        {"project": "NOPE", "issue_type": "Task", "summary": "x"},
        format="json",
    )

    assert response.status_code == 400
    problem = response.json()
    assert problem["type"] == "urn:manage-center:problem:jira-error"
    assert problem["jira"]["status"] == 400
    assert "project" in problem["jira"]["errors"]


def test_missing_issue_gets_jira_404(api, connected_token):
    response = api.get(_issue_url(connected_token, "DEMO-99999"))

    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM
    assert response.json()["jira"]["errorMessages"] == [
        "Issue does not exist or you do not have permission to see it."
    ]


@pytest.mark.parametrize("key", ["demo-1", "DEMO", "DEMO-0", "../issue"])
def test_malformed_issue_key_rejected(api, connected_token, key):
    response = api.get(_issue_url(connected_token, key))

    assert response.status_code in (400, 404)
    if response.status_code == 400:
        assert "issue key such as DEMO-12" in str(response.json()["errors"])


def test_unknown_expand_rejected(api, connected_token):
    response = api.get(_issue_url(connected_token, "DEMO-1"), {"expand": "everything"})

    assert response.status_code == 400
    assert "Cannot expand everything" in str(response.json()["errors"]["expand"])


def test_token_of_another_tenant_gets_404_without_jira_call(
    api, outsider, sandbox_control, sandbox_settings
):
    other_tenant = outsider.memberships.get().tenant
    foreign = factories.make_token(other_tenant, access_token="foreign-token")
    calls_before = _jira_requests(sandbox_control)

    created = api.post(
        _issue_url(foreign), {"project": "DEMO", "issue_type": "Task", "summary": "x"},
        format="json",
    )
    fetched = api.get(_issue_url(foreign, "DEMO-1"))

    assert created.status_code == 404
    assert fetched.status_code == 404
    assert _jira_requests(sandbox_control) == calls_before


def test_unconnected_token_gets_409(api, token):
    response = api.get(_issue_url(token, "DEMO-1"))

    assert response.status_code == 409
    assert "not connected" in response.json()["detail"]


def test_expired_token_is_refreshed_before_the_call(api, connected_token, sandbox_control):
    old_access = connected_token.get_secret("access_token")
    AccessToken.objects.filter(pk=connected_token.pk).update(
        access_token_expires_at=timezone.now() - timedelta(seconds=1)
    )

    response = api.post(
        _issue_url(connected_token),
        {"project": "DEMO", "issue_type": "Task", "summary": "After refresh"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    connected_token.refresh_from_db()
    assert connected_token.get_secret("access_token") != old_access
    assert connected_token.access_token_expires_at > timezone.now()
    counts = sandbox_control.token_requests(connected_token.consumer_key)
    assert counts["by_grant_type"]["refresh_token"] == 1


def test_dead_refresh_token_marks_consent_needed(api, connected_token, sandbox_control):
    # Rotate once, then present the old refresh token after the reuse interval.
    refresh_token = connected_token.get_secret("refresh_token")
    AccessToken.objects.filter(pk=connected_token.pk).update(
        access_token_expires_at=timezone.now() - timedelta(seconds=1)
    )
    api.get(_issue_url(connected_token, "DEMO-1"))
    connected_token.refresh_from_db()
    connected_token.set_secret("refresh_token", refresh_token)
    connected_token.access_token_expires_at = timezone.now() - timedelta(seconds=1)
    connected_token.save()
    sandbox_control.advance_clock(11 * 60)

    response = api.get(_issue_url(connected_token, "DEMO-1"))

    assert response.status_code == 409
    connected_token.refresh_from_db()
    assert connected_token.status == TokenStatus.CONSENT_NEEDED
    assert "get a new OAuth 2.0 access token" in connected_token.last_error
    assert connected_token.next_renewal_at is None


def test_activity_call_runs_one_query(api, connected_token, django_assert_num_queries):
    # The API key and the token come in one query; usage counts go to Redis later.
    with django_assert_num_queries(1):
        created = api.post(
            _issue_url(connected_token),
            {"project": "DEMO", "issue_type": "Task", "summary": "Counted"},
            format="json",
        )
    assert created.status_code == 201

    with django_assert_num_queries(1):
        read = api.get(_issue_url(connected_token, created.json()["key"]))
    assert read.status_code == 200
    assert read.json()["fields"]["summary"] == "Counted"


def test_unknown_body_field_is_rejected(api, connected_token, sandbox_control):
    calls_before = _jira_requests(sandbox_control)

    response = api.post(
        _issue_url(connected_token),
        {"project": "DEMO", "issue_type": "Task", "summary": "x", "descripton": "typo"},
        format="json",
    )

    assert response.status_code == 400
    assert "Unknown field" in str(response.json()["errors"]["descripton"])
    assert _jira_requests(sandbox_control) == calls_before


def test_blank_comment_is_rejected(api, connected_token):
    response = api.post(
        f"{_issue_url(connected_token, 'DEMO-1')}/comments", {"body": "  "}, format="json"
    )

    assert response.status_code == 400
    assert "The text is empty" in str(response.json()["errors"]["body"])


@pytest.mark.parametrize(
    "method, path",
    [("get", "/api/v1/tokens/not-a-uuid/issues/DEMO-1"), ("post", "/api/v1/nowhere")],
)
def test_unknown_api_url_gets_problem_404(api, method, path):
    response = getattr(api, method)(path)

    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM
    assert "No API endpoint matches" in response.json()["detail"]


def test_problem_title_has_no_placeholders(api, connected_token):
    response = api.patch(_issue_url(connected_token, "DEMO-1"), {}, format="json")

    assert response.status_code == 405
    assert response.json()["title"] == "Method Not Allowed"


@pytest.mark.parametrize("issue_key", ["demo-1", "DEMO-0", "DEMO 1", "-1"])
def test_malformed_issue_key_is_rejected(api, connected_token, sandbox_control, issue_key):
    calls_before = _jira_requests(sandbox_control)

    response = api.get(_issue_url(connected_token, quote(issue_key)))

    assert response.status_code == 400
    assert response.json()["errors"]["issue_key"] == [
        "Give an issue key such as DEMO-12 or a numeric issue id."
    ]
    assert _jira_requests(sandbox_control) == calls_before


def test_oversized_json_body_gets_413_problem(api, token, settings, sandbox_control):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    calls_before = _jira_requests(sandbox_control)

    response = api.post(
        _issue_url(token),
        {"project": "DEMO", "issue_type": "Task", "summary": "x", "description": "y" * 2000},
        format="json",
    )

    assert response.status_code == 413
    assert response["Content-Type"] == PROBLEM
    assert "over 1000 bytes" in response.json()["detail"]
    assert _jira_requests(sandbox_control) == calls_before


def test_too_many_files_gets_400_problem(api, token, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    files = {f"file{n}": SimpleUploadedFile(f"{n}.txt", b"x") for n in range(4)}

    response = api.post(f"{_issue_url(token, 'DEMO-1')}/attachments", files, format="multipart")

    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert "more than 3 files" in response.json()["detail"]


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_AUTHORIZATION": "Bearer mck_000000000000_secret-part"},
        {"HTTP_X_API_KEY": "mck_000000000000_secret-part"},
        {"HTTP_AUTHORIZATION": "mck_000000000000_secret-part"},
        {"HTTP_AUTHORIZATION": "mck_000000000000_secret-part trailing"},
        {"HTTP_AUTHORIZATION": "secret-part other"},
    ],
)
def test_wrong_key_header_names_the_right_one(token, headers):
    response = APIClient().get(_issue_url(token, "DEMO-1"), **headers)

    assert response.status_code == 401
    assert "Authorization: Api-Key <key>" in response.json()["detail"]
    assert "secret-part" not in response.content.decode()


def test_missing_key_names_the_header(token):
    response = APIClient().get(_issue_url(token, "DEMO-1"))

    assert response.status_code == 401
    assert "Authorization: Api-Key <key>" in response.json()["detail"]


def test_unknown_query_parameter_is_rejected(api, connected_token, sandbox_control):
    calls_before = _jira_requests(sandbox_control)

    response = api.get(_issue_url(connected_token, "DEMO-1") + "?expnad=names")

    assert response.status_code == 400
    assert response.json()["errors"]["expnad"] == [
        "Unknown query parameter; the parameters are: fields, expand."
    ]
    assert _jira_requests(sandbox_control) == calls_before


def test_upper_case_token_id_reaches_the_token(api, token):
    lower = api.get(_issue_url(token, "DEMO-1"))
    upper = api.get(f"/api/v1/tokens/{str(token.pk).upper()}/issues/DEMO-1")

    assert lower.status_code == 409
    assert upper.status_code == 409
    assert upper.json()["detail"] == lower.json()["detail"]


def test_key_scheme_is_case_insensitive(api, token):
    key = api._credentials["HTTP_AUTHORIZATION"].partition(" ")[2]

    response = APIClient().get(
        _issue_url(token, "DEMO-1"), HTTP_AUTHORIZATION=f"API-KEY {key}"
    )

    assert response.status_code == 409
