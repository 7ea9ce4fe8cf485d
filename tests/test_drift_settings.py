"""Drift settings: who may read and change them, what is refused (and that nothing is stored then), the audit
entry, and the recompute job — every stored report replaced from stored profiles, all or nothing, and two saves
at once ending with the last one's settings."""
from __future__ import annotations

import json

import pytest
from helpers import ADMIN, OTHER_ADMIN, OTHER_USER, USER, demo_spec, model_rows, write_demo_files
from sqlalchemy import func, select, update

from vision_widgets.core import audit
from vision_widgets.core.catalog import records
from vision_widgets.core.errors import InvalidInput, NotFound, PermissionDenied, SessionExpired
from vision_widgets.core.identity import sessions as session_records
from vision_widgets.core.jobs import records as job_records
from vision_widgets.core.jobs.records import DONE, FAILED, QUEUED
from vision_widgets.core.storage import schema
from vision_widgets.services import drift_settings, jobs, registration
from vision_widgets.worker import Runner

MODEL = "Card fraud"


@pytest.fixture
def model(ctx, login, settings):
    files = write_demo_files(settings.home / "data")
    registration.register_model(ctx, login(USER), demo_spec(MODEL, *files))
    return MODEL


def _reports(ctx, name=MODEL):
    with ctx.store.read() as conn:
        record = records.get(conn, name)
        return [json.loads(d.body) | {"_row": (d.dataset_drift, d.drift_share)}
                for d in records.drift_history(conn, record.id)]


def _stored_settings(ctx, name=MODEL):
    with ctx.store.read() as conn:
        return records.get(conn, name).drift_settings


def _audit(ctx):
    with ctx.store.read() as conn:
        return [e for e in audit.recent(conn, 1000) if e.action == drift_settings.AUDIT_ACTION]


def _jobs(ctx):
    with ctx.store.read() as conn:
        return conn.execute(select(func.count()).select_from(schema.jobs)).scalar_one()


def _run(ctx, job):
    Runner(ctx, "w1").run(job.id)
    with ctx.store.read() as conn:
        return job_records.get(conn, job.id)


# -- reading -----------------------------------------------------------------------------------------
def test_the_panel_gets_the_settings_the_methods_per_type_and_each_features_method(ctx, login, model):
    view = drift_settings.get_settings(ctx, login(USER), model)
    assert view.model == MODEL and view.can_edit and view.settings.drift_share == 0.5
    assert set(view.methods_by_type["numeric"]) >= {"ks", "wasserstein", "psi"}
    assert "z" in view.methods_by_type["binary"] and "ks" not in view.methods_by_type["categorical"]
    assert view.methods["ks"].uses_p_value and view.methods["ks"].domain.contains(0.05)
    assert not view.methods["ks"].domain.contains(1.0) and not view.methods["psi"].domain.contains(0.0)
    by_name = {f.feature: f for f in view.features}
    assert (by_name["amount"].type, by_name["amount"].method, by_name["amount"].threshold) == ("numeric", "wasserstein", 0.1)
    assert (by_name["card_present"].type, by_name["card_present"].method) == ("binary", "z")
    assert view.profiled_windows and view.window_choices[:2] == ("profiled", "batch") and "14D" in view.window_choices
    assert "1D" not in view.window_choices, "weekly windows cannot be split into days"


def test_whoever_may_see_the_model_may_read_its_settings_and_no_one_else(ctx, login, model):
    assert drift_settings.get_settings(ctx, login(ADMIN), model).can_edit
    with pytest.raises(PermissionDenied):
        drift_settings.get_settings(ctx, login(OTHER_USER), model)
    with pytest.raises(NotFound):
        drift_settings.get_settings(ctx, login(USER), "no such model")


# -- who may save ------------------------------------------------------------------------------------
@pytest.mark.parametrize("actor, expected", [
    (USER, None),                 # the owner
    (ADMIN, None),                # an admin
    (OTHER_ADMIN, None),          # another admin
    (OTHER_USER, PermissionDenied),  # another user, who cannot even see the model
    ("expired", SessionExpired),  # the owner, after logging out
])
def test_only_the_owner_or_an_admin_may_save(ctx, login, model, actor, expected):
    me = login(USER if actor == "expired" else actor)
    if actor == "expired":
        session_records.logout(ctx, me)
    before = (_stored_settings(ctx), _jobs(ctx), len(_audit(ctx)))
    if expected is None:
        job = drift_settings.save_settings(ctx, me, model, {"drift_share": 0.25})
        assert (job.kind, job.state, job.actor) == (jobs.RECOMPUTE_DRIFT, QUEUED, me.username)
        assert _stored_settings(ctx)["drift_share"] == 0.25
        assert [(e.actor, e.target, e.detail) for e in _audit(ctx)] == [(me.username, MODEL, "drift_share: 0.5 → 0.25")]
    else:
        with pytest.raises(expected):
            drift_settings.save_settings(ctx, me, model, {"drift_share": 0.25})
        assert (_stored_settings(ctx), _jobs(ctx), len(_audit(ctx))) == before


# -- what is refused ---------------------------------------------------------------------------------
@pytest.mark.parametrize("changes, field, words", [
    ({"thresholds": {"card_present": 1.5}}, "thresholds.card_present", "between 0 and 1"),  # z: a p-value
    ({"thresholds": {"ks": 0}}, "thresholds.ks", "between 0 and 1"),
    ({"thresholds": {"amount": -0.1}}, "thresholds.amount", "positive"),  # wasserstein
    ({"thresholds": {"psi": 0}}, "thresholds.psi", "positive"),
    ({"thresholds": {"merchant_category": 0.9}}, "thresholds.merchant_category", "at most 0.833"),  # JS distance
    ({"thresholds": {"amount": "high"}}, "thresholds.amount", "not a number"),
    ({"thresholds": {"colour": 0.1}}, "thresholds.colour", "neither a feature"),
    ({"methods": {"amount": "z"}}, "methods.amount", "applies to binary"),
    ({"methods": {"amount": "magic"}}, "methods.amount", "not a drift method"),
    ({"methods": {"colour": "ks"}}, "methods.colour", "not a feature"),
    ({"type_methods": {"categorical": "ks"}}, "type_methods.categorical", "applies to numeric"),
    ({"type_methods": {"text": "psi"}}, "type_methods.text", "not a feature type"),
    ({"drift_share": 0}, "drift_share", "above 0 and at most 1"),
    ({"drift_share": 1.5}, "drift_share", "above 0 and at most 1"),
    ({"drift_share": "half"}, "drift_share", "above 0 and at most 1"),
    ({"window": "3D"}, "window", "profiled in windows of"),
    ({"window": "sometimes"}, "window", "not understood"),
    ({"threshold_mode": "vibes"}, "threshold_mode", "not a mode"),
    ({"colour": "red"}, "colour", "not a drift setting"),
    # a threshold checked against the method the feature gets under the NEW methods: ks is a p-value
    ({"methods": {"amount": "ks"}, "thresholds": {"amount": 2.0}}, "thresholds.amount", "between 0 and 1"),
])
def test_bad_settings_are_refused_naming_the_field_and_nothing_is_stored(ctx, login, model, changes, field, words):
    before = (_stored_settings(ctx), _jobs(ctx), len(_audit(ctx)), _reports(ctx))
    with pytest.raises(InvalidInput) as error:
        drift_settings.save_settings(ctx, login(ADMIN), model, changes)
    assert error.value.field == field and words in str(error.value), str(error.value)
    assert (_stored_settings(ctx), _jobs(ctx), len(_audit(ctx)), _reports(ctx)) == before


def test_saving_the_settings_in_force_is_refused(ctx, login, model):
    with pytest.raises(InvalidInput, match="in force already"):
        drift_settings.save_settings(ctx, login(USER), model, {"drift_share": 0.5})


# -- the recompute job -------------------------------------------------------------------------------
def test_a_save_recomputes_every_stored_report_with_the_new_settings(ctx, login, model):
    old = _reports(ctx)
    assert len(old) == 1 and old[0]["threshold_share"] == 0.5
    amount = next(f for f in old[0]["features"] if f["feature"] == "amount")
    assert amount["drifted"] and amount["threshold"] == 0.1
    me = login(USER)
    job = drift_settings.save_settings(ctx, me, model, {"thresholds": {"amount": 5.0}, "drift_share": 0.1,
                                                       "window": "14D"})
    assert _reports(ctx) == old, "nothing is recomputed before the job runs"
    session_records.logout(ctx, me)  # the tab may be gone when the job runs
    done = _run(ctx, job)
    assert done.state == DONE, done.error
    assert done.result == {"model": MODEL, "reports": 1, "superseded": False,
                           "dataset_drift": True, "drift_share": pytest.approx(1 / 6)}
    (new,) = _reports(ctx)
    amount = next(f for f in new["features"] if f["feature"] == "amount")
    assert (amount["threshold"], amount["drifted"]) == (5.0, False)
    assert new["threshold_share"] == 0.1 and new["dataset_drift"] and new["_row"] == (True, pytest.approx(1 / 6))
    assert len(new["windows"]) < len(old[0]["windows"]), "weekly windows merged into fortnights"
    assert model_rows(ctx)["drift_reports"] == 1, "replaced, not added"
    detail = _audit(ctx)[0].detail
    assert "thresholds.amount: default → 5.0" in detail and "drift_share: 0.5 → 0.1" in detail
    assert "window: profiled → 14D" in detail


def test_a_restricted_model_awaiting_metrics_saves_and_recomputes_nothing(ctx, login, register_restricted):
    register_restricted("Secret model")
    job = drift_settings.save_settings(ctx, login(USER), "Secret model", {"drift_share": 0.3})
    done = _run(ctx, job)
    assert done.state == DONE and done.result["reports"] == 0
    assert _stored_settings(ctx, "Secret model")["drift_share"] == 0.3


def test_a_recompute_that_fails_leaves_every_report_as_it_was(ctx, login, model):
    before = _reports(ctx)
    job = drift_settings.save_settings(ctx, login(USER), model, {"drift_share": 0.2})
    with ctx.store.write() as conn:  # a stored profile that no longer reads
        conn.execute(update(schema.profiles).where(schema.profiles.c.kind == "production").values(body="{}"))
    failed = _run(ctx, job)
    assert failed.state == FAILED and failed.error
    assert _reports(ctx) == before


def test_two_saves_at_once_the_last_wins_both_are_audited_nothing_is_mixed(ctx, login, model):
    first = drift_settings.save_settings(ctx, login(ADMIN), model, {"drift_share": 0.9})
    second = drift_settings.save_settings(ctx, login(OTHER_ADMIN), model, {"drift_share": 0.1})
    assert [(e.actor, e.detail) for e in reversed(_audit(ctx))] == [
        (ADMIN, "drift_share: 0.5 → 0.9"), (OTHER_ADMIN, "drift_share: 0.9 → 0.1")]
    # the first job runs after the second save: it uses the settings as stored when it runs
    assert _run(ctx, first).result["superseded"] is False
    assert _reports(ctx)[0]["threshold_share"] == 0.1
    assert _run(ctx, second).state == DONE
    assert _reports(ctx)[0]["threshold_share"] == 0.1 and _stored_settings(ctx)["drift_share"] == 0.1


def test_a_save_while_a_recompute_runs_makes_it_write_nothing(ctx, login, model):
    """The settings change between the job's computing and its writing: it writes nothing (superseded), and the
    later save's job brings the reports to the later settings — never reports of a version no longer in force."""
    before = _reports(ctx)
    first = drift_settings.save_settings(ctx, login(ADMIN), model, {"drift_share": 0.9})
    later = []

    def progress(fraction, message):  # a second admin saves while the first job computes
        if not later:
            later.append(drift_settings.save_settings(ctx, login(OTHER_ADMIN), model, {"drift_share": 0.2}))

    from vision_widgets.services.sessions import on_behalf_of

    result = drift_settings.recompute_reports(ctx, on_behalf_of(ctx, ADMIN), model, progress=progress)
    assert result.superseded and result.reports == 0 and result.settings["drift_share"] == 0.2
    assert _reports(ctx) == before, "nothing computed with 0.9 was written"
    assert _run(ctx, later[0]).result["superseded"] is False
    assert _reports(ctx)[0]["threshold_share"] == 0.2
    assert _run(ctx, first).state == DONE and _reports(ctx)[0]["threshold_share"] == 0.2


def test_a_job_whose_submitter_may_no_longer_change_the_model_fails(ctx, login, model):
    from vision_widgets.services import accounts

    job = drift_settings.save_settings(ctx, login(OTHER_ADMIN), model, {"drift_share": 0.3})
    accounts.change_role(ctx, login(ADMIN), OTHER_ADMIN, "user")
    before = _reports(ctx)
    failed = _run(ctx, job)
    assert failed.state == FAILED and "may not change" in failed.error
    assert _reports(ctx) == before


# -- the window setting ------------------------------------------------------------------------------
def test_a_window_span_merges_the_profiled_windows_like_profiling_at_that_span():
    """Weekly windows merged into fortnights give the windows, rows and (up to the privacy guard's pooling,
    which merged windows keep) the statistics of profiling the same data in fortnights."""
    from helpers import client_profiles, demo_frames

    from vision_widgets import client
    from vision_widgets.core.stats.drift import DriftSettings, drift

    reference, weekly = client_profiles()
    _, frame = demo_frames()
    fortnightly = client.Profile.from_json(client.profile(frame, reference=reference, k=10, window="14D").to_json())
    merged, direct = drift(reference, weekly, DriftSettings(window="14D")), drift(reference, fortnightly)
    assert [(w.window, w.rows) for w in merged.windows] == [(w.window, w.rows) for w in direct.windows]
    for a, b in zip(merged.windows, direct.windows):
        assert [f.statistic for f in a.features] == pytest.approx([f.statistic for f in b.features], abs=0.03)
    assert drift(reference, weekly, DriftSettings(window="batch")).windows == ()
    from vision_widgets.core.stats.drift import check_window

    check_window("1M", ["1D"])  # days add up to months
    with pytest.raises(InvalidInput, match="do not add up to 1M"):
        check_window("1M", [weekly.window])  # weeks straddle months
