"""The Notifications page and the header's bell, driven headlessly: the bell counts what is unread on
every page and opens the page; the list is newest first with its numbers, filters, marking read, the
link that lands on the Drift page for the model; the empty state; the admins' setting."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from helpers import (
    ADMIN,
    OTHER_USER,
    USER,
    demo_spec,
    log_in_through_the_form,
    write_demo_files,
)
from sqlalchemy import select

from vision_widgets.app import PAGES
from vision_widgets.components.notification_bell import MIN_EVERY, NotificationBell
from vision_widgets.core.notify import rules, store
from vision_widgets.core.notify.rules import (
    DriftedFeature,
    ModelFacts,
    WindowDriftFacts,
)
from vision_widgets.core.storage import schema
from vision_widgets.services import registration
from vision_widgets.views.drift import DriftView
from vision_widgets.views.model360 import Model360View
from vision_widgets.views.notifications import NotificationsView


@pytest.fixture
def world(ctx, login, settings, clock):
    """The user's Fraud detection with two drift notifications and a stale one; another user's model with one."""
    train, prod = write_demo_files(settings.home / "data")
    mine = registration.register_model(ctx, login(USER), demo_spec("Fraud detection", train, prod)).model
    theirs = registration.register_model(ctx, login(OTHER_USER), demo_spec("Churn", train, prod)).model
    with ctx.store.write() as conn:
        conn.execute(schema.notifications.delete())
    feats = (DriftedFeature("amount", "wasserstein", 0.504, 0.1), DriftedFeature("<b>merchant</b>", "jensenshannon",
                                                                                 0.11, 0.1))

    def facts(m):
        return ModelFacts(m.id, m.name, False, m.created_at, "1D", m.created_at, True)

    def window(name):
        return WindowDriftFacts(2, name, 519, True, 0.5, 0.5, 6, feats)

    for due in (rules.drift(facts(mine), [window("2026-09-24T00:00:00")]),
                rules.drift(facts(mine), [window("2026-10-01T00:00:00")]),
                rules.stale(facts(mine), clock.now + timedelta(days=2)),
                rules.drift(facts(theirs), [window("2026-10-01T00:00:00")])):
        clock.advance(minutes=1)
        with ctx.store.write() as conn:
            store.add(conn, due, ctx.now())
    return mine


def open_notifications(app, username=USER) -> NotificationsView:
    log_in_through_the_form(app, username)
    app.bell.click()
    assert isinstance(app.view, NotificationsView)
    return app.view


def test_notifications_is_a_page_for_every_account():
    page = next(p for p in PAGES if p.key == "notifications")
    assert page.title == "Notifications" and page.group == "Models" and page.icon == "bell" and page.purpose


def test_the_bell_shows_the_unread_count_on_every_page_and_opens_notifications(app, world):
    log_in_through_the_form(app, USER)
    assert app.bell in app.header.children and app.bell.layout.display != "none"
    assert (app.bell.description, app.bell.unread) == ("3", 3)
    assert app.bell.tooltip == "3 unread notifications: open Notifications"
    assert "vision-bell-unread" in app.bell._dom_classes
    app.open_page("account")
    assert app.bell.description == "3"
    app.bell.click()
    assert app.page.key == "notifications" and isinstance(app.view, NotificationsView)
    assert "vision-nav-current" in app.nav.buttons["notifications"]._dom_classes


def test_the_list_is_newest_first_with_the_model_the_cause_and_the_numbers(app, world):
    view = open_notifications(app)
    assert [i.title.value for i in view.items] == [
        "No new production data for Fraud detection",
        "Dataset drift in Fraud detection, window 2026-10-01",
        "Dataset drift in Fraud detection, window 2026-09-24",
    ]  # never the other user's model
    drift = view.items[1]
    assert drift.meta.value.startswith("Dataset drift · Fraud detection · ") and drift.meta.value.endswith("· unread")
    assert drift.detail.text == ("2 of 6 features drifted (50%; dataset drift needs 50%): amount, <b>merchant</b>. "
                                 "Window of 519 rows.")
    assert "&lt;b&gt;merchant&lt;/b&gt;" in drift.detail.value and "<b>merchant" not in drift.detail.value
    table = drift.features.value
    assert "<td>amount</td><td>wasserstein</td><td>0.504</td><td>0.1</td><td>–</td>" in table
    assert "<td>&lt;b&gt;merchant&lt;/b&gt;</td><td>jensenshannon</td><td>0.11</td><td>0.1</td>" in table
    assert view.items[0].features.layout.display == "none"  # a stale notification has no feature table
    assert drift.open.tooltip == "Open Drift for Fraud detection"
    assert view.summary.value == "3 notifications · 3 unread in all"


def test_opening_a_drift_notification_marks_it_read_and_lands_on_the_drift_page_for_its_model(app, world, ctx):
    view = open_notifications(app)
    app.state.selected_model = ""
    view.items[1].open.click()
    assert app.page.key == "drift" and isinstance(app.view, DriftView)
    assert app.view.model.value == "Fraud detection" and app.state.selected_model == "Fraud detection"
    assert app.bell.description == "2"


def test_a_stale_notification_opens_model_360_on_its_model(app, world):
    view = open_notifications(app)
    view.items[0].open.click()
    assert app.page.key == "models" and isinstance(app.view, Model360View)
    assert app.view.current is not None and app.view.current.model.name == "Fraud detection"


def test_filters_and_marking_read(app, world):
    view = open_notifications(app)
    view.kind.value = "stale"
    assert [i.item.kind for i in view.items] == ["stale"]
    view.kind.value = ""
    view.items[2].mark.click()
    assert app.bell.description == "2"
    assert view.items[2].meta.value.endswith("· read") and view.items[2].mark.layout.display == "none"
    assert "vision-notification-read" in view.items[2]._dom_classes
    view.show.value = "unread"
    assert len(view.items) == 2 and all(not i.item.read for i in view.items)
    view.show.value = "read"
    assert [i.title.value for i in view.items] == ["Dataset drift in Fraud detection, window 2026-09-24"]
    view.show.value = "all"
    view.model.value = "Fraud detection"
    assert len(view.items) == 3
    view.mark_all.click()
    assert view.status.value == "Marked 2 notifications read." and view.mark_all.disabled
    assert app.bell.description == "" and app.bell.tooltip == "No unread notifications: open Notifications"
    assert "vision-bell-unread" not in app.bell._dom_classes


def test_the_empty_state_says_what_will_appear(app, ctx, login):
    view = open_notifications(app)
    assert view.items == () and view.empty.layout.display != "none"
    assert view.empty.text.startswith("No notifications yet. They appear here when a production window of one of "
                                      "your models drifts, when its performance drops more than 0.05 below the "
                                      "training data and outside the range expected for the window's size (for "
                                      "regression: its MAE or RMSE rises more than 20%)")
    assert "health check" not in view.empty.text and view.settings is None
    view.kind.value = "drift"
    assert view.empty.text == "No notifications match these filters."


def test_an_admin_sees_every_model_and_the_platform_and_sets_the_drop(app, world, ctx):
    with ctx.store.write() as conn:
        store.add(conn, rules.health([rules.FailingCheck("worker", "", ctx.now(), ctx.now(), "No worker <beat>.")]),
                  ctx.now())
    view = open_notifications(app, ADMIN)
    assert len(view.items) == 5 and view.items[0].meta.value.startswith("Failed health check · Platform · ")
    assert view.items[0].detail.text == "No worker <beat>."
    assert "Failed health check" in [label for label, _ in view.kind.options]
    assert view.drop_input.value == "0.05"
    view.drop_input.value = "2"
    view.save_drop.click()
    assert "more than 0 and less than 1" in view.drop_status.value
    view.drop_input.value = "0.1"
    view.save_drop.click()
    assert view.drop_status.value.startswith("Saved: a drop of more than 0.1")
    with ctx.store.read() as conn:
        assert store.get_setting(conn, store.PERFORMANCE_DROP_KEY) == 0.1


def test_a_user_never_gets_the_admin_setting_nor_platform_kinds(app, world):
    view = open_notifications(app, USER)
    assert view.settings is None and not hasattr(view, "drop_input")
    assert "Failed health check" not in [label for label, _ in view.kind.options]


def test_marking_another_users_notification_from_a_forged_click_is_refused(app, world, ctx):
    view = open_notifications(app, USER)
    with ctx.store.read() as conn:
        theirs = conn.execute(select(schema.notifications.c.id).where(
            schema.notifications.c.title.like("%Churn%"))).scalar_one()
    item = view.items[0]
    forged = type(item.item)(**{**item.item.__dict__, "id": theirs})
    view._on_read(forged)
    assert "not yours to mark" in view.status.value


def test_the_bell_counts_on_its_timer_and_stops(ctx):
    counts = iter(range(100))
    third = threading.Event()

    def count() -> int:
        n = next(counts)
        if n >= 4:  # the tick before this one has shown 3
            third.set()
        return n

    bell = NotificationBell(count, lambda: None, every=0.01)
    assert bell.every == MIN_EVERY  # never faster than every 30 s
    bell.every = 0.01  # a test may go faster
    bell.start()
    assert third.wait(5), "the timer counted four times"
    assert bell.unread >= 3 and bell.running
    bell.stop()
    assert not bell.running and bell.description == ""
    bell.close()


def test_the_bell_stops_at_logout_and_shows_nothing_of_the_account(app, world):
    log_in_through_the_form(app, USER)
    assert app.bell.running and app.bell.description == "3"
    app.logout_button.click()
    assert not app.bell.running and app.bell.description == ""
    assert app.bell.tooltip == "No unread notifications: open Notifications"


def test_the_bell_stops_when_the_app_is_closed(ctx, world):
    from vision_widgets.app import VisionApp

    shell = VisionApp(ctx)
    log_in_through_the_form(shell, USER)
    assert shell.bell.running
    shell.close()
    assert not shell.bell.running and shell.bell.comm is None


def test_more_than_the_list_limit_is_counted_whole_and_the_newest_shown(app, ctx, clock):
    """1,200 stored: the page says 1,200 (not the 500 a list returns) and shows the newest SHOWN."""
    from vision_widgets.core.notify.rules import Due
    from vision_widgets.views.notifications import SHOWN

    with ctx.store.write() as conn:
        store.add(conn, [Due("health", None, f"health:x:{i}", f"Health check failing {i}", {"summary": "x"},
                             "?page=monitoring") for i in range(1200)], ctx.now())
    assert 1200 > store.LIST_LIMIT
    view = open_notifications(app, ADMIN)
    assert view.summary.value == f"1,200 notifications (the newest {SHOWN} shown) · 1,200 unread in all"
    assert len(view.items) == SHOWN
