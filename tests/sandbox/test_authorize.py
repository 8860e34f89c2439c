"""Authorization endpoint: consent page, validation and the decision redirect."""

from __future__ import annotations

import re

import requests

from tests.sandbox.flow import (
    DEMO_ADMIN,
    DEMO_CLOUD_ID,
    DEMO_READ_ONLY,
    REDIRECT_URI,
    TIMEOUT_SECONDS,
    authorize_parameters,
    redirect_query,
    register_client,
    submit_consent,
)


def get_authorize(base_url: str, parameters: dict[str, str]) -> requests.Response:
    return requests.get(
        f"{base_url}/authorize",
        params=parameters,
        allow_redirects=False,
        timeout=TIMEOUT_SECONDS,
    )


def label_for(page: str, field_id: str) -> str | None:
    match = re.search(rf'<label for="{field_id}">([^<]+)</label>', page)
    return match.group(1).strip() if match else None


def test_consent_page_shows_app_scopes_and_labelled_fields(
    jira_sandbox, sandbox_control
):
    # given
    client = register_client(sandbox_control, name="Manage Center Test")
    parameters = authorize_parameters(client, ["read:jira-work", "offline_access"])

    # when
    response = get_authorize(jira_sandbox.base_url, parameters)

    # then
    page = response.text
    assert response.status_code == 200
    assert "Manage Center Test" in page
    assert "View Jira issue data" in page
    assert "Keep access to this data when you are not using the app" in page
    assert "Create and manage issues" not in page
    assert label_for(page, "account_id") == "Sign in as"
    assert '<select id="account_id" name="account_id">' in page
    assert f'value="{DEMO_ADMIN}"' in page
    assert f'value="{DEMO_READ_ONLY}"' in page
    assert label_for(page, "cloud_id") == "Use app on"
    assert '<select id="cloud_id" name="cloud_id">' in page
    assert f'value="{DEMO_CLOUD_ID}"' in page
    assert 'method="post" action="/authorize"' in page
    assert (
        '<button type="submit" name="decision" value="accept">Accept</button>' in page
    )
    assert '<button type="submit" name="decision" value="deny">Deny</button>' in page
    for name, value in parameters.items():
        assert f'<input type="hidden" name="{name}" value="{value}">' in page


def test_unknown_client_gets_error_page_without_redirect(jira_sandbox, sandbox_control):
    # given
    client = register_client(sandbox_control)
    parameters = authorize_parameters(client, ["read:jira-work"])
    parameters["client_id"] = "no-such-client"

    # when
    response = get_authorize(jira_sandbox.base_url, parameters)

    # then
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "no-such-client" in response.text


def test_unregistered_redirect_uri_gets_error_page(jira_sandbox, sandbox_control):
    # given
    client = register_client(sandbox_control)
    parameters = authorize_parameters(client, ["read:jira-work"])
    parameters["redirect_uri"] = REDIRECT_URI + "/other"

    # when
    response = get_authorize(jira_sandbox.base_url, parameters)

    # then
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "does not match any callback URL" in response.text


def test_invalid_parameters_redirect_with_oauth_errors(jira_sandbox, sandbox_control):
    # given
    client = register_client(sandbox_control)
    cases = [
        ({"audience": "example.com"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "read:jira-work read:everything"}, "invalid_scope"),
        ({"scope": ""}, "invalid_scope"),
    ]

    for override, expected_error in cases:
        parameters = authorize_parameters(client, ["read:jira-work"], state="s-1")
        parameters.update(override)

        # when
        response = get_authorize(jira_sandbox.base_url, parameters)

        # then
        query = redirect_query(response)
        assert response.status_code == 302, override
        assert response.headers["Location"].startswith(REDIRECT_URI + "?"), override
        assert query["error"] == expected_error, override
        assert query["error_description"], override
        assert query["state"] == "s-1", override


def test_deny_redirects_with_access_denied(jira_sandbox, sandbox_control):
    # given
    client = register_client(sandbox_control)
    parameters = authorize_parameters(client, ["read:jira-work"], state="deny-state")

    # when
    response = submit_consent(jira_sandbox.base_url, parameters, decision="deny")

    # then
    query = redirect_query(response)
    assert response.status_code == 302
    assert query["error"] == "access_denied"
    assert query["error_description"] == "User did not authorize the request"
    assert query["state"] == "deny-state"
    assert "code" not in query
    assert (
        "error_description=User+did+not+authorize+the+request"
        in (response.headers["Location"])
    )


def test_accept_redirects_with_code_and_state(jira_sandbox, sandbox_control):
    # given
    client = register_client(sandbox_control)
    parameters = authorize_parameters(client, ["read:jira-work"], state="accept-state")

    # when
    response = submit_consent(jira_sandbox.base_url, parameters)

    # then
    query = redirect_query(response)
    assert response.status_code == 302
    assert response.headers["Location"].startswith(REDIRECT_URI + "?")
    assert len(query["code"]) >= 43
    assert query["state"] == "accept-state"
    assert "error" not in query


def test_accept_for_site_user_cannot_use_is_rejected(jira_sandbox, sandbox_control):
    # given
    client = register_client(sandbox_control)
    other_site = sandbox_control.add_site("Other Jira", "https://other.atlassian.net")
    parameters = authorize_parameters(client, ["read:jira-work"])

    # when
    response = requests.post(
        f"{jira_sandbox.base_url}/authorize",
        data={
            **parameters,
            "decision": "accept",
            "account_id": DEMO_READ_ONLY,
            "cloud_id": other_site["cloud_id"],
        },
        allow_redirects=False,
        timeout=TIMEOUT_SECONDS,
    )

    # then
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "cannot use the app on that site" in response.text


def test_consent_post_revalidates_redirect_uri(jira_sandbox, sandbox_control):
    # given
    client = register_client(sandbox_control)
    parameters = authorize_parameters(client, ["read:jira-work"])
    parameters["redirect_uri"] = "http://127.0.0.1:9/attacker"

    # when
    response = submit_consent(jira_sandbox.base_url, parameters)

    # then
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_consent_page_lists_sites_of_chosen_user(jira_sandbox, sandbox_control):
    # given
    second_site = sandbox_control.add_site(
        "Chosen Jira", "https://chosen.atlassian.net"
    )
    user = sandbox_control.add_user(
        "Chooser", "chooser@demo.example", sites=[second_site["cloud_id"]]
    )
    client = register_client(sandbox_control)
    parameters = authorize_parameters(client, ["read:jira-work"])

    # when
    default_page = get_authorize(jira_sandbox.base_url, parameters).text
    chosen_page = get_authorize(
        jira_sandbox.base_url, {**parameters, "account_id": user["account_id"]}
    ).text

    # then
    assert f'<option value="{second_site["cloud_id"]}">' not in default_page
    assert f'<option value="{second_site["cloud_id"]}">' in chosen_page
    assert f'<option value="{DEMO_CLOUD_ID}">' not in chosen_page
