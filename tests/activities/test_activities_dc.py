"""All nine activities on Jira Data Center, through the REST API and the sandbox.

The sandbox validates every Jira request against Atlassian's Data Center
OpenAPI spec. The portal is plain http on 127.0.0.1, which the tests allow.
"""

from __future__ import annotations

import secrets

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.activities.sandbox_tokens import (
    DEMO_DC_INSTANCE,
    DEMO_READ_ONLY,
    api_client,
    connect_as,
    data_center_token,
    jira_calls,
)

ADF = {
    "type": "doc",
    "version": 1,
    "content": [{"type": "paragraph", "content": [{"type": "text", "text": "ADF"}]}],
}


@pytest.fixture
def dc_settings(sandbox_settings):
    sandbox_settings.JIRA_ALLOW_HTTP = True
    sandbox_settings.JIRA_DC_OAUTH_SCOPES = ["ADMIN"]
    return sandbox_settings


@pytest.fixture
def api(tenant):
    return api_client(tenant)


@pytest.fixture
def token(owner_client, tenant, sandbox_control, jira_sandbox, dc_settings):
    connected = data_center_token(tenant, sandbox_control, jira_sandbox.base_url)
    connect_as(owner_client, connected)
    return connected


@pytest.fixture
def reader_token(owner_client, tenant, sandbox_control, jira_sandbox, dc_settings):
    connected = data_center_token(tenant, sandbox_control, jira_sandbox.base_url)
    connect_as(owner_client, connected, DEMO_READ_ONLY)
    return connected


def url(token, path: str = "") -> str:
    return f"/api/v1/tokens/{token.pk}/{path}"


def create(api, token, **fields) -> dict:
    body = {"project": "DEMO", "issue_type": "Task", "summary": "DC activity", **fields}
    response = api.post(url(token, "issues"), body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def stored(control, key: str) -> dict:
    return {i["key"]: i for i in control.issues(DEMO_DC_INSTANCE)}[key]


def test_create_and_get_issue_with_string_description(api, token, sandbox_control):
    key = create(api, token, description="Plain *wiki*")["key"]

    response = api.get(url(token, f"issues/{key}"))

    assert response.status_code == 200
    assert response.json()["fields"]["description"] == "Plain *wiki*"
    assert response.json()["self"].startswith(token.portal_url + "/rest/api/2/")


def test_adf_is_rejected_before_jira(api, token, sandbox_control):
    before = jira_calls(sandbox_control, "POST", "/issue")

    response = api.post(
        url(token, "issues"),
        {"project": "DEMO", "issue_type": "Task", "summary": "x", "description": ADF},
        format="json",
    )

    assert response.status_code == 400
    assert "description" in response.json()["errors"]
    assert jira_calls(sandbox_control, "POST", "/issue") == before


def test_update_issue_and_comment(api, token, sandbox_control):
    key = create(api, token)["key"]

    updated = api.put(url(token, f"issues/{key}"), {"summary": "New"}, format="json")
    commented = api.post(
        url(token, f"issues/{key}/comments"), {"body": "Seen"}, format="json"
    )
    rich = api.post(url(token, f"issues/{key}/comments"), {"body": ADF}, format="json")

    assert updated.status_code == 204
    assert stored(sandbox_control, key)["summary"] == "New"
    assert commented.status_code == 201
    assert stored(sandbox_control, key)["comments"][0]["body"] == "Seen"
    assert rich.status_code == 400


@pytest.mark.parametrize(
    "body, expected",
    [
        ({"username": "admin"}, "5b10ac8d82e05b22cc7d4ef5"),
        ({"username": "-1"}, None),
        ({"username": None}, None),
    ],
)
def test_add_assignee_by_username(api, token, sandbox_control, body, expected):
    key = create(api, token)["key"]

    response = api.put(url(token, f"issues/{key}/assignee"), body, format="json")

    assert response.status_code == 204
    assert stored(sandbox_control, key)["assignee_account_id"] == expected


def test_add_assignee_by_account_id_is_rejected_on_dc(api, token):
    key = create(api, token)["key"]

    response = api.put(
        url(token, f"issues/{key}/assignee"), {"account_id": "abc"}, format="json"
    )

    assert response.status_code == 400
    assert "account_id" in response.json()["errors"]


def test_add_attachments_with_a_non_ascii_name(api, token, sandbox_control):
    key = create(api, token)["key"]
    files = [
        SimpleUploadedFile("a.txt", b"1", content_type="text/plain"),
        SimpleUploadedFile("Ärger 日本.txt", b"22", content_type="text/plain"),
    ]

    response = api.post(
        url(token, f"issues/{key}/attachments"), {"file": files}, format="multipart"
    )

    assert response.status_code == 200
    assert [a["filename"] for a in stored(sandbox_control, key)["attachments"]] == [
        "a.txt",
        "Ärger 日本.txt",
    ]


def test_delete_issue_with_subtasks_needs_the_flag(api, token, sandbox_control):
    parent = create(api, token)["key"]
    child = create(api, token, issue_type="Sub-task", parent=parent)["key"]

    refused = api.delete(url(token, f"issues/{parent}"))
    deleted = api.delete(url(token, f"issues/{parent}") + "?delete_subtasks=true")

    keys = {i["key"] for i in sandbox_control.issues(DEMO_DC_INSTANCE)}
    assert refused.status_code == 400
    assert deleted.status_code == 204
    assert parent not in keys
    assert child not in keys


@pytest.mark.parametrize(
    "body, status_name",
    [
        ({"transition_id": "31"}, "Done"),
        ({"transition_name": "Start Progress"}, "In Progress"),
        ({"status_name": "in progress"}, "In Progress"),
    ],
)
def test_update_issue_status(api, token, sandbox_control, body, status_name):
    key = create(api, token)["key"]

    response = api.post(url(token, f"issues/{key}/transitions"), body, format="json")

    assert response.status_code == 200
    assert response.json()["status"]["name"] == status_name


def test_create_project_with_a_lead_username(api, token):
    key = "D" + secrets.token_hex(4).upper().translate(
        str.maketrans("0123456789", "GHIJKLMNOP")
    )
    body = {
        "key": key,
        "name": f"DC {key}",
        "project_type_key": "software",
        "lead_username": "admin",
    }
    wrong_lead = {**body, "lead_account_id": "abc"}
    del wrong_lead["lead_username"]

    created = api.post(url(token, "projects"), body, format="json")
    refused = api.post(url(token, "projects"), wrong_lead, format="json")

    assert created.status_code == 201
    assert created.json()["key"] == key
    assert refused.status_code == 400
    assert "lead_account_id" in refused.json()["errors"]


def test_create_project_without_administer_keeps_jira_403(api, reader_token):
    body = {
        "key": "NODCADMIN"[:9],
        "name": "No admin",
        "project_type_key": "software",
        "lead_username": "admin",
    }

    response = api.post(url(reader_token, "projects"), body, format="json")

    assert response.status_code == 403


def test_missing_issue_keeps_jira_404(api, token):
    response = api.get(url(token, "issues/DEMO-99999"))

    assert response.status_code == 404


def test_capabilities_of_full_and_read_only_users(api, token, reader_token):
    full = api.get(url(token, "capabilities"), {"project": "DEMO"}).json()
    read_only = api.get(url(reader_token, "capabilities"), {"project": "DEMO"}).json()

    assert all(a["allowed"] for a in full["activities"])
    allowed = {a["activity"]: a["allowed"] for a in read_only["activities"]}
    assert allowed["get_issue_details"] is True
    assert allowed["update_issue"] is False


def test_capabilities_of_a_token_missing_a_scope(
    api, owner_client, tenant, sandbox_control, jira_sandbox, dc_settings
):
    dc_settings.JIRA_DC_OAUTH_SCOPES = ["WRITE"]
    narrow = data_center_token(tenant, sandbox_control, jira_sandbox.base_url)
    connect_as(owner_client, narrow)

    response = api.get(url(narrow, "capabilities"), {"project": "DEMO"})

    by_key = {a["activity"]: a for a in response.json()["activities"]}
    assert by_key["create_project"]["allowed"] is False
    assert by_key["create_project"]["missing_scope"] == "ADMIN"
    assert by_key["delete_issue"]["allowed"] is True
