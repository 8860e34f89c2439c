"""In-memory state of the Jira sandbox and the lock and clock that guard it."""

from __future__ import annotations

import collections
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox.jira_workflow import SIMPLIFIED_WORKFLOW, Workflow

# Lifetimes of Atlassian OAuth 2.0 (3LO) credentials, all in seconds.
AUTHORIZATION_CODE_LIFETIME = 5 * 60
ACCESS_TOKEN_LIFETIME = 3600
# A rotated refresh token, and the access token issued with it, keep working for
# this long after the rotation, so that clients racing on a refresh both succeed.
REFRESH_TOKEN_REUSE_INTERVAL = 10 * 60
REFRESH_TOKEN_INACTIVITY_LIFETIME = 90 * 24 * 3600
TOKEN_FAMILY_ABSOLUTE_LIFETIME = 365 * 24 * 3600

REQUEST_LOG_MAX_ENTRIES = 10_000

# Jira Data Center's OAuth 2.0 provider: authorization codes live 10 s by default
# (at most 600 s); the sandbox uses the maximum so that slow test machines pass.
DC_AUTHORIZATION_CODE_LIFETIME = 600
DC_ACCESS_TOKEN_LIFETIME = 3600
DC_REFRESH_TOKEN_LIFETIME = 90 * 24 * 3600
# Data Center scopes, each including the ones before it.
DC_SCOPES = ("READ", "WRITE", "ADMIN", "SYSTEM_ADMIN")
DC_SCOPE_DESCRIPTIONS: dict[str, str] = {
    "READ": "View projects and issues, and your own profile",
    "WRITE": "Create, update and delete projects and issues",
    "ADMIN": "Administer most of Jira",
    "SYSTEM_ADMIN": "Administer all of Jira",
}

CLOUD = "cloud"
DATA_CENTER = "data_center"
DEFAULT_ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024

# Classic Jira scopes that the authorization server accepts, in consent-page order,
# with the words that the consent page shows for each.
SCOPE_DESCRIPTIONS: dict[str, str] = {
    "read:jira-work": "View Jira issue data: projects, issues, comments and worklogs",
    "write:jira-work": "Create and manage issues, comments and worklogs",
    "read:jira-user": "View user profiles: names, avatars and email addresses",
    "manage:jira-configuration": "Manage Jira global settings",
    "offline_access": "Keep access to this data when you are not using the app",
}
KNOWN_SCOPES = frozenset(SCOPE_DESCRIPTIONS)

# Built-in Jira Cloud project permission keys.
PROJECT_PERMISSIONS = (
    "ADD_COMMENTS",
    "ADMINISTER_PROJECTS",
    "ASSIGNABLE_USER",
    "ASSIGN_ISSUES",
    "BROWSE_PROJECTS",
    "CLOSE_ISSUES",
    "CREATE_ATTACHMENTS",
    "CREATE_ISSUES",
    "DELETE_ALL_ATTACHMENTS",
    "DELETE_ALL_COMMENTS",
    "DELETE_ALL_WORKLOGS",
    "DELETE_ISSUES",
    "DELETE_OWN_ATTACHMENTS",
    "DELETE_OWN_COMMENTS",
    "DELETE_OWN_WORKLOGS",
    "EDIT_ALL_COMMENTS",
    "EDIT_ALL_WORKLOGS",
    "EDIT_ISSUES",
    "EDIT_OWN_COMMENTS",
    "EDIT_OWN_WORKLOGS",
    "LINK_ISSUES",
    "MANAGE_SPRINTS_PERMISSION",
    "MANAGE_WATCHERS",
    "MODIFY_REPORTER",
    "MOVE_ISSUES",
    "RESOLVE_ISSUES",
    "SCHEDULE_ISSUES",
    "SET_ISSUE_SECURITY",
    "TRANSITION_ISSUES",
    "VIEW_DEV_TOOLS",
    "VIEW_READONLY_WORKFLOW",
    "VIEW_VOTERS_AND_WATCHERS",
    "WORK_ON_ISSUES",
)
GLOBAL_PERMISSIONS = (
    "ADMINISTER",
    "BULK_CHANGE",
    "CREATE_SHARED_OBJECTS",
    "MANAGE_GROUP_FILTER_SUBSCRIPTIONS",
    "SYSTEM_ADMIN",
    "USER_PICKER",
)


@dataclass
class Client:
    """OAuth 2.0 client (an app registered in the developer console)."""

    client_id: str
    client_secret: str
    name: str
    redirect_uris: list[str]
    # The Data Center instance whose incoming application link this is; None for
    # an app of Atlassian's developer console (Jira Cloud).
    instance: str | None = None


@dataclass(frozen=True)
class IssueType:
    """Jira issue type, shared by every project of a site."""

    id: str
    name: str
    subtask: bool


@dataclass
class Project:
    """Jira project and the project permissions of each user on it."""

    id: str
    key: str
    name: str
    permissions: dict[str, set[str]]
    next_issue_number: int = 1
    lead_account_id: str | None = None
    project_type_key: str = "software"
    template_key: str | None = None
    description: str = ""
    # PROJECT_LEAD or UNASSIGNED: whom "-1" and new issues are assigned to.
    assignee_type: str = "UNASSIGNED"
    workflow: Workflow = SIMPLIFIED_WORKFLOW

    def user_has(self, account_id: str, permission: str) -> bool:
        """Return whether the user has the project permission."""
        return permission in self.permissions.get(account_id, set())


@dataclass
class Issue:
    """Stored issue: ids and raw field values as the create call set them."""

    id: str
    key: str
    project_id: str
    issuetype_id: str
    summary: str
    # An ADF document on Cloud, a wiki-markup string on Data Center.
    description: Any
    labels: list[str]
    priority_id: str
    reporter_account_id: str
    assignee_account_id: str | None
    duedate: str | None
    status_id: str
    parent_id: str | None
    created: float
    updated: float
    comments: list[Comment] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)

    def to_raw(self) -> dict[str, Any]:
        """Return the stored values as a JSON-ready dict."""
        return {
            "id": self.id,
            "key": self.key,
            "project_id": self.project_id,
            "issuetype_id": self.issuetype_id,
            "summary": self.summary,
            "description": self.description,
            "labels": list(self.labels),
            "priority_id": self.priority_id,
            "reporter_account_id": self.reporter_account_id,
            "assignee_account_id": self.assignee_account_id,
            "duedate": self.duedate,
            "status_id": self.status_id,
            "parent_id": self.parent_id,
            "created": format_jira_timestamp(self.created),
            "updated": format_jira_timestamp(self.updated),
            "comments": [
                {"id": c.id, "author": c.author_account_id, "body": c.body}
                for c in self.comments
            ],
            "attachments": [
                {
                    "id": a.id,
                    "filename": a.filename,
                    "size": a.size,
                    "mime_type": a.mime_type,
                    "sha256": a.sha256,
                }
                for a in self.attachments
            ],
        }


@dataclass
class Comment:
    """Comment on an issue; the body is ADF on Cloud and a string on Data Center."""

    id: str
    author_account_id: str
    body: Any
    created: float
    visibility: dict[str, str] | None = None


@dataclass
class Attachment:
    """File attached to an issue; its bytes live in the store's attachment folder."""

    id: str
    filename: str
    size: int
    mime_type: str
    sha256: str
    author_account_id: str
    created: float


@dataclass
class Site:
    """Jira Cloud site (one cloud id) with its projects and issues."""

    cloud_id: str
    name: str
    url: str
    avatar_url: str
    issue_types: list[IssueType]
    projects: dict[str, Project] = field(default_factory=dict)
    issues: dict[str, Issue] = field(default_factory=dict)
    next_project_id: int = 10000
    next_issue_id: int = 10000
    next_comment_id: int = 10000
    next_attachment_id: int = 10000
    # A Data Center instance is a site too, served under /dc/<cloud_id>.
    flavour: str = CLOUD
    attachment_max_bytes: int = DEFAULT_ATTACHMENT_MAX_BYTES

    @property
    def is_cloud(self) -> bool:
        """Whether this is a Jira Cloud site rather than a Data Center instance."""
        return self.flavour == CLOUD

    def find_project(self, id_or_key: str) -> Project | None:
        """Return the project with this id or key, or None."""
        project = self.projects.get(id_or_key.upper())
        if project is not None:
            return project
        for candidate in self.projects.values():
            if candidate.id == id_or_key:
                return candidate
        return None

    def find_issue(self, id_or_key: str) -> Issue | None:
        """Return the issue with this id or key (keys match case-insensitively)."""
        issue = self.issues.get(id_or_key)
        if issue is not None:
            return issue
        requested_key = id_or_key.upper()
        for candidate in self.issues.values():
            if candidate.key == requested_key:
                return candidate
        return None


@dataclass
class User:
    """Atlassian account and the sites it can use."""

    account_id: str
    display_name: str
    email: str
    sites: list[str]
    global_permissions: set[str]
    # Data Center identifies users by username; Cloud only by account id.
    username: str | None = None


@dataclass
class AuthorizationCode:
    """Authorization code issued on consent; single use."""

    client_id: str
    redirect_uri: str
    scopes: list[str]
    account_id: str
    cloud_id: str
    expires_at: float
    used: bool = False
    # Family of the tokens issued for this code, revoked if the code is replayed.
    family_id: str | None = None
    # PKCE (Data Center only): the challenge and its method, S256 or plain.
    code_challenge: str | None = None
    code_challenge_method: str | None = None


@dataclass
class TokenFamily:
    """Tokens that descend from one authorization code through refreshes."""

    family_id: str
    client_id: str
    account_id: str
    scopes: list[str]
    created_at: float
    revoked_at: float | None = None
    revoked_reason: str | None = None
    requests: collections.Counter[str] = field(default_factory=collections.Counter)
    # The Data Center instance that issued the family; None for Atlassian Cloud.
    instance: str | None = None

    @property
    def revoked(self) -> bool:
        """Whether the family was revoked."""
        return self.revoked_at is not None


@dataclass
class AccessToken:
    """Bearer token for the API gateway."""

    family_id: str
    expires_at: float
    # The refresh token issued in the same response, if any: rotating it ends
    # this access token's life after the reuse interval.
    refresh_token: str | None


@dataclass
class RefreshToken:
    """Rotating refresh token."""

    family_id: str
    issued_at: float
    rotated_at: float | None = None
    # The access token issued in the same response: Data Center ends it as soon
    # as this refresh token is used.
    access_token: str | None = None


@dataclass
class Fault:
    """Planned misbehaviour: answer the next `remaining` matching requests badly.

    kind is "status" (answer `status`, with Retry-After for 429 and 503), "slow"
    (wait `delay_seconds`, then answer normally) or "revoke" (revoke the token
    family of the request's bearer or refresh token, then answer normally).
    """

    id: str
    kind: str
    method: str | None
    path_prefix: str | None
    path_regex: str | None
    remaining: int
    status: int = 503
    retry_after: int | None = None
    delay_seconds: float = 0.0
    matched: int = 0


@dataclass
class SandboxState:
    """Everything the sandbox stores; replaced as a whole on reset."""

    seed: str
    clock_offset: float = 0.0
    clients: dict[str, Client] = field(default_factory=dict)
    sites: dict[str, Site] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    authorization_codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    families: dict[str, TokenFamily] = field(default_factory=dict)
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
    # Sites each user granted to each client, keyed by (client_id, account_id).
    # Later consents add sites, as Atlassian's accessible-resources shows them.
    grants: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    token_requests: dict[str, collections.Counter[str]] = field(default_factory=dict)
    # Method, path, status and sandbox time of each request. The control API
    # formats the entries only when the log is read, which keeps requests cheap.
    request_log: collections.deque[tuple[str, str, int, float]] = field(
        default_factory=lambda: collections.deque(maxlen=REQUEST_LOG_MAX_ENTRIES)
    )
    issued_since_sweep: int = 0
    faults: list[Fault] = field(default_factory=list)

    def now(self) -> float:
        """Return the sandbox time: real time plus the offset set by the control API."""
        return time.time() + self.clock_offset


class Store:
    """Holder of the current SandboxState and of the lock every request takes.

    Attached files are written to `attachment_dir`, a temporary folder that
    `close()` removes.
    """

    def __init__(self, seed: str) -> None:
        self.lock = threading.Lock()
        self.seed = seed
        self.state = build_state(seed)
        self.attachment_dir = Path(tempfile.mkdtemp(prefix="jira-sandbox-files-"))

    def reset(self) -> None:
        """Replace the state with a fresh copy of the seed (the caller has the lock)."""
        self.state = build_state(self.seed)
        for stored in self.attachment_dir.iterdir():
            stored.unlink(missing_ok=True)

    def close(self) -> None:
        """Delete the attachment folder and the files in it."""
        shutil.rmtree(self.attachment_dir, ignore_errors=True)


_store: Store | None = None
_store_guard = threading.Lock()


def configure_store(seed: str) -> Store:
    """Create the process-wide store with the given seed ("demo" or "none")."""
    global _store
    with _store_guard:
        if _store is not None:
            _store.close()
        _store = Store(seed)
        return _store


def get_store() -> Store:
    """Return the process-wide store, creating it with the demo seed if needed."""
    global _store
    # Only configure_store replaces a store once it exists, and reading the
    # global is atomic, so every request after start-up skips the lock.
    store = _store
    if store is not None:
        return store
    with _store_guard:
        if _store is None:
            _store = Store("demo")
        return _store


def build_state(seed: str) -> SandboxState:
    """Return a new state filled from the named seed."""
    from sandbox.seed import SEEDS

    state = SandboxState(seed=seed)
    SEEDS[seed](state)
    return state


def new_token() -> str:
    """Return an opaque credential carrying 48 random bytes."""
    return secrets.token_urlsafe(48)


def format_iso(timestamp: float) -> str:
    """Format a POSIX timestamp as ISO 8601 in UTC."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


def format_jira_timestamp(timestamp: float) -> str:
    """Format a POSIX timestamp as Jira does: 2026-12-04T16:28:39.000+0000."""
    # On CPython 3.11 isoformat takes about half the time of strftime, and Get
    # Issue formats every date it renders. Its first 23 characters end before
    # "+00:00".
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.isoformat(timespec="milliseconds")[:23] + "+0000"
