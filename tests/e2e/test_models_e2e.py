"""End to end in Chromium against a server with the demo models: who sees which model, the charts
render as bqplot SVG, registering from the demo files, an HTML model name shown as text, a click on
a row of the model grid opens the model, and no console error while switching tabs and models."""
from __future__ import annotations

import re

import pytest

from tests.support.shell_pages import fill_registration
from vision_widgets.core.config import load_settings
from vision_widgets.core.context import Context
from vision_widgets.core.identity import sessions
from vision_widgets.services import registration

from .conftest import LOGIN_USERNAME, PAGE_TIMEOUT_MS

pytestmark = pytest.mark.e2e

XSS = "<img src=x onerror=alert(1)>"
DEMO = ("Customer churn", "Fraud detection", "Incident prediction", "Lead scoring", "Retail transactions")


@pytest.fixture(scope="module")
def server_ctx(demo_live_server):
    ctx = Context.open(load_settings(demo_live_server.env))
    yield ctx
    ctx.store.dispose()


def log_in(page, server: str, username: str, password: str) -> None:
    page.goto(server, wait_until="commit")
    page.wait_for_selector(LOGIN_USERNAME, state="visible", timeout=PAGE_TIMEOUT_MS)
    page.get_by_placeholder("Username").fill(username)
    page.get_by_placeholder("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.locator(".vision-nav button").first.wait_for()


def models_grid(page):
    """The model list: a canvas-drawn data grid (ipydatagrid), found by its name."""
    grid = page.locator(".vision-grid-models")
    grid.wait_for()
    return grid


def models_count(page) -> str:
    """The line under the grid that counts its rows (what a screen reader reads of the canvas)."""
    return page.locator(".vision-data-table .vision-muted", has_text=re.compile(r"^\d[\d,]* models?\b")).inner_text()


def open_from_the_list(page, name: str) -> None:
    """Filter the list down to ``name`` and click its row, as a person would."""
    page.get_by_placeholder("Filter by name").fill(name)
    page.get_by_placeholder("Filter by name").press("Enter")
    page.locator(".vision-data-table .vision-muted", has_text=re.compile(r"^1 model$")).wait_for()
    header, row = 32, 30  # components/data_grid.py: HEADER_HEIGHT, ROW_HEIGHT
    models_grid(page).click(position={"x": 60, "y": header + row // 2})
    page.locator(".vision-section-title", has_text=name).wait_for()


def test_a_user_sees_only_their_model_and_its_charts_render(page, demo_live_server):
    log_in(page, demo_live_server.base_url, "datascientist_user", "ds_user123")
    models_grid(page)
    page.locator(".vision-section-title", has_text="Fraud detection").wait_for()
    assert models_count(page) == "1 model"
    # the model opens (first in the list): KPI cards and the feature table on the first tab ...
    page.locator(".vision-kpi").first.wait_for()
    assert "merchant_category" in page.locator(".vision-table", has_text="Drift method").inner_text()
    # ... and the charts, drawn by bqplot as SVG, on theirs
    page.get_by_role("tab", name="Drivers").click()
    page.get_by_text("What drives the model").wait_for()
    coefficients = page.locator(".bqplot:visible").first
    coefficients.locator("rect.bar").first.wait_for()
    assert "amount" in coefficients.inner_text()
    assert coefficients.locator("rect.bar").count() >= 5
    page.get_by_role("tab", name="Distributions").click()
    histogram = page.locator(".bqplot:visible").first
    histogram.get_by_text("amount: training vs production").wait_for()
    assert "amount (feature value)" in histogram.inner_text()  # on the feature's own value axis
    assert histogram.locator("path.line").count() >= 2  # training and production outlines
    page.get_by_role("tab", name="Drift over time").click()
    page.locator(".bqplot:visible").first.locator("path.line").first.wait_for(state="attached")


def test_an_admin_sees_all_five_demo_models(page, demo_live_server):
    log_in(page, demo_live_server.base_url, "sre_admin", "sre_admin123")
    models_grid(page)
    count = int(models_count(page).split()[0])
    assert count >= len(DEMO)


def test_clicking_a_row_of_the_model_grid_opens_that_model(page, demo_live_server):
    log_in(page, demo_live_server.base_url, "sre_admin", "sre_admin123")
    page.locator(".vision-section-title", has_text="Customer churn").wait_for()  # the first, opened at once
    open_from_the_list(page, "Lead scoring")
    assert page.locator(".vision-kpi").first.is_visible()
    open_from_the_list(page, "Incident prediction")


def test_switching_tabs_and_models_logs_no_console_error(page, demo_live_server):
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    log_in(page, demo_live_server.base_url, "sre_admin", "sre_admin123")
    page.locator(".vision-section-title", has_text="Customer churn").wait_for()
    for name in ("Lead scoring", "Retail transactions"):
        for tab in ("Drivers", "Distributions", "Drift over time", "Features & drift"):
            page.get_by_role("tab", name=tab).click()
            page.get_by_role("tab", name=tab, selected=True).wait_for()
            if tab != "Features & drift":
                page.locator(".bqplot:visible").first.wait_for()
        page.get_by_role("tab", name="Drivers").click()  # a chart tab open while the model changes
        page.locator(".bqplot:visible rect.bar").first.wait_for()
        open_from_the_list(page, name)
        page.locator(".bqplot:visible rect.bar").first.wait_for()
    page.get_by_role("tab", name="Distributions").click()
    page.locator(".bqplot:visible path.line").first.wait_for()
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    assert errors == []


def test_an_owner_registers_a_model_from_the_demo_files_and_sees_it(page, demo_live_server):
    folder = demo_live_server.home / "demo-data"
    log_in(page, demo_live_server.base_url, "productowner_user", "po_user123")
    page.locator(".vision-nav button", has_text="Register model").click()
    # a file is named by its data folder: users are not shown where the folders are on the server
    fill_registration(page, "Churn v2 e2e", f"{folder.name}/customer_churn_training.csv",
                      f"{folder.name}/customer_churn_production.csv", target="churned",
                      prediction="churn_probability", timestamp="event_time", excluded="record_id")
    page.locator(".vision-page button", has_text="Register model").click()
    page.get_by_text("Churn v2 e2e is registered").wait_for(timeout=PAGE_TIMEOUT_MS)
    page.get_by_role("button", name="Open in Model 360").click()
    page.locator(".vision-section-title", has_text="Churn v2 e2e").wait_for()
    assert models_count(page) == "2 models"  # Customer churn and the new one


def test_a_model_named_with_html_renders_as_text(page, demo_live_server, server_ctx):
    owner = sessions.operator_session(server_ctx, "appowner_user")
    try:
        registration.register_model(server_ctx, owner, registration.ModelSpec(name=XSS, task="binary classification",
                                                          restricted=True, target="y"))
    finally:
        sessions.logout(server_ctx, owner)
    # record any alert instead of blocking on it
    page.add_init_script("window.__alerts = []; window.alert = (m) => { window.__alerts.push(String(m)); };")
    log_in(page, demo_live_server.base_url, "appowner_user", "app_user123")
    models_grid(page)  # a canvas: the name is painted as text there, never parsed as HTML
    open_from_the_list(page, XSS)
    page.wait_for_timeout(500)
    assert page.locator("img[src='x']").count() == 0
    assert page.evaluate("window.__alerts") == []
    # The model awaits its first profiles: the page says so instead of drawing empty charts
    # (an all-zero bar chart used to hang the page in bqplot 0.13).
    page.get_by_text("Awaiting metrics: no profiles yet.").wait_for()
