"""The interactive API page renders under the site's content security policy."""

import pytest
from playwright.sync_api import Page, expect


@pytest.mark.django_db(transaction=True)
def test_api_docs_page_renders_operations(page: Page, live_server):
    violations: list[str] = []
    page.on(
        "console",
        lambda message: violations.append(message.text)
        if "Content Security Policy" in message.text
        else None,
    )

    page.goto(f"{live_server.url}/api/v1/docs/")

    expect(page.get_by_text("Manage Center API").first).to_be_visible()
    expect(page.get_by_text("Create Issue").first).to_be_visible()
    assert violations == []
