"""Model registry services (services/registration.py, catalog.py, model360.py, submissions.py): registration on both paths, what a failure leaves
behind (nothing), who sees and changes which model, production batches, deletion, HTML names."""
from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from helpers import (
    ADMIN,
    OTHER_USER,
    USER,
    XSS_NAME,
    demo_frames,
    demo_spec,
    model_rows,
    write_demo_files,
)
from sqlalchemy import select

from vision_widgets.client import Profile
from vision_widgets.core import audit
from vision_widgets.core.catalog import records
from vision_widgets.core.errors import InvalidInput, PermissionDenied
from vision_widgets.core.stats.drift import drift
from vision_widgets.core.storage import schema
from vision_widgets.services import catalog
from vision_widgets.services import model360
from vision_widgets.services import registration
from vision_widgets.services import submissions

EMPTY = {"models": 0, "profiles": 0, "drift_reports": 0, "upload_tokens": 0}


@pytest.fixture
def data(settings):
    """The first allowed root ($VISION_HOME/data) with the fraud demo files in it."""
    folder = settings.home / "data"
    train, prod = write_demo_files(folder)
    return folder, train, prod


def _audit_actions(ctx):
    with ctx.store.read() as conn:
        return [(e.actor, e.action, e.target) for e in audit.recent(conn)]


# -- registration ---------------------------------------------------------------------------------


def test_unrestricted_registration_stores_profiles_drift_and_audit(ctx, login, data, clock):
    _, train, prod = data
    me = login(USER)
    progress = []
    reg = registration.register_model(ctx, me, demo_spec("Fraud detection", train, prod),
                            progress=lambda f, what: progress.append((f, what)))

    assert reg.model.status == "active" and not reg.model.restricted
    assert reg.model.owner == USER and reg.model.lob == "Analytics" and reg.model.sub_lob == "Fraud"
    assert reg.upload_token is None
    assert reg.drift is not None and 0.0 <= reg.drift.drift_share <= 1.0
    assert model_rows(ctx) == {"models": 1, "profiles": 2, "drift_reports": 1, "upload_tokens": 0}
    # progress goes forward from the start to "Done"
    fractions = [f for f, _ in progress]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and progress[-1][1] == "Done"

    data360 = model360.model_360(ctx, me, "Fraud detection")
    train_df, prod_df = demo_frames()
    assert data360.reference.rows == len(train_df) and data360.production.rows == len(prod_df)
    # the excluded id column is never profiled; the special columns are roles, not features
    assert "record_id" not in data360.reference.columns and "is_fraud" not in data360.reference.columns
    assert "amount" in data360.reference.columns
    assert data360.reference.surrogate is not None and "amount" in data360.reference.surrogate.terms
    assert 0.5 < data360.performance["roc_auc"] <= 1.0
    assert data360.can_manage
    assert len(data360.history) == 1 and data360.history[0].label == "initial production data"
    assert (USER, "register model", "Fraud detection") in _audit_actions(ctx)


def test_restricted_registration_awaits_metrics_and_keeps_only_the_token_hash(ctx, login, clock):
    me = login(USER)
    reg = registration.register_model(ctx, me, demo_spec("Secret model", restricted=True))

    assert reg.model.status == "awaiting metrics" and reg.model.restricted
    assert reg.drift is None
    assert reg.upload_token and len(reg.upload_token) >= 40
    assert reg.token_expires == clock.now + timedelta(hours=24)
    assert reg.upload_token not in repr(reg)  # shown once by the view, never logged
    assert model_rows(ctx) == {"models": 1, "profiles": 0, "drift_reports": 0, "upload_tokens": 1}
    with ctx.store.read() as conn:
        row = conn.execute(select(schema.upload_tokens)).mappings().one()
        dump = json.dumps([dict(r) for r in conn.execute(select(schema.models)).mappings()], default=str)
        dump += json.dumps([dict(r) for r in conn.execute(select(schema.audit_log)).mappings()], default=str)
    assert row["token_hash"] == hashlib.sha256(reg.upload_token.encode()).hexdigest()
    assert reg.upload_token not in json.dumps(dict(row), default=str) + dump
    listed = catalog.list_models(ctx, me)
    assert [(s.model.name, s.model.status, s.drift_share) for s in listed] == [("Secret model", "awaiting metrics", None)]
    empty = model360.model_360(ctx, me, "Secret model")
    assert empty.reference is None and empty.production is None and empty.drift is None


def test_a_restricted_model_needs_no_data_paths_but_an_unrestricted_one_needs_a_target(ctx, login, data):
    _, train, prod = data
    with pytest.raises(InvalidInput, match="target"):
        registration.register_model(ctx, login(USER), demo_spec("No target", train, prod, target=""))
    assert model_rows(ctx) == EMPTY


# -- failures leave nothing -----------------------------------------------------------------------


def _bad_production_text(folder):
    train, prod = demo_frames()
    prod = prod.astype({"amount": object})
    prod.loc[5, "amount"] = "twelve euros"
    path = folder / "bad_production.csv"
    prod.to_csv(path, index=False)
    return path


def _header_only(folder):
    path = folder / "empty_production.csv"
    demo_frames()[1].head(0).to_csv(path, index=False)
    return path


def _single_class(folder):
    train, _ = demo_frames()
    train["is_fraud"] = 0
    path = folder / "single_class_training.csv"
    train.to_csv(path, index=False)
    return path


def _other_columns(folder):
    _, prod = demo_frames()
    path = folder / "renamed_production.csv"
    prod.rename(columns={"amount": "amount_eur"}).to_csv(path, index=False)
    return path


def _outside(folder):
    out = folder.parent.parent / "elsewhere"
    out.mkdir(exist_ok=True)
    path = out / "fraud_production.csv"
    path.write_bytes((folder / "fraud_production.csv").read_bytes())
    return path


def _symlink_out(folder):
    link = folder / "link_production.csv"
    link.symlink_to(_outside(folder))
    return link


def _dotdot(folder):
    _outside(folder)
    return folder / ".." / ".." / "elsewhere" / "fraud_production.csv"


@pytest.mark.parametrize("case, change, message", [
    ("bad production file (text in a numeric column)", lambda f: {"production": _bad_production_text(f)}, "amount"),
    ("production file with a header only", lambda f: {"production": _header_only(f)}, "no rows"),
    ("single-class target", lambda f: {"training": _single_class(f)}, "single class"),
    ("production with other columns", lambda f: {"production": _other_columns(f)}, "amount"),
    ("role naming a missing column", lambda f: {"target": "is_fraud_label"}, "is_fraud_label"),
    ("excluded column that is not there", lambda f: {"exclude": ("customer_id",)}, "customer_id"),
    ("path outside the allowed roots", lambda f: {"production": _outside(f)}, "outside the folders"),
    ("symlink leading out", lambda f: {"production": _symlink_out(f)}, "outside the folders"),
    ("'..' leading out", lambda f: {"production": _dotdot(f)}, "outside the folders"),
    ("missing file", lambda f: {"training": f / "nope.csv"}, "No file at"),
    ("not a data file", lambda f: {"training": (f / "notes.txt", (f / "notes.txt").write_text("hi"))[0]},
     "not a CSV or Parquet"),
    ("relative path under the data root that is missing", lambda f: {"training": "missing/training.csv"}, "No file"),
    ("empty path", lambda f: {"production": ""}, "Give the production data"),
    ("unknown task", lambda f: {"task": "clustering"}, "task must be one of"),
    ("empty name", lambda f: {"name": "   "}, "Give the model a name"),
    ("name over 128 characters", lambda f: {"name": "m" * 129}, "at most 128"),
    ("unknown connector", lambda f: {"connector": "ftp"}, "no connector named"),
])
def test_a_failed_registration_leaves_no_model_profile_or_drift(ctx, login, data, case, change, message):
    folder, train, prod = data
    fields = dict(name="Fraud detection", training=train, production=prod)
    fields.update(change(folder))
    before = _audit_actions(ctx)
    with pytest.raises(InvalidInput, match=message):
        registration.register_model(ctx, login(USER), demo_spec(**fields))
    assert model_rows(ctx) == EMPTY, case
    assert _audit_actions(ctx) == before
    # the same name is still free: a corrected registration succeeds
    registration.register_model(ctx, login(USER), demo_spec("Fraud detection", train, prod))
    assert model_rows(ctx)["models"] == 1


def test_a_failure_while_storing_rolls_back_the_whole_registration(ctx, login, data, monkeypatch):
    _, train, prod = data

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(records, "add_drift", broken)
    with pytest.raises(RuntimeError):
        registration.register_model(ctx, login(USER), demo_spec("Fraud detection", train, prod))
    assert model_rows(ctx) == EMPTY
    assert not any(a == "register model" for _, a, _ in _audit_actions(ctx))


@pytest.mark.parametrize("again", ["Fraud detection", "FRAUD DETECTION", "  fraud Detection  "])
def test_a_duplicate_name_in_any_case_is_refused_and_changes_nothing(ctx, login, data, again):
    _, train, prod = data
    registration.register_model(ctx, login(USER), demo_spec("Fraud detection", train, prod))
    before = model_rows(ctx)
    with pytest.raises(InvalidInput, match="already exists"):
        registration.register_model(ctx, login(OTHER_USER), demo_spec(again, restricted=True))
    assert model_rows(ctx) == before


def test_a_data_root_from_settings_is_honoured(tmp_path, ctx, login):
    from dataclasses import replace

    from vision_widgets.core.context import Context

    other = tmp_path / "lake"
    train, prod = write_demo_files(other)
    with pytest.raises(InvalidInput, match="outside the folders"):
        registration.register_model(ctx, login(USER), demo_spec("Lake model", train, prod))
    wide = Context(settings=replace(ctx.settings, data_roots=(other,)), store=ctx.store, clock=ctx.clock)
    assert registration.register_model(wide, login(USER), demo_spec("Lake model", train, prod)).model.status == "active"


# -- ownership and visibility ----------------------------------------------------------------------


@pytest.fixture
def three_models(ctx, login):
    """Restricted registrations (no profiling, so cheap) by two users and an admin."""
    registration.register_model(ctx, login(USER), demo_spec("Fraud scorer", restricted=True, platform="Databricks"))
    registration.register_model(ctx, login(USER), demo_spec("Chargeback model", restricted=True, platform="Azure ML"))
    registration.register_model(ctx, login(OTHER_USER), demo_spec("Churn model", restricted=True, platform="Databricks"))


def _names(summaries):
    return [s.model.name for s in summaries]


def test_a_user_sees_and_opens_only_their_own_models(ctx, login, three_models):
    me = login(USER)
    assert _names(catalog.list_models(ctx, me)) == ["Chargeback model", "Fraud scorer"]
    assert _names(catalog.list_models(ctx, login(OTHER_USER))) == ["Churn model"]
    with pytest.raises(PermissionDenied, match="belongs to another user"):
        model360.model_360(ctx, me, "Churn model")
    for change in (lambda: catalog.delete_model(ctx, me, "Churn model"),
                   lambda: submissions.issue_upload_token(ctx, me, "Churn model"),
                   lambda: submissions.add_production_batch(ctx, me, "Churn model", "x.csv"),
                   lambda: submissions.submit_file(ctx, me, "Churn model", b"{}")):
        with pytest.raises(PermissionDenied):
            change()
    assert model_rows(ctx)["models"] == 3
    assert catalog.filter_choices(ctx, me) == {"lob": ("Analytics",), "platform": ("Azure ML", "Databricks"),
                                          "status": ("awaiting metrics",)}


def test_an_admin_sees_opens_and_manages_every_model(ctx, login, three_models):
    admin = login(ADMIN)
    assert _names(catalog.list_models(ctx, admin)) == ["Chargeback model", "Churn model", "Fraud scorer"]
    assert model360.model_360(ctx, admin, "Churn model").can_manage
    assert catalog.filter_choices(ctx, admin)["lob"] == ("Analytics", "Product")
    catalog.delete_model(ctx, admin, "churn model")
    assert _names(catalog.list_models(ctx, login(OTHER_USER))) == []


def test_only_an_admin_registers_for_another_owner(ctx, login):
    with pytest.raises(PermissionDenied, match="Only an admin"):
        registration.register_model(ctx, login(USER), demo_spec("For someone else", restricted=True, owner=OTHER_USER))
    assert model_rows(ctx) == EMPTY
    reg = registration.register_model(ctx, login(ADMIN), demo_spec("For someone else", restricted=True, owner=OTHER_USER))
    assert (reg.model.owner, reg.model.lob, reg.model.created_by) == (OTHER_USER, "Product", ADMIN)
    assert _names(catalog.list_models(ctx, login(OTHER_USER))) == ["For someone else"]


@pytest.mark.parametrize("filters, expected", [
    ({"text": "fraud"}, ["Fraud scorer"]),
    ({"text": "  MODEL "}, ["Chargeback model", "Churn model"]),
    ({"lob": "Product"}, ["Churn model"]),
    ({"platform": "Databricks"}, ["Churn model", "Fraud scorer"]),
    ({"platform": "Databricks", "lob": "Analytics"}, ["Fraud scorer"]),
    ({"status": "active"}, []),
    ({"status": "awaiting metrics"}, ["Chargeback model", "Churn model", "Fraud scorer"]),
    ({"text": "%"}, []),  # typed text is matched literally, not as a SQL pattern
    ({"text": "_"}, []),
])
def test_the_list_filters_by_name_lob_platform_and_status(ctx, login, three_models, filters, expected):
    assert _names(catalog.list_models(ctx, login(ADMIN), **filters)) == expected


def test_the_name_filter_finds_names_with_pattern_characters(ctx, login):
    registration.register_model(ctx, login(USER), demo_spec("Churn 100% v2", restricted=True))
    registration.register_model(ctx, login(USER), demo_spec("Churn 1000 v2", restricted=True))
    assert _names(catalog.list_models(ctx, login(USER), text="100%")) == ["Churn 100% v2"]


def test_an_expired_session_cannot_list_or_register(ctx, login, clock):
    from vision_widgets.core.errors import AuthenticationError

    me = login(USER)
    clock.advance(ctx.settings.token_ttl_seconds + 1)
    with pytest.raises(AuthenticationError):
        catalog.list_models(ctx, me)
    with pytest.raises(AuthenticationError):
        registration.register_model(ctx, me, demo_spec("Late", restricted=True))
    assert model_rows(ctx) == EMPTY


# -- production batches and deletion ---------------------------------------------------------------


def test_a_production_batch_appends_to_the_drift_history(ctx, login, data, clock):
    folder, train, prod = data
    me = login(USER)
    registration.register_model(ctx, me, demo_spec("Fraud detection", train, prod))
    # a later batch: the last weeks only (where the demo data drifts)
    _, frame = demo_frames()
    late = folder / "november.csv"
    frame.iloc[len(frame) // 2:].to_csv(late, index=False)
    clock.advance(3600)
    me = login(USER)
    report = submissions.add_production_batch(ctx, me, "Fraud detection", str(late), label="November")

    data360 = model360.model_360(ctx, me, "Fraud detection")
    assert [p.label for p in data360.history] == ["initial production data", "November"]
    assert data360.history[-1].rows == len(frame) - len(frame) // 2 == data360.production.rows
    assert data360.history[-1].drift_share == pytest.approx(report.drift_share)
    assert data360.drift.drift_share == pytest.approx(report.drift_share)
    assert model_rows(ctx) == {"models": 1, "profiles": 3, "drift_reports": 2, "upload_tokens": 0}
    assert (USER, "add production batch", "Fraud detection") in _audit_actions(ctx)
    # the list shows the latest drift
    assert catalog.list_models(ctx, me)[0].drift_share == pytest.approx(report.drift_share)


def test_a_bad_production_batch_adds_nothing(ctx, login, data):
    folder, train, prod = data
    me = login(USER)
    registration.register_model(ctx, me, demo_spec("Fraud detection", train, prod))
    before = model_rows(ctx)
    for path, message in ((_other_columns(folder), "amount"), (_outside(folder), "outside"),
                          (folder / "missing.csv", "No file")):
        with pytest.raises(InvalidInput, match=message):
            submissions.add_production_batch(ctx, me, "Fraud detection", str(path))
    assert model_rows(ctx) == before


def test_a_restricted_model_takes_batches_only_from_the_client(ctx, login, data):
    _, _, prod = data
    me = login(USER)
    registration.register_model(ctx, me, demo_spec("Secret model", restricted=True))
    with pytest.raises(InvalidInput, match="client notebook"):
        submissions.add_production_batch(ctx, me, "Secret model", str(prod))


def test_delete_removes_the_model_and_everything_stored_for_it(ctx, login, data):
    _, train, prod = data
    me = login(USER)
    registration.register_model(ctx, me, demo_spec("Fraud detection", train, prod))
    registration.register_model(ctx, me, demo_spec("Secret model", restricted=True))
    catalog.delete_model(ctx, me, "Fraud detection")
    catalog.delete_model(ctx, me, "SECRET MODEL")
    assert model_rows(ctx) == EMPTY
    assert catalog.list_models(ctx, me) == []
    assert (USER, "delete model", "Secret model") in _audit_actions(ctx)
    # the name is free again
    registration.register_model(ctx, me, demo_spec("Fraud detection", train, prod))


def test_an_html_model_name_is_stored_exactly_as_typed(ctx, login):
    registration.register_model(ctx, login(USER), demo_spec(XSS_NAME, restricted=True))
    assert _names(catalog.list_models(ctx, login(USER))) == [XSS_NAME]
    assert model360.model_360(ctx, login(USER), XSS_NAME).model.name == XSS_NAME


def test_a_path_outside_the_roots_reveals_nothing_about_what_exists_there(ctx, login):
    from vision_widgets.core.errors import InvalidInput
    from vision_widgets.services import connectors as stored_connectors

    local = stored_connectors.connect(ctx, login(USER), "local")
    messages = []
    for path in ("/etc/passwd", "/etc/no-such-file.csv"):
        with pytest.raises(InvalidInput) as err:
            local.open(path)
        messages.append(str(err.value).replace(path, "P"))
    assert messages[0] == messages[1] and "outside the folders" in messages[0]


def test_an_account_that_owns_models_cannot_be_removed(ctx, login):
    from vision_widgets.core.errors import Conflict
    from vision_widgets.services import accounts

    owner = login("productowner_user")
    registration.register_model(ctx, owner, registration.ModelSpec(name="Kept", task="binary classification", restricted=True))
    with pytest.raises(Conflict, match="owns 1 model"):
        accounts.remove_account(ctx, login("sre_admin"), "productowner_user")


def test_a_stored_drift_report_is_what_the_stored_profiles_give(ctx, login, data, clock):
    """The report stored at registration (and with a batch) is computed on the profiles as stored
    (pooled by the privacy guard), so Model 360, a recompute and an export all agree with it."""
    folder, train, prod = data
    me = login(USER)
    registration.register_model(ctx, me, demo_spec("Fraud detection", train, prod))
    _, frame = demo_frames()
    late = folder / "november.csv"
    frame.iloc[len(frame) // 2:].to_csv(late, index=False)
    submissions.add_production_batch(ctx, me, "Fraud detection", str(late), label="November")
    with ctx.store.read() as conn:
        record = records.get(conn, "Fraud detection")
        reference = Profile.from_json(records.profiles_of(conn, record.id, "reference")[-1].body)
        stored = records.drift_history(conn, record.id)
        bodies = {p.id: p.body for p in records.profiles_of(conn, record.id, "production")}
    assert len(stored) == 2
    for report in stored:
        again = drift(reference, Profile.from_json(bodies[report.profile_id]))
        assert json.loads(report.body) == json.loads(json.dumps(again.to_dict()))
