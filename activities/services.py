"""Activities that take more than one Jira call."""

from typing import Any

from activities import jira
from tokens.models import AccessToken, Flavour


def jira_site_for(token: AccessToken) -> jira.JiraSite:
    """Return the Jira API root and bearer of a token that is ready for use."""
    return jira.JiraSite(
        api_base=token.jira_api_base(),
        access_token=token.get_secret("access_token"),
        is_cloud=token.flavour == Flavour.CLOUD,
    )


class NoMatchingTransitionError(Exception):
    def __init__(self, wanted: str, transitions: list[dict[str, Any]]) -> None:
        self.transitions = [
            {"id": t.get("id"), "name": t.get("name"), "to": (t.get("to") or {}).get("name")}
            for t in transitions
        ]
        listed = ", ".join(
            f"{t['id']} {t['name']!r} (to {t['to']!r})" for t in self.transitions
        ) or "none: the token's user may lack the Transition Issues permission"
        super().__init__(f"No transition matches {wanted}. Valid transitions: {listed}.")


def issue_transition(
    site: jira.JiraSite,
    issue_key: str,
    *,
    transition_id: str | None = None,
    transition_name: str | None = None,
    status_name: str | None = None,
    fields: dict[str, Any] | None = None,
    comment: str | dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Move an issue through its workflow and return the transition performed.

    The transition is picked by id, by transition name, or by the name of the
    status it leads to; Jira names transitions and statuses separately, so
    "Done" may be a status reached by a transition called "Resolve". Names match
    case-insensitively.
    """
    transitions = jira.get_transitions(site, issue_key)
    if transition_id is not None:
        wanted = f"transition id {transition_id}"
        matches = [t for t in transitions if str(t.get("id")) == transition_id]
    elif transition_name is not None:
        wanted = f"transition name {transition_name!r}"
        matches = [t for t in transitions if _same(t.get("name"), transition_name)]
    else:
        wanted = f"status {status_name!r}"
        matches = [t for t in transitions if _same((t.get("to") or {}).get("name"), status_name)]
    if not matches:
        raise NoMatchingTransitionError(wanted, transitions)

    chosen = matches[0]
    jira.transition_issue(
        site, issue_key, transition_id=str(chosen["id"]), fields=fields, comment=comment
    )
    return {
        "transition": {"id": str(chosen["id"]), "name": chosen.get("name")},
        "status": chosen.get("to"),
    }


def _same(left: object, right: str | None) -> bool:
    return isinstance(left, str) and right is not None and left.casefold() == right.casefold()
