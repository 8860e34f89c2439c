"""Read HTML forms the way a browser submits them, for tests over real HTTP."""

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class HtmlForm:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: list[tuple[str, str]] = field(default_factory=list)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[HtmlForm] = []
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(
                HtmlForm(attributes.get("action", ""), attributes.get("method", "get").lower())
            )
        elif not self.forms:
            return
        elif tag == "input" and attributes.get("name"):
            kind = attributes.get("type", "text")
            if kind == "submit":
                self.forms[-1].buttons.append((attributes["name"], attributes.get("value", "")))
            elif kind not in {"checkbox", "radio"} or "checked" in attributes:
                self.forms[-1].fields[attributes["name"]] = attributes.get("value", "")
        elif tag == "button" and attributes.get("name"):
            self.forms[-1].buttons.append((attributes["name"], attributes.get("value", "")))
        elif tag == "select":
            self._select = attributes.get("name")
        elif tag == "option" and self._select:
            # The first option stands until a selected one appears.
            current = self.forms[-1].fields
            if self._select not in current or "selected" in attributes:
                current[self._select] = attributes.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def parse_forms(html: str) -> list[HtmlForm]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms
