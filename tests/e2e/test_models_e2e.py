"""End to end in Chromium against a server with the demo models: who sees which model, the charts
render as bqplot SVG, registering from the demo files, and an HTML model name shown as text."""
from __future__ import annotations

import pytest

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


def open_model_select(page):
    """The "Open model" dropdown: the fourth <select> of Model 360 (after LOB, platform, status)."""
    page.locator(".vision-table").first.wait_for()
    return page.locator("select").nth(3)


def model_options(page) -> list[str]:
    """The options of the "Open model" dropdown (the page's model list)."""
    # ipywidgets renders the spaces of option labels as no-break spaces
    return [o.replace("\xa0", " ").strip() for o in open_model_select(page).locator("option").all_inner_texts()]


def test_a_user_sees_only_their_model_and_its_charts_render(page, demo_live_server):
    log_in(page, demo_live_server.base_url, "datascientist_user", "ds_user123")
    page.get_by_text("Fraud detection").first.wait_for()
    assert model_options(page) == ["Fraud detection"]
    table = page.locator(".vision-table").first.inner_text()
    assert "Fraud detection" in table and "Customer churn" not in table
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
    histogram.locator("rect.bar").first.wait_for()
    assert "amount: training vs production" in histogram.inner_text()
    assert histogram.locator("rect.bar").count() >= 4  # training + production bars
    page.get_by_role("tab", name="Drift over time").click()
    page.locator(".bqplot:visible").first.locator("path.line").first.wait_for(state="attached")


def test_an_admin_sees_all_five_demo_models(page, demo_live_server):
    log_in(page, demo_live_server.base_url, "sre_admin", "sre_admin123")
    page.get_by_text("Retail transactions").first.wait_for()
    assert set(DEMO) <= set(model_options(page))


def test_an_owner_registers_a_model_from_the_demo_files_and_sees_it(page, demo_live_server):
    folder = demo_live_server.home / "demo-data"
    log_in(page, demo_live_server.base_url, "productowner_user", "po_user123")
    page.locator(".vision-nav button", has_text="Register model").click()
    page.get_by_label("Name", exact=True).fill("Churn v2 e2e")
    # a file is named by its data folder: users are not shown where the folders are on the server
    page.get_by_label("Training data").fill(f"{folder.name}/customer_churn_training.csv")
    page.get_by_label("Production data").fill(f"{folder.name}/customer_churn_production.csv")
    page.get_by_label("Target").fill("churned")
    page.get_by_label("Prediction").fill("churn_probability")
    page.get_by_label("Timestamp").fill("event_time")
    page.get_by_label("Excluded").fill("record_id")
    page.locator(".vision-page button", has_text="Register model").click()
    page.get_by_text("Churn v2 e2e is registered").wait_for(timeout=PAGE_TIMEOUT_MS)
    page.get_by_role("button", name="Open in Model 360").click()
    page.locator(".vision-section-title", has_text="Churn v2 e2e").wait_for()
    assert set(model_options(page)) == {"Customer churn", "Churn v2 e2e"}


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
    page.get_by_text("Retail transactions").first.wait_for()
    assert XSS in page.locator(".vision-table").first.inner_text().replace("\xa0", " ")
    assert XSS in model_options(page)
    open_model_select(page).select_option(label=XSS)
    page.locator(".vision-section-title", has_text=XSS).wait_for()
    page.wait_for_timeout(500)
    assert page.locator("img[src='x']").count() == 0
    assert page.evaluate("window.__alerts") == []
    # The model awaits its first profiles: the page says so instead of drawing empty charts
    # (an all-zero bar chart used to hang the page in bqplot 0.13).
    page.get_by_text("Awaiting metrics: no profiles yet.").wait_for()
