"""Statuses and the workflow that every sandbox project uses.

Transition names differ from the names of the statuses they lead to, as in
Jira's own simplified workflows: "Start Progress" leads to In Progress and
"Resolve" to Done, so clients must map a wanted status to a transition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STATUS_TO_DO_ID = "10000"
STATUS_IN_PROGRESS_ID = "3"
STATUS_DONE_ID = "10001"

STATUSES: dict[str, dict[str, Any]] = {
    STATUS_TO_DO_ID: {
        "id": STATUS_TO_DO_ID,
        "name": "To Do",
        "category": {"id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"},
    },
    STATUS_IN_PROGRESS_ID: {
        "id": STATUS_IN_PROGRESS_ID,
        "name": "In Progress",
        "category": {
            "id": 4,
            "key": "indeterminate",
            "colorName": "yellow",
            "name": "In Progress",
        },
    },
    STATUS_DONE_ID: {
        "id": STATUS_DONE_ID,
        "name": "Done",
        "category": {"id": 3, "key": "done", "colorName": "green", "name": "Done"},
    },
}


@dataclass(frozen=True)
class Transition:
    """Workflow transition from any of `from_status_ids` to `to_status_id`."""

    id: str
    name: str
    from_status_ids: tuple[str, ...]
    to_status_id: str


@dataclass(frozen=True)
class Workflow:
    """Named set of transitions between the sandbox's statuses."""

    name: str
    initial_status_id: str
    transitions: tuple[Transition, ...]

    def available_from(self, status_id: str) -> list[Transition]:
        """Return the transitions that start at the status, in workflow order."""
        return [t for t in self.transitions if status_id in t.from_status_ids]


SIMPLIFIED_WORKFLOW = Workflow(
    name="Software Simplified Workflow",
    initial_status_id=STATUS_TO_DO_ID,
    transitions=(
        Transition("11", "Start Progress", (STATUS_TO_DO_ID,), STATUS_IN_PROGRESS_ID),
        Transition("21", "Stop Progress", (STATUS_IN_PROGRESS_ID,), STATUS_TO_DO_ID),
        Transition(
            "31", "Resolve", (STATUS_TO_DO_ID, STATUS_IN_PROGRESS_ID), STATUS_DONE_ID
        ),
        Transition("41", "Reopen", (STATUS_DONE_ID,), STATUS_TO_DO_ID),
    ),
)
