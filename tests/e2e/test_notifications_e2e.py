"""End to end in Chromium on the demo models (``vision init --demo`` ran the rules once): the fraud
model's owner sees the bell's unread count in the header, opens Notifications from it, opens the
drift notification of the window the demo data drifts, and lands on the Drift page for that model;
the bell counts one less. An admin sees every model's notifications and the performance setting."""
from __future__ import annotations

import re

import pytest

from tests.support.shell_pages import clipped_text, log_in, wait_for_page

pytestmark = pytest.mark.e2e

BELL = re.compile(r"unread notifications?: open Notifications|No unread notifications")


def _watch_console(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def _bell_count(page) -> int:
    title = page.get_by_title(BELL).get_attribute("title") or ""
    found = re.match(r"([\d,]+) unread", title)
    return int(found.group(1).replace(",", "")) if found else 0


def test_the_owner_opens_a_drift_notification_from_the_bell_and_lands_on_drift(page, demo_live_server):
    errors = _watch_console(page)
    page.goto(demo_live_server.base_url, wait_until="commit")
    log_in(page, "datascientist_user", "ds_user123")
    bell = page.locator(".vision-header").get_by_title(re.compile(r"\d+ unread notifications?: open Notifications"))
    bell.wait_for()
    before = _bell_count(page)
    assert before >= 1 and bell.inner_text().strip() == str(before)  # the count is on the button
    bell.click()
    wait_for_page(page, "Notifications")
    main = page.locator(".vision-page-notifications")
    drift = main.locator(".vision-notification", has_text="Dataset drift in Fraud detection, window 2026-10-01")
    drift.wait_for()
    assert "dataset drift needs 50%" in drift.inner_text()  # the cause in words, then its numbers
    amount = drift.locator("tr", has_text="amount")
    assert amount.locator("td").all_inner_texts()[:2] == ["amount", "wasserstein"]
    assert "Churn" not in main.inner_text()  # another user's model is never listed
    drift.get_by_role("button", name="Open").click()
    wait_for_page(page, "Drift")
    drift_page = page.locator(".vision-page-drift")
    assert drift_page.get_by_label("Model").input_value() == "Fraud detection"
    page.locator(".vision-header").get_by_title(
        re.compile(rf"^{before - 1} unread|^No unread" if before == 1 else rf"^{before - 1} unread")).wait_for()
    assert errors == []


def test_an_admin_sees_every_models_notifications_and_the_setting(page, demo_live_server):
    errors = _watch_console(page)
    page.goto(demo_live_server.base_url, wait_until="commit")
    log_in(page, "datascientist_admin", "ds_admin123")
    page.locator(".vision-nav").get_by_role("button", name="Notifications").click()
    wait_for_page(page, "Notifications")
    main = page.locator(".vision-page-notifications")
    main.locator(".vision-notification", has_text="Retail transactions").first.wait_for()
    main.locator(".vision-notification", has_text="Fraud detection").first.wait_for()
    main.get_by_text("Settings: when performance raises a notification").click()
    assert main.get_by_label("Drop that notifies").input_value() == "0.05"
    main.get_by_label("Kind").select_option(label="Dataset drift")
    main.locator(".vision-notification", has_text="Performance").first.wait_for(state="detached")
    main.get_by_role("button", name="Mark all read").click()
    main.get_by_text(re.compile(r"^Marked [\d,]+ notifications? read\.$")).wait_for()
    page.locator(".vision-header").get_by_title("No unread notifications: open Notifications").wait_for()
    assert clipped_text(page) == []
    assert errors == []
