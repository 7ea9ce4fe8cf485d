"""services/estimation.performance_over_time: who may call it, label-free production windows with
estimates, labels that arrive later giving realised values (drift unchanged), and the reasons."""
from __future__ import annotations

import dataclasses
import json

import pytest
from helpers import ADMIN, OTHER_ADMIN, OTHER_USER, USER, demo_frames

from vision_widgets import client
from vision_widgets.core import audit
from vision_widgets.core.catalog import records
from vision_widgets.core.errors import PermissionDenied
from vision_widgets.core.stats.estimation import METRICS
from vision_widgets.demo import datasets
from vision_widgets.services import estimation, model360, submissions

FRAUD = next(m for m in datasets.MODELS if m.name == "Fraud detection")


#: Weekly windows big enough that the privacy guard publishes both classes in each (fraud is rare).
SIZES = dict(train_rows=6_000, weekly_rows=2_500)
ROLES = client.Roles(target=FRAUD.target, prediction=FRAUD.prediction, timestamp=FRAUD.timestamp, exclude=FRAUD.exclude)


def _reference() -> client.Profile:
    return client.profile(demo_frames(**SIZES)[0], ROLES)


def _profiles(reference: client.Profile, labelled: bool) -> client.Profile:
    _, prod = demo_frames(**SIZES)
    if not labelled:
        prod = prod.drop(columns=[FRAUD.target])
    return client.profile(prod, reference=reference, window="7D")


def _submit(ctx, token: str, name: str, reference, production, label: str):
    body = client.submission(name, reference, production, label=label)
    return submissions.submit_with_token(ctx, token, name, json.dumps(body).encode())


def _token(ctx, login, name, username=USER):
    return submissions.issue_upload_token(ctx, login(username), name)[0]


@pytest.fixture
def unlabelled_model(ctx, login, register_restricted):
    """A restricted fraud model whose first production batch arrived without labels."""
    reg = register_restricted("Fraud scorer")
    reference = _reference()
    result = _submit(ctx, reg.upload_token, "Fraud scorer", reference, _profiles(reference, labelled=False), "week 1-8")
    assert result.stored_as == "production"
    return reference


def test_a_label_free_batch_gets_estimates_in_every_window_and_no_realised_values(ctx, login, unlabelled_model):
    got = estimation.performance_over_time(ctx, login(USER), "Fraud scorer")
    assert got.reason == ""
    assert got.windows == tuple(_profiles(unlabelled_model, labelled=False).private().windows)  # the windows the drift history lists
    assert got.metrics == METRICS and len(got.rows) == len(got.windows)
    # Fraud is rare and few rows score near 0.5, so the privacy guard merges the score bins around
    # the threshold: a threshold metric there is unknown (None, with a note naming the window),
    # never a guess; ROC AUC does not depend on the threshold and is estimated in every window.
    assert all(v is not None for v in got.estimated["roc_auc"])
    for m in METRICS:
        assert len(got.estimated[m]) == len(got.windows)
        assert got.realised[m] == (None,) * len(got.windows)
        for label, v in zip(got.windows, got.estimated[m]):
            assert v is not None or any("too few rows scored near 0.5" in n for n in got.notes)
        # no window alerts: the drift built into the demo's late weeks moves the features, not how well
        # the scores rank (ROC AUC stays ~0.68, inside its band of ~0.61-0.75 below)
        assert got.alerts[m] == (False,) * len(got.windows)
    lo, hi = got.band["roc_auc"]
    assert 0.0 <= lo <= hi <= 1.0
    assert (lo, hi) == pytest.approx((0.61, 0.75), abs=0.02)
    assert all(lo + 0.05 < v < hi - 0.05 for v in got.estimated["roc_auc"])
    assert 0.5 < got.estimated["roc_auc"][-1] <= 1.0
    df = got.to_df()
    assert list(df.columns) == ["window", "rows", "metric", "estimated", "realised", "lower", "upper", "alert"]
    assert len(df) == len(got.windows) * len(METRICS) and df["realised"].isna().all()
    # Model 360 says why its production metrics are empty, and where the estimate is
    note = model360.model_360(ctx, login(USER), "Fraud scorer").performance_note
    assert f"0 rows with labels; {sum(got.rows):,} rows have no label yet" in note and "Drift page" in note


def test_labels_sent_later_give_realised_values_and_leave_drift_alone(ctx, login, unlabelled_model):
    me = login(USER)
    before = model360.model_360(ctx, me, "Fraud scorer")
    reference = unlabelled_model
    labels = _profiles(reference, labelled=True)
    result = _submit(ctx, _token(ctx, login, "Fraud scorer"), "Fraud scorer", None, labels, "week 1-8")
    assert result.stored_as == "labels" and result.summary()["stored_as"] == "labels"

    after = model360.model_360(ctx, me, "Fraud scorer")
    assert "no label yet" in before.performance_note and "no label yet" not in after.performance_note
    assert "accuracy" not in before.performance and 0.5 < after.performance["accuracy"] <= 1.0
    assert len(after.history) == len(before.history) == 1  # no new drift point: the window's drift is kept
    assert after.drift.to_dict() == before.drift.to_dict()
    got = estimation.performance_over_time(ctx, me, "Fraud scorer")
    published = labels.private()
    for i, (label, window) in enumerate(published.windows.items()):
        assert got.windows[i] == label
        real = got.realised["accuracy"][i]
        conf = window.model.confusion
        if conf:  # the privacy guard published the window's confusion counts: realised accuracy is theirs
            assert real == pytest.approx(sum(c for (t, p), c in conf.items() if t == p) / sum(conf.values()))
        assert got.realised["roc_auc"][i] is not None and got.estimated["roc_auc"][i] is not None
    with ctx.store.read() as conn:
        kinds = [p.kind for p in records.profiles_of(conn, records.get(conn, "Fraud scorer").id)]
        actions = [e.action for e in audit.recent(conn)]
    assert kinds.count("labels") == 1 and kinds.count("production") == 1
    assert "submit labels" in actions


def test_a_labelled_batch_under_a_new_label_is_a_new_batch(ctx, login, unlabelled_model):
    labels = _profiles(unlabelled_model, labelled=True)
    result = _submit(ctx, _token(ctx, login, "Fraud scorer"), "Fraud scorer", None, labels, "weeks 9-16")
    assert result.stored_as == "production"
    got = estimation.performance_over_time(ctx, login(USER), "Fraud scorer")
    n = len(labels.private().windows)
    assert len(got.windows) == 2 * n
    assert got.realised["roc_auc"][:n] == (None,) * n and all(v is not None for v in got.realised["roc_auc"][n:])


@pytest.mark.parametrize("who, allowed", [(USER, True), (OTHER_USER, False), (ADMIN, True), (OTHER_ADMIN, True)])
def test_permission_matrix_owner_other_user_admin(ctx, login, unlabelled_model, who, allowed):
    if allowed:
        assert estimation.performance_over_time(ctx, login(who), "Fraud scorer").reason == ""
    else:
        with pytest.raises(PermissionDenied, match="belongs to another user"):
            estimation.performance_over_time(ctx, login(who), "Fraud scorer")


def test_a_model_awaiting_metrics_says_why_there_is_nothing(ctx, login, register_restricted):
    register_restricted("Secret model")
    got = estimation.performance_over_time(ctx, login(USER), "Secret model")
    assert got.windows == () and "no training profile" in got.reason and got.band == {}


def test_a_model_without_scores_says_why_it_cannot_estimate_but_shows_realised_values(ctx, login, register_restricted):
    reg = register_restricted("Class model")
    train, prod = demo_frames(**SIZES)
    for df in (train, prod):
        df[FRAUD.prediction] = (df[FRAUD.prediction] >= 0.5).astype(int)
    reference = client.profile(train, ROLES)
    _submit(ctx, reg.upload_token, "Class model", reference, client.profile(prod, reference=reference), "all")
    got = estimation.performance_over_time(ctx, login(USER), "Class model")
    assert "class labels, not probability scores" in got.reason
    assert got.windows == ("all",) and got.estimated["accuracy"] == (None,)
    assert got.realised["accuracy"][0] is not None and got.alerts["accuracy"] == (False,)


def test_server_side_batches_without_labels_and_their_labels_later(ctx, login, settings):
    """An unrestricted model: registration with a production file lacking the target, then the same weeks
    with labels as a new batch under the same label (the server path), stored as labels."""
    from helpers import demo_spec

    from vision_widgets.services import registration

    folder = settings.home / "data"
    folder.mkdir(parents=True, exist_ok=True)
    train, prod = demo_frames(**SIZES)
    paths = {name: folder / f"{name}.csv" for name in ("train", "unlabelled", "labelled")}
    train.to_csv(paths["train"], index=False)
    prod.drop(columns=[FRAUD.target]).to_csv(paths["unlabelled"], index=False)
    prod.to_csv(paths["labelled"], index=False)
    me = login(USER)
    registration.register_model(ctx, me, demo_spec("Server fraud", paths["train"], paths["unlabelled"]))
    first = estimation.performance_over_time(ctx, me, "Server fraud")
    assert first.reason == "" and all(v is None for v in first.realised["roc_auc"])
    submissions.add_production_batch(ctx, me, "Server fraud", str(paths["labelled"]), label="initial production data")
    got = estimation.performance_over_time(ctx, me, "Server fraud")
    assert got.windows == first.windows and got.estimated == first.estimated
    assert all(v is not None for v in got.realised["roc_auc"])
    assert len(model360.model_360(ctx, me, "Server fraud").history) == 1
    with ctx.store.read() as conn:
        assert ("add labels", "Server fraud") in [(e.action, e.target) for e in audit.recent(conn)]


def test_reading_only_the_model_blocks_gives_the_same_series_as_reading_the_profiles_whole(ctx, login,
                                                                                         unlabelled_model):
    from vision_widgets.core.catalog.windows import model_only, production_windows

    with ctx.store.read() as conn:
        model = records.get(conn, "Fraud scorer")
        (ref,) = records.profiles_of(conn, model.id, "reference")
        (prod,) = records.profiles_of(conn, model.id, "production")
    light = model_only(prod.body)
    assert light.columns == {} and list(light.windows) == list(client.Profile.from_json(prod.body).windows)
    whole = estimation.series(client.Profile.from_json(ref.body),
                              production_windows([(prod.label, client.Profile.from_json(prod.body))]))
    perf = estimation.performance_over_time(ctx, login(USER), "Fraud scorer")
    assert perf.keys == tuple((prod.id, w) for w in light.windows)  # what identifies each window
    assert dataclasses.replace(perf, keys=whole.keys) == whole


def test_a_small_window_is_judged_on_the_band_for_its_own_size():
    """A partial week of 40 rows among windows of 20,000: the band drawn is the 20,000-row one, far too
    narrow for 40 rows; the small window's estimate (0.85 against ~0.75) is within its own noise, so no
    alert, and a note says why. The same estimate in a full-size window alerts."""
    import numpy as np
    import pandas as pd

    from vision_widgets.core.catalog.windows import production_windows

    roles = client.Roles(target="y", prediction="score")
    centres = (np.arange(100) + 0.5) / 100
    parts = []
    for b, c in enumerate(centres):  # calibrated exactly: P(y=1 | score c) = c
        pos = round(200 * float(c))
        parts.append(pd.DataFrame({"x": np.linspace(0, 1, 200) + b, "score": c,
                                   "y": np.r_[np.ones(pos, int), np.zeros(200 - pos, int)]}))
    reference = client.profile(pd.concat(parts, ignore_index=True), roles, k=1)

    def window(scores):
        return client.profile(pd.DataFrame({"x": np.linspace(0, 100, len(scores)), "score": scores}),
                              reference=reference, k=1)

    uniform = np.repeat(centres, 200)
    extreme = np.r_[np.full(20, 0.155), np.full(20, 0.845)]  # expected accuracy 0.845
    got = estimation.series(reference, production_windows(
        [(f"week {i}", window(uniform)) for i in range(1, 5)] + [("partial", window(extreme)),
                                                                   ("full", window(np.tile(extreme, 500)))]))
    assert got.rows == (20_000,) * 4 + (40, 20_000)
    lo, hi = got.band["accuracy"]
    assert 0.73 < lo < hi < 0.77 and got.estimated["accuracy"][4] == pytest.approx(0.845, abs=0.01)
    assert got.alerts["accuracy"] == (False, False, False, False, False, True)
    assert any(n.startswith("partial: 40 rows, under half the 20,000") for n in got.notes)
