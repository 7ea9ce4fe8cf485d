"""The notification rules (pure) and their storage: every rule, each cause stored once however often or
concurrently the rules run, the cadence rule with a moved clock, a health check's failing streak."""
from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from helpers import START, USER, demo_spec, write_demo_files
from sqlalchemy import func, select, update

from tests.support.postgres import DATABASES, settings_on
from tests.support.postgres import postgres_cluster  # noqa: F401 - the session fixture
from vision_widgets.core.monitoring import FAIL, OK, Check, history
from vision_widgets.core.notify import facts, rules, store
from vision_widgets.core.notify.rules import (
    DriftedFeature,
    FailingCheck,
    ModelFacts,
    WindowDriftFacts,
    WindowPerformanceFacts,
)
from vision_widgets.core.storage import schema
from vision_widgets.services import notification_runs, registration


def model(**overrides) -> ModelFacts:
    fields = dict(id=7, name="Fraud detection", restricted=False, created_at=START, cadence="1D",
                  last_data_at=START, has_reference=True)
    fields.update(overrides)
    return ModelFacts(**fields)


def window(name: str, drifted: bool, profile_id: int = 3) -> WindowDriftFacts:
    feats = (DriftedFeature("amount", "wasserstein", 0.5, 0.1), DriftedFeature("channel", "jensenshannon", 0.2, 0.1, None))
    return WindowDriftFacts(profile_id=profile_id, window=name, rows=500, dataset_drift=drifted,
                            drift_share=0.5 if drifted else 0.0, threshold_share=0.5, features=4,
                            drifted=feats if drifted else ())


def stored_rows(ctx) -> list[dict]:
    with ctx.store.read() as conn:
        return [dict(r) for r in conn.execute(select(schema.notifications).order_by(schema.notifications.c.id)).mappings()]


@pytest.fixture(params=DATABASES)
def settings(request, tmp_path):
    """Every test here that stores notifications runs on SQLite and on a throw-away PostgreSQL: the
    dedupe races, the column lengths and the streak queries are the database's business."""
    return settings_on(request, tmp_path)


# -- the rules, pure -------------------------------------------------------------------------------
def test_drift_names_the_model_window_and_each_drifted_feature_with_its_numbers():
    due = rules.drift(model(), [window("2026-09-24T00:00:00", False), window("2026-10-01T00:00:00", True)])
    assert len(due) == 1
    d = due[0]
    assert d.kind == "drift" and d.model_id == 7
    assert d.title == "Dataset drift in Fraud detection, window 2026-10-01"
    assert d.dedupe_key == "drift:7:3:2026-10-01T00:00:00"
    assert d.link == "?page=drift&model=Fraud+detection"
    assert d.body["drifted"] == [
        {"feature": "amount", "method": "wasserstein", "statistic": 0.5, "threshold": 0.1, "p_value": None},
        {"feature": "channel", "method": "jensenshannon", "statistic": 0.2, "threshold": 0.1, "p_value": None}]
    assert d.body["summary"] == "2 of 4 features drifted (50%; dataset drift needs 50%): amount, channel."


def test_drift_looks_at_the_recent_windows_only():
    windows = [window(f"w{i:03d}", True) for i in range(40)]
    due = rules.drift(model(), windows)
    assert [d.body["window"] for d in due] == [f"w{i:03d}" for i in range(40 - rules.RECENT_WINDOWS, 40)]


def test_performance_fires_past_the_drop_per_window_and_metric_realised_first():
    ref = {"accuracy": 0.90, "f1": 0.80, "roc_auc": 0.85, "precision": 0.9}
    windows = [
        WindowPerformanceFacts(3, "a", "a", {"accuracy": (0.86, "realised"), "f1": (0.70, "estimated")}),
        WindowPerformanceFacts(3, "b", "b", {"accuracy": (0.84, "estimated"), "precision": (0.1, "realised")}),
    ]
    due = rules.performance(model(), ref, windows, drop=0.05)
    assert [(d.body["window"], d.body["metric"], d.body["source"]) for d in due] == [
        ("a", "f1", "estimated"), ("b", "accuracy", "estimated")]  # 0.04 is not past 0.05; precision not watched
    assert due[0].dedupe_key == "performance:7:3:a:f1"
    assert due[0].body["summary"] == ("Estimated F1 0.700 against 0.800 on the training data: 0.100 lower "
                                      "(notified above 0.05).")
    assert rules.performance(model(), ref, windows, drop=0.2) == []


def test_a_drop_inside_the_band_for_the_windows_size_is_noise_and_not_notified():
    """The Drift page judges a window against the range its metric takes on reference data of the
    window's size; a notification agrees with the page: outside the band AND past the drop."""
    ref = {"roc_auc": 0.90, "accuracy": 0.90}
    windows = [
        WindowPerformanceFacts(3, "noise", "noise", {"roc_auc": (0.70, "estimated")}, outside={"roc_auc": False}),
        WindowPerformanceFacts(3, "real", "real", {"roc_auc": (0.70, "estimated")}, outside={"roc_auc": True}),
        WindowPerformanceFacts(3, "small", "small", {"roc_auc": (0.88, "realised")}, outside={"roc_auc": True}),
    ]
    due = rules.performance(model(), ref, windows, drop=0.05)
    assert [(d.body["window"], d.body["metric"]) for d in due] == [("real", "roc_auc")]
    assert due[0].body["outside_band"] is True
    assert "outside the range expected for the window's size" in due[0].body["summary"]


def test_a_drop_exactly_at_the_threshold_is_not_past_it():
    ref = {"accuracy": 0.90, "f1": 0.80}
    at = [WindowPerformanceFacts(3, "a", "a", {"accuracy": (0.85, "realised"), "f1": (0.75, "realised")})]
    assert 0.90 - 0.85 > 0.05  # float rounding: 0.05000000000000004
    assert rules.performance(model(), ref, at, drop=0.05) == []
    past = [WindowPerformanceFacts(3, "a", "a", {"accuracy": (0.8499, "realised")})]
    assert len(rules.performance(model(), ref, past, drop=0.05)) == 1


def test_a_regression_models_mae_and_rmse_notify_on_a_relative_rise():
    ref = {"mae": 1.0, "rmse": 1.25}
    windows = [
        WindowPerformanceFacts(3, "ok", "ok", {"mae": (1.19, "realised"), "rmse": (1.5, "realised")}),  # 19%, 20%
        WindowPerformanceFacts(3, "bad", "bad", {"mae": (1.6, "realised"), "rmse": (1.3, "realised")}),
    ]
    due = rules.performance(model(), ref, windows, drop=0.05)
    assert [(d.body["window"], d.body["metric"]) for d in due] == [("bad", "mae")]
    assert due[0].title == "MAE rose in Fraud detection, window bad"
    assert due[0].body["summary"] == "Realised MAE 1.6 against 1 on the training data: 60% higher (notified above 20%)."
    assert rules.performance(model(), {"mae": 0.0}, windows, drop=0.05) == []  # a perfect training fit: no ratio


def test_stale_fires_once_the_data_is_older_than_the_cadence_and_keys_on_the_last_data():
    m = model(cadence="1D", last_data_at=START)
    assert rules.stale(m, START + timedelta(hours=23)) == []
    assert rules.stale(m, START + timedelta(days=1)) == []  # exactly the cadence: still on time
    late = rules.stale(m, START + timedelta(hours=30))
    assert len(late) == 1 and late[0].kind == "stale"
    assert late[0].dedupe_key == f"stale:7:{START.isoformat(timespec='seconds')}"
    assert late[0].body["summary"] == ("The last production data arrived 30 hours ago; Fraud detection expects "
                                       "a batch every 1D.")
    # Still silent later: the same cause (same key), so stored once.
    assert rules.stale(m, START + timedelta(days=9))[0].dedupe_key == late[0].dedupe_key
    # No cadence, an unreadable one, or a restricted model still awaiting its client: nothing.
    assert rules.stale(model(cadence=None), START + timedelta(days=9)) == []
    assert rules.stale(model(cadence="1M"), START + timedelta(days=90)) == []
    assert rules.stale(model(restricted=True, has_reference=False, last_data_at=None), START + timedelta(days=9)) == []


def test_awaiting_metrics_after_24_hours_only_for_a_restricted_model_without_them():
    m = model(restricted=True, has_reference=False, last_data_at=None, cadence=None)
    assert rules.awaiting_metrics(m, START + timedelta(hours=23, minutes=59)) == []
    due = rules.awaiting_metrics(m, START + timedelta(hours=24))
    assert [d.dedupe_key for d in due] == ["awaiting_metrics:7"] and due[0].link == "?page=models&model=Fraud+detection"
    assert rules.awaiting_metrics(model(restricted=True), START + timedelta(days=3)) == []  # it has its metrics
    assert rules.awaiting_metrics(model(has_reference=False), START + timedelta(days=3)) == []  # not restricted


def test_health_is_a_platform_notification_keyed_on_its_failing_streak():
    since = START + timedelta(minutes=3)
    due = rules.health([FailingCheck("worker", "", since, since + timedelta(hours=1), "No worker beat for 2 h.")])
    assert len(due) == 1 and due[0].model_id is None and due[0].kind == "health"
    assert due[0].dedupe_key == f"health:worker::{since.isoformat(timespec='seconds')}"
    assert due[0].title == "Health check failing: worker" and due[0].link == "?page=monitoring"


def test_a_long_key_is_shortened_but_stays_unique():
    a, b = rules.key("drift", 1, 2, "x" * 300), rules.key("drift", 1, 2, "x" * 299 + "y")
    assert len(a) <= rules.KEY_LENGTH and len(b) <= rules.KEY_LENGTH and a != b


def test_a_long_title_shortens_the_model_name_and_keeps_the_window():
    name, label = "N" * 128, "batch of the third quarter, region north-east, " + "x" * 60
    due = rules.drift(model(name=name), [WindowDriftFacts(3, label, 500, True, 0.5, 0.5, 4)])
    title = due[0].title
    assert len(title) <= rules.TITLE_LENGTH and title.endswith(f", window {label}")
    assert "N…, window" in title and title.startswith("Dataset drift in NNNNNNNN")
    assert len(due[0].dedupe_key) <= rules.KEY_LENGTH


# -- stored once ---------------------------------------------------------------------------------
@pytest.fixture
def fraud(ctx, login, settings):
    train, prod = write_demo_files(settings.home / "data")
    reg = registration.register_model(ctx, login(USER), demo_spec("Fraud detection", train, prod))
    return reg.model


def _add_drift(ctx, model_id: int, profile_id: int, label: str = "2026-10-01T00:00:00") -> None:
    body = {"dataset_drift": True, "drift_share": 1.0, "threshold_share": 0.5, "windows": [],
            "features": [{"feature": "amount", "type": "numeric", "method": "ks", "statistic": 0.4, "p_value": 0.0001,
                          "threshold": 0.05, "psi": 0.3, "drifted": True, "note": None, "score": 3.0}]}
    with ctx.store.write() as conn:
        conn.execute(schema.drift_reports.insert().values(model_id=model_id, profile_id=profile_id, created_at=ctx.now(),
                                                           dataset_drift=True, drift_share=1.0, body=json.dumps(body)))


def test_running_the_rules_twice_stores_each_cause_once(ctx, fraud):
    """Registration ran the model's rules right after storing its first batch; later runs add nothing."""
    with ctx.store.read() as conn:
        windows = facts.drift_windows(conn, fraud.id)
    drifted = {(w.profile_id, w.window) for w in windows[-rules.RECENT_WINDOWS:] if w.dataset_drift}
    kept = {(r["kind"], r["dedupe_key"]) for r in stored_rows(ctx)}
    assert {k for k in kept if k[0] == "drift"} == {("drift", f"drift:{fraud.id}:{p}:{w}") for p, w in drifted}
    first = notification_runs.run_rules(ctx)
    assert first.stored == 0 and first.due == len(kept)
    with ctx.store.write() as conn:
        conn.execute(schema.notifications.delete())
    again = notification_runs.run_rules(ctx)
    assert again.stored == again.due == first.due
    assert notification_runs.run_rules(ctx).stored == 0
    assert len(stored_rows(ctx)) == first.due


def test_a_stored_drift_report_with_drift_becomes_one_notification_with_its_numbers(ctx, fraud):
    with ctx.store.read() as conn:
        pid = conn.execute(select(schema.profiles.c.id).where(schema.profiles.c.kind == "production")).scalars().first()
    _add_drift(ctx, fraud.id, pid)
    notification_runs.run_rules(ctx)
    row = next(r for r in stored_rows(ctx) if r["kind"] == "drift" and json.loads(r["body"])["drifted"][0]["method"] == "ks")
    body = json.loads(row["body"])
    assert body["drifted"] == [{"feature": "amount", "method": "ks", "statistic": 0.4, "threshold": 0.05, "p_value": 0.0001}]
    assert row["model_id"] == fraud.id and row["link"] == "?page=drift&model=Fraud+detection"


def test_two_runs_at_once_store_each_cause_once(ctx, fraud):
    """Two runs that both judge every cause new: the unique key lets one row in per cause."""
    due = rules.drift(model(id=fraud.id), [window(f"w{i}", True) for i in range(5)])
    barrier = threading.Barrier(2)
    added = []

    def run():
        barrier.wait()
        with ctx.store.write() as conn:
            added.append(store.add(conn, due, ctx.now()))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(added) == [0, 5]
    assert len([r for r in stored_rows(ctx) if r["dedupe_key"].startswith(f"drift:{fraud.id}:3:w")]) == 5


def test_two_whole_runs_in_threads_store_once(ctx, fraud):
    with ctx.store.write() as conn:
        conn.execute(schema.notifications.delete())
    results = []
    threads = [threading.Thread(target=lambda: results.append(notification_runs.run_rules(ctx))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.stored for r in results) == results[0].due
    keys = [r["dedupe_key"] for r in stored_rows(ctx)]
    assert len(keys) == len(set(keys)) == results[0].due


def test_the_cadence_rule_with_a_moved_clock(ctx, fraud, clock, login, settings):
    """Silent past its cadence: one notification; still silent: no other; new data, then a new silence: another."""
    with ctx.store.write() as conn:
        conn.execute(update(schema.models).where(schema.models.c.id == fraud.id).values(cadence="1D"))

    def stale():
        return [r for r in stored_rows(ctx) if r["kind"] == "stale"]

    clock.advance(hours=20)
    notification_runs.run_rules(ctx)
    assert stale() == []
    clock.advance(hours=10)  # 30 h without data
    notification_runs.run_rules(ctx)
    assert len(stale()) == 1 and stale()[0]["title"] == "No new production data for Fraud detection"
    clock.advance(days=3)
    notification_runs.run_rules(ctx)
    assert len(stale()) == 1  # the same silence
    # New data arrives (the batch's rules run right after it), then a new silence.
    prod = settings.home / "data" / "fraud_production.csv"
    from vision_widgets.services import submissions

    submissions.add_production_batch(ctx, login(USER), "Fraud detection", str(prod), label="next week")
    notification_runs.run_rules(ctx)
    assert len(stale()) == 1
    clock.advance(days=2)
    notification_runs.run_rules(ctx)
    assert len(stale()) == 2
    assert json.loads(stale()[1]["body"])["last_data_at"] == (START + timedelta(days=3, hours=30)).isoformat(
        timespec="seconds")


def test_awaiting_metrics_fires_a_day_after_registration(ctx, register_restricted, clock):
    register_restricted("Secret model")
    clock.advance(hours=23)
    notification_runs.run_rules(ctx)
    assert [r for r in stored_rows(ctx) if r["kind"] == "awaiting_metrics"] == []
    clock.advance(hours=2)
    notification_runs.run_rules(ctx)
    notification_runs.run_rules(ctx)
    rows = [r for r in stored_rows(ctx) if r["kind"] == "awaiting_metrics"]
    assert len(rows) == 1 and rows[0]["title"] == "Secret model is still awaiting client metrics"


def test_a_failing_health_check_is_one_notification_per_failing_streak(ctx, clock):
    def record(status):
        with ctx.store.write() as conn:
            history.record(conn, [Check("worker", "", status, True, None, "s", f"worker {status}"),
                                  Check("model_freshness", "Fraud detection", FAIL, False, None, "h", "stale")], ctx.now())
        clock.advance(minutes=1)

    def health():
        return [r for r in stored_rows(ctx) if r["kind"] == "health"]

    record(OK)
    record(FAIL)
    start = ctx.now() - timedelta(minutes=1)
    for _ in range(60):  # red for an hour
        record(FAIL)
        notification_runs.run_rules(ctx)
    assert len(health()) == 1 and health()[0]["model_id"] is None
    assert health()[0]["dedupe_key"] == f"health:worker::{start.isoformat(timespec='seconds')}"
    record(OK)
    notification_runs.run_rules(ctx)
    record(FAIL)  # a new failure after recovery
    notification_runs.run_rules(ctx)
    assert len(health()) == 2
    assert all("model_freshness" not in r["dedupe_key"] for r in health())  # model checks: the model rules speak


def test_a_check_red_for_longer_than_the_history_kept_is_still_one_notification(ctx, clock):
    """The monitoring job prunes results older than a week: the oldest stored failure moves every run,
    but the streak is the same one until a passing result is recorded."""
    def record(status):
        with ctx.store.write() as conn:
            history.record(conn, [Check("disk", "/data", status, True, 99.0, "%", f"disk {status}")], ctx.now())
            history.prune(conn, ctx.now() - history.KEEP)

    def health():
        return [r for r in stored_rows(ctx) if r["kind"] == "health"]

    first = ctx.now()
    for _ in range(9 * 4):  # red for nine days, recorded and judged every six hours
        record(FAIL)
        notification_runs.run_rules(ctx)
        clock.advance(hours=6)
    with ctx.store.read() as conn:
        oldest = conn.execute(select(func.min(schema.health_checks.c.checked_at))).scalar_one()
    assert oldest.replace(tzinfo=None) > first.replace(tzinfo=None)  # the streak's first failure was pruned
    assert len(health()) == 1
    assert json.loads(health()[0]["body"])["since"] == first.isoformat(timespec="seconds")
    record(OK)  # recovered …
    notification_runs.run_rules(ctx)
    clock.advance(hours=1)
    record(FAIL)  # … and red again: a new streak, a new notification
    notification_runs.run_rules(ctx)
    clock.advance(hours=1)
    record(FAIL)
    notification_runs.run_rules(ctx)
    assert len(health()) == 2


def test_a_model_whose_data_cannot_be_judged_does_not_stop_the_others(ctx, fraud, register_restricted, clock):
    register_restricted("Secret model")
    with ctx.store.write() as conn:
        conn.execute(update(schema.drift_reports).where(schema.drift_reports.c.model_id == fraud.id).values(body="{not json"))
        conn.execute(schema.notifications.delete())
    clock.advance(days=2)
    result = notification_runs.run_rules(ctx)
    assert result.stored >= 1
    assert [r["kind"] for r in stored_rows(ctx)] == ["awaiting_metrics"]


def test_performance_notifications_agree_with_the_drift_pages_alerts(ctx, fraud, login):
    """The demo Fraud model: a fixed 0.05 drop alone would notify windows whose ROC AUC the Drift page
    shows inside its band (no alert). Only windows the page flags may be notified."""
    from vision_widgets.services import estimation

    with ctx.store.read() as conn:
        model_facts = facts.models(conn, [fraud.id])[0]
        reference, windows = notification_runs.performance_facts(conn, model_facts)
    no_band = [WindowPerformanceFacts(w.profile_id, w.window, w.label, w.values) for w in windows]
    assert rules.performance(model_facts, reference, no_band, drop=0.05)  # what the old rule raised
    notification_runs.run_rules(ctx)
    page = estimation.performance_over_time(ctx, login(USER), "Fraud detection")
    flagged = {(page.keys[i], m) for m in page.metrics for i, a in enumerate(page.alerts[m]) if a}
    for i, m in ((i, m) for m in page.metrics for i in range(len(page.windows))):
        real, band = page.realised[m][i], page.window_bands[i].get(m)
        if real is not None and band is not None and not band[0] <= real <= band[1]:
            flagged.add((page.keys[i], m))
    stored = [json.loads(r["body"]) for r in stored_rows(ctx) if r["kind"] == "performance"]
    for body in stored:
        key = next(k for k in page.keys if k[0] == body["profile_id"] and page.windows[page.keys.index(k)] == body["window"])
        assert (key, body["metric"]) in flagged


def test_a_regression_model_is_notified_when_its_error_rises(ctx, login, settings):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(5)
    folder = settings.home / "data"
    folder.mkdir(parents=True, exist_ok=True)

    def frame(n, start, noise):
        x = rng.normal(0, 1, n)
        y = 3 * x + rng.normal(0, 1, n)
        at = pd.Timestamp(start) + pd.to_timedelta(np.sort(rng.integers(0, 28 * 86400, n)), unit="s")
        return pd.DataFrame({"event_time": at, "x": x, "y": y, "y_pred": 3 * x + rng.normal(0, noise, n)})

    frame(2000, "2026-08-01", 0.5).to_csv(folder / "reg_train.csv", index=False)
    frame(2000, "2026-09-01", 3.0).to_csv(folder / "reg_prod.csv", index=False)  # errors three times larger
    spec = registration.ModelSpec(name="Demand", task="regression", platform="on-premises", target="y",
                                  prediction="y_pred", timestamp="event_time", training=str(folder / "reg_train.csv"),
                                  production=str(folder / "reg_prod.csv"))
    registration.register_model(ctx, login(USER), spec)
    notification_runs.run_rules(ctx)
    stored = [json.loads(r["body"]) for r in stored_rows(ctx) if r["kind"] == "performance"]
    assert {b["metric"] for b in stored} == {"mae", "rmse"}
    assert all(b["source"] == "realised" and b["rise"] > rules.DEFAULT_ERROR_RISE for b in stored)


def test_a_long_non_ascii_model_name_is_notified_with_its_whole_link(ctx, login, settings, clock):
    """128 CJK characters: the URL-encoded link is ~1,200 characters, past any VARCHAR(255) (PostgreSQL
    refused the insert and every later run failed); titles and keys stay within their columns."""
    name = ("クレジットカード不正取引検知モデル（本番環境・第二版）" * 5)[:128]
    train, prod = write_demo_files(settings.home / "data")
    reg = registration.register_model(ctx, login(USER), demo_spec(name, train, prod))
    with ctx.store.write() as conn:
        conn.execute(update(schema.models).where(schema.models.c.id == reg.model.id).values(cadence="1D"))
    clock.advance(days=3)
    notification_runs.run_rules(ctx)
    rows = stored_rows(ctx)
    assert {"drift", "stale"} <= {r["kind"] for r in rows}
    for r in rows:
        assert r["link"] == rules.link("drift" if r["kind"] in ("drift", "performance") else "models", name)
        assert len(r["link"]) > 1000
        assert len(r["title"]) <= rules.TITLE_LENGTH and len(r["dedupe_key"]) <= rules.KEY_LENGTH


def test_a_cause_one_model_cannot_store_does_not_stop_the_others_or_the_health_rule(ctx, fraud, register_restricted,
                                                                                 clock, monkeypatch):
    secret = register_restricted("Secret model").model
    real_stale = rules.stale

    def refused_for_fraud(model, now):  # a cause the database refuses (NaN is not JSON)
        found = real_stale(model, now)
        if model.id == fraud.id:
            return [rules.Due("stale", model.id, "stale:bad", "bad", {"age_hours": float("nan")}, "?page=models")]
        return found

    monkeypatch.setattr(rules, "stale", refused_for_fraud)
    with ctx.store.write() as conn:
        conn.execute(schema.notifications.delete())
        history.record(conn, [Check("worker", "", FAIL, True, None, "s", "no worker beat")], ctx.now())
    clock.advance(days=2)
    result = notification_runs.run_rules(ctx)
    kinds = sorted((r["kind"], r["model_id"]) for r in stored_rows(ctx))
    assert ("awaiting_metrics", secret.id) in kinds and ("health", None) in kinds
    assert not any(model_id == fraud.id for _, model_id in kinds)  # its causes went in one refused transaction
    assert result.stored == len(kinds)


def test_after_new_batch_never_raises(ctx, fraud, monkeypatch):
    def broken(*_a, **_k):
        raise RuntimeError("rules broke")

    monkeypatch.setattr(notification_runs, "run_rules", broken)
    assert notification_runs.after_new_batch(ctx, fraud.id) is None


def test_an_upload_succeeds_when_its_rules_fail(ctx, fraud, login, settings, monkeypatch):
    from vision_widgets.services import submissions

    def broken(*_a, **_k):
        raise RuntimeError("rules broke")

    monkeypatch.setattr(notification_runs, "run_rules", broken)
    prod = settings.home / "data" / "fraud_production.csv"
    report = submissions.add_production_batch(ctx, login(USER), "Fraud detection", str(prod), label="next")
    assert report is not None
    with ctx.store.read() as conn:
        n = conn.execute(select(func.count()).select_from(schema.profiles).where(
            schema.profiles.c.kind == "production")).scalar_one()
    assert n == 2


def test_the_worker_runs_the_rules_every_five_minutes(ctx):
    from datetime import datetime

    from vision_widgets import worker

    class Recorder:
        def __init__(self):
            self.tasks = {}

        def periodic(self, name, when, fn):
            assert name not in self.tasks, f"{name} is scheduled twice"
            self.tasks[name] = (when, fn)

    queue = Recorder()
    worker.schedule(queue, ctx)
    when, fn = queue.tasks["vision.notification_rules"]
    assert [m for m in range(60) if when(datetime(2024, 5, 1, 12, m))] == list(range(0, 60, 5))
    assert fn() == 0  # no model, no failing check: nothing new
