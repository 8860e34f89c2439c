"""Steps and checks that browser tests share: signing in and accessibility basics."""

import re

from playwright.sync_api import Page, expect

from tests import factories

# Every element a keyboard user should be able to reach with Tab.
_FOCUSABLE = (
    "a[href], button, input:not([type=hidden]), select, textarea, "
    "[tabindex]:not([tabindex='-1'])"
)

_NUMBER_FOCUSABLE = """selector => {
  const visible = e => e.offsetParent !== null && !e.disabled && !e.closest('[hidden]');
  const elements = [...document.querySelectorAll(selector)].filter(visible);
  elements.forEach((e, i) => { e.dataset.tabCheck = String(i); });
  return elements.map((e, i) => ({
    index: i,
    radio: e.type === 'radio' ? e.name : null,
    name: (e.id || e.name || e.textContent || e.outerHTML).trim().slice(0, 60),
  }));
}"""

_UNLABELLED_FIELDS = """() => [...document.querySelectorAll(
    'input:not([type=hidden]), select, textarea')]
  .filter(e => e.offsetParent !== null)
  .filter(e => !(e.labels && e.labels.length)
               && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
  .map(e => e.name || e.id || e.outerHTML.slice(0, 60))"""


def log_in(page: Page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label(re.compile("Email", re.I)).fill(email)
    page.get_by_label(re.compile("Password", re.I)).fill(factories.PASSWORD)
    page.get_by_role("button", name=re.compile("Sign In", re.I)).click()
    expect(
        page.get_by_role("heading", name="Access tokens for Jira Software")
    ).to_be_visible()


def assert_accessible(page: Page) -> None:
    """Assert that every visible field is labelled and every control is reachable by Tab.

    Tabbing starts at the skip link, the page's first focusable element, and
    stops after one pass. A group of radio buttons counts as reached when one of
    them is, as browsers tab into a group once.
    """
    assert page.evaluate(_UNLABELLED_FIELDS) == [], "fields without a label"

    controls = page.evaluate(_NUMBER_FOCUSABLE, _FOCUSABLE)
    page.locator("a.skip").focus()
    reached = {page.evaluate("document.activeElement.dataset.tabCheck")}
    for _ in range(len(controls) + 3):
        page.keyboard.press("Tab")
        reached.add(page.evaluate("document.activeElement.dataset.tabCheck"))

    radio_groups_reached = {
        control["radio"] for control in controls if str(control["index"]) in reached
    }
    missing = [
        control["name"]
        for control in controls
        if str(control["index"]) not in reached
        and not (control["radio"] and control["radio"] in radio_groups_reached)
    ]
    assert missing == [], "controls the keyboard cannot reach"
    page.evaluate("document.activeElement.blur()")
