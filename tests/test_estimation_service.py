"""services/estimation.performance_over_time: who may call it, label-free production windows with
estimates, labels that arrive later giving realised values (drift unchanged), and the reasons."""
from __future__ import annotations

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
    for m in METRICS:
        assert len(got.estimated[m]) == len(got.windows) and all(v is not None for v in got.estimated[m])
        assert got.realised[m] == (None,) * len(got.windows)
        lo, hi = got.band[m]
        assert 0.0 <= lo <= hi <= 1.0
        assert got.alerts[m] == tuple(not lo <= v <= hi for v in got.estimated[m])
    assert 0.5 < got.estimated["accuracy"][-1] <= 1.0 and 0.5 < got.estimated["roc_auc"][-1] <= 1.0
    df = got.to_df()
    assert list(df.columns) == ["window", "rows", "metric", "estimated", "realised", "lower", "upper", "alert"]
    assert len(df) == len(got.windows) * len(METRICS) and df["realised"].isna().all()


def test_labels_sent_later_give_realised_values_and_leave_drift_alone(ctx, login, unlabelled_model):
    me = login(USER)
    before = model360.model_360(ctx, me, "Fraud scorer")
    reference = unlabelled_model
    labels = _profiles(reference, labelled=True)
    result = _submit(ctx, _token(ctx, login, "Fraud scorer"), "Fraud scorer", None, labels, "week 1-8")
    assert result.stored_as == "labels" and result.summary()["stored_as"] == "labels"

    after = model360.model_360(ctx, me, "Fraud scorer")
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
        assert real is not None and got.estimated["accuracy"][i] is not None
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
    assert got.realised["accuracy"][:n] == (None,) * n and all(v is not None for v in got.realised["accuracy"][n:])


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
