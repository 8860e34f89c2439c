"""Named starting states of the sandbox, selected with ``--seed``."""

from __future__ import annotations

from collections.abc import Callable

from sandbox.directory import save_project, save_site, save_user
from sandbox.state import DATA_CENTER, PROJECT_PERMISSIONS, SandboxState

DEMO_CLOUD_ID = "3f7a2c1e-5b8d-4e6f-9a0b-1c2d3e4f5a6b"
DEMO_SITE_NAME = "Demo Jira"
DEMO_SITE_URL = "https://demo.atlassian.net"
DEMO_ADMIN_ACCOUNT_ID = "5b10ac8d82e05b22cc7d4ef5"
DEMO_READ_ONLY_ACCOUNT_ID = "5b10a2844c20165700ede21g"
DEMO_PROJECT_KEY = "DEMO"
DEMO_DC_INSTANCE = "demo"
DEMO_ADMIN_USERNAME = "admin"
DEMO_READ_ONLY_USERNAME = "reader"


def seed_demo(state: SandboxState) -> None:
    """Add a Cloud site and a Data Center instance, each with a DEMO project.

    The admin and the read-only user can use both; on Data Center their
    usernames are admin and reader. The instance's portal URL is /dc/demo.
    """
    site, _ = save_site(
        state, name=DEMO_SITE_NAME, url=DEMO_SITE_URL, cloud_id=DEMO_CLOUD_ID
    )
    # The portal URL depends on the host the sandbox serves; the control API
    # reports the absolute one.
    instance, _ = save_site(
        state,
        name="Demo Jira Data Center",
        url=f"/dc/{DEMO_DC_INSTANCE}",
        cloud_id=DEMO_DC_INSTANCE,
        flavour=DATA_CENTER,
    )
    save_user(
        state,
        display_name="Demo Admin",
        email="admin@demo.example",
        sites=[site.cloud_id, instance.cloud_id],
        global_permissions=["ADMINISTER"],
        account_id=DEMO_ADMIN_ACCOUNT_ID,
        username=DEMO_ADMIN_USERNAME,
    )
    save_user(
        state,
        display_name="Read Only",
        email="readonly@demo.example",
        sites=[site.cloud_id, instance.cloud_id],
        global_permissions=[],
        account_id=DEMO_READ_ONLY_ACCOUNT_ID,
        username=DEMO_READ_ONLY_USERNAME,
    )
    for project_site in (site, instance):
        save_project(
            project_site,
            key=DEMO_PROJECT_KEY,
            name="Demo Project",
            permissions={
                DEMO_ADMIN_ACCOUNT_ID: list(PROJECT_PERMISSIONS),
                DEMO_READ_ONLY_ACCOUNT_ID: ["BROWSE_PROJECTS"],
            },
            lead_account_id=DEMO_ADMIN_ACCOUNT_ID,
        )


def seed_none(state: SandboxState) -> None:
    """Leave the state empty."""


SEEDS: dict[str, Callable[[SandboxState], None]] = {
    "demo": seed_demo,
    "none": seed_none,
}
