"""The Monitoring page driven headlessly: tiles say each status in a word, the models' table shows
freshness and drift, "Check now" records, the page refreshes on its timer while open and stops when
closed; a user never gets the page and the service refuses them."""
from __future__ import annotations

import threading

import pytest
from helpers import ADMIN, USER, demo_spec, log_in_through_the_form, synced_text, write_demo_files
from sqlalchemy import func, select, update

from vision_widgets.app import PAGES, pages_for
from vision_widgets.core.errors import PermissionDenied
from vision_widgets.core.jobs import workers
from vision_widgets.core.storage import schema
from vision_widgets.services import monitoring, registration
from vision_widgets.views.monitoring import MonitoringView


@pytest.fixture
def models(ctx, login, settings):
    train, prod = write_demo_files(settings.home / "data")
    registration.register_model(ctx, login(USER), demo_spec("Fraud detection", train, prod))
    registration.register_model(ctx, login(USER), demo_spec("Secret model", restricted=True))
    with ctx.store.write() as conn:
        conn.execute(update(schema.models).where(schema.models.c.name == "Fraud detection").values(cadence="1D"))


def beat(ctx):
    with ctx.store.write() as conn:
        workers.beat(conn, "host:1:abc", "host", 1, ctx.now())


def open_monitoring(app, username=ADMIN) -> MonitoringView:
    log_in_through_the_form(app, username)
    app.open_page("monitoring")
    assert isinstance(app.view, MonitoringView)
    app.view.wait()
    return app.view


def test_monitoring_is_an_admin_page():
    page = next(p for p in PAGES if p.key == "monitoring")
    assert page.title == "Monitoring" and page.group == "Admin" and page.purpose and page.icon


def test_an_admin_sees_the_tiles_in_words_and_each_models_row(app, ctx, models, clock):
    beat(ctx)
    clock.advance(hours=30)  # the fraud model's data is now late (cadence 1D); the worker silent
    view = open_monitoring(app)
    tiles = view.tiles
    assert (tiles["database"].status, tiles["database"].badge.value) == ("ok", "OK")
    assert tiles["database"].value_label.value.endswith("ms")
    assert (tiles["worker"].status, tiles["worker"].badge.value) == ("fail", "Failing")
    assert tiles["worker"].value_label.value == "not running"
    assert "worker not seen for" in tiles["worker"].note.value.lower() and "0 job(s) queued" in tiles["worker"].note.value
    assert (tiles["llm"].status, tiles["llm"].badge.value) == ("neutral", "Not configured")
    assert tiles["connector"].badge.value == "OK" and tiles["connector"].value_label.value == "1 of 1 OK"
    assert tiles["disk"].value_label.value.endswith("% free")
    assert tiles["kernels"].badge.value == "Not recorded"
    assert view.overall.value == "Unhealthy: Worker failing."
    assert "vision-tile-fail" in tiles["worker"]._dom_classes
    rows = {r[0]: r for r in view.models.rows}
    assert rows["Fraud detection"][1:4] == ("late", "30 h 00 min ago", "1D")
    assert rows["Fraud detection"][4].startswith(("Drift:", "No drift:")) and rows["Fraud detection"][5] == "no"
    assert rows["Secret model"][1] == "awaiting client metrics" and rows["Secret model"][5] == "yes"
    assert view.models.count.value == "2 models"


def test_check_now_records_the_checks_and_they_fill_the_history(app, ctx, models, clock):
    beat(ctx)
    view = open_monitoring(app)
    assert view.overall.value.startswith("Healthy")
    assert view.recent.rows == ()  # nothing recorded yet
    assert view.chart.widget.children == (view.chart.empty,) and view.chart.figure is None
    view.check_now.click()
    view.wait()
    assert view.status.value.startswith("Checked and recorded at")
    checks = {r[1] for r in view.recent.rows}
    assert {"Database", "Worker", "Job queue", "LLM endpoint", "Disk", "Connector", "Model freshness"} <= checks
    clock.advance(60)
    beat(ctx)
    view.check_now.click()
    view.wait()
    assert view.chart.points == (2, 2) and view.chart.widget.children[0] is view.chart.figure
    assert len(view.chart.latency.x) == 2


def test_the_page_refreshes_on_its_timer_and_stops_when_closed(app, ctx, models, monkeypatch):
    monkeypatch.setattr(MonitoringView, "REFRESH_SECONDS", 0.2)
    beat(ctx)
    calls = []
    third = threading.Event()
    real = monitoring.health

    def counted(*a):
        calls.append(1)
        if len(calls) >= 3:
            third.set()
        return real(*a)

    monkeypatch.setattr(monitoring, "health", counted)
    view = open_monitoring(app)
    assert third.wait(10), calls  # opened, then refreshed by the timer (twice)
    app.open_page("account")  # another page: the monitoring view is closed, its timer ends
    view._timer.join(timeout=5)
    assert not view._timer.is_alive()
    assert not any(t.name == "vision-monitoring-refresh" for t in threading.enumerate())


def test_logout_stops_the_timer(app, ctx, models, monkeypatch):
    monkeypatch.setattr(MonitoringView, "REFRESH_SECONDS", 0.2)
    view = open_monitoring(app)
    app.logout_button.click()
    view._timer.join(timeout=5)
    assert not view._timer.is_alive()


def test_a_user_never_gets_the_page_and_the_service_refuses_them(app, ctx, login, models):
    log_in_through_the_form(app, USER)
    assert "monitoring" not in [p.key for p in pages_for(app.state.principal)]
    assert "monitoring" not in app.nav.buttons and "Monitoring" not in [t for t, _ in app.nav.options]
    app.open_page("monitoring")  # a forged page key opens nothing
    assert not isinstance(app.view, MonitoringView)
    with pytest.raises(PermissionDenied):
        monitoring.health(ctx, login(USER))
    with ctx.store.read() as conn:
        assert conn.execute(select(func.count()).select_from(schema.health_checks)).scalar_one() == 0


def test_model_names_are_text_and_no_secret_reaches_a_widget(ctx, login, settings):
    import dataclasses

    from helpers import XSS_NAME

    from vision_widgets.app import VisionApp
    from vision_widgets.core.context import Context
    from vision_widgets.views.base import close_tree

    key = "sk-monitoring-widget-secret"
    with_llm = Context(dataclasses.replace(settings, openai_base_url=f"http://u:{key}@127.0.0.1:9/v1",
                                           openai_api_key=key), ctx.store, ctx.clock)
    registration.register_model(ctx, login(USER), demo_spec(XSS_NAME, restricted=True))
    app = VisionApp(with_llm)
    try:
        view = open_monitoring(app)
        assert view.models.rows[0][0] == XSS_NAME  # painted on the grid's canvas as text
        assert view.tiles["llm"].badge.value == "Failing" and "127.0.0.1:9" in view.tiles["llm"].note.value
        assert key not in synced_text()
    finally:
        close_tree(app)
        for widget in (app.header, app.nav, app.body):
            close_tree(widget)


def test_check_now_during_a_refresh_runs_after_it_rather_than_being_dropped(app, ctx, models, monkeypatch):
    # review 11, finding 14: a click during the timer's refresh said "Still working…" and never checked
    beat(ctx)
    release, started = threading.Event(), threading.Event()
    real = monitoring.health

    def slow(*args):
        started.set()
        release.wait(10)
        return real(*args)

    monkeypatch.setattr(monitoring, "health", slow)
    log_in_through_the_form(app, ADMIN)
    app.open_page("monitoring")
    view = app.view
    assert started.wait(5)
    view.check_now.click()
    assert view.status.value.startswith("Checking as soon as") and view.status.kind != "error"
    release.set()
    view.wait()
    assert view.status.value.startswith("Checked and recorded at")
    with ctx.store.read() as conn:
        assert conn.execute(select(func.count()).select_from(schema.health_checks)).scalar_one() > 0


def test_the_history_chart_covers_the_whole_day_and_the_table_the_newest_rows(app, ctx, models):
    # review 11, finding 8: ~15 rows a minute overran the single 5000-row read: "last 24 h" showed ~8 h
    from datetime import timedelta

    from vision_widgets.core.monitoring import Check, history
    from vision_widgets.views.monitoring import RECENT_ROWS

    beat(ctx)
    start = ctx.now() - timedelta(hours=24)
    names = ["database", "database_size", "worker", "queue", "llm", "disk", "connector", "connector", "uptime",
             "kernels"]
    with ctx.store.write() as conn:
        for i in range(24 * 60):
            history.record(conn, [Check(n, str(j), "ok", False, 1.0, "ms", "m") for j, n in enumerate(names)],
                           start + timedelta(minutes=i + 1))
    view = open_monitoring(app)
    assert view.chart.points == (24 * 60, 24 * 60)
    assert min(r.checked_at for r in view.loaded.chart) == start + timedelta(minutes=1)
    assert len(view.recent.rows) == RECENT_ROWS == len(view.loaded.recent)
