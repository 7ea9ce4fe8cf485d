"""The Alert delivery page (views/alerts.py) driven headlessly as an admin uses it, with a loopback webhook
and SMTP server."""
from __future__ import annotations

import pytest
from helpers import ADMIN, USER, log_in_through_the_form, signed_in_state, synced_text
from support.alert_receivers import WebhookReceiver, smtp_server
from test_alert_delivery import add_model, notify

from vision_widgets.core.notify import delivery
from vision_widgets.services import alerts
from vision_widgets.views.alerts import SAVED, AlertsView

TOKEN = "distinctive-hook-token"
PASSWORD = "distinctive-smtp-password"


@pytest.fixture
def page(ctx, login):
    view = AlertsView(ctx, signed_in_state(login(ADMIN)))
    yield view
    view.wait()
    view.close()


def _add_webhook(page, url, name="fraud-team", lob="Analytics"):
    page.add.click()
    page.name.value = name
    page.kind.value = "webhook"
    page.lob.value = lob
    page.url.value = url
    page.save.click()


def _row(table, key):
    return next(r for r in table.rows if str(r[0]) == str(key))


def test_an_empty_page_says_what_to_do(page):
    assert page.table.rows == () and "add one below" in page.table.empty.value
    assert page.log_table.rows == () and "No deliveries yet" in page.log_table.empty.value
    assert page.failed_row.layout.display == "none"
    assert next(label for label, _ in page.lob.options) == "All lines of business"
    assert "Analytics" in [value for _, value in page.lob.options]


def test_an_admin_adds_a_webhook_tests_it_and_sees_sent(page):
    with WebhookReceiver() as hook:
        _add_webhook(page, hook.url)
        assert page.save_status.value.startswith("Channel fraud-team added.") and page.save_status.kind == "success"
        assert page.url.value == "" and page.url.placeholder == SAVED
        assert _row(page.table, "fraud-team") == ("fraud-team", "Webhook (Slack, Teams)", "Analytics",
                                                  "Slack-style webhook", "yes", 0, 0, 0)
        page.test.click()
        page.wait()
    assert page.test_status.kind == "success" and page.test_status.value.startswith("Test message sent in ")
    assert hook.received[0]["json"]["text"].startswith("Vision AI test message for channel fraud-team")
    assert not page.test.disabled


def test_a_failing_test_says_why_without_the_url(page):
    with WebhookReceiver(script=[500]) as hook:
        _add_webhook(page, hook.url)
        page.test.click()
        page.wait()
    assert page.test_status.kind == "error" and "HTTP 500" in page.test_status.value
    assert TOKEN not in page.test_status.value


def test_an_email_channel_shows_its_fields_and_sends(page, tmp_path):
    page.add.click()
    page.kind.value = "email"
    assert page.email_box.layout.display == "" and page.webhook_box.layout.display == "none"
    with smtp_server(tmp_path) as (port, box, _):
        page.name.value = "oncall-mail"
        page.host.value = "127.0.0.1"
        page.security.value = "none"
        page.port.value = str(port)
        page.sender.value = "vision@example.com"
        page.to.value = "oncall@example.com"
        page.save.click()
        assert page.save_status.kind == "success", page.save_status.value
        page.test.click()
        page.wait()
    assert page.test_status.kind == "success" and len(box.messages) == 1
    assert _row(page.table, "oncall-mail")[3] == f"oncall@example.com via 127.0.0.1:{port}"


def test_bad_input_is_said_next_to_save_and_the_secret_is_cleared(page, ctx, login):
    page.add.click()
    page.name.value = "bad"
    page.url.value = f"http://hooks.example.com/{TOKEN}"
    page.save.click()
    assert page.save_status.kind == "error" and "https" in page.save_status.value
    assert TOKEN not in page.save_status.value and page.url.value == ""
    assert alerts.list_channels(ctx, login(ADMIN)) == []


def test_the_log_shows_retrying_then_failed_with_the_reason_and_retry_sends_it(page, ctx, clock, login):
    fraud = add_model(ctx, "Fraud detection", "Analytics")
    with WebhookReceiver(script=[500] * delivery.MAX_ATTEMPTS) as hook:
        _add_webhook(page, hook.url)
        notify(ctx, fraud, "drift:fraud:1", title="Data drift on Fraud detection")
        alerts.run_deliveries(ctx)
        page.reload.click()
        row = page.log_table.rows[0]
        assert row[1:5] == ("fraud-team", "Data drift on Fraud detection", "retrying", 1)
        assert "HTTP 500" in row[7] and row[6] != "–"
        for attempt in range(1, delivery.MAX_ATTEMPTS):
            clock.advance(delivery.backoff(attempt).total_seconds())  # 15 minutes in all: the session lives
            alerts.run_deliveries(ctx)
        page.reload.click()
        row = page.log_table.rows[0]
        assert (row[3], row[4], row[6]) == ("failed", delivery.MAX_ATTEMPTS, "–")
        assert page.failed_row.layout.display == "" and page.failed.value == row[0]
        assert page.reason.value.startswith(f"#{row[0]} failed after 5 attempts: The webhook answered HTTP 500")
        assert _row(page.table, "fraud-team")[5:] == (0, 1, 0)
        page.retry.click()
        assert page.log_status.kind == "success" and "will be sent again" in page.log_status.value
        assert page.log_table.rows[0][3] == "retrying" and page.reason.value == ""
        alerts.run_deliveries(ctx)
    page.state_filter.value = "sent"
    assert [r[0] for r in page.log_table.rows] == [row[0]]
    page.state_filter.value = "failed"
    assert page.log_table.rows == ()


def test_remove_asks_first(page, ctx, login):
    _add_webhook(page, "https://hooks.example.com/x")
    page.remove.click()
    assert page.confirm.layout.display == "flex" and "delivery log (0 deliveries)" in page.confirm.question.value
    page.confirm.cancel_button.click()
    page.confirm.confirm.click()  # a hidden confirm clicked by the browser does nothing
    assert "fraud-team" in page.choice.options
    page.remove.click()
    page.confirm.confirm.click()
    assert page.remove_status.value == "Channel fraud-team removed."
    assert alerts.list_channels(ctx, login(ADMIN)) == []


def test_no_secret_is_ever_in_a_widget_trait(page, tmp_path):
    _add_webhook(page, f"https://hooks.example.com/services/{TOKEN}")
    page.add.click()
    page.kind.value = "email"
    page.name.value = "mail"
    page.host.value = "smtp.example.com"
    page.username.value = "alerts"
    page.password.value = PASSWORD
    page.sender.value = "vision@example.com"
    page.to.value = "oncall@example.com"
    page.save.click()
    assert page.save_status.kind == "success", page.save_status.value
    page.choice.value = "fraud-team"
    page.choice.value = "mail"
    assert page.password.placeholder == SAVED
    text = synced_text()
    assert TOKEN not in text and PASSWORD not in text


def test_a_user_has_no_alerts_page_and_the_service_refuses(app, ctx, login):
    log_in_through_the_form(app, USER)
    assert "Alert delivery" not in [title for title, _ in app.nav.options]
    app.open_page("alerts")
    assert app.view is None
    view = AlertsView(ctx, signed_in_state(login(USER)))  # built anyway: the service still says no
    try:
        assert "may not configure alert delivery" in view.list_status.value
        assert view.children == (view.list_status,)
    finally:
        view.close()


def test_an_admin_finds_alert_delivery_in_the_admin_group(app):
    log_in_through_the_form(app, ADMIN)
    assert "Alert delivery" in [title for title, _ in app.nav.options]
    app.open_page("alerts")
    assert isinstance(app.view, AlertsView)


def test_the_page_says_where_alerts_link_when_no_public_address_is_set(page):
    assert page.address_note.value.startswith("Alerts link to http://127.0.0.1:8866")
    assert "VISION_PUBLIC_URL" in page.address_note.value
