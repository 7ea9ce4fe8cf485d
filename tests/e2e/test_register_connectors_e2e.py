"""End to end in Chromium: a user registers a model from two tables picked in the connector browser
(a stored SQL connector over a SQLite file), then schedules a pull of it from the model's Manage
section; a user browsing the local connector sees data folders by name, never server paths.

Set ``VISION_SCREENSHOTS=<folder>`` to keep screenshots of the pages on the way.
"""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from tests.support.shell_pages import fill_registration_from_tables
from vision_widgets.core.config import load_settings
from vision_widgets.core.context import Context
from vision_widgets.services import connectors as stored_connectors
from vision_widgets.services.sessions import operator

from .conftest import PAGE_TIMEOUT_MS
from .test_models_e2e import log_in

pytestmark = pytest.mark.e2e

SHOTS = os.environ.get("VISION_SCREENSHOTS")


def shot(page, name: str, section: str = "") -> None:
    """Keep a screenshot of the page, or of its card titled ``section``."""
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        where = page.locator(".vision-card", has=page.locator(".vision-section-title", has_text=section)).last \
            if section else page
        where.screenshot(path=str(Path(SHOTS) / f"{name}.png"), **({} if section else {"full_page": True}))


@pytest.fixture(scope="module")
def warehouse(demo_live_server, tmp_path_factory):
    """A stored ``sql`` connector ``warehouse`` on the live server, over a SQLite file of the fraud demo data."""
    from vision_widgets.demo import datasets

    model = next(m for m in datasets.MODELS if m.name == "Fraud detection")
    train, prod = datasets.generate(model, 2000, 300)
    db = tmp_path_factory.mktemp("warehouse") / "warehouse.db"
    with sqlite3.connect(db) as con:
        train.drop(columns=["event_time"]).to_sql("fraud_training", con, index=False)
        prod.drop(columns=["event_time"]).to_sql("fraud_production", con, index=False)
    ctx = Context.open(load_settings(demo_live_server.env))
    try:
        stored_connectors.add_connector(ctx, operator("e2e"), "warehouse", "sql", {}, {"url": f"sqlite:///{db}"},
                                        description="fraud tables")
    finally:
        ctx.store.dispose()
    return db


def open_register(page, server, username, password):
    log_in(page, server, username, password)
    page.locator(".vision-nav button", has_text="Register model").click()
    page.get_by_label("Connector", exact=True).wait_for()


def test_a_user_registers_from_tables_picked_in_the_browser_then_schedules_a_pull(page, demo_live_server,
                                                                                  warehouse):
    open_register(page, demo_live_server.base_url, "datascientist_user", "ds_user123")
    # the local connector first: data folders by name, never where they are on the server
    page.get_by_role("option", name="demo-data/").wait_for()
    assert str(demo_live_server.home) not in page.content()
    shot(page, "register-user-local")

    fill_registration_from_tables(page, "Fraud from the warehouse")
    shot(page, "register-user-sql", "Data")
    page.locator(".vision-page button", has_text="Register model").click()
    page.get_by_text("Fraud from the warehouse is registered").wait_for(timeout=PAGE_TIMEOUT_MS)

    page.get_by_role("button", name="Open in Model 360").click()
    page.locator(".vision-section-title", has_text="Fraud from the warehouse").wait_for()
    page.get_by_text("Manage this model").click()
    page.get_by_label("Pull from").fill("fraud_production")
    page.get_by_label("What is new").select_option(label="a table or query, one batch per pull")
    page.get_by_label("Cadence").fill("1D")
    page.get_by_role("button", name="Save schedule").click()
    page.get_by_text("Pulls every 1D; never pulled yet.").wait_for()
    page.get_by_role("button", name="Pull now").click()
    page.get_by_text("Pull queued").wait_for()
    shot(page, "manage-user-pull", "Scheduled pull")
    shot(page, "manage-user-add", "Add production data")


def test_an_admin_sees_every_stored_connector_and_where_the_folders_are(page, demo_live_server, warehouse):
    open_register(page, demo_live_server.base_url, "datascientist_admin", "ds_admin123")
    options = [o.replace("\xa0", " ")  # ipywidgets writes an option's spaces as no-break spaces
               for o in page.get_by_label("Connector", exact=True).locator("option").all_inner_texts()]
    assert options == ["local — Local filesystem", "demo-warehouse — SQL database", "warehouse — SQL database"]
    page.get_by_text(f"demo-data = {demo_live_server.home / 'demo-data'}").wait_for()
    shot(page, "register-admin", "Data")
