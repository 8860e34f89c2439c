"""The Jira REST API client: one function per activity, no database access.

Jira Cloud is reached through Atlassian's API gateway,
{ATLASSIAN_API_URL}/ex/jira/{cloud_id}/rest/api/3/, and Jira Data Center at
{portal}/rest/api/2/, both with the OAuth access token as Bearer.
"""

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests
from django.conf import settings

from config.outbound import http_session


class JiraError(Exception):
    """Jira answered with an error; its own messages are kept for the caller."""

    def __init__(
        self,
        status: int,
        *,
        error_messages: list[str] | None = None,
        errors: dict[str, str] | None = None,
        message: str = "",
        retry_after: str | None = None,
    ) -> None:
        self.status = status
        self.error_messages = error_messages or []
        self.errors = errors or {}
        self.message = message
        self.retry_after = retry_after
        summary = "; ".join(self.error_messages + list(self.errors.values())) or message
        super().__init__(f"Jira answered HTTP {status}: {summary}")


class JiraUnavailableError(Exception):
    """Jira could not be reached or did not answer in time."""


@dataclass(frozen=True)
class JiraSite:
    """A Jira REST API root and the bearer token to call it with.

    Cloud roots end in /rest/api/3 (via the gateway), Data Center roots in
    /rest/api/2 (on the portal).
    """

    api_base: str
    access_token: str
    is_cloud: bool = True

    def __repr__(self) -> str:
        return f"JiraSite(api_base={self.api_base!r})"


def _raise_for_error(response: requests.Response) -> None:
    if response.status_code < 400:
        return
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    raise JiraError(
        response.status_code,
        error_messages=[str(m) for m in body.get("errorMessages", [])],
        errors={str(k): str(v) for k, v in (body.get("errors") or {}).items()},
        message=str(body.get("message", "")),
        retry_after=response.headers.get("Retry-After"),
    )


def _request(
    site: JiraSite,
    method: str,
    path: str,
    *,
    json: dict[str, Any] | None = None,
    params: dict[str, str] | None = None,
) -> requests.Response:
    try:
        response = http_session().request(
            method,
            f"{site.api_base}/{path}",
            json=json,
            params=params,
            headers={
                "Authorization": f"Bearer {site.access_token}",
                "Accept": "application/json",
            },
            timeout=settings.JIRA_HTTP_TIMEOUT,
        )
    except requests.Timeout:
        raise JiraUnavailableError(
            f"Jira did not answer within {settings.JIRA_HTTP_TIMEOUT} seconds."
        ) from None
    except requests.RequestException as exc:
        raise JiraUnavailableError(
            f"Jira could not be reached: {type(exc).__name__}."
        ) from None
    _raise_for_error(response)
    return response


def _issue_path(issue_id_or_key: str) -> str:
    return f"issue/{quote(issue_id_or_key, safe='')}"


def create_issue(site: JiraSite, *, fields: dict[str, Any]) -> dict[str, Any]:
    """Create an issue and return Jira's {id, key, self}."""
    return _request(site, "POST", "issue", json={"fields": fields}).json()


def get_issue(
    site: JiraSite,
    issue_id_or_key: str,
    *,
    fields: list[str] | None = None,
    expand: list[str] | None = None,
) -> dict[str, Any]:
    params = {}
    if fields:
        params["fields"] = ",".join(fields)
    if expand:
        params["expand"] = ",".join(expand)
    return _request(site, "GET", _issue_path(issue_id_or_key), params=params).json()
