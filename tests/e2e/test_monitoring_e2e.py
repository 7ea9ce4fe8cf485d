"""End to end in Chromium: an admin opens the Monitoring page on the demo models and sees the status
tiles in words, a model named where its data is late, the model grid and the history after "Check
now"; a user has no Monitoring entry and the service refuses them."""
from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from tests.support.shell_pages import ADMIN, USER, clipped_text, log_in, nav_titles, open_page

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stale_fraud(demo_live_server):
    """The fraud demo model expects data daily, and its newest production data is three days old."""
    from vision_widgets.core.config import load_settings
    from vision_widgets.core.context import Context
    from vision_widgets.core.storage import schema

    ctx = Context.open(load_settings(demo_live_server.env))
    try:
        with ctx.store.write() as conn:
            m, p = schema.models, schema.profiles
            model_id = conn.execute(m.select().where(m.c.name == "Fraud detection")).mappings().one()["id"]
            conn.execute(update(m).where(m.c.id == model_id).values(cadence="1D"))
            conn.execute(update(p).where(p.c.model_id == model_id)
                         .values(created_at=ctx.now() - timedelta(days=3)))
    finally:
        ctx.store.dispose()
    return demo_live_server


def recorded_runs(server, since: datetime, until: datetime) -> int:
    """How many platform runs were recorded between two times (one ``database`` row each)."""
    from sqlalchemy import func, select

    from vision_widgets.core.config import load_settings
    from vision_widgets.core.context import Context
    from vision_widgets.core.storage import schema

    ctx = Context.open(load_settings(server.env))
    try:
        t = schema.health_checks
        with ctx.store.read() as conn:
            return conn.execute(select(func.count()).select_from(t).where(
                t.c.check == "database", t.c.checked_at >= since - timedelta(seconds=1),
                t.c.checked_at <= until + timedelta(seconds=1))).scalar_one()
    finally:
        ctx.store.dispose()


def test_an_admin_sees_the_tiles_and_a_late_models_row(page, stale_fraud):
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(stale_fraud.base_url, wait_until="commit")
    log_in(page, *ADMIN)
    open_page(page, "Monitoring")
    main = page.locator(".vision-page-monitoring")
    for caption in ("Database", "Worker", "LLM endpoint", "Connectors", "Disk under VISION_HOME", "Kernels"):
        main.locator(".vision-tile", has_text=caption).first.wait_for()
    # the tiles are there (with "…") before the first check has answered; "Checked at" is set last
    main.get_by_text(re.compile(r"^Checked at .* UTC; refreshed every")).wait_for()
    database = main.locator(".vision-tile", has_text="Database")
    assert database.locator(".vision-badge").inner_text().strip() == "OK"
    assert "vision-tile-ok" in (database.get_attribute("class") or "")
    assert main.locator(".vision-tile", has_text="LLM endpoint").locator(".vision-badge").inner_text().strip() \
        == "Not configured"
    main.get_by_text(re.compile(r"Needs attention: .*Fraud detection \(stale\)")).wait_for()
    main.locator(".vision-grid-model-health").wait_for()
    main.get_by_text(re.compile(r"^5 models$")).wait_for()
    # Check now records a run: the table of recent checks fills. The worker also records a run each
    # minute (at its start); clicked away from a minute's start, a run inside the click's few seconds is
    # the click's own, not the worker's.
    while not 10 <= datetime.now(UTC).second <= 40:
        time.sleep(0.5)
    clicked = datetime.now(UTC)
    main.get_by_role("button", name="Check now").click()
    main.get_by_text(re.compile(r"^Checked and recorded at")).wait_for()
    done = datetime.now(UTC)
    main.locator(".vision-grid-recent-checks").wait_for()
    main.get_by_text(re.compile(r"^\d+ recorded checks")).wait_for()
    assert done - clicked < timedelta(seconds=20)
    assert recorded_runs(stale_fraud, clicked, done) >= 1
    assert clipped_text(page) == []
    assert errors == []


def test_a_user_has_no_monitoring_page_and_the_service_refuses_them(page, stale_fraud):
    from vision_widgets.core.config import load_settings
    from vision_widgets.core.context import Context
    from vision_widgets.core.errors import PermissionDenied
    from vision_widgets.core.identity import auth
    from vision_widgets.services import monitoring

    page.goto(stale_fraud.base_url, wait_until="commit")
    log_in(page, *USER)
    titles = nav_titles(page)
    assert "Model 360" in titles and "Monitoring" not in titles
    ctx = Context.open(load_settings(stale_fraud.env))
    try:
        principal = auth.login(ctx, *USER).principal
        with pytest.raises(PermissionDenied):
            monitoring.health(ctx, principal)
        with pytest.raises(PermissionDenied):
            monitoring.run_checks_now(ctx, principal)
    finally:
        ctx.store.dispose()
