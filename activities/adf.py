"""Atlassian Document Format (ADF), the rich-text JSON of Jira Cloud REST v3."""

from typing import Any

ADFDocument = dict[str, Any]


def text_to_adf(text: str) -> ADFDocument:
    """Convert plain text to an ADF document.

    Blank lines separate paragraphs; single line breaks become hard breaks.
    """
    paragraphs = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        content: list[dict[str, Any]] = []
        for index, line in enumerate(block.split("\n")):
            if index:
                content.append({"type": "hardBreak"})
            if line:
                content.append({"type": "text", "text": line})
        paragraphs.append({"type": "paragraph", "content": content})
    return {"type": "doc", "version": 1, "content": paragraphs}


def is_adf_document(value: object) -> bool:
    return (
        isinstance(value, dict)
        and value.get("type") == "doc"
        and value.get("version") == 1
        and isinstance(value.get("content"), list)
    )
