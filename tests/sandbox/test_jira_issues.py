"""Jira REST v3 through the gateway: Create Issue, Get Issue and gateway auth."""

from __future__ import annotations

import re

import requests

from tests.sandbox.flow import (
    DEMO_ADMIN,
    DEMO_CLOUD_ID,
    DEMO_READ_ONLY,
    TIMEOUT_SECONDS,
    adf,
    bearer,
    create_issue,
    get_issue,
    jira_url,
    obtain_tokens,
)

JIRA_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000")


def task_fields(**overrides: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "project": {"key": "DEMO"},
        "issuetype": {"name": "Task"},
        "summary": "Rotate the deploy keys",
    }
    fields.update(overrides)
    return fields


def test_create_issue_returns_201_and_stores_issue(jira_sandbox, sandbox_control):
    # given
    base_url = jira_sandbox.base_url
    _, tokens = obtain_tokens(base_url, sandbox_control)
    fields = task_fields(
        description=adf("Keys older than 90 days."),
        labels=["security", "ops"],
        priority={"name": "High"},
        assignee={"accountId": DEMO_ADMIN},
        duedate="2027-01-15",
    )

    # when
    response = create_issue(base_url, tokens["access_token"], fields)

    # then
    body = response.json()
    assert response.status_code == 201
    assert set(body) == {"id", "key", "self"}
    assert int(body["id"]) >= 10000
    assert re.fullmatch(r"DEMO-\d+", body["key"])
    assert body["self"] == jira_url(base_url, f"issue/{body['id']}")
    stored = {issue["id"]: issue for issue in sandbox_control.issues(DEMO_CLOUD_ID)}
    issue = stored[body["id"]]
    assert issue["key"] == body["key"]
    assert issue["summary"] == "Rotate the deploy keys"
    assert issue["description"] == adf("Keys older than 90 days.")
    assert issue["labels"] == ["security", "ops"]
    assert issue["priority_id"] == "2"
    assert issue["assignee_account_id"] == DEMO_ADMIN
    assert issue["reporter_account_id"] == DEMO_ADMIN
    assert issue["duedate"] == "2027-01-15"
    assert issue["issuetype_id"] == "10001"
    assert issue["project_id"] == "10000"
    assert issue["status_id"] == "10000"
    assert JIRA_TIMESTAMP.fullmatch(issue["created"])


def test_issue_ids_and_keys_count_up(jira_sandbox, sandbox_control):
    # given
    base_url = jira_sandbox.base_url
    _, tokens = obtain_tokens(base_url, sandbox_control)

    # when
    first = create_issue(base_url, tokens["access_token"], task_fields()).json()
    second = create_issue(base_url, tokens["access_token"], task_fields()).json()

    # then
    first_number = int(first["key"].split("-")[1])
    second_number = int(second["key"].split("-")[1])
    assert int(second["id"]) == int(first["id"]) + 1
    assert second_number == first_number + 1


def test_create_issue_validation_errors_use_jira_wording(jira_sandbox, sandbox_control):
    # given
    base_url = jira_sandbox.base_url
    _, tokens = obtain_tokens(base_url, sandbox_control)
    unknown_field = (
        "Field 'color' cannot be set. It is not on the appropriate screen, or unknown."
    )
    cases = [
        (
            task_fields(summary=None),
            "summary",
            "You must specify a summary of the issue.",
        ),
        (
            task_fields(summary="   "),
            "summary",
            "You must specify a summary of the issue.",
        ),
        (
            task_fields(summary="x" * 256),
            "summary",
            "Summary must be less than 255 characters.",
        ),
        (
            task_fields(project={"key": "NOPE"}),
            "project",
            "Specify a valid project ID or key",
        ),
        (task_fields(project=None), "project", "Specify a valid project ID or key"),
        (task_fields(issuetype=None), "issuetype", "Specify an issue type"),
        (
            task_fields(issuetype={"id": "999"}),
            "issuetype",
            "The issue type selected is invalid.",
        ),
        (
            task_fields(description="plain text"),
            "description",
            "Operation value must be an Atlassian Document",
        ),
        (task_fields(color="red"), "color", unknown_field),
        (
            task_fields(duedate="15/01/2027"),
            "duedate",
            "Error parsing date string: 15/01/2027",
        ),
        (
            task_fields(labels=["two words"]),
            "labels",
            "The label 'two words' contains spaces which is invalid.",
        ),
    ]

    for fields, field_name, message in cases:
        # when
        response = create_issue(base_url, tokens["access_token"], fields)

        # then
        assert response.status_code == 400, field_name
        assert response.json()["errorMessages"] == [], field_name
        assert response.json()["errors"][field_name] == message, field_name


def test_create_issue_reports_every_bad_field_at_once(jira_sandbox, sandbox_control):
    # given
    base_url = jira_sandbox.base_url
    _, tokens = obtain_tokens(base_url, sandbox_control)
    fields = task_fields(summary="", description="plain", color="red")
    issues_before = len(sandbox_control.issues(DEMO_CLOUD_ID))

    # when
    response = create_issue(base_url, tokens["access_token"], fields)

    # then
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"summary", "description", "color"}
    assert len(sandbox_control.issues(DEMO_CLOUD_ID)) == issues_before


def test_create_issue_rejects_malformed_json(jira_sandbox, sandbox_control):
    # given
    _, tokens = obtain_tokens(jira_sandbox.base_url, sandbox_control)

    # when
    response = requests.post(
        jira_url(jira_sandbox.base_url, "issue"),
        data="{not json",
        headers={**bearer(tokens["access_token"]), "Content-Type": "application/json"},
        timeout=TIMEOUT_SECONDS,
    )

    # then
    assert response.status_code == 400
    assert response.json()["errorMessages"] == [
        "Invalid request payload. Refer to the REST API documentation and try again."
    ]


def test_read_only_user_cannot_create_issue(jira_sandbox, sandbox_control):
    # given
    base_url = jira_sandbox.base_url
    _, tokens = obtain_tokens(base_url, sandbox_control, account_id=DEMO_READ_ONLY)
    issues_before = len(sandbox_control.issues(DEMO_CLOUD_ID))

    # when
    response = create_issue(base_url, tokens["access_token"], task_fields())

    # then
    assert response.status_code == 400
    assert response.json() == {
        "errorMessages": [
            "You do not have permission to create issues in this project."
        ],
        "errors": {},
    }
    assert len(sandbox_control.issues(DEMO_CLOUD_ID)) == issues_before


def test_project_without_browse_permission_is_invalid(jira_sandbox, sandbox_control):
    # given
    base_url = jira_sandbox.base_url
    sandbox_control.add_project(
        DEMO_CLOUD_ID, "HIDDEN", "Hidden Project", {DEMO_ADMIN: ["BROWSE_PROJECTS"]}
    )
    _, tokens = obtain_tokens(base_url, sandbox_control, account_id=DEMO_READ_ONLY)

    # when
    response = create_issue(
        base_url, tokens["access_token"], task_fields(project={"key": "HIDDEN"})
    )

    # then
    assert response.status_code == 400
    assert response.json()["errors"] == {"project": "Specify a valid project ID or key"}


def test_scope_mismatch_is_unauthorized(jira_sandbox, sandbox_control):
    # given
    base_url = jira_sandbox.base_url
    _, read_tokens = obtain_tokens(base_url, sandbox_control, ["read:jira-work"])
    _, write_tokens = obtain_tokens(base_url, sandbox_control, ["write:jira-work"])

    # when
    create_response = create_issue(base_url, read_tokens["access_token"], task_fields())
    get_response = get_issue(base_url, write_tokens["access_token"], "DEMO-1")

    # then
    expected = {"code": 401, "message": "Unauthorized; scope does not match"}
    assert create_response.status_code == 401
    assert create_response.json() == expected
    assert get_response.status_code == 401
    assert get_response.json() == expected


def test_get_issue_returns_fields_with_adf_description(jira_sandbox, sandbox_control):
    # given
    base_url = jira_sandbox.base_url
    _, tokens = obtain_tokens(base_url, sandbox_control)
    description = adf("Steps to reproduce.")
    created = create_issue(
        base_url,
        tokens["access_token"],
        task_fields(issuetype={"id": "10002"}, description=description, labels=["ui"]),
    ).json()

    # when
    response = get_issue(base_url, tokens["access_token"], created["key"])

    # then
    body = response.json()
    fields = body["fields"]
    assert response.status_code == 200
    assert body["id"] == created["id"]
    assert body["key"] == created["key"]
    assert body["self"] == created["self"]
    assert "names" in body["expand"]
    assert fields["summary"] == "Rotate the deploy keys"
    assert fields["description"] == description
    assert fields["issuetype"]["id"] == "10002"
    assert fields["issuetype"]["name"] == "Bug"
    assert fields["issuetype"]["subtask"] is False
    assert fields["project"]["id"] == "10000"
    assert fields["project"]["key"] == "DEMO"
    assert fields["project"]["name"] == "Demo Project"
    assert fields["status"]["id"] == "10000"
    assert fields["status"]["name"] == "To Do"
    assert fields["status"]["statusCategory"]["key"] == "new"
    assert fields["status"]["statusCategory"]["name"] == "To Do"
    assert fields["reporter"]["accountId"] == DEMO_ADMIN
    assert fields["reporter"]["displayName"] == "Demo Admin"
    assert fields["assignee"] is None
    assert fields["labels"] == ["ui"]
    assert fields["priority"]["name"] == "Medium"
    assert fields["duedate"] is None
    assert JIRA_TIMESTAMP.fullmatch(fields["created"])
    assert JIRA_TIMESTAMP.fullmatch(fields["updated"])


def test_get_issue_filters_fields_and_expands(jira_sandbox, sandbox_control):
    # given
    base_url = jira_sandbox.base_url
    _, tokens = obtain_tokens(base_url, sandbox_control)
    created = create_issue(base_url, tokens["access_token"], task_fields()).json()

    # when
    only_two = get_issue(
        base_url,
        tokens["access_token"],
        created["id"],
        {"fields": "summary,status", "expand": "renderedFields,names"},
    ).json()
    all_but_labels = get_issue(
        base_url, tokens["access_token"], created["id"], {"fields": "*all,-labels"}
    ).json()

    # then
    assert set(only_two["fields"]) == {"summary", "status"}
    assert only_two["names"] == {"summary": "Summary", "status": "Status"}
    assert set(only_two["renderedFields"]) == {"summary", "status"}
    assert "labels" not in all_but_labels["fields"]
    assert "summary" in all_but_labels["fields"]
    assert "description" in all_but_labels["fields"]
    assert "names" not in all_but_labels


def test_get_missing_issue_is_not_found(jira_sandbox, sandbox_control):
    # given
    _, tokens = obtain_tokens(jira_sandbox.base_url, sandbox_control)

    # when
    response = get_issue(jira_sandbox.base_url, tokens["access_token"], "DEMO-99999")

    # then
    assert response.status_code == 404
    assert response.json() == {
        "errorMessages": [
            "Issue does not exist or you do not have permission to see it."
        ],
        "errors": {},
    }


def test_get_issue_in_unbrowsable_project_is_not_found(jira_sandbox, sandbox_control):
    # given
    base_url = jira_sandbox.base_url
    sandbox_control.add_project(
        DEMO_CLOUD_ID,
        "SECRET",
        "Secret Project",
        {DEMO_ADMIN: ["BROWSE_PROJECTS", "CREATE_ISSUES"]},
    )
    _, admin_tokens = obtain_tokens(base_url, sandbox_control)
    _, reader_tokens = obtain_tokens(
        base_url, sandbox_control, account_id=DEMO_READ_ONLY
    )
    created = create_issue(
        base_url, admin_tokens["access_token"], task_fields(project={"key": "SECRET"})
    ).json()

    # when
    response = get_issue(base_url, reader_tokens["access_token"], created["key"])

    # then
    assert response.status_code == 404
    assert response.json()["errorMessages"] == [
        "Issue does not exist or you do not have permission to see it."
    ]


def test_gateway_rejects_missing_and_unknown_tokens(jira_sandbox):
    # given
    url = jira_url(jira_sandbox.base_url, "issue/DEMO-1")
    cases = [{}, bearer("not-a-token"), {"Authorization": "Bearer"}]

    for headers in cases:
        # when
        response = requests.get(url, headers=headers, timeout=TIMEOUT_SECONDS)

        # then
        assert response.status_code == 401, headers
        assert response.json() == {"code": 401, "message": "Unauthorized"}, headers


def test_gateway_rejects_site_outside_grant(jira_sandbox, sandbox_control):
    # given: a user of two sites who consented for the demo site only
    base_url = jira_sandbox.base_url
    other_site = sandbox_control.add_site(
        "Ungranted", "https://ungranted.atlassian.net"
    )
    user = sandbox_control.add_user(
        "Two Sites", "both@demo.example", sites=[DEMO_CLOUD_ID, other_site["cloud_id"]]
    )
    _, tokens = obtain_tokens(base_url, sandbox_control, account_id=user["account_id"])

    # when
    response = get_issue(
        base_url, tokens["access_token"], "DEMO-1", cloud_id=other_site["cloud_id"]
    )

    # then
    assert response.status_code == 401
    assert response.json() == {"code": 401, "message": "Unauthorized"}


def test_gateway_unknown_paths_are_not_found(jira_sandbox, sandbox_control):
    # given
    base_url = jira_sandbox.base_url
    _, tokens = obtain_tokens(base_url, sandbox_control)
    headers = bearer(tokens["access_token"])

    # when
    unknown_site = get_issue(
        base_url,
        tokens["access_token"],
        "DEMO-1",
        cloud_id="00000000-0000-0000-0000-000000000000",
    )
    unknown_path = requests.get(
        jira_url(base_url, "no-such-resource"), headers=headers, timeout=TIMEOUT_SECONDS
    )

    # then
    assert unknown_site.status_code == 404
    assert unknown_site.json() == {"code": 404, "message": "Not Found"}
    assert unknown_path.status_code == 404
    assert unknown_path.json() == {"code": 404, "message": "Not Found"}
