"""``vision init --demo`` (services/seeding.py) and the seeded demo data (core/datasets.py)."""
from __future__ import annotations

import pandas as pd
import pytest
from helpers import ADMIN, SMALL_TRAIN_ROWS, SMALL_WEEKLY_ROWS, model_rows

from vision_widgets.core import connectors
from vision_widgets.core.identity import sessions
from vision_widgets.demo import datasets, seeding
from vision_widgets.services import catalog
from vision_widgets.services import model360
from vision_widgets.services import registration

OWNERS = {
    "Fraud detection": "datascientist_user",
    "Customer churn": "productowner_user",
    "Incident prediction": "sre_user",
    "Lead scoring": "mlengineer_user",
    "Retail transactions": "appowner_user",
}


@pytest.fixture
def small_demo_files(settings):
    """The demo files at a small size, where ``install`` looks for them (so it does not write big ones)."""
    return datasets.write_files(connectors.demo_folder(settings), SMALL_TRAIN_ROWS, SMALL_WEEKLY_ROWS)


def test_install_registers_the_five_demo_models_once(ctx, small_demo_files):
    said: list[str] = []
    added = seeding.install(ctx, say=said.append)
    assert sorted(added) == sorted(OWNERS)
    assert not any(line.startswith("Writing demo data") for line in said)  # the files were there already
    assert "Registering Retail transactions (restricted: executing the client notebook on its data) ..." in said

    admin = sessions.operator_session(ctx, ADMIN)
    listed = {s.model.name: s for s in catalog.list_models(ctx, admin)}
    assert {name: s.model.owner for name, s in listed.items()} == OWNERS
    assert all(s.model.status == "active" and s.drift_share is not None for s in listed.values())
    assert [n for n, s in listed.items() if s.model.restricted] == ["Retail transactions"]
    assert all(s.model.connector_details.get("demo") for s in listed.values())  # labelled demo data
    # the restricted model's profiles came from the client, the others' from the server's connector
    retail = model360.model_360(ctx, admin, "Retail transactions")
    assert retail.reference.rows == SMALL_TRAIN_ROWS and retail.model.task == "multiclass classification"
    assert set(retail.performance) >= {"accuracy"}
    fraud = model360.model_360(ctx, admin, "Fraud detection")
    assert fraud.reference.rows == SMALL_TRAIN_ROWS
    assert fraud.production.rows == SMALL_WEEKLY_ROWS * datasets.PROD_WEEKS
    # the lead model's last two weeks arrive without labels: estimated, not realised (issue 10)
    from vision_widgets.services import estimation

    leads = estimation.performance_over_time(ctx, admin, "Lead scoring")
    assert leads.reason == "" and len(leads.windows) >= datasets.PROD_WEEKS
    # (at this test's 500-row weeks the guard's score bins are too coarse for any estimate to be told;
    # the full demo's 3,000-row weeks give every metric in every window: docs/statistics.md)
    assert leads.realised["roc_auc"][-2:] == (None, None)
    assert "class labels" in estimation.performance_over_time(ctx, admin, "Retail transactions").reason
    # every user sees exactly their own demo model
    for name, owner in OWNERS.items():
        assert [s.model.name for s in catalog.list_models(ctx, sessions.operator_session(ctx, owner))] == [name]

    before = model_rows(ctx)
    assert seeding.install(ctx, say=said.append) == []
    assert model_rows(ctx) == before


def test_install_gives_a_tested_demo_warehouse_and_a_weekly_cadence(ctx, small_demo_files):
    from vision_widgets.core.monitoring import checks
    from vision_widgets.services import connectors as stored, scheduled_pulls

    said: list[str] = []
    seeding.install(ctx, say=said.append)
    admin = sessions.operator_session(ctx, ADMIN)
    warehouse = next(c for c in stored.list_connectors(ctx, admin) if c.name == seeding.DEMO_CONNECTOR)
    assert warehouse.type == "sql" and warehouse.last_test_ok is True
    assert "Demo data" in warehouse.description  # labelled
    assert "url" not in warehouse.config and warehouse.secrets_set == ("url",)  # the URL is sealed, not in the config
    # the open models' tables, none of the restricted model's (its data never reaches the server)
    tables = {e.name for e in stored.browse(ctx, admin, seeding.DEMO_CONNECTOR)}
    open_models = [m for m in datasets.MODELS if not m.restricted]
    assert tables == {seeding.table_name(p) for m in open_models for p in small_demo_files[m.name]}
    # a table reads back the file's rows, through the same connector a registration uses
    fraud_training = small_demo_files["Fraud detection"][0]
    connection = stored.connect(ctx, admin, seeding.DEMO_CONNECTOR)
    try:
        rows = sum(b.num_rows for b in connection.open(seeding.table_name(fraud_training)))
    finally:
        connection.close()
    assert rows == len(pd.read_csv(fraud_training))
    # every demo model expects a weekly batch: Monitoring calls them fresh
    for name, owner in OWNERS.items():
        assert scheduled_pulls.get_pull(ctx, sessions.operator_session(ctx, owner), name).cadence == "7D"
    with ctx.store.read() as conn:
        health = checks.models(conn, ctx.now())
    assert {h.freshness for h in health} == {"fresh"}
    # a second install adds no second connector and writes nothing again
    seeding.install(ctx, say=said.append)
    assert [c.name for c in stored.list_connectors(ctx, admin)].count(seeding.DEMO_CONNECTOR) == 1


def test_install_adds_only_what_is_missing(ctx, small_demo_files):
    admin = sessions.operator_session(ctx, ADMIN)
    spec = seeding._spec(datasets.MODELS[0], *small_demo_files["Fraud detection"])
    registration.register_model(ctx, sessions.operator_session(ctx, "datascientist_user"), spec)
    catalog.delete_model(ctx, admin, "Fraud detection")
    registration.register_model(ctx, sessions.operator_session(ctx, "datascientist_user"), spec)
    added = seeding.install(ctx, say=lambda _line: None)
    assert "Fraud detection" not in added and len(added) == 4


def test_the_demo_data_is_deterministic_and_drifts_in_the_last_weeks():
    for model in datasets.MODELS:
        a_train, a_prod = datasets.generate(model, 400, 200)
        b_train, b_prod = datasets.generate(model, 400, 200)
        pd.testing.assert_frame_equal(a_train, b_train)
        pd.testing.assert_frame_equal(a_prod, b_prod)
        assert len(a_prod) == 200 * datasets.PROD_WEEKS
        assert a_train[model.target].nunique() >= 2
        assert {model.target, model.prediction, model.timestamp, *model.exclude} <= set(a_train.columns)
        assert a_prod[model.timestamp].min() >= datasets.PROD_START > a_train[model.timestamp].max()
    fraud, churn = datasets.MODELS[0], datasets.MODELS[1]
    assert not datasets.generate(fraud, 400, 200)[0].equals(datasets.generate(churn, 400, 200)[0])
    _, prod = datasets.generate(fraud, 400, 2000)
    week = (prod["event_time"] - datasets.PROD_START).dt.days // 7 + 1
    early, late = prod[week < datasets.DRIFT_FROM_WEEK], prod[week >= datasets.DRIFT_FROM_WEEK]
    assert late["amount"].median() > 1.3 * early["amount"].median()
    assert "crypto_exchange" in set(late["merchant_category"]) and "crypto_exchange" not in set(early["merchant_category"])


def test_the_written_files_are_the_same_bytes_every_time(tmp_path):
    a = datasets.write_files(tmp_path / "a", 300, 50)
    b = datasets.write_files(tmp_path / "b", 300, 50)
    for name in a:
        for pa, pb in zip(a[name], b[name]):
            assert pa.read_bytes() == pb.read_bytes()
