"""End to end in Chromium, the issue's whole journey on a fresh server: an admin adds a SQLite
connector on the Connectors page, tests it, registers a model from its tables on the Register page,
and finds the model and the connector's test on the Monitoring page. A user sees neither admin page."""
from __future__ import annotations

import re
import sqlite3
from typing import Iterator

import pytest

from tests.support.server_process import LiveServer, running_server
from tests.support.shell_pages import ADMIN, USER, fill_registration_from_tables, log_in, nav_titles, open_page

from .conftest import PAGE_TIMEOUT_MS

pytestmark = pytest.mark.e2e

MODEL = "Fraud from the warehouse"


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server of its own (no demo models), so the Monitoring page's model count is this test's."""
    with running_server(tmp_path_factory.mktemp("vision-e2e-journey")) as server:
        yield server


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
    fill_registration_from_tables(page, MODEL)
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
