"""End to end in Chromium: an admin opens Business Metrics on the demo models (the demo's usage records, plus
twenty recent days for two of them, in two currencies) and sees the KPIs and the four charts; changing the preset updates them; a user
sees only their own model."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.shell_pages import ADMIN, USER, log_in, open_page

pytestmark = pytest.mark.e2e

CHART_TITLES = ("Prediction volume per day", "Cost per day", "Resource utilisation", "Accuracy over time")


@pytest.fixture(scope="module")
def with_usage(demo_live_server):
    """Twenty days of usage up to today for the fraud (Databricks, EUR) and churn (AWS SageMaker, USD) models."""
    from sqlalchemy import select

    from vision_widgets.core.config import load_settings
    from vision_widgets.core.context import Context
    from vision_widgets.core.storage import schema

    ctx = Context.open(load_settings(demo_live_server.env))
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    try:
        with ctx.store.write() as conn:
            for name, base in (("Fraud detection", 12_000), ("Customer churn", 3_000)):
                model_id = conn.execute(select(schema.models.c.id).where(schema.models.c.name == name)).scalar_one()
                for back in range(20):
                    conn.execute(schema.usage_records.insert().values(
                        model_id=model_id, at=today - timedelta(days=back), predictions=base + 100 * back,
                        compute_hours=2.0 + back % 3, cpu_share=0.4 + 0.01 * back, memory_share=0.55,
                        gpu_share=None, source="demo", received_at=today))
    finally:
        ctx.store.dispose()
    return demo_live_server


def _metrics(page):
    return page.locator(".vision-page-metrics")


def test_an_admin_sees_kpis_and_charts_and_the_preset_updates_them(page, with_usage):
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(with_usage.base_url, wait_until="commit")
    log_in(page, *ADMIN)
    open_page(page, "Business Metrics")
    main = _metrics(page)
    cost = main.locator(".vision-kpi", has_text="Total cost").locator(".vision-kpi-value")
    cost.filter(has_text=re.compile(r"EUR .* USD")).wait_for()      # two currencies, never added together
    ninety = cost.inner_text()
    for title in CHART_TITLES:
        main.locator("svg text", has_text=title).first.wait_for()
    assert main.locator(".vision-kpi", has_text="Current Accuracy").locator(".vision-kpi-value").inner_text() != "–"
    # the demo installs usage for all five models, so every volume comes from usage records
    main.get_by_text(re.compile(r"^Volume: usage records: .*Incident prediction.*\.$")).wait_for()
    # hovering a point of the accuracy line shows its day and value
    accuracy = main.locator(".bqplot.figure", has_text="Accuracy over time")
    accuracy.locator(".dot").first.hover(force=True)
    tooltip = page.locator("div[class*=tooltip]:visible", has_text="Accuracy")
    tooltip.get_by_text(re.compile(r"^2026-\d\d-\d\d$")).wait_for()
    tooltip.get_by_text(re.compile(r"^0\.\d{3}$")).wait_for()

    page.get_by_label("Date range").select_option("Last 7 days")
    cost.filter(has_text=re.compile(r"EUR")).and_(cost.filter(has_not_text=ninety)).wait_for()
    main.locator(".vision-kpi", has_text="Total cost").get_by_text(re.compile(r"vs the previous 7 days")).wait_for()
    assert main.get_by_text("Download CSV").get_attribute("download").endswith(".csv")
    assert not [e for e in errors if "favicon" not in e], errors


def test_a_user_sees_only_their_own_model(page, with_usage):
    page.goto(with_usage.base_url, wait_until="commit")
    log_in(page, *USER)
    open_page(page, "Business Metrics")
    main = _metrics(page)
    main.get_by_text("Volume: usage records: Fraud detection.").wait_for()
    cost = main.locator(".vision-kpi", has_text="Total cost").locator(".vision-kpi-value")
    cost.filter(has_text=re.compile(r"^[\d,.]+ EUR$")).wait_for()       # the churn model's USD is not theirs
    assert main.get_by_label("Line of business").count() == 0
    options = main.get_by_label("Model", exact=True).first.locator("option").all_inner_texts()
    assert [o.replace("\xa0", " ").strip() for o in options] == ["(any)", "Fraud detection"]
    assert "Customer churn" not in main.inner_text()
