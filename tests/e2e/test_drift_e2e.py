"""End to end in Chromium: the Drift page on the demo models. The fraud model's owner sees the
features its demo data was built to drift (amount, merchant_category: demo/datasets.py) flagged,
the charts drawn as bqplot SVG, no console error and no clipped text; an admin gets the
line-of-business filter and switches window and model."""
from __future__ import annotations

import re

import pytest

from tests.support.shell_pages import clipped_text, log_in, open_page

pytestmark = pytest.mark.e2e

DRIFTED = ("amount", "merchant_category")  # demo/datasets.py _fraud: drifted=True shifts these two


def _watch_console(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def _text(option: str) -> str:
    """An option's text as written (ipywidgets draws its spaces as no-break spaces)."""
    return option.replace("\xa0", " ").strip()


def _settled(page) -> None:
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def test_the_owner_sees_the_built_in_drift_flagged_and_the_charts_drawn(page, demo_live_server):
    errors = _watch_console(page)
    page.goto(demo_live_server.base_url, wait_until="commit")
    log_in(page, "datascientist_user", "ds_user123")
    open_page(page, "Drift")
    main = page.locator(".vision-page-drift")  # Model 360 stays in the body, hidden
    assert main.get_by_label("Model").input_value() == "Fraud detection"
    assert main.get_by_label("Line of business").count() == 0  # a user has no LOB filter
    # the verdict in words, with its rule and when the data arrived
    verdict = main.locator(".vision-section-title", has_text=re.compile(r"dataset drift in window", re.I))
    verdict.wait_for()
    assert "dataset drift needs 50%" in main.inner_text()
    assert "Latest production data arrived" in main.inner_text()
    # the drifted features, named on the card and drawn over time
    card = main.locator(".vision-kpi", has_text="Drifted features")
    for name in DRIFTED:
        assert name in card.inner_text()
    main.locator(".vision-grid-feature-drift").wait_for()
    main.get_by_text(re.compile(r"^6 features$")).wait_for()
    over_time = main.locator(".bqplot", has_text="Drift score per window")
    legend = main.locator(".vision-legend", has_text="threshold").first
    for name in DRIFTED:  # in the chart's legend: one line per drawn feature
        legend.get_by_text(name, exact=True).wait_for()
    over_time.locator("path.line").nth(5).wait_for(state="attached")  # five features and the threshold
    assert over_time.locator("path.line").count() >= 6
    shares = main.locator(".bqplot", has_text="Share of drifted features per window")
    shares.locator("path.line").nth(1).wait_for(state="attached")
    # the top feature's distribution against training, on its value axis
    distribution = main.locator(".bqplot", has_text="training vs")
    distribution.wait_for()
    assert "amount (feature value)" in distribution.inner_text()
    # label and prediction shift apart
    assert "Target (label shift)" in main.locator(".vision-table", has_text="Column").inner_text()
    _settled(page)
    assert clipped_text(page) == []
    assert errors == []


def test_an_admin_filters_by_line_of_business_and_switches_window_and_model(page, demo_live_server):
    errors = _watch_console(page)
    page.goto(demo_live_server.base_url, wait_until="commit")
    log_in(page, "sre_admin", "sre_admin123")
    open_page(page, "Drift")
    main = page.locator(".vision-page-drift")  # Model 360 stays in the body, hidden
    lob = main.get_by_label("Line of business")
    lob.wait_for()
    options = [_text(o) for o in lob.locator("option").all_inner_texts()]
    assert options[0] == "(any line of business)" and len(options) >= 2
    # an earlier window: its label heads the verdict
    window = main.get_by_label("Window", exact=True)
    first = _text(window.locator("option").first.inner_text()).split(" · ")[0]
    window.select_option(index=1)
    second = _text(window.locator("option").nth(1).inner_text()).split(" · ")[0]
    main.locator(".vision-section-title", has_text=f"in window {second}").wait_for()
    assert first != second
    # another model
    main.get_by_label("Model").select_option("Customer churn")
    main.locator(".vision-legend", has_text="monthly_charges").wait_for()
    main.get_by_text(re.compile(r"^\d+ features$")).wait_for()
    # a restricted model awaiting nothing any more (the demo sent its profiles): still a page of drift
    main.get_by_label("Model").select_option("Retail transactions")
    main.locator(".vision-section-title", has_text="in window").wait_for()
    _settled(page)
    assert clipped_text(page) == []
    assert errors == []


def test_an_admin_changes_a_threshold_and_the_verdict_changes(page, demo_live_server):
    """Last in this module: it changes the fraud model's settings on the module's server."""
    errors = _watch_console(page)
    page.goto(demo_live_server.base_url, wait_until="commit")
    log_in(page, "datascientist_admin", "ds_admin123")
    open_page(page, "Drift")
    main = page.locator(".vision-page-drift")  # Model 360 stays in the body, hidden
    main.get_by_label("Model").select_option("Fraud detection")
    main.locator(".vision-table", has_text="is_fraud").wait_for()  # the fraud model is on show
    verdict = main.locator(".vision-section-title", has_text="in window")
    before = verdict.inner_text()
    assert not before.startswith("No dataset drift") or "0 of 6" not in before
    main.get_by_text("Drift settings: methods, thresholds").click()
    # thresholds no feature reaches: every feature's verdict becomes "no"
    main.get_by_label("Wasserstein (normed)").fill("5")
    main.get_by_label("Jensen–Shannon distance").fill("0.8")
    main.get_by_label("Z-test (proportions)").fill("0.0001")
    main.get_by_role("button", name="Save and recompute").click()
    main.get_by_text(re.compile(r"stored reports recomputed with the new settings")).wait_for(timeout=120_000)
    main.locator(".vision-section-title", has_text="0 of 6 features drifted").wait_for()
    assert verdict.inner_text() != before
    assert "No dataset drift" in verdict.inner_text()
    _settled(page)
    assert errors == []
