"""End to end in Chromium: an admin adds a webhook channel pointing at a receiver on loopback, presses
"Send test message" and sees it sent (and the receiver got it); a user has no Alert delivery page.

Set ``VISION_SCREENSHOTS=<folder>`` to keep screenshots of the page on the way."""
from __future__ import annotations

import re

import pytest

from tests.support.alert_receivers import WebhookReceiver
from tests.support.screenshots import shot
from tests.support.shell_pages import ADMIN, USER, log_in, nav_titles, open_page

pytestmark = pytest.mark.e2e

TOKEN = "distinctive-hook-token"


def test_an_admin_adds_a_webhook_channel_and_a_test_message_is_sent(page, open_dashboard):
    page.set_viewport_size({"width": 1400, "height": 900})
    with WebhookReceiver() as hook:
        open_dashboard(page)
        log_in(page, *ADMIN)
        open_page(page, "Alert delivery")
        main = page.locator(".vision-page-alerts")
        main.get_by_text("No alert channels yet").wait_for()
        shot(page, "admin-alert-delivery-empty")
        main.get_by_role("button", name="Add channel").click()
        main.get_by_text("New channel").wait_for()
        main.get_by_label("Name", exact=True).fill("e2e-team")
        main.get_by_label("Kind", exact=True).select_option(label="Webhook (Slack, Teams)")
        main.get_by_label("Line of business", exact=True).select_option(label="Analytics")
        url = main.get_by_label(re.compile("^Webhook URL"))
        url.fill(hook.url)
        main.get_by_role("button", name="Save").click()
        main.get_by_text(re.compile(r"^Channel e2e-team added\.")).wait_for()
        # The secret is gone from the input once saved; its placeholder says it is kept.
        assert url.input_value() == ""
        assert url.get_attribute("placeholder") == "•••• saved — type to replace"
        main.get_by_text("1 channel", exact=True).wait_for()
        main.get_by_role("button", name="Send test message").click()
        main.get_by_text(re.compile(r"^Test message sent in \d+ ms\.")).wait_for()
        shot(page, "admin-alert-delivery")
    assert hook.received and hook.received[0]["json"]["text"].startswith("Vision AI test message for channel e2e-team")
    assert TOKEN not in page.content()


def test_a_user_has_no_alert_delivery_page(page, open_dashboard, server):
    open_dashboard(page, server + "?page=alerts")
    log_in(page, *USER)
    page.get_by_text("does not exist or that your role may not open").wait_for()
    page.locator(".vision-page-title", has_text="Model 360").wait_for()
    titles = nav_titles(page)
    assert "Alert delivery" not in titles and "My account" in titles
    assert page.get_by_role("button", name="Send test message").count() == 0
    shot(page, "user-no-alert-delivery")
