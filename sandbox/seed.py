"""Named starting states of the sandbox, selected with ``--seed``."""

from __future__ import annotations

from collections.abc import Callable

from sandbox.directory import save_project, save_site, save_user
from sandbox.state import PROJECT_PERMISSIONS, SandboxState

DEMO_CLOUD_ID = "3f7a2c1e-5b8d-4e6f-9a0b-1c2d3e4f5a6b"
DEMO_SITE_NAME = "Demo Jira"
DEMO_SITE_URL = "https://demo.atlassian.net"
DEMO_ADMIN_ACCOUNT_ID = "5b10ac8d82e05b22cc7d4ef5"
DEMO_READ_ONLY_ACCOUNT_ID = "5b10a2844c20165700ede21g"
DEMO_PROJECT_KEY = "DEMO"


def seed_demo(state: SandboxState) -> None:
    """Add one site, an admin and a read-only user, and the DEMO project."""
    site, _ = save_site(
        state, name=DEMO_SITE_NAME, url=DEMO_SITE_URL, cloud_id=DEMO_CLOUD_ID
    )
    save_user(
        state,
        display_name="Demo Admin",
        email="admin@demo.example",
        sites=[site.cloud_id],
        global_permissions=["ADMINISTER"],
        account_id=DEMO_ADMIN_ACCOUNT_ID,
    )
    save_user(
        state,
        display_name="Read Only",
        email="readonly@demo.example",
        sites=[site.cloud_id],
        global_permissions=[],
        account_id=DEMO_READ_ONLY_ACCOUNT_ID,
    )
    save_project(
        site,
        key=DEMO_PROJECT_KEY,
        name="Demo Project",
        permissions={
            DEMO_ADMIN_ACCOUNT_ID: list(PROJECT_PERMISSIONS),
            DEMO_READ_ONLY_ACCOUNT_ID: ["BROWSE_PROJECTS"],
        },
    )


def seed_none(state: SandboxState) -> None:
    """Leave the state empty."""


SEEDS: dict[str, Callable[[SandboxState], None]] = {
    "demo": seed_demo,
    "none": seed_none,
}
