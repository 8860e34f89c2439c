"""The seven other Jira Cloud activities, mypermissions, myself and user search."""

from __future__ import annotations

import secrets

import pytest

from tests.sandbox.flow import (
    ALL_CLOUD_SCOPES,
    DEMO_ADMIN,
    DEMO_CLOUD_ID,
    DEMO_READ_ONLY,
    adf,
    create_issue,
    jira_call,
    obtain_tokens,
)


@pytest.fixture
def admin_token(jira_sandbox, sandbox_control) -> str:
    _, tokens = obtain_tokens(jira_sandbox.base_url, sandbox_control, ALL_CLOUD_SCOPES)
    return tokens["access_token"]


@pytest.fixture
def reader_token(jira_sandbox, sandbox_control) -> str:
    _, tokens = obtain_tokens(
        jira_sandbox.base_url, sandbox_control, ALL_CLOUD_SCOPES, DEMO_READ_ONLY
    )
    return tokens["access_token"]


def new_issue(base_url: str, token: str, **fields: object) -> dict:
    body = {
        "project": {"key": "DEMO"},
        "issuetype": {"name": "Task"},
        "summary": "Sandbox activity",
        **fields,
    }
    response = create_issue(base_url, token, body)
    assert response.status_code == 201, response.text
    return response.json()


def stored(control, issue_id: str) -> dict:
    return {i["id"]: i for i in control.issues(DEMO_CLOUD_ID)}[issue_id]


def test_assignee_is_set_cleared_and_defaulted(
    jira_sandbox, sandbox_control, admin_token
):
    base = jira_sandbox.base_url
    issue = new_issue(base, admin_token)
    path = f"issue/{issue['key']}/assignee"

    assigned = jira_call("PUT", base, admin_token, path, json={"accountId": DEMO_ADMIN})
    assert assigned.status_code == 204
    assert stored(sandbox_control, issue["id"])["assignee_account_id"] == DEMO_ADMIN

    cleared = jira_call("PUT", base, admin_token, path, json={"accountId": None})
    assert cleared.status_code == 204
    assert stored(sandbox_control, issue["id"])["assignee_account_id"] is None

    # The demo project assigns nobody by default.
    defaulted = jira_call("PUT", base, admin_token, path, json={"accountId": "-1"})
    assert defaulted.status_code == 204


def test_assignee_must_be_assignable(jira_sandbox, admin_token):
    base = jira_sandbox.base_url
    issue = new_issue(base, admin_token)

    response = jira_call(
        "PUT",
        base,
        admin_token,
        f"issue/{issue['key']}/assignee",
        json={"accountId": DEMO_READ_ONLY},
    )

    assert response.status_code == 400
    assert "cannot be assigned" in response.json()["errors"]["assignee"]


def test_assign_without_permission_is_403(jira_sandbox, admin_token, reader_token):
    base = jira_sandbox.base_url
    issue = new_issue(base, admin_token)

    response = jira_call(
        "PUT",
        base,
        reader_token,
        f"issue/{issue['key']}/assignee",
        json={"accountId": DEMO_ADMIN},
    )

    assert response.status_code == 403
    assert response.json()["errorMessages"]


def test_attachments_are_stored_and_returned_as_an_array(
    jira_sandbox, sandbox_control, admin_token
):
    base = jira_sandbox.base_url
    issue = new_issue(base, admin_token)
    files = [
        ("file", ("notes.txt", b"first", "text/plain")),
        ("file", ("Überblick – 日本.txt", b"second file", "text/plain")),
    ]

    response = jira_call(
        "POST",
        base,
        admin_token,
        f"issue/{issue['key']}/attachments",
        files=files,
        headers={"X-Atlassian-Token": "no-check"},
    )

    body = response.json()
    assert response.status_code == 200
    assert [item["filename"] for item in body] == ["notes.txt", "Überblick – 日本.txt"]
    assert [item["size"] for item in body] == [5, 11]
    assert all(item["content"].startswith(base) for item in body)
    attachments = stored(sandbox_control, issue["id"])["attachments"]
    assert [a["filename"] for a in attachments] == ["notes.txt", "Überblick – 日本.txt"]


def test_attachment_without_xsrf_header_is_403(jira_sandbox, admin_token):
    base = jira_sandbox.base_url
    issue = new_issue(base, admin_token)

    response = jira_call(
        "POST",
        base,
        admin_token,
        f"issue/{issue['key']}/attachments",
        files=[("file", ("a.txt", b"a", "text/plain"))],
    )

    assert response.status_code == 403
    assert response.json()["errorMessages"] == ["XSRF check failed"]


def test_attachment_over_the_site_limit_is_413(jira_sandbox, sandbox_control):
    base = jira_sandbox.base_url
    site = sandbox_control.add_site(
        "Small files",
        f"https://small-{secrets.token_hex(4)}.atlassian.net",
        attachment_max_bytes=10,
    )
    user = sandbox_control.add_user("Small", "small@example.test", [site["cloud_id"]])
    sandbox_control.add_project(
        site["cloud_id"],
        "SMALL",
        "Small",
        {
            user["account_id"]: [
                "BROWSE_PROJECTS",
                "CREATE_ISSUES",
                "CREATE_ATTACHMENTS",
            ]
        },
    )
    _, tokens = obtain_tokens_for_site(base, sandbox_control, user, site)
    issue = create_issue(
        base,
        tokens["access_token"],
        {"project": {"key": "SMALL"}, "issuetype": {"name": "Task"}, "summary": "x"},
        cloud_id=site["cloud_id"],
    ).json()

    response = jira_call(
        "POST",
        base,
        tokens["access_token"],
        f"issue/{issue['key']}/attachments",
        cloud_id=site["cloud_id"],
        files=[("file", ("big.bin", b"x" * 11, "text/plain"))],
        headers={"X-Atlassian-Token": "no-check"},
    )

    assert response.status_code == 413


def obtain_tokens_for_site(base, control, user, site):
    from tests.sandbox.flow import (
        authorize_parameters,
        exchange_code,
        redirect_query,
        register_client,
        submit_consent,
    )

    client = register_client(control)
    consent = submit_consent(
        base,
        authorize_parameters(client, ALL_CLOUD_SCOPES),
        account_id=user["account_id"],
        cloud_id=site["cloud_id"],
    )
    response = exchange_code(base, client, redirect_query(consent)["code"])
    assert response.status_code == 200, response.text
    return client, response.json()


def test_comment_needs_adf_on_cloud(jira_sandbox, admin_token):
    base = jira_sandbox.base_url
    issue = new_issue(base, admin_token)
    path = f"issue/{issue['key']}/comment"

    added = jira_call("POST", base, admin_token, path, json={"body": adf("Done.")})
    plain = jira_call("POST", base, admin_token, path, json={"body": "Done."})

    assert added.status_code == 201
    assert added.json()["body"] == adf("Done.")
    assert added.json()["author"]["accountId"] == DEMO_ADMIN
    assert plain.status_code == 400


def test_update_issue_sets_fields_and_applies_operations(
    jira_sandbox, sandbox_control, admin_token
):
    base = jira_sandbox.base_url
    issue = new_issue(base, admin_token, labels=["a"])

    response = jira_call(
        "PUT",
        base,
        admin_token,
        f"issue/{issue['key']}",
        json={"fields": {"summary": "Renamed"}, "update": {"labels": [{"add": "b"}]}},
    )

    row = stored(sandbox_control, issue["id"])
    assert response.status_code == 204
    assert row["summary"] == "Renamed"
    assert row["labels"] == ["a", "b"]


def test_update_issue_without_edit_permission_is_403(
    jira_sandbox, admin_token, reader_token
):
    base = jira_sandbox.base_url
    issue = new_issue(base, admin_token)

    response = jira_call(
        "PUT",
        base,
        reader_token,
        f"issue/{issue['key']}",
        json={"fields": {"summary": "Nope"}},
    )

    assert response.status_code == 403


def test_delete_with_subtasks_needs_the_flag(
    jira_sandbox, sandbox_control, admin_token
):
    base = jira_sandbox.base_url
    parent = new_issue(base, admin_token)
    child = new_issue(
        base, admin_token, issuetype={"name": "Sub-task"}, parent={"key": parent["key"]}
    )
    path = f"issue/{parent['key']}"

    refused = jira_call(
        "DELETE", base, admin_token, path, params={"deleteSubtasks": "false"}
    )
    deleted = jira_call(
        "DELETE", base, admin_token, path, params={"deleteSubtasks": "true"}
    )

    remaining = {i["id"] for i in sandbox_control.issues(DEMO_CLOUD_ID)}
    assert refused.status_code == 400
    assert deleted.status_code == 204
    assert parent["id"] not in remaining
    assert child["id"] not in remaining


def test_transitions_follow_the_workflow(jira_sandbox, sandbox_control, admin_token):
    base = jira_sandbox.base_url
    issue = new_issue(base, admin_token)
    path = f"issue/{issue['key']}/transitions"

    listed = jira_call("GET", base, admin_token, path).json()["transitions"]
    moved = jira_call(
        "POST", base, admin_token, path, json={"transition": {"id": "11"}}
    )
    after = jira_call("GET", base, admin_token, path).json()["transitions"]

    assert [(t["id"], t["name"], t["to"]["name"]) for t in listed] == [
        ("11", "Start Progress", "In Progress"),
        ("31", "Resolve", "Done"),
    ]
    assert moved.status_code == 204
    assert stored(sandbox_control, issue["id"])["status_id"] == "3"
    assert [t["name"] for t in after] == ["Stop Progress", "Resolve"]


def test_invalid_transition_is_400(jira_sandbox, admin_token):
    base = jira_sandbox.base_url
    issue = new_issue(base, admin_token)

    response = jira_call(
        "POST",
        base,
        admin_token,
        f"issue/{issue['key']}/transitions",
        json={"transition": {"id": "41"}},
    )

    assert response.status_code == 400
    assert "not valid" in response.json()["errorMessages"][0]


def test_transitions_are_empty_without_the_permission(
    jira_sandbox, admin_token, reader_token
):
    base = jira_sandbox.base_url
    issue = new_issue(base, admin_token)

    response = jira_call("GET", base, reader_token, f"issue/{issue['key']}/transitions")

    assert response.status_code == 200
    assert response.json()["transitions"] == []


def test_create_project_needs_administer(jira_sandbox, admin_token, reader_token):
    base = jira_sandbox.base_url
    key = "P" + secrets.token_hex(3).upper().replace("0", "A")[:5]
    body = {
        "key": key,
        "name": f"Project {key}",
        "projectTypeKey": "software",
        "leadAccountId": DEMO_ADMIN,
    }

    refused = jira_call("POST", base, reader_token, "project", json=body)
    created = jira_call("POST", base, admin_token, "project", json=body)
    duplicate = jira_call("POST", base, admin_token, "project", json=body)

    assert refused.status_code == 403
    assert created.status_code == 201
    assert created.json()["key"] == key
    assert isinstance(created.json()["id"], int)
    assert duplicate.status_code == 400
    assert "projectKey" in duplicate.json()["errors"]


def test_mypermissions_needs_the_permissions_parameter(jira_sandbox, reader_token):
    base = jira_sandbox.base_url

    missing = jira_call("GET", base, reader_token, "mypermissions")
    answered = jira_call(
        "GET",
        base,
        reader_token,
        "mypermissions",
        params={
            "permissions": "BROWSE_PROJECTS,EDIT_ISSUES,ADMINISTER",
            "projectKey": "DEMO",
        },
    )

    held = {k: v["havePermission"] for k, v in answered.json()["permissions"].items()}
    assert missing.status_code == 400
    assert held == {"BROWSE_PROJECTS": True, "EDIT_ISSUES": False, "ADMINISTER": False}


def test_myself_and_assignable_search_name_users_by_account_id(
    jira_sandbox, admin_token
):
    base = jira_sandbox.base_url

    myself = jira_call("GET", base, admin_token, "myself").json()
    found = jira_call(
        "GET", base, admin_token, "user/assignable/search", params={"project": "DEMO"}
    ).json()

    assert myself["accountId"] == DEMO_ADMIN
    assert [user["accountId"] for user in found] == [DEMO_ADMIN]
