"""``vision models register --connector NAME …``, ``vision models schedule`` and ``vision models pull``,
as an operator or a pipeline runs them (a subprocess on a VISION_HOME set up in-process)."""
from __future__ import annotations

import sqlite3

import pytest
from helpers import ADMIN, PASSWORDS, USER, demo_frames
from test_cli_users import vision

from vision_widgets.core.catalog import records
from vision_widgets.core.config import load_settings
from vision_widgets.core.context import Context
from vision_widgets.core.identity import auth
from vision_widgets.demo import sample_accounts
from vision_widgets.services import connectors as stored_connectors

ROLES = ["--target", "is_fraud", "--prediction", "fraud_score", "--exclude", "record_id"]


@pytest.fixture
def home(tmp_path, fast_users_file):
    """A VISION_HOME with the sample accounts and a stored ``sql`` connector ``warehouse`` over a SQLite file."""
    home = tmp_path / "home"
    ctx = Context.open(load_settings({"VISION_HOME": str(home)}), upgrade=True)
    sample_accounts.load_users(ctx, fast_users_file)
    train, prod = demo_frames()
    train, prod = train.drop(columns=["event_time"]), prod.drop(columns=["event_time"])
    db = tmp_path / "warehouse.db"
    with sqlite3.connect(db) as con:
        train.to_sql("fraud_training", con, index=False)
        prod.iloc[:400].to_sql("fraud_production", con, index=False)
    admin = auth.login(ctx, ADMIN, PASSWORDS[ADMIN]).principal
    stored_connectors.add_connector(ctx, admin, "warehouse", "sql", {}, {"url": f"sqlite:///{db}"})
    ctx.store.dispose()
    return home


def _model(home, name):
    ctx = Context.open(load_settings({"VISION_HOME": str(home)}))
    try:
        with ctx.store.read() as conn:
            return records.get(conn, name)
    finally:
        ctx.store.dispose()


def test_register_through_a_stored_connector_then_schedule_and_pull(home):
    done = vision(home, "models", "register", "--connector", "warehouse", "--name", "Fraud from SQL",
                  "--training", "fraud_training", "--production", "fraud_production", "--owner", USER, *ROLES)
    assert done.returncode == 0, done.stderr
    assert "Registered Fraud from SQL for datascientist_user through the connector warehouse" in done.stdout
    model = _model(home, "Fraud from SQL")
    assert (model.connector, model.owner) == ("warehouse", USER)

    done = vision(home, "models", "schedule", "Fraud from SQL", "--cadence", "1D", "--reference", "fraud_production",
                  "--mode", "query")
    assert done.returncode == 0, done.stderr
    assert "every 1D, pulls query from fraud_production through warehouse" in done.stdout

    done = vision(home, "models", "pull", "Fraud from SQL")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Fraud from SQL: 1 new batch(es), 400 rows (fraud_production)."


def test_an_unknown_connector_or_a_missing_model_is_one_clear_line(home):
    done = vision(home, "models", "register", "--connector", "nowhere", "--name", "X", "--training", "t",
                  "--production", "p", "--owner", USER, *ROLES)
    assert done.returncode == 2 and "no connector named 'nowhere'" in done.stderr
    assert "Traceback" not in done.stderr
    done = vision(home, "models", "pull", "No such model")
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_a_pull_of_a_model_without_a_schedule_says_what_to_do(home):
    assert vision(home, "models", "register", "--connector", "warehouse", "--name", "Unscheduled", "--training",
                  "fraud_training", "--production", "fraud_production", "--owner", USER, *ROLES).returncode == 0
    done = vision(home, "models", "pull", "Unscheduled")
    assert done.returncode == 2 and "has no scheduled pull" in done.stderr
