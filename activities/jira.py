"""The Jira REST API client: one function per activity, no database access.

Jira Cloud is reached through Atlassian's API gateway,
{ATLASSIAN_API_URL}/ex/jira/{cloud_id}/rest/api/3/, and Jira Data Center at
{portal}/rest/api/2/, both with the OAuth access token as Bearer.
"""

import json
import logging
import random
import time
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import quote, urlencode

from django.conf import settings
from requests_toolbelt.multipart.encoder import MultipartEncoder
import urllib3
from urllib3 import BaseHTTPResponse, Timeout

from activities.adf import text_to_adf
from config.outbound import RefusedConnection, http_pool

logger = logging.getLogger(__name__)


class JiraError(Exception):
    """Jira returned an error status; its own messages are kept for the caller."""

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
        # What the caller of this API should change, in this API's own terms.
        self.hint = ""
        summary = " ".join(
            _as_sentence(text) for text in self.error_messages + list(self.errors.values())
        ) or message
        super().__init__(f"Jira returned HTTP {status}: {summary}")


def _as_sentence(text: str) -> str:
    # Jira ends some messages with a full stop and others without, so each gets one.
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


class JiraUnavailableError(Exception):
    """Jira could not be reached or did not respond in time."""


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


def _raise_for_error(response: BaseHTTPResponse) -> None:
    if response.status < 300:
        return
    if response.status < 400:
        # A redirect on a REST call means a wrong portal URL; following it would turn
        # a POST into a GET or send the token to another address.
        raise JiraError(
            response.status,
            message=f"Jira returned a redirect (HTTP {response.status}); check "
            "that the portal URL is the site's own https address.",
        )
    try:
        body = json.loads(response.data)
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    raise JiraError(
        response.status,
        error_messages=[str(m) for m in body.get("errorMessages", [])],
        errors={str(k): str(v) for k, v in (body.get("errors") or {}).items()},
        message=str(body.get("message", "")),
        retry_after=response.headers.get("Retry-After"),
    )


# Cloud accepts at most 60 files in one attachment request.
MAX_FILES_PER_UPLOAD = 60

# Reads and idempotent writes may be sent again after a 429 or 503; a POST may not,
# because Jira has no idempotency key and a repeat could create a duplicate.
_REPEATABLE_METHODS = frozenset({"GET", "PUT", "DELETE"})
_MAX_ATTEMPTS = 3


def _retry_delay(response: BaseHTTPResponse, attempt: int) -> float | None:
    """Return seconds to wait before repeating a throttled request, or None to stop.

    Retry-After is the minimum wait; exponential backoff with jitter is added on
    top. A wait longer than JIRA_MAX_RETRY_WAIT is left to the caller.
    """
    if response.status not in (429, 503) or attempt >= _MAX_ATTEMPTS:
        return None
    header = response.headers.get("Retry-After", "")
    try:
        minimum = float(header) if header else 1.0
    except ValueError:
        minimum = 1.0
    delay = minimum + random.uniform(0, 0.25 * 2**attempt)
    return delay if delay <= settings.JIRA_MAX_RETRY_WAIT else None


def _request(
    site: JiraSite,
    method: str,
    path: str,
    *,
    json: Any = None,
    params: dict[str, str] | None = None,
    multipart: MultipartEncoder | None = None,
) -> BaseHTTPResponse:
    url = f"{site.api_base}/{path}"
    if params:
        url = f"{url}?{urlencode(params)}"
    headers = {
        "Authorization": f"Bearer {site.access_token}",
        "Accept": "application/json",
    }
    body: bytes | MultipartEncoder | None = None
    if json is not None:
        body = _json_bytes(json)
        headers["Content-Type"] = "application/json"
    if multipart is not None:
        body = multipart
        headers["Content-Type"] = multipart.content_type
        headers["Content-Length"] = str(multipart.len)
        # Jira's XSRF protection rejects multipart requests without this header.
        headers["X-Atlassian-Token"] = "no-check"
    repeatable = method in _REPEATABLE_METHODS and multipart is None
    seconds = settings.JIRA_HTTP_TIMEOUT
    timeout = Timeout(connect=seconds, read=seconds)

    for attempt in range(1, _MAX_ATTEMPTS + 1):
        try:
            response = http_pool().request(
                method, url, body=body, headers=headers, timeout=timeout, redirect=False
            )
        except RefusedConnection as exc:
            raise JiraUnavailableError(f"Refused to connect: {exc.reason}") from None
        except urllib3.exceptions.NewConnectionError as exc:
            # Checked before timeouts, which urllib3 makes its base class.
            raise JiraUnavailableError(
                f"Jira could not be reached: {type(exc).__name__}."
            ) from None
        except urllib3.exceptions.ConnectTimeoutError:
            # The connection never opened, so none of the request was sent.
            if repeatable and attempt < _MAX_ATTEMPTS:
                continue
            raise JiraUnavailableError(
                f"Jira did not accept a connection within {settings.JIRA_HTTP_TIMEOUT} "
                "seconds, so the request was not sent; try again later."
            ) from None
        except urllib3.exceptions.TimeoutError:
            if repeatable and attempt < _MAX_ATTEMPTS:
                continue
            raise JiraUnavailableError(
                f"Jira did not respond within {settings.JIRA_HTTP_TIMEOUT} seconds."
                + ("" if repeatable else " The request may have been applied; check "
                   "Jira before sending it again.")
            ) from None
        except urllib3.exceptions.ProtocolError:
            # Jira may close a kept-alive connection just as the pool reuses it.
            if repeatable and attempt < _MAX_ATTEMPTS:
                continue
            raise JiraUnavailableError(
                "Jira closed the connection without sending a response."
                + ("" if repeatable else " The request may have been applied; check "
                   "Jira before sending it again.")
            ) from None
        except urllib3.exceptions.HTTPError as exc:
            raise JiraUnavailableError(
                f"Jira could not be reached: {type(exc).__name__}."
            ) from None

        delay = _retry_delay(response, attempt) if repeatable else None
        if delay is None:
            break
        logger.info(
            "Jira returned %s for %s %s; retrying in %.1f s",
            response.status, method, path, delay,
        )
        time.sleep(delay)

    _raise_for_error(response)
    return response


def _json_bytes(value: Any) -> bytes:
    # NaN and Infinity are not JSON, and Jira rejects them.
    return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()


def _issue_path(issue_id_or_key: str, *rest: str) -> str:
    return "/".join(["issue", quote(issue_id_or_key, safe=""), *rest])


def rich_text(site: JiraSite, value: str | dict[str, Any]) -> str | dict[str, Any]:
    """Return rich text in the site's format: ADF for Cloud, plain text for DC."""
    if site.is_cloud:
        return value if isinstance(value, dict) else text_to_adf(value)
    if isinstance(value, dict):
        raise ValueError("Jira Data Center takes rich text as a string, not ADF.")
    return value


def user_reference(site: JiraSite, user: str | None) -> dict[str, str | None]:
    """Return Jira's reference to a user: accountId on Cloud, name on DC."""
    return {"accountId" if site.is_cloud else "name": user}


def add_assignee(site: JiraSite, issue_id_or_key: str, *, user: str | None) -> None:
    """Assign the issue; user "-1" picks the project default, None unassigns."""
    _request(
        site, "PUT", _issue_path(issue_id_or_key, "assignee"),
        json=user_reference(site, user),
    )


def add_attachments(
    site: JiraSite, issue_id_or_key: str, *, files: list[tuple[str, IO[bytes], str]]
) -> list[dict[str, Any]]:
    """Attach files (name, stream, MIME type) and return Jira's attachment list.

    The body is streamed from the files, so large uploads are not held in memory.
    """
    encoder = MultipartEncoder(
        fields=[("file", (name, stream, mime)) for name, stream, mime in files]
    )
    return _request(
        site, "POST", _issue_path(issue_id_or_key, "attachments"), multipart=encoder
    ).json()


def add_comment(
    site: JiraSite,
    issue_id_or_key: str,
    *,
    body: str | dict[str, Any],
    visibility: dict[str, str] | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {"body": rich_text(site, body)}
    if visibility:
        payload["visibility"] = visibility
    return _request(
        site, "POST", _issue_path(issue_id_or_key, "comment"), json=payload
    ).json()


def create_issue(site: JiraSite, *, fields: dict[str, Any]) -> dict[str, Any]:
    """Create an issue and return Jira's {id, key, self}."""
    return _request(site, "POST", "issue", json={"fields": fields}).json()


def create_project(site: JiraSite, *, details: dict[str, Any]) -> dict[str, Any]:
    """Create a project and return Jira's {id, key, self}."""
    return _request(site, "POST", "project", json=details).json()


def delete_issue(site: JiraSite, issue_id_or_key: str, *, delete_subtasks: bool) -> None:
    _request(
        site, "DELETE", _issue_path(issue_id_or_key),
        params={"deleteSubtasks": "true" if delete_subtasks else "false"},
    )


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


def update_issue(
    site: JiraSite,
    issue_id_or_key: str,
    *,
    fields: dict[str, Any],
    update: dict[str, Any] | None = None,
    notify_users: bool = True,
) -> None:
    payload: dict[str, Any] = {"fields": fields}
    if update:
        payload["update"] = update
    params = {} if notify_users else {"notifyUsers": "false"}
    _request(site, "PUT", _issue_path(issue_id_or_key), json=payload, params=params)


def get_transitions(site: JiraSite, issue_id_or_key: str) -> list[dict[str, Any]]:
    """Return the transitions the token's user may perform on the issue now."""
    body = _request(site, "GET", _issue_path(issue_id_or_key, "transitions")).json()
    return list(body.get("transitions", []))


def transition_issue(
    site: JiraSite,
    issue_id_or_key: str,
    *,
    transition_id: str,
    fields: dict[str, Any] | None = None,
    comment: str | dict[str, Any] | None = None,
) -> None:
    payload: dict[str, Any] = {"transition": {"id": transition_id}}
    if fields:
        payload["fields"] = fields
    if comment:
        payload["update"] = {"comment": [{"add": {"body": rich_text(site, comment)}}]}
    _request(site, "POST", _issue_path(issue_id_or_key, "transitions"), json=payload)


def my_permissions(
    site: JiraSite, *, permissions: list[str], project_key: str | None = None
) -> dict[str, bool]:
    """Return which of `permissions` the token's user holds, in a project if given.

    Cloud needs the permission list in the request; Data Center returns every
    permission and ignores it.
    """
    params = {"permissions": ",".join(permissions)}
    if project_key:
        params["projectKey"] = project_key
    body = _request(site, "GET", "mypermissions", params=params).json()
    granted = body.get("permissions", {})
    return {
        key: bool(granted.get(key, {}).get("havePermission", False))
        for key in permissions
    }
