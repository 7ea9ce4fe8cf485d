"""The Business Metrics page driven headlessly: a user sees their own model's KPIs, charts, table and CSV;
a range with no data says so; a reversed custom range is refused with the reason; an admin filters by
platform and adds a cost rate (a bad one refused); the usage CSV upload goes through the real usage service."""
from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from helpers import ADMIN, OTHER_USER, USER, demo_spec, signed_in_state, synced_text, write_demo_files

from tests.support.usage_rows import add_usage
from vision_widgets.app import PAGES
from vision_widgets.core import audit
from vision_widgets.services import cost_rates, registration
from vision_widgets.views.business_metrics import ANY, BusinessMetricsView

TODAY = datetime(2026, 10, 28, 12, 0, tzinfo=UTC)  # the demo data's production weeks end on Oct 26


@pytest.fixture
def models(ctx, login, settings, clock):
    clock.now = TODAY
    train, prod = write_demo_files(settings.home / "data", "Customer churn", "churn")
    registration.register_model(ctx, login(USER), demo_spec("Churn A", train, prod, "Customer churn",
                                                            platform="Databricks"))
    registration.register_model(ctx, login(OTHER_USER), demo_spec("Churn B", train, prod, "Customer churn",
                                                                  platform="Azure ML"))
    admin = login(ADMIN)
    cost_rates.set_rate(ctx, admin, "Databricks", "EUR", 0.5, 2.0, "2026-01-01")
    cost_rates.set_rate(ctx, admin, "Databricks", "EUR", 1.0, 2.0, "2026-10-20")
    add_usage(ctx, "Churn A", [("2026-10-10", 4000, 2.0, 0.5, 0.25, None),    # 2 + 4 = 6 EUR
                               ("2026-10-25", 2000, 1.0, 0.8, None, None)])   # 2 + 2 = 4 EUR (the new rate)
    add_usage(ctx, "Churn B", [("2026-10-25", 1000, 1.0, None, None, None)])  # Azure ML: no rate


def open_page(ctx, login, who=USER) -> BusinessMetricsView:
    view = BusinessMetricsView(ctx, signed_in_state(login(who)))
    view.wait()
    return view


def test_the_page_is_listed_for_every_model_viewer():
    page = next(p for p in PAGES if p.key == "metrics")
    assert page.title == "Business Metrics" and page.group == "Models" and page.icon == "bar-chart"


def test_a_user_sees_their_models_kpis_charts_table_and_csv(ctx, login, models):
    view = open_page(ctx, login)
    try:
        assert view.preset.value == "Last 90 days" and view.start.value == date(2026, 7, 31)
        assert view.model.options == (ANY, "Churn A")
        assert view.lob not in view._filters          # line-of-business filters are an admin's
        assert view.empty.layout.display == "none" and view.data.layout.display == ""
        assert view.kpis["cost"].figure == "10.00 EUR"
        assert view.kpis["per_1k"].figure == f"{10 / 6:,.3f} EUR"
        assert view.kpis["predictions"].figure == "6,000"
        assert view.kpis["utilisation"].figure == f"{(0.5 * 2 + 0.8 * 1) / 3:.0%}"
        assert view.kpis["performance"].caption == "Current Accuracy"
        assert view.kpis["performance"].figure not in ("", "–")
        assert view.cost_chart.drawn["EUR"][1].tolist() == [6.0, 4.0]
        assert view.volume_chart.drawn["from usage records"][1].tolist() == [4000.0, 2000.0]
        assert len(view.performance_chart.drawn["realised (labels)"][1]) > 0
        assert "Churn B" not in synced_text()
        assert view.table.rows[0][0] == "2026-07-31" and len(view.table.rows) == 90
        assert 'download="business-metrics-2026-07-31-2026-10-28.csv"' in view.download.value
        assert "Volume: usage records: Churn A." == view.sources.text
    finally:
        view.close()


def test_a_range_without_data_says_so_and_a_reversed_range_is_refused(ctx, login, models):
    view = open_page(ctx, login)
    try:
        view.preset.value = "Last 7 days"     # Oct 22–28: one usage day (Oct 25), cost vs the 7 days before
        assert view.kpis["cost"].figure == "4.00 EUR"
        assert "no cost in the previous 7 days" in view.kpis["cost"].note
        view.preset.value = "Custom range"
        assert not view.start.disabled
        view.start.value, view.end.value = date(2027, 1, 1), date(2027, 1, 31)
        assert view.data.layout.display == "none" and view.empty.layout.display == ""
        assert view.empty.text.startswith("No usage records, production data or performance between 2027-01-01")
        view.start.value = date(2027, 2, 15)
        assert "after the end date" in view.status.value and view.status.kind == "error"
        # no numbers or empty state of another range under the message
        assert view.empty.layout.display == "none" and view.data.layout.display == "none"
        view.preset.value = "Last 30 days"
        assert view.status.value == "" and view.data.layout.display == ""
        assert view.kpis["cost"].figure == "10.00 EUR"
    finally:
        view.close()


def test_an_admin_filters_by_platform_sees_unknown_costs_and_adds_a_rate(ctx, login, models):
    view = open_page(ctx, login, ADMIN)
    try:
        assert view.model.options == (ANY, "Churn A", "Churn B")
        assert view.kpis["cost"].figure == "10.00 EUR"
        assert "1 model-day(s) without a rate left out" in view.kpis["cost"].note
        assert "No cost rate for platform Azure ML" in view.notes.text
        view.platform.value = "Azure ML"
        view.wait()
        assert view.source is not None and list(view.source.models["name"]) == ["Churn B"]
        assert view.kpis["cost"].figure == "unknown"
        assert view.cost_chart.figure.title == "Cost per day: unknown (no rate for these platforms)"
        view.rate_platform.value, view.rate_currency.value = "Azure ML", "usd"
        view.rate_per_1k.value, view.rate_per_hour.value = "-1", "2"
        view.rate_from.value = date(2026, 1, 1)
        view.rate_add.click()
        assert "cannot be negative" in view.rate_status.value and view.rate_status.kind == "error"
        view.rate_per_1k.value = "1"
        view.rate_add.click()
        view.wait()
        assert view.rate_status.kind == "success" and "Azure ML: USD 1 per 1,000" in view.rate_status.value
        assert "Azure ML" in view.rates.value and "USD" in view.rates.value
        assert view.kpis["cost"].figure == "3.00 USD"    # 1 × 1 + 1 h × 2
    finally:
        view.close()


def test_a_user_has_no_rate_form_and_the_service_refuses_them_anyway(ctx, login, models):
    view = open_page(ctx, login)
    try:
        assert not hasattr(view, "rate_add")
        assert "Databricks" in view.rates.value
    finally:
        view.close()


def _choose(view, body: bytes) -> None:
    view.upload.value = ({"name": "usage.csv", "type": "text/csv", "size": len(body), "content": body,
                          "last_modified": TODAY},)


def test_a_bad_usage_csv_names_its_lines_and_stores_nothing_and_a_good_one_updates_the_charts(ctx, login, models):
    view = open_page(ctx, login)
    try:
        view.upload_button.click()
        assert "Choose a CSV file" in view.upload_status.value
        assert view.upload_model.value == "Churn A"
        bad = (b"timestamp,predictions,compute_hours\n2026-10-27T12:00:00Z,3000,1\n"
               b"2026-10-28T12:00:00Z,-5,1\n2611-10-28T12:00:00Z,5,1\n")
        _choose(view, bad)
        view.upload_button.click()
        view.wait()
        shown = view.upload_status.value
        assert "2 line(s) of the file are not valid usage records; nothing was stored." in shown
        assert "line 3, column predictions: -5 is negative" in shown and "line 4, column timestamp:" in shown
        assert view.kpis["predictions"].figure == "6,000"     # nothing from the file
        good = b"timestamp,predictions,compute_hours,cpu_share\n2026-10-27T12:00:00Z,3000,1,0.5\n"
        _choose(view, good)
        view.upload_button.click()
        view.wait()
        assert view.upload_status.value == "Churn A: 1 record(s) stored, 0 already present."
        assert view.kpis["predictions"].figure == "9,000"     # reloaded with the new record
        assert view.volume_chart.drawn["from usage records"][1].tolist() == [4000.0, 2000.0, 3000.0]
    finally:
        view.close()
    with ctx.store.read() as conn:
        entry = next(e for e in audit.recent(conn) if e.action == "import usage")
    assert (entry.actor, entry.detail) == (USER, "csv: 1 stored, 0 unchanged")


def test_an_account_without_models_gets_an_empty_state_that_says_so(ctx, login, clock):
    clock.now = TODAY
    view = open_page(ctx, login)
    try:
        assert view.status.value == ""
        assert view.empty.layout.display == "" and view.data.layout.display == "none"
        assert view.empty.text == "No model matches: register a model or change the filters."
        view.preset.value = "Last 7 days"
        assert view.empty.layout.display == "" and view.status.value == ""
    finally:
        view.close()
