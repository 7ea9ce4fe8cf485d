"""core/usage/metrics and services/business_metrics, cost_rates: cost with the rate in force each day (a
change mid-range, two currencies never summed, a missing rate = unknown, not 0), utilisation weighted by
compute hours, KPIs against the previous range, performance equal to the estimation service's own
numbers, and who sees what."""
from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
from helpers import ADMIN, OTHER_USER, USER, demo_spec, write_demo_files

from tests.support.usage_rows import add_usage
from vision_widgets.core import audit
from vision_widgets.core.errors import Conflict, InvalidInput, PermissionDenied
from vision_widgets.core.usage import metrics
from vision_widgets.core.usage.rates import CostRate, rates_frame
from vision_widgets.services import business_metrics, cost_rates, estimation, registration


def _rate(platform, currency, per_1k, per_hour, day):
    return CostRate(platform, currency, per_1k, per_hour, date.fromisoformat(day), "admin", None)


MODELS = pd.DataFrame({"model_id": [1, 2, 3], "name": ["A", "B", "C"], "platform": ["P1", "P2", "P3"],
                       "lob": ["", "", ""], "sub_lob": ["", "", ""], "task": ["binary classification"] * 3,
                       "owner": ["u", "u", "u"]})
RATES = rates_frame([_rate("P1", "EUR", 2.0, 1.0, "2026-01-01"), _rate("P1", "EUR", 4.0, 1.0, "2026-01-03"),
                     _rate("P2", "USD", 1.0, 0.5, "2026-01-01")])


def _usage(rows):
    return metrics.daily_usage(pd.DataFrame(rows, columns=list(metrics.USAGE_COLUMNS)))


def _ts(day, hour=12):
    return pd.Timestamp(f"{day} {hour:02d}:00", tz="UTC")


EMPTY_WIN = pd.DataFrame({"model_id": pd.Series(dtype=int), "day": pd.Series(dtype="datetime64[ns]"),
                          "rows": pd.Series(dtype=int)})
EMPTY_PERF = pd.DataFrame({"model_id": pd.Series(dtype=int), "day": pd.Series(dtype="datetime64[ns]"),
                           "metric": pd.Series(dtype=str), "value": pd.Series(dtype=float),
                           "kind": pd.Series(dtype=str)})


def source(usage_rows, windows=EMPTY_WIN, perf=EMPTY_PERF, rates=RATES):
    return metrics.prepare(MODELS, _usage(usage_rows), windows, perf, rates)


USAGE = [
    (1, _ts("2026-01-01", 9), 600, 1.5, 0.5, 0.2, None),    # A: two records on Jan 1, summed
    (1, _ts("2026-01-01", 18), 400, 0.5, 0.5, 0.4, None),
    (1, _ts("2026-01-03"), 2000, 1.0, 1.0, None, None),     # A: the new P1 rate from Jan 3
    (2, _ts("2026-01-02"), 3000, 4.0, None, None, 0.9),     # B: in USD
]


def test_cost_uses_the_rate_in_force_each_day_and_never_adds_currencies():
    got = metrics.compute(source(USAGE), date(2026, 1, 1), date(2026, 1, 3))
    # A Jan 1: 1000/1000 × 2 + 2 h × 1 = 4 EUR; A Jan 3: 2000/1000 × 4 + 1 × 1 = 9 EUR; B Jan 2: 3 × 1 + 4 × 0.5 = 5 USD
    assert sorted(got.cost) == ["EUR", "USD"]
    np.testing.assert_allclose(got.cost["EUR"], [4.0, np.nan, 9.0])
    np.testing.assert_allclose(got.cost["USD"], [np.nan, 5.0, np.nan])
    assert got.kpis.cost == {"EUR": 13.0, "USD": 5.0}
    assert got.kpis.cost_per_1k["EUR"] == pytest.approx(13.0 / 3000 * 1000)
    assert got.kpis.cost_per_1k["USD"] == pytest.approx(5.0 / 3)
    np.testing.assert_allclose(got.volume_usage, [1000, 3000, 2000])
    assert got.kpis.predictions == 6000 and got.kpis.compute_hours == pytest.approx(7.0)
    assert got.kpis.unknown_cost_days == 0 and not got.notes


def test_a_record_dated_past_what_nanoseconds_hold_is_not_counted_on_another_day():
    # stored before timestamps were bounded: numpy's cast to nanoseconds wrapped 2611-03-23 onto a day of 2026
    far = pd.Timestamp("2611-03-23 12:00").to_pydatetime().replace(tzinfo=pd.Timestamp(0, tz="UTC").tzinfo)
    daily = _usage([(1, _ts("2026-09-01"), 1000, 1.0, None, None, None), (1, far, 999_999, 50.0, None, None, None)])
    assert list(daily["day"].dt.strftime("%Y-%m-%d")) == ["2026-09-01"]
    assert list(daily["predictions"]) == [1000.0]


def test_utilisation_is_weighted_by_compute_hours_over_the_records_that_give_it():
    got = metrics.compute(source(USAGE), date(2026, 1, 1), date(2026, 1, 3))
    # CPU: A's records only (B gave none): (0.5×1.5 + 0.5×0.5 + 1.0×1.0) / 3.0 h
    assert got.kpis.utilisation["cpu"] == pytest.approx(2.0 / 3.0)
    # memory: Jan 1 only: (0.2×1.5 + 0.4×0.5) / 2.0
    assert got.kpis.utilisation["memory"] == pytest.approx(0.25)
    assert got.kpis.utilisation["gpu"] == pytest.approx(0.9)
    np.testing.assert_allclose(got.utilisation["cpu"], [0.5, np.nan, 1.0])


def test_a_missing_rate_makes_the_cost_unknown_with_a_message_not_zero():
    rows = USAGE + [(3, _ts("2026-01-02"), 5000, 2.0, None, None, None),   # C: platform P3 has no rate
                    (1, _ts("2025-12-31"), 1000, 1.0, None, None, None)]   # A: before P1's first rate
    got = metrics.compute(source(rows), date(2025, 12, 31), date(2026, 1, 3))
    assert got.kpis.cost == {"EUR": 13.0, "USD": 5.0}           # unchanged: nothing priced at 0
    assert got.kpis.unknown_cost_days == 2
    assert math.isnan(got.cost["EUR"][0])                       # Dec 31 has no known cost
    text = " ".join(got.notes)
    assert "No cost rate for platform P3" in text and "(C)" in text and "unknown" in text
    assert "No cost rate for platform P1" in text and "2025-12-31" in text


def test_kpis_compare_with_the_previous_range_of_the_same_length():
    rows = USAGE + [(1, _ts("2026-01-05"), 1000, 1.0, None, None, None)]   # 1 × 4 + 1 × 1 = 5 EUR
    got = metrics.compute(source(rows), date(2026, 1, 4), date(2026, 1, 6))
    assert got.kpis.cost == {"EUR": 5.0} and got.kpis.previous_cost == {"EUR": 13.0, "USD": 5.0}
    assert got.kpis.cost_change("EUR") == pytest.approx(5.0 / 13.0 - 1.0)
    assert got.kpis.cost_change("USD") == pytest.approx(-1.0)


def test_volume_falls_back_to_production_windows_for_a_model_without_usage_and_says_so():
    windows = pd.DataFrame({"model_id": [2, 3, 3], "day": pd.to_datetime(["2026-01-01", "2026-01-01", "2026-01-03"]),
                            "rows": [999, 250, 300]})
    got = metrics.compute(source(USAGE[:3], windows=windows), date(2026, 1, 1), date(2026, 1, 3))
    np.testing.assert_allclose(got.volume_usage, [1000, np.nan, 2000])
    # B and C have no usage records: their windows count (B's 999 too); A's usage is not doubled
    np.testing.assert_allclose(got.volume_windows, [1249, np.nan, 300])
    assert got.volume_sources == {"A": "usage records", "B": "production windows", "C": "production windows"}
    np.testing.assert_allclose(got.volume, [2249, np.nan, 2300])


def test_performance_per_day_and_the_current_value_against_the_previous_range():
    perf = pd.DataFrame({
        "model_id": [1, 1, 2, 1, 2], "metric": ["accuracy"] * 5,
        "day": pd.to_datetime(["2026-01-01", "2026-01-08", "2026-01-08", "2026-01-15", "2026-01-15"]),
        "value": [0.9, 0.8, 0.6, 0.7, 0.5], "kind": ["realised", "realised", "realised", "realised", "estimated"]})
    got = metrics.compute(source([], perf=perf), date(2026, 1, 8), date(2026, 1, 15))
    assert got.realised[0] == pytest.approx(0.7) and got.realised[-1] == pytest.approx(0.7)
    assert got.estimated[-1] == pytest.approx(0.5) and np.isnan(got.estimated[0])
    # latest per model in range: A 0.7 (realised), B 0.5 (estimated); previous range (Jan 0..7): A 0.9
    assert got.kpis.performance == pytest.approx(0.6) and got.kpis.performance_estimated == 1
    # B had no value before: the change is A's alone (0.7 vs 0.9), not the mean's (0.6 vs 0.9)
    assert got.kpis.previous_performance == pytest.approx(0.9)
    assert got.kpis.performance_change == pytest.approx(-0.2) and got.kpis.performance_compared == 1


def test_a_model_new_in_the_range_makes_no_false_drop():
    # A steady at 0.95, B steady at 0.70; B has no value in the previous range
    perf = pd.DataFrame({"model_id": [1, 1, 2], "metric": ["accuracy"] * 3,
                         "day": pd.to_datetime(["2026-01-03", "2026-01-10", "2026-01-10"]),
                         "value": [0.95, 0.95, 0.70], "kind": ["realised"] * 3})
    k = metrics.compute(source([], perf=perf), date(2026, 1, 8), date(2026, 1, 14)).kpis
    assert k.performance == pytest.approx(0.825) and k.performance_models == 2
    assert k.performance_change == pytest.approx(0.0) and k.performance_compared == 1
    nothing_before = metrics.compute(source([], perf=perf[perf["day"] > "2026-01-05"]), date(2026, 1, 8),
                                     date(2026, 1, 14)).kpis
    assert nothing_before.performance_change is None and nothing_before.performance_compared == 0


def test_an_empty_range_is_empty_not_zeros_and_a_reversed_range_is_refused():
    got = metrics.compute(source(USAGE), date(2027, 1, 1), date(2027, 1, 30))
    assert got.empty and got.kpis.cost == {} and got.kpis.performance is None
    assert np.isnan(got.volume).all()
    with pytest.raises(InvalidInput, match="after the end date") as err:
        metrics.compute(source(USAGE), date(2026, 1, 3), date(2026, 1, 1))
    assert err.value.field == "start"


def test_the_csv_holds_the_table_one_row_per_day():
    got = metrics.compute(source(USAGE), date(2026, 1, 1), date(2026, 1, 3))
    frame = pd.read_csv(__import__("io").BytesIO(got.to_csv()))
    assert list(frame["date"]) == ["2026-01-01", "2026-01-02", "2026-01-03"]
    assert list(frame["cost (EUR)"].fillna(-1)) == [4, -1, 9] and list(frame["cost (USD)"].fillna(-1)) == [-1, 5, -1]
    assert "accuracy (realised)" in frame.columns and "predictions (production windows)" in frame.columns


def test_the_csv_keeps_every_digit_counts_as_integers():
    rates = rates_frame([_rate("P1", "EUR", 0.123456789, 0.0, "2026-01-01")])
    got = metrics.compute(source([(1, _ts("2026-01-01"), 12_345_678, 1234.5678912, None, None, None)], rates=rates),
                          date(2026, 1, 1), date(2026, 1, 2))
    lines = got.to_csv().decode().splitlines()
    header, first, second = lines[0].split(","), lines[1].split(","), lines[2].split(",")
    row = dict(zip(header, first))
    assert row["predictions (usage records)"] == "12345678"           # was 1.23457e+07
    assert float(row["compute hours"]) == 1234.5678912                 # was 1234.57
    assert float(row["cost (EUR)"]) == pytest.approx(12_345.678 * 0.123456789, rel=1e-14)
    assert dict(zip(header, second))["predictions (usage records)"] == ""  # no record: empty, not 0


# -- rates service ------------------------------------------------------------------------------
def test_an_admin_sets_rates_with_history_audited_and_bad_values_are_refused(ctx, login):
    admin = login(ADMIN)
    cost_rates.set_rate(ctx, admin, "Databricks", "eur", "0.40", 3.2, "2026-01-01")
    cost_rates.set_rate(ctx, admin, "Databricks", "EUR", 0.5, 3.5, date(2026, 9, 29))
    got = cost_rates.list_rates(ctx, login(USER))
    assert [(r.platform, r.currency, r.per_1k_predictions, r.effective_from) for r in got] == [
        ("Databricks", "EUR", 0.4, date(2026, 1, 1)), ("Databricks", "EUR", 0.5, date(2026, 9, 29))]
    with ctx.store.read() as conn:
        assert [e.action for e in audit.recent(conn)].count("set cost rate") == 2
    for args, field in ((("X", "EUR", -1, 1, "2026-01-01"), "per_1k_predictions"),
                        (("X", "EUR", "abc", 1, "2026-01-01"), "per_1k_predictions"),
                        (("X", "EUR", 1, float("nan"), "2026-01-01"), "per_compute_hour"),
                        (("X", "EURO", 1, 1, "2026-01-01"), "currency"),
                        (("X", "EUR", 1, 1, "01/02/2026"), "effective_from"),
                        (("", "EUR", 1, 1, "2026-01-01"), "platform")):
        with pytest.raises(InvalidInput) as err:
            cost_rates.set_rate(ctx, admin, *args)
        assert err.value.field == field
    with pytest.raises(Conflict, match="never rewritten"):
        cost_rates.set_rate(ctx, admin, "Databricks", "EUR", 9, 9, "2026-01-01")
    with pytest.raises(PermissionDenied):
        cost_rates.set_rate(ctx, login(USER), "Databricks", "EUR", 1, 1, "2026-12-01")


@pytest.mark.parametrize("given, field, words", [
    ("0,40", "per_1k_predictions", "with a point for decimals, e.g. 0.40 (got '0,40'"),   # was stored as 40
    ("0,400", "per_1k_predictions", "with a point for decimals"),
    ("1,5", "per_1k_predictions", "with a point for decimals"),
    ("12,34.5", "per_1k_predictions", "with a point for decimals"),
])
def test_a_decimal_comma_is_refused_saying_which_form_is_expected(ctx, login, given, field, words):
    with pytest.raises(InvalidInput) as err:
        cost_rates.set_rate(ctx, login(ADMIN), "AWS", "USD", given, "3.20", "2026-01-01")
    assert err.value.field == field and words in str(err.value)
    assert cost_rates.list_rates(ctx, login(ADMIN)) == []


def test_a_comma_is_a_thousands_separator_only_in_the_strict_form(ctx, login):
    rate = cost_rates.set_rate(ctx, login(ADMIN), "AWS", "USD", "1,250.50", "12,000", "2026-01-01")
    assert (rate.per_1k_predictions, rate.per_compute_hour) == (1250.5, 12000.0)


@pytest.mark.parametrize("day", ["0226-01-01", "1999-12-31", "2100-01-01", "9999-12-31"])
def test_an_effective_day_far_from_today_is_refused(ctx, login, day):
    with pytest.raises(InvalidInput, match=f"The effective date {day} is outside 2000-01-01 .. 2099-12-31") as err:
        cost_rates.set_rate(ctx, login(ADMIN), "AWS", "USD", "0.4", "3.2", day)
    assert err.value.field == "effective_from"


def test_a_rate_stored_from_year_226_still_prices_every_day_and_breaks_no_page(ctx, login, register_restricted):
    # stored before effective days were bounded (rates are never rewritten): the page must still open
    register_restricted("Secret model")  # on Databricks
    with ctx.store.write() as conn:
        from vision_widgets.core.usage import rates as core_rates
        core_rates.insert(conn, "Databricks", "USD", 2.0, 1.0, date(226, 1, 1), "admin", ctx.now())
        core_rates.insert(conn, "Databricks", "USD", 9.0, 9.0, date(2611, 1, 1), "admin", ctx.now())
    add_usage(ctx, "Secret model", [("2026-09-01", 1000, 1.0, None, None, None)])
    for who in (USER, ADMIN):
        got = business_metrics.business_metrics(ctx, login(who), date(2026, 9, 1), date(2026, 9, 1))
        assert got.kpis.cost == {"USD": 1000 / 1000 * 2.0 + 1.0 * 1.0}  # the year-226 rate, in force since


# -- business metrics service -----------------------------------------------------------------------
@pytest.fixture
def two_models(ctx, login, settings):
    train, prod = write_demo_files(settings.home / "data", "Customer churn", "churn")  # both classes in every window
    registration.register_model(ctx, login(USER), demo_spec("Fraud detection", train, prod, "Customer churn",
                                                            platform="Databricks"))
    registration.register_model(ctx, login(OTHER_USER), demo_spec("Other model", train, prod, "Customer churn", platform="Azure ML"))
    cost_rates.set_rate(ctx, login(ADMIN), "Databricks", "EUR", 0.5, 2.0, "2026-01-01")
    add_usage(ctx, "Fraud detection", [("2026-09-01", 4000, 2.0, 0.5, 0.5, None)])
    add_usage(ctx, "Other model", [("2026-09-01", 1000, 1.0, 0.2, None, None)])


def test_a_user_sees_only_their_models_and_an_admin_filters(ctx, login, two_models):
    mine = business_metrics.business_metrics(ctx, login(USER), date(2026, 9, 1), date(2026, 9, 30))
    assert mine.models == ("Fraud detection",) and mine.kpis.cost == {"EUR": 4.0 * 0.5 + 2.0 * 2.0}
    assert business_metrics.filter_choices(ctx, login(USER))["model"] == ("Fraud detection",)
    with pytest.raises(InvalidInput, match="no model 'Other model'"):
        business_metrics.load(ctx, login(USER), model="Other model")
    admin = login(ADMIN)
    every = business_metrics.business_metrics(ctx, admin, date(2026, 9, 1), date(2026, 9, 30))
    assert every.models == ("Fraud detection", "Other model")
    assert every.kpis.unknown_cost_days == 1 and "Azure ML" in " ".join(every.notes)
    azure = business_metrics.business_metrics(ctx, admin, date(2026, 9, 1), date(2026, 9, 30), platform="Azure ML")
    assert azure.models == ("Other model",) and azure.kpis.predictions == 1000
    assert business_metrics.filter_choices(ctx, admin)["platform"] == ("Azure ML", "Databricks")


def test_performance_is_the_estimation_services_own_numbers(ctx, login, two_models):
    user = login(USER)
    source = business_metrics.load(ctx, user)
    own = estimation.performance_over_time(ctx, user, "Fraud detection")
    days = [pd.Timestamp(w).floor("D") for w in own.windows]
    for metric in ("accuracy", "roc_auc", "f1"):
        got = source.performance[source.performance["metric"] == metric].sort_values("day")
        want = [(d, r if r is not None else e, "realised" if r is not None else "estimated")
                for d, r, e in zip(days, own.realised[metric], own.estimated[metric]) if (r, e) != (None, None)]
        assert want or metric == "roc_auc", f"the demo model has {metric} in some window"  # small windows: AUC pooled
        assert [(pd.Timestamp(d), pytest.approx(v), k) for d, v, k in want] == \
            list(zip(got["day"], got["value"], got["kind"]))
    # production windows' rows, for the volume of a model without usage records
    assert sorted(source.windows["rows"]) == sorted(own.rows)


def test_a_reversed_range_is_refused_before_anything_is_read(ctx, login):
    with pytest.raises(InvalidInput, match="choose a start on or before the end"):
        business_metrics.business_metrics(ctx, login(USER), date(2026, 9, 30), date(2026, 9, 1))


def test_a_regression_models_performance_is_its_windows_mae_and_rmse(ctx, login, settings):
    rng = np.random.default_rng(5)
    folder = settings.home / "data"
    folder.mkdir(parents=True, exist_ok=True)

    def frame(n, start):
        x = rng.normal(0, 1, n)
        y = 3 * x + rng.normal(0, 1, n)
        at = pd.Timestamp(start) + pd.to_timedelta(np.sort(rng.integers(0, 28 * 86400, n)), unit="s")
        return pd.DataFrame({"event_time": at, "x": x, "z": rng.normal(0, 1, n), "y": y,
                             "y_pred": 3 * x + rng.normal(0.2, 0.5, n)})

    train, prod = frame(2000, "2026-08-01"), frame(2000, "2026-09-01")
    train.to_csv(folder / "reg_train.csv", index=False)
    prod.to_csv(folder / "reg_prod.csv", index=False)
    spec = registration.ModelSpec(name="Demand", task="regression", platform="on-premises", target="y",
                                  prediction="y_pred", timestamp="event_time", training=str(folder / "reg_train.csv"),
                                  production=str(folder / "reg_prod.csv"))
    registration.register_model(ctx, login(USER), spec)
    source = business_metrics.load(ctx, login(USER))
    assert source.metrics == ("rmse", "mae")
    perf = source.performance.merge(source.windows, on=["model_id", "day"])
    error = (prod["y"] - prod["y_pred"]).to_numpy()
    for metric, overall, combine in (("mae", np.abs(error).mean(), lambda v, n: (v * n).sum() / n.sum()),
                                     ("rmse", np.sqrt((error ** 2).mean()),
                                      lambda v, n: np.sqrt((v ** 2 * n).sum() / n.sum()))):
        part = perf[perf["metric"] == metric]
        assert (part["kind"] == "realised").all() and len(part) >= 4
        assert combine(part["value"].to_numpy(), part["rows"].to_numpy()) == pytest.approx(overall, rel=1e-6)
    got = business_metrics.for_range(source, date(2026, 8, 25), date(2026, 10, 5), "rmse")
    assert got.kpis.performance is not None and np.isfinite(got.realised).sum() == len(perf) // 2


@pytest.mark.parametrize("label", ["March", "2026-09", "Q3 2026", "0001-01-01T00:00:00"])
def test_a_batch_label_a_person_chose_is_not_read_as_its_day(ctx, login, settings, clock, label):
    # a model without a timestamp column: each batch is one window, placed on the day it arrived
    from vision_widgets.services import submissions
    train, prod = write_demo_files(settings.home / "data", "Customer churn", "churn")
    user = login(USER)
    registration.register_model(ctx, user, demo_spec("Churn", train, prod, "Customer churn", timestamp=""))
    clock.advance(3 * 86_400)
    submissions.add_production_batch(ctx, login(USER), "Churn", str(prod), label=label)
    for who in (USER, ADMIN):
        source = business_metrics.load(ctx, login(who))
        days = sorted(pd.Timestamp(d).date().isoformat() for d in source.windows["day"])
        assert days == ["2024-05-01", "2024-05-04"], days  # the registration's batch, then this one's arrival


def test_one_models_unreadable_windows_do_not_hide_the_others(ctx, login, two_models, monkeypatch):
    real = business_metrics._model_series

    def broken_for_one(conn, record):
        if record.name == "Other model":
            raise OverflowError("a value no check foresaw")
        return real(conn, record)

    monkeypatch.setattr(business_metrics, "_model_series", broken_for_one)
    got = business_metrics.business_metrics(ctx, login(ADMIN), date(2026, 9, 1), date(2026, 9, 30))
    assert got.models == ("Fraud detection", "Other model") and got.kpis.predictions == 5000
    assert any(n.startswith("Other model: its production windows and performance could not be read")
               for n in got.notes), got.notes
    assert got.kpis.performance_models == 1
