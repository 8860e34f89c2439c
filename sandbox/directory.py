"""Creation and update of clients, sites, users and projects in a SandboxState.

The seeds and the control API both go through these functions. Callers validate
input first and hold the store lock.
"""

from __future__ import annotations

import secrets
import uuid

from sandbox.state import (
    CLOUD,
    DEFAULT_ATTACHMENT_MAX_BYTES,
    Client,
    IssueType,
    Project,
    SandboxState,
    Site,
    User,
)

DEFAULT_SITE_AVATAR_URL = (
    "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/site.png"
)


def default_issue_types() -> list[IssueType]:
    """Return the issue types every sandbox site offers."""
    return [
        IssueType(id="10001", name="Task", subtask=False),
        IssueType(id="10002", name="Bug", subtask=False),
        IssueType(id="10003", name="Story", subtask=False),
        IssueType(id="10004", name="Sub-task", subtask=True),
    ]


def save_client(
    state: SandboxState,
    name: str,
    redirect_uris: list[str],
    client_id: str | None = None,
    client_secret: str | None = None,
    instance: str | None = None,
) -> tuple[Client, bool]:
    """Create or update (by client id) a client; return it and whether it is new.

    A client with an instance is an incoming application link of that Data
    Center instance; one without is an app of Atlassian's developer console.
    """
    existing = state.clients.get(client_id) if client_id else None
    if existing is not None:
        existing.name = name
        existing.redirect_uris = list(redirect_uris)
        existing.instance = instance
        if client_secret:
            existing.client_secret = client_secret
        return existing, False

    client = Client(
        client_id=client_id or secrets.token_hex(16),
        client_secret=client_secret or secrets.token_urlsafe(48),
        name=name,
        redirect_uris=list(redirect_uris),
        instance=instance,
    )
    state.clients[client.client_id] = client
    return client, True


def save_site(
    state: SandboxState,
    name: str,
    url: str,
    cloud_id: str | None = None,
    avatar_url: str | None = None,
    flavour: str = CLOUD,
    attachment_max_bytes: int | None = None,
) -> tuple[Site, bool]:
    """Create or update (by cloud id) a site; return it and whether it is new.

    A Data Center instance is a site of flavour DATA_CENTER whose cloud id is
    the instance name in its portal URL.
    """
    existing = state.sites.get(cloud_id) if cloud_id else None
    if existing is not None:
        existing.name = name
        existing.url = url
        if avatar_url:
            existing.avatar_url = avatar_url
        if attachment_max_bytes is not None:
            existing.attachment_max_bytes = attachment_max_bytes
        return existing, False

    site = Site(
        cloud_id=cloud_id or str(uuid.uuid4()),
        name=name,
        url=url,
        avatar_url=avatar_url or DEFAULT_SITE_AVATAR_URL,
        issue_types=default_issue_types(),
        flavour=flavour,
        attachment_max_bytes=attachment_max_bytes or DEFAULT_ATTACHMENT_MAX_BYTES,
    )
    state.sites[site.cloud_id] = site
    return site, True


def save_user(
    state: SandboxState,
    display_name: str,
    email: str,
    sites: list[str],
    global_permissions: list[str],
    account_id: str | None = None,
    username: str | None = None,
) -> tuple[User, bool]:
    """Create or update (by account id) a user; return it and whether it is new."""
    existing = state.users.get(account_id) if account_id else None
    if existing is not None:
        existing.display_name = display_name
        existing.email = email
        existing.sites = list(dict.fromkeys(sites))
        existing.global_permissions = set(global_permissions)
        existing.username = username or existing.username
        return existing, False

    user = User(
        # Atlassian account ids of this era are 24 hexadecimal characters.
        account_id=account_id or secrets.token_hex(12),
        display_name=display_name,
        email=email,
        sites=list(dict.fromkeys(sites)),
        global_permissions=set(global_permissions),
        username=username,
    )
    state.users[user.account_id] = user
    return user, True


def save_project(
    site: Site,
    key: str,
    name: str,
    permissions: dict[str, list[str]],
    lead_account_id: str | None = None,
    assignee_type: str = "UNASSIGNED",
) -> tuple[Project, bool]:
    """Create a project on the site, or update the one with this key."""
    permission_sets = {
        account_id: set(granted) for account_id, granted in permissions.items()
    }
    existing = site.projects.get(key)
    if existing is not None:
        existing.name = name
        existing.permissions = permission_sets
        existing.lead_account_id = lead_account_id or existing.lead_account_id
        existing.assignee_type = assignee_type
        return existing, False

    project = Project(
        id=str(site.next_project_id),
        key=key,
        name=name,
        permissions=permission_sets,
        lead_account_id=lead_account_id,
        assignee_type=assignee_type,
    )
    site.next_project_id += 1
    site.projects[key] = project
    return project, True
