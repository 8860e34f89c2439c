"""All nine activities on Jira Cloud, through the REST API and the sandbox over HTTP.

The sandbox validates every Jira request against Atlassian's Cloud OpenAPI spec.
"""

from __future__ import annotations

import secrets
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.activities.sandbox_tokens import (
    DEMO_ADMIN,
    DEMO_CLOUD_ID,
    DEMO_READ_ONLY,
    PROBLEM,
    api_client,
    cloud_token,
    connect_as,
    jira_calls,
)

BASIC_TEMPLATE = "com.pyxis.greenhopper.jira:gh-simplified-basic"
KANBAN_TEMPLATE = "com.pyxis.greenhopper.jira:gh-simplified-kanban-classic"
PLAIN_ADF = {
    "type": "doc",
    "version": 1,
    "content": [{"type": "paragraph", "content": [{"type": "text", "text": "ADF"}]}],
}


@pytest.fixture
def api(tenant):
    return api_client(tenant)


@pytest.fixture
def token(owner_client, tenant, sandbox_control, sandbox_settings):
    connected = cloud_token(tenant, sandbox_control)
    connect_as(owner_client, connected)
    return connected


@pytest.fixture
def reader_token(owner_client, tenant, sandbox_control, sandbox_settings):
    connected = cloud_token(tenant, sandbox_control)
    connect_as(owner_client, connected, DEMO_READ_ONLY)
    return connected


@pytest.fixture(autouse=True)
def no_faults_left(sandbox_control):
    yield
    sandbox_control.clear_faults()


def url(token, path: str = "") -> str:
    return f"/api/v1/tokens/{token.pk}/{path}"


def create(api, token, **fields) -> dict:
    body = {
        "project": "DEMO",
        "issue_type": "Task",
        "summary": "Cloud activity",
        **fields,
    }
    response = api.post(url(token, "issues"), body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def stored(control, key: str) -> dict:
    return {i["key"]: i for i in control.issues(DEMO_CLOUD_ID)}[key]


def test_create_and_get_issue(api, token, sandbox_control):
    created = create(api, token, description="First line")

    response = api.get(
        url(token, f"issues/{created['key']}"), {"fields": "summary,description"}
    )

    fields = response.json()["fields"]
    assert response.status_code == 200
    assert fields["summary"] == "Cloud activity"
    assert fields["description"]["type"] == "doc"


def test_get_missing_issue_keeps_jira_404(api, token):
    response = api.get(url(token, "issues/DEMO-99999"))

    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM
    assert response.json()["jira"]["errorMessages"]


def test_update_issue_with_plain_text_and_adf(api, token, sandbox_control):
    key = create(api, token)["key"]

    plain = api.put(url(token, f"issues/{key}"), {"summary": "New"}, format="json")
    rich = api.put(
        url(token, f"issues/{key}"), {"description": PLAIN_ADF}, format="json"
    )

    assert plain.status_code == 204
    assert rich.status_code == 204
    assert stored(sandbox_control, key)["summary"] == "New"
    assert stored(sandbox_control, key)["description"] == PLAIN_ADF


def test_update_issue_without_edit_permission_keeps_jira_403(api, token, reader_token):
    key = create(api, token)["key"]

    response = api.put(
        url(reader_token, f"issues/{key}"), {"summary": "x"}, format="json"
    )

    assert response.status_code == 403
    assert response.json()["jira"]["status"] == 403


@pytest.mark.parametrize(
    "body, expected",
    [
        ({"account_id": DEMO_ADMIN}, DEMO_ADMIN),
        ({"account_id": "-1"}, None),
        ({"account_id": None}, None),
    ],
)
def test_add_assignee_by_account_id(api, token, sandbox_control, body, expected):
    key = create(api, token)["key"]

    response = api.put(url(token, f"issues/{key}/assignee"), body, format="json")

    assert response.status_code == 204
    assert stored(sandbox_control, key)["assignee_account_id"] == expected


def test_add_assignee_by_username_is_rejected_on_cloud(api, token, sandbox_control):
    key = create(api, token)["key"]
    before = jira_calls(sandbox_control, "PUT", "/assignee")

    response = api.put(
        url(token, f"issues/{key}/assignee"), {"username": "x"}, format="json"
    )

    assert response.status_code == 400
    assert "username" in response.json()["errors"]
    assert jira_calls(sandbox_control, "PUT", "/assignee") == before


def test_add_comment_as_plain_text_and_adf(api, token, sandbox_control):
    key = create(api, token)["key"]

    plain = api.post(
        url(token, f"issues/{key}/comments"), {"body": "Seen"}, format="json"
    )
    rich = api.post(
        url(token, f"issues/{key}/comments"), {"body": PLAIN_ADF}, format="json"
    )

    bodies = [c["body"] for c in stored(sandbox_control, key)["comments"]]
    assert plain.status_code == 201
    assert rich.status_code == 201
    assert bodies[0]["content"][0]["content"][0]["text"] == "Seen"
    assert bodies[1] == PLAIN_ADF


def test_add_attachments_with_a_non_ascii_name(api, token, sandbox_control):
    key = create(api, token)["key"]
    files = [
        SimpleUploadedFile("report.txt", b"12345", content_type="text/plain"),
        SimpleUploadedFile("Übersicht 日本.txt", b"abc", content_type="text/plain"),
    ]

    response = api.post(
        url(token, f"issues/{key}/attachments"), {"file": files}, format="multipart"
    )

    assert response.status_code == 200
    assert [a["filename"] for a in response.json()] == [
        "report.txt",
        "Übersicht 日本.txt",
    ]
    assert [a["size"] for a in stored(sandbox_control, key)["attachments"]] == [5, 3]


def test_attachment_over_the_limit_is_rejected_before_jira(
    api, token, sandbox_control, settings
):
    settings.JIRA_MAX_ATTACHMENT_BYTES = 4
    key = create(api, token)["key"]
    before = jira_calls(sandbox_control, "POST", "/attachments")

    response = api.post(
        url(token, f"issues/{key}/attachments"),
        {"file": [SimpleUploadedFile("big.txt", b"12345")]},
        format="multipart",
    )

    assert response.status_code == 400
    assert "4-byte limit" in response.json()["errors"]["file"][0]
    assert jira_calls(sandbox_control, "POST", "/attachments") == before


def test_jira_413_for_a_large_attachment_is_kept(api, token, sandbox_control):
    key = create(api, token)["key"]
    sandbox_control.add_site(
        "Demo Jira",
        "https://demo.atlassian.net",
        cloud_id=DEMO_CLOUD_ID,
        attachment_max_bytes=4,
    )
    try:
        response = api.post(
            url(token, f"issues/{key}/attachments"),
            {"file": [SimpleUploadedFile("big.txt", b"12345")]},
            format="multipart",
        )
    finally:
        sandbox_control.add_site(
            "Demo Jira",
            "https://demo.atlassian.net",
            cloud_id=DEMO_CLOUD_ID,
            attachment_max_bytes=10 * 1024 * 1024,
        )

    assert response.status_code == 413
    assert response.json()["jira"]["status"] == 413


def test_delete_issue_with_subtasks_needs_the_flag(api, token, sandbox_control):
    parent = create(api, token)["key"]
    child = create(api, token, issue_type="Sub-task", parent=parent)["key"]

    refused = api.delete(url(token, f"issues/{parent}"))
    deleted = api.delete(url(token, f"issues/{parent}") + "?delete_subtasks=true")

    keys = {i["key"] for i in sandbox_control.issues(DEMO_CLOUD_ID)}
    assert refused.status_code == 400
    assert "subtasks" in refused.json()["jira"]["errorMessages"][0]
    assert refused.json()["detail"].endswith(
        "Send delete_subtasks=true to delete the sub-tasks with the issue."
    )
    assert deleted.status_code == 204
    assert parent not in keys
    assert child not in keys


def test_delete_issue_without_subtasks(api, token, sandbox_control):
    key = create(api, token)["key"]

    response = api.delete(url(token, f"issues/{key}"))

    assert response.status_code == 204
    assert key not in {i["key"] for i in sandbox_control.issues(DEMO_CLOUD_ID)}


@pytest.mark.parametrize(
    "body, status_name",
    [
        ({"transition_id": "11"}, "In Progress"),
        ({"transition_name": "start progress"}, "In Progress"),
        ({"status_name": "Done"}, "Done"),
    ],
)
def test_update_issue_status(api, token, sandbox_control, body, status_name):
    key = create(api, token)["key"]

    response = api.post(url(token, f"issues/{key}/transitions"), body, format="json")

    assert response.status_code == 200
    assert response.json()["status"]["name"] == status_name


def test_update_issue_status_lists_valid_transitions(api, token):
    key = create(api, token)["key"]

    response = api.post(
        url(token, f"issues/{key}/transitions"),
        {"status_name": "Closed"},
        format="json",
    )

    body = response.json()
    assert response.status_code == 400
    assert body["type"].endswith("no-matching-transition")
    assert [t["name"] for t in body["transitions"]] == ["Start Progress", "Resolve"]


def test_get_issue_expands_its_transitions(api, token):
    key = create(api, token)["key"]

    response = api.get(url(token, f"issues/{key}"), {"expand": "transitions"})

    assert response.status_code == 200
    transitions = response.json()["transitions"]
    assert [t["name"] for t in transitions] == ["Start Progress", "Resolve"]
    assert [t["to"]["name"] for t in transitions] == ["In Progress", "Done"]


@pytest.mark.parametrize(
    "body, field",
    [
        (
            {
                "key": "bad",
                "name": "x",
                "project_type_key": "software",
                "lead_account_id": DEMO_ADMIN,
            },
            "key",
        ),
        (
            {
                "key": "OKAY",
                "name": "x",
                "project_type_key": "business",
                "project_template_key": BASIC_TEMPLATE,
                "lead_account_id": DEMO_ADMIN,
            },
            "project_type_key",
        ),
        (
            {
                "key": "OKAY",
                "name": "x",
                "project_type_key": "software",
                "lead_username": "admin",
            },
            "lead_username",
        ),
    ],
)
def test_create_project_validates_before_jira(api, token, sandbox_control, body, field):
    before = jira_calls(sandbox_control, "POST", "/project")

    response = api.post(url(token, "projects"), body, format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert jira_calls(sandbox_control, "POST", "/project") == before


def test_create_project(api, token):
    key = "C" + secrets.token_hex(4).upper().translate(
        str.maketrans("0123456789", "GHIJKLMNOP")
    )
    body = {
        "key": key,
        "name": f"Cloud {key}",
        "project_template_key": KANBAN_TEMPLATE,
        "lead_account_id": DEMO_ADMIN,
    }

    created = api.post(url(token, "projects"), body, format="json")
    duplicate = api.post(url(token, "projects"), body, format="json")

    assert created.status_code == 201
    assert created.json()["key"] == key
    assert duplicate.status_code == 400
    assert "projectKey" in duplicate.json()["jira"]["errors"]


def test_create_project_without_administer_keeps_jira_403(api, reader_token):
    body = {
        "key": "NOADMIN",
        "name": "No admin",
        "project_type_key": "software",
        "lead_account_id": DEMO_ADMIN,
    }

    response = api.post(url(reader_token, "projects"), body, format="json")

    assert response.status_code == 403


def test_429_is_retried_for_get(api, token, sandbox_control):
    key = create(api, token)["key"]
    fault = sandbox_control.throttle("/ex/jira/", method="GET", retry_after=0)

    response = api.get(url(token, f"issues/{key}"))

    assert response.status_code == 200
    assert sandbox_control.faults()[0]["id"] == fault["id"]
    assert sandbox_control.faults()[0]["matched"] == 1


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_429_is_retried_for_put_and_delete(api, token, sandbox_control, method):
    key = create(api, token)["key"]
    sandbox_control.throttle("/ex/jira/", method=method, retry_after=0)

    if method == "PUT":
        response = api.put(url(token, f"issues/{key}"), {"summary": "y"}, format="json")
    else:
        response = api.delete(url(token, f"issues/{key}"))

    assert response.status_code == 204
    assert sandbox_control.faults()[0]["matched"] == 1


def test_429_is_never_retried_for_post(api, token, sandbox_control):
    sandbox_control.throttle("/ex/jira/", method="POST", retry_after=3)
    before = jira_calls(sandbox_control, "POST", "/issue")

    response = api.post(
        url(token, "issues"),
        {"project": "DEMO", "issue_type": "Task", "summary": "Throttled"},
        format="json",
    )

    assert response.status_code == 429
    assert response["Retry-After"] == "3"
    assert response.json()["jira"]["status"] == 429
    assert jira_calls(sandbox_control, "POST", "/issue") == before + 1


def test_create_issue_that_times_out_is_not_sent_twice(
    api, token, sandbox_control, settings
):
    settings.JIRA_HTTP_TIMEOUT = 0.5
    sandbox_control.slow_down("/ex/jira/", method="POST", delay_seconds=1.5)
    before = len(sandbox_control.issues(DEMO_CLOUD_ID))

    response = api.post(
        url(token, "issues"),
        {"project": "DEMO", "issue_type": "Task", "summary": "Slow"},
        format="json",
    )
    time.sleep(1.5)

    assert response.status_code == 504
    assert "check Jira" in response.json()["detail"]
    assert sandbox_control.faults()[0]["matched"] == 1
    assert len(sandbox_control.issues(DEMO_CLOUD_ID)) == before + 1


def test_capabilities_of_a_full_permission_user(api, token):
    response = api.get(url(token, "capabilities"), {"project": "DEMO"})

    activities = response.json()["activities"]
    assert response.status_code == 200
    assert len(activities) == 9
    assert all(a["allowed"] for a in activities)


def test_capabilities_of_a_read_only_user(api, reader_token):
    response = api.get(url(reader_token, "capabilities"), {"project": "DEMO"})

    allowed = {a["activity"]: a["allowed"] for a in response.json()["activities"]}
    assert allowed["get_issue_details"] is True
    assert allowed["create_issue"] is False
    assert allowed["create_project"] is False


def test_capabilities_of_a_token_missing_a_scope(
    api, owner_client, tenant, sandbox_control, sandbox_settings
):
    sandbox_settings.JIRA_OAUTH_SCOPES = [
        "read:jira-work",
        "write:jira-work",
        "read:jira-user",
        "offline_access",
    ]
    narrow = cloud_token(tenant, sandbox_control)
    connect_as(owner_client, narrow)

    response = api.get(url(narrow, "capabilities"), {"project": "DEMO"})

    by_key = {a["activity"]: a for a in response.json()["activities"]}
    assert by_key["create_project"]["allowed"] is False
    assert by_key["create_project"]["missing_scope"] == "manage:jira-configuration"
    assert by_key["create_issue"]["allowed"] is True
