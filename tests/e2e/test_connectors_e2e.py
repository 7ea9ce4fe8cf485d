"""End to end in Chromium: an admin adds a SQLite connector, tests it and sees "ok"; a user has no
Connectors page, not even through a link."""
from __future__ import annotations

import re
import sqlite3

import pytest

pytestmark = pytest.mark.e2e


def log_in(page, username: str, password: str) -> None:
    page.get_by_placeholder("Username").fill(username)
    page.get_by_placeholder("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def nav_titles(page) -> list[str]:
    page.locator(".vision-nav button").first.wait_for()
    return [t.strip() for t in page.locator(".vision-nav button").all_inner_texts()]


@pytest.fixture
def sales_db(live_server):
    """A SQLite file under the server's data folder, with two tables."""
    folder = live_server.home / "data"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "e2e-sales.db"
    with sqlite3.connect(path) as db:
        db.execute("create table if not exists orders (id integer, amount real)")
        db.execute("create table if not exists customers (id integer, name text)")
    return path


def test_an_admin_adds_a_sqlite_connector_and_tests_it(page, open_dashboard, sales_db):
    open_dashboard(page)
    log_in(page, "sre_admin", "sre_admin123")
    page.get_by_role("button", name="Connectors").click()
    page.get_by_role("button", name="Add connector").click()
    page.get_by_text("New connector").wait_for()
    page.get_by_label("Name", exact=True).fill("e2e-sales")
    page.get_by_label("Type", exact=True).select_option(label="SQL database")
    page.get_by_placeholder("required").wait_for()  # the SQL database's settings are shown
    page.get_by_label("Description", exact=True).fill("Sales tables for the e2e test")
    url = page.get_by_label(re.compile("^SQLAlchemy URL"))
    url.fill(f"sqlite:///{sales_db}")
    page.get_by_role("button", name="Save").click()
    page.get_by_text(re.compile(r"^Connector e2e-sales added\.")).wait_for()
    # The secret is gone from the input once saved; its placeholder says it is kept.
    assert url.input_value() == ""
    assert url.get_attribute("placeholder") == "•••• saved — type to replace"
    page.get_by_role("button", name="Test connection").click()
    result = page.get_by_text(re.compile(r"^ok — \d+ ms\."))
    result.wait_for()
    assert "Sees: customers, orders." in result.inner_text()
    page.get_by_text("2 connectors").wait_for()


def test_a_user_has_no_connectors_page(page, open_dashboard, server):
    open_dashboard(page, server + "?page=connectors")
    log_in(page, "datascientist_user", "ds_user123")
    # Wait for the page the user lands on (the link refused, Model 360 built) before counting what is
    # absent: counted as soon as the navigation appeared, nothing would have been there yet either way.
    page.get_by_text("does not exist or that your role may not open").wait_for()
    page.locator(".vision-page-title", has_text="Model 360").wait_for()
    page.locator(".vision-page").first.wait_for()
    titles = nav_titles(page)
    assert "Connectors" not in titles and "My account" in titles
    assert page.get_by_role("button", name="Test connection").count() == 0
    assert page.get_by_role("button", name="Add connector").count() == 0
