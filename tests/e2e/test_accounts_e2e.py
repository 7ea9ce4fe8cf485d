"""End to end in Chromium: logging in, what each role sees, managing accounts, escaping."""
from __future__ import annotations

import re

import pytest

from tests.support.shell_pages import add_account

pytestmark = pytest.mark.e2e

XSS = "<img src=x onerror=alert(1)>"


def log_in(page, username: str, password: str) -> None:
    page.get_by_placeholder("Username").fill(username)
    page.get_by_placeholder("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def nav_titles(page) -> list[str]:
    page.locator(".vision-nav button").first.wait_for()
    return [t.strip() for t in page.locator(".vision-nav button").all_inner_texts()]


def test_a_user_logs_in_and_sees_no_admin_page(page, open_dashboard):
    open_dashboard(page)
    log_in(page, "datascientist_user", "ds_user123")
    titles = nav_titles(page)
    assert "My account" in titles and "Model 360" in titles
    assert "Access management" not in titles
    assert page.get_by_text("datascientist_user · Data Scientist · user").is_visible()


def test_a_wrong_password_shows_the_message_and_no_navigation(page, open_dashboard):
    open_dashboard(page)
    log_in(page, "sre_user", "not-the-password")
    page.get_by_text("Wrong username or password.").wait_for()
    assert page.locator(".vision-nav").count() == 0
    # The password field is emptied after the attempt.
    assert page.get_by_placeholder("Password").input_value() == ""


def test_an_admin_adds_an_account_which_then_logs_in(browser, open_dashboard):
    admin = browser.new_context()
    try:
        page = admin.new_page()
        open_dashboard(page)
        log_in(page, "sre_admin", "sre_admin123")
        page.get_by_role("button", name="Access management").click()
        add_account(page, "newcomer.e2e", "a-long-enough-secret", title="Analyst")
        page.get_by_text("Account newcomer.e2e added as user.").wait_for()
        assert page.locator(".vision-table td", has_text="newcomer.e2e").count() >= 1
        page.get_by_role("button", name="Log out").click()
        page.get_by_text("You are logged out.").wait_for()
        log_in(page, "newcomer.e2e", "a-long-enough-secret")
        page.get_by_text("newcomer.e2e · Analyst · user").wait_for()  # the new account's shell
        titles = nav_titles(page)
        assert "My account" in titles and "Access management" not in titles
    finally:
        admin.close()


def test_html_in_account_fields_is_shown_as_text(browser, open_dashboard):
    ctx = browser.new_context()
    dialogs: list[str] = []
    try:
        page = ctx.new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        open_dashboard(page)
        log_in(page, "appowner_admin", "app_admin123")
        page.get_by_role("button", name="Access management").click()
        # A username with HTML is refused with a message (shown as text) ...
        add_account(page, XSS, "a-long-enough-secret", title=XSS)
        page.get_by_text(re.compile("A username is 3 to 32 characters")).wait_for()
        # ... while free-text fields keep it verbatim, and it is displayed as text.
        add_account(page, "xss.persona", "a-long-enough-secret")  # the title keeps its HTML
        page.get_by_text("Account xss.persona added as user.").wait_for()
        cell = page.locator(".vision-table td", has_text="<img src=x")
        cell.first.wait_for()
        assert cell.first.inner_text() == XSS
        assert page.locator('img[src="x"]').count() == 0
        page.wait_for_timeout(500)
        assert dialogs == []
    finally:
        ctx.close()


def test_my_account_changes_the_password_and_asks_to_log_in_again(page, open_dashboard):
    open_dashboard(page)
    log_in(page, "mlengineer_user", "ml_user123")
    page.get_by_role("button", name="My account").click()
    page.get_by_placeholder("Current password").fill("ml_user123")
    page.get_by_placeholder("At least 10 characters").fill("short")
    page.get_by_placeholder("Repeat the new password").fill("short")
    page.get_by_role("button", name="Change password").click()
    page.get_by_text("The new password must be at least 10 characters long.").wait_for()
    page.get_by_placeholder("Current password").fill("ml_user123")
    page.get_by_placeholder("At least 10 characters").fill("brand-new-secret-1")
    page.get_by_placeholder("Repeat the new password").fill("brand-new-secret-1")
    page.get_by_role("button", name="Change password").click()
    page.get_by_text("Password changed — log in with your new password.").wait_for()
    log_in(page, "mlengineer_user", "ml_user123")
    page.get_by_text("Wrong username or password.").wait_for()
    log_in(page, "mlengineer_user", "brand-new-secret-1")
    assert "My account" in nav_titles(page)
