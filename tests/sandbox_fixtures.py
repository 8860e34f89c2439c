"""Pytest plugin providing a running Jira sandbox to the whole test session.

Load it with ``pytest_plugins = ["tests.sandbox_fixtures"]`` in the top-level
conftest, or ``-p tests.sandbox_fixtures`` on the command line.

The sandbox is shared by every test of the session, and its clock only moves
forward. Tests therefore register their own client ids and obtain fresh tokens
instead of relying on state left by other tests.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.testing import SandboxControl, SandboxProcess


@pytest.fixture(scope="session")
def jira_sandbox() -> Iterator[SandboxProcess]:
    """Start ``python -m sandbox --port 0 --seed demo`` once, stop it at the end."""
    process = SandboxProcess(seed="demo").start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def sandbox_control(jira_sandbox: SandboxProcess) -> SandboxControl:
    """Return a control API client bound to the session's sandbox."""
    return SandboxControl(jira_sandbox.base_url)
