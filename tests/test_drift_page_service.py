"""services/drift_page.py: a model's production windows, verdicts, per-feature results, distributions,
label and prediction shift, who may see them, and the empty states."""
from __future__ import annotations

import math

import pytest
from helpers import ADMIN, OTHER_USER, USER, demo_frames, demo_spec, write_demo_files

from sqlalchemy import delete

from vision_widgets.core.storage import schema
from vision_widgets.core.errors import NotFound, PermissionDenied
from vision_widgets.demo.datasets import DRIFT_FROM_WEEK, PROD_START
from vision_widgets.services import registration, submissions
from vision_widgets.core.stats.drift_summary import drift_score
from vision_widgets.services.drift_page import FeatureResult, drift_overview


@pytest.fixture
def fraud(ctx, login, settings):
    """The fraud demo model, owned by USER, with weekly production windows (1,000 rows a week, so a
    window publishes the categories the privacy guard would pool in a smaller one)."""
    train, prod = write_demo_files(settings.home / "data", weekly_rows=1000)
    registration.register_model(ctx, login(USER), demo_spec("Fraud detection", train, prod))
    return "Fraud detection"


def test_windows_are_the_weekly_windows_in_time_order_with_the_latest_last(ctx, login, fraud):
    o = drift_overview(ctx, login(USER), fraud)
    labels = [w.label for w in o.windows]
    assert labels == sorted(labels) and len(labels) >= 8
    assert all(w.batch == "initial production data" for w in o.windows)
    assert o.latest is o.windows[-1]
    assert o.latest_at is not None and o.empty_reason == ""
    # the verdict of each window is its share of drifted features against the model's rule
    for w in o.windows:
        assert w.drift_share == pytest.approx(len(w.drifted) / len(w.features))
        assert w.dataset_drift == (w.drift_share >= o.threshold_share)


def test_the_features_built_to_drift_are_flagged_in_the_late_weeks_only(ctx, login, fraud):
    o = drift_overview(ctx, login(USER), fraud)
    late = [w for w in o.windows if w.window >= str(PROD_START + (DRIFT_FROM_WEEK - 1) * __import__("pandas").Timedelta(weeks=1))]
    assert late, [w.window for w in o.windows]
    for w in late[:-1]:  # the last window can be a partial week
        assert {"amount", "merchant_category"} <= set(w.drifted), (w.label, w.drifted)
    first = o.windows[1]
    assert "amount" not in first.drifted and "merchant_category" not in first.drifted


def test_the_table_sorts_drifted_first_then_by_how_far_past_the_threshold(ctx, login, fraud):
    o = drift_overview(ctx, login(USER), fraud)
    rows = o.latest.sorted_features()
    flags = [r.drifted for r in rows]
    assert flags == sorted(flags, reverse=True)
    drifted = [r.score for r in rows if r.drifted]
    assert drifted == sorted(drifted, reverse=True)
    assert all(r.score >= 1 for r in rows if r.drifted)
    by_name = {r.feature: r for r in rows}
    assert by_name["card_present"].method == "z" and by_name["card_present"].p_value is not None
    assert by_name["amount"].method == "wasserstein" and by_name["amount"].p_value is None


def test_the_score_puts_every_method_on_one_scale_with_the_threshold_at_one():
    assert drift_score(False, 0.2, None, 0.1) == pytest.approx(2.0)
    assert drift_score(True, 0.3, 0.05, 0.05) == pytest.approx(1.0)
    assert drift_score(True, 0.3, 0.0025, 0.05) == pytest.approx(2.0)
    assert drift_score(True, 0.0, 1.0, 0.05) == 0.0
    assert math.isfinite(drift_score(True, 9.0, 0.0, 0.05))
    r = FeatureResult.from_dict({"feature": "a", "type": "numeric", "method": "psi", "statistic": 0.05,
                                 "p_value": None, "psi": 0.05, "threshold": 0.1, "drifted": False})
    assert r.score == pytest.approx(0.5)


def _stored(method: str, statistic: float, p: float | None, threshold: float, drifted: bool, note: str | None,
            **more) -> dict:
    return dict({"feature": "a", "type": "binary", "method": method, "statistic": statistic, "p_value": p,
                 "psi": 0.0, "threshold": threshold, "drifted": drifted, "note": note}, **more)


def test_a_result_decided_by_a_reference_band_is_scored_on_the_statistic_not_its_p_value():
    # threshold_mode="reference_chunks" stores the band's upper edge (a Z or D statistic) as the
    # threshold: the old page read it as a significance level and scored a drifted Z-test 0.0.
    z = FeatureResult.from_dict(_stored("z", 6.0, 1e-9, 4.0, True,
                                        "data-driven band from 10 reference chunks: [-4, 4]"))
    assert z.score == pytest.approx(1.5) and z.drifted
    below = FeatureResult.from_dict(_stored("z", -5.0, 1e-7, 4.0, True,
                                            "data-driven band from 10 reference chunks: [-3, 4]"))
    assert below.score == pytest.approx(5.5 / 3.5)  # 5.5 from the band's centre, 0.5, over its half-width
    ks = FeatureResult.from_dict(_stored("ks", 0.03, 0.2, 0.02, True,
                                         "data-driven band from 10 reference chunks: alert above 0.02"))
    assert ks.score == pytest.approx(1.5)
    # a report stored with its score: the page reads it as it is
    assert FeatureResult.from_dict(_stored("z", 6.0, 1e-9, 4.0, True, None, score=1.25)).score == 1.25


def test_the_drifted_band_feature_is_drawn_past_the_line_over_time(ctx, login, fraud):
    from dataclasses import replace

    from vision_widgets.services.drift_page import _matrix

    w = drift_overview(ctx, login(USER), fraud).windows[-1]
    raw = (_stored("z", 6.0, 1e-9, 4.0, True, "data-driven band from 10 reference chunks: [-4, 4]"),)
    scores, flags = _matrix((replace(w, raw=raw),), ("a",))
    assert scores[0, 0] == pytest.approx(1.5) and flags[0, 0]


def test_series_top_features_and_share_series_cover_every_window(ctx, login, fraud):
    o = drift_overview(ctx, login(USER), fraud)
    top = o.top_features(5)
    assert len(top) == 5 and set(top[:2]) == {"amount", "merchant_category"}
    s = o.series("amount")
    assert len(s.scores) == len(o.windows)
    assert s.drifted[-2] and not s.drifted[1]
    labels, shares, verdicts = o.share_series()
    assert labels == tuple(w.label for w in o.windows) and shares[-2] == o.windows[-2].drift_share


def test_a_categorical_distribution_shows_the_unseen_category(ctx, login, fraud):
    o = drift_overview(ctx, login(USER), fraud)
    d = o.distribution(len(o.windows) - 2, "merchant_category")
    assert d.kind == "categorical" and d.edges is None
    # the new merchant type (crypto_exchange) is too rare in the early windows to be published on its own
    # in a window, so the windows pool it: it shows as "(other)", which training does not have
    assert d.unseen == ("(other)",) and d.vanished == ()
    i = d.labels.index("(other)")
    assert d.reference_share[i] == 0 and d.current_share[i] > 0.03
    assert sum(d.current_share) == pytest.approx(1.0) and sum(d.reference_share) == pytest.approx(1.0)
    assert [s.name for s in d.stats][:2] == ["Rows", "Missing"]


def test_a_numeric_distribution_is_on_the_value_axis_and_moves_with_the_window(ctx, login, fraud):
    o = drift_overview(ctx, login(USER), fraud)
    early, late = o.distribution(1, "amount"), o.distribution(len(o.windows) - 2, "amount")
    assert early.edges is not None and len(early.edges) == len(early.reference_share) - 1
    mean = {s.name: s for s in late.stats}["Mean"]
    assert float(mean.production) > float(mean.training)
    assert early.current_share != late.current_share


def test_target_and_prediction_shift_are_reported_apart(ctx, login, fraud):
    o = drift_overview(ctx, login(USER), fraud)
    shifts = {s.role: s for s in o.shifts(len(o.windows) - 1)}
    assert set(shifts) == {"target", "prediction"}
    assert shifts["target"].column == "is_fraud" and shifts["target"].result is not None
    assert shifts["target"].result.method == "z"
    assert shifts["prediction"].column == "fraud_score" and shifts["prediction"].result.type == "numeric"


def test_a_second_batch_adds_its_windows_after_the_first(ctx, login, fraud, settings, clock):
    _, frame = demo_frames(weekly_rows=1000)
    late = settings.home / "data" / "november.csv"
    frame.iloc[len(frame) // 2:].to_csv(late, index=False)
    clock.advance(3600)
    before = len(drift_overview(ctx, login(USER), fraud).windows)
    submissions.add_production_batch(ctx, login(USER), fraud, str(late), label="November")
    o = drift_overview(ctx, login(USER), fraud)
    assert len(o.windows) > before
    assert o.windows[-1].batch == "November" and o.windows[0].batch == "initial production data"
    assert len({w.label for w in o.windows}) == len(o.windows)  # a chart's categories stay unique
    assert o.latest_at == clock.now
    # a distribution of the new batch's window reads the new batch's profile
    assert o.distribution(len(o.windows) - 1, "amount") is not None


# -- permissions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("who, allowed", [(USER, True), (OTHER_USER, False), (ADMIN, True)])
def test_owner_and_admin_see_the_drift_another_user_does_not(ctx, login, fraud, who, allowed):
    if allowed:
        o = drift_overview(ctx, login(who), fraud)
        assert o.windows and o.can_manage
    else:
        with pytest.raises(PermissionDenied, match="belongs to another user"):
            drift_overview(ctx, login(who), fraud)


def test_an_unknown_model_is_not_found(ctx, login):
    with pytest.raises(NotFound):
        drift_overview(ctx, login(USER), "No such model")


# -- empty states --------------------------------------------------------------------------------


def test_a_model_awaiting_client_metrics_says_so(ctx, login, register_restricted):
    register_restricted("Secret model")
    o = drift_overview(ctx, login(USER), "Secret model")
    assert o.windows == () and "awaiting metrics" in o.empty_reason
    assert o.distribution(0, "amount") is None and o.shifts(0) == ()


def test_a_model_without_production_data_says_so(ctx, login, fraud):
    # a training profile alone (as a client's first submission may be): drop the production batch
    with ctx.store.write() as conn:
        conn.execute(delete(schema.drift_reports))
        conn.execute(delete(schema.profiles).where(schema.profiles.c.kind == "production"))
    o = drift_overview(ctx, login(USER), fraud)
    assert o.windows == () and "no production data yet" in o.empty_reason
