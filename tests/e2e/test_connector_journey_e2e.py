"""End to end in Chromium, the issue's whole journey on a fresh server: an admin adds a SQLite
connector on the Connectors page, tests it, registers a model from its tables on the Register page,
and finds the model and the connector's test on the Monitoring page. A user sees neither admin page."""
from __future__ import annotations

import re
import sqlite3
from typing import Iterator

import pytest
from playwright.sync_api import expect

from tests.support.server_process import LiveServer, start_server, stop_server
from tests.support.shell_pages import ADMIN, USER, log_in, nav_titles, open_page

from .conftest import PAGE_TIMEOUT_MS

pytestmark = pytest.mark.e2e

MODEL = "Fraud from the warehouse"


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server of its own (no demo models), so the Monitoring page's model count is this test's."""
    root = tmp_path_factory.mktemp("vision-e2e-journey")
    server = start_server(root / "home", root / "server.log")
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture(scope="module")
def warehouse(fresh_server, tmp_path_factory) -> str:
    """A SQLite file with the fraud demo model's training and production tables; its SQLAlchemy URL."""
    from vision_widgets.demo import datasets

    model = next(m for m in datasets.MODELS if m.name == "Fraud detection")
    train, prod = datasets.generate(model, 2000, 300)
    db = tmp_path_factory.mktemp("warehouse") / "warehouse.db"
    with sqlite3.connect(db) as con:
        train.drop(columns=["event_time"]).to_sql("fraud_training", con, index=False)
        prod.drop(columns=["event_time"]).to_sql("fraud_production", con, index=False)
    return f"sqlite:///{db}"


def test_an_admin_adds_a_connector_registers_a_model_through_it_and_monitors_both(page, fresh_server, warehouse):
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(fresh_server.base_url, wait_until="commit")
    log_in(page, *ADMIN)

    # 1. Connectors: add the warehouse and test it
    open_page(page, "Connectors")
    page.get_by_role("button", name="Add connector").click()
    page.get_by_label("Name", exact=True).fill("warehouse")
    page.get_by_label("Type", exact=True).select_option(label="SQL database")
    page.get_by_label(re.compile("^SQLAlchemy URL")).fill(warehouse)
    page.get_by_role("button", name="Save").click()
    page.get_by_text(re.compile(r"^Connector warehouse added\.")).wait_for()
    page.get_by_role("button", name="Test connection").click()
    tested = page.get_by_text(re.compile(r"^ok — \d+ ms\."))
    tested.wait_for()
    assert "fraud_production" in tested.inner_text() and "fraud_training" in tested.inner_text()

    # 2. Register: both tables picked in the connector's browser
    open_page(page, "Register model")
    page.get_by_label("Connector", exact=True).select_option(label="warehouse — SQL database")
    browser = page.get_by_label("Browse", exact=True)
    page.get_by_role("option", name="fraud_training  · table").wait_for()
    browser.select_option(label="fraud_training  · table")
    page.get_by_text("Chosen: fraud_training").wait_for()
    page.get_by_role("button", name="Use for training").click()
    browser.select_option(label="fraud_production  · table")
    page.get_by_text("Chosen: fraud_production").wait_for()
    page.get_by_role("button", name="Use for production").click()
    expect(page.get_by_label("Training data")).to_have_value("fraud_training")
    expect(page.get_by_label("Production data")).to_have_value("fraud_production")
    page.get_by_label("Name", exact=True).fill(MODEL)
    page.get_by_label("Target").fill("is_fraud")
    page.get_by_label("Prediction").fill("fraud_score")
    page.get_by_label("Excluded").fill("record_id")
    page.locator(".vision-page button", has_text="Register model").click()
    page.get_by_text(f"{MODEL} is registered").wait_for(timeout=PAGE_TIMEOUT_MS)

    # 3. Monitoring: the model is counted, named in the grid's line, and the connector's test is there
    open_page(page, "Monitoring")
    main = page.locator(".vision-page-monitoring")
    main.locator(".vision-grid-model-health").wait_for()
    main.get_by_text(re.compile(r"^Checked at .* UTC; refreshed every")).wait_for()  # set last: the page is whole
    main.get_by_text(re.compile(r"^1 model$")).wait_for()
    connectors = main.locator(".vision-tile", has_text="Connectors")
    assert connectors.locator(".vision-badge").inner_text().strip() == "OK"
    assert errors == []


def test_a_user_sees_neither_admin_page(page, fresh_server):
    page.goto(fresh_server.base_url, wait_until="commit")
    log_in(page, *USER)
    titles = nav_titles(page)
    assert "Register model" in titles
    assert "Connectors" not in titles and "Monitoring" not in titles
