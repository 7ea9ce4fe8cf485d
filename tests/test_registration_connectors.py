"""Registering a model, and adding production data, THROUGH a stored connector.

A model registered from a SQLite table through a stored ``sql`` connector, or from a folder of
Parquet files through ``local``, has exactly the profiles and drift of the same model registered
from the same data as single files. The model stores the connector's name and the references as
given — never a secret, never a server path the account did not type.
"""
from __future__ import annotations

import json
import sqlite3

import pytest
from helpers import ADMIN, OTHER_USER, USER, demo_frames, demo_spec, model_rows

from vision_widgets.core.errors import ConnectorError, InvalidInput, PermissionDenied
from vision_widgets.services import connectors as stored_connectors
from vision_widgets.services import jobs, registration, submissions

ROLES = dict(timestamp="", exclude=("record_id",))


def _frames():
    """The fraud demo data without its date-time column (SQLite has no date-time type to round-trip)."""
    train, prod = demo_frames()
    return train.drop(columns=["event_time"]), prod.drop(columns=["event_time"])


@pytest.fixture
def files(ctx):
    """The same data as Parquet files under the data folder: single files, and a folder of parts."""
    train, prod = _frames()
    folder = ctx.settings.home / "data" / "fraud"
    parts = folder / "training_parts"
    parts.mkdir(parents=True)
    train.to_parquet(folder / "training.parquet", index=False)
    prod.to_parquet(folder / "production.parquet", index=False)
    for i, start in enumerate(range(0, len(train), 500)):
        train.iloc[start:start + 500].to_parquet(parts / f"part-{i:03d}.parquet", index=False)
    return folder


@pytest.fixture
def warehouse(ctx, login, tmp_path):
    """A SQLite database holding the same data as tables, behind a stored ``sql`` connector."""
    train, prod = _frames()
    db = tmp_path / "warehouse.db"
    with sqlite3.connect(db) as con:
        train.to_sql("fraud_training", con, index=False)
        prod.to_sql("fraud_production", con, index=False)
    stored_connectors.add_connector(ctx, login(ADMIN), "warehouse", "sql", {}, {"url": f"sqlite:///{db}"},
                                    description="the fraud team's tables")
    return db


def _profiles(ctx, name: str) -> dict[str, list]:
    """The stored profiles' bodies of model ``name`` by kind, and its drift reports' bodies."""
    from sqlalchemy import select

    from vision_widgets.core.catalog import records
    from vision_widgets.core.storage import schema

    with ctx.store.read() as conn:
        model = records.get(conn, name)
        out = {kind: [json.loads(p.body) for p in records.profiles_of(conn, model.id, kind)]
               for kind in ("reference", "production")}
        out["drift"] = [json.loads(r.body) for r in
                        conn.execute(select(schema.drift_reports).where(schema.drift_reports.c.model_id == model.id))]
    return out


def _model(ctx, name):
    from vision_widgets.core.catalog import records

    with ctx.store.read() as conn:
        return records.get(conn, name)


def test_a_table_through_a_stored_sql_connector_equals_the_same_data_as_files(ctx, login, files, warehouse):
    user = login(USER)
    registration.register_model(ctx, user, demo_spec("From files", "data/fraud/training.parquet",
                                                      "data/fraud/production.parquet", **ROLES))
    registration.register_model(ctx, user, demo_spec("From tables", "fraud_training", "fraud_production",
                                                      connector="warehouse", **ROLES))
    assert _profiles(ctx, "From tables") == _profiles(ctx, "From files")
    model = _model(ctx, "From tables")
    assert model.connector == "warehouse"
    assert model.connector_details == {"training": "fraud_training", "production": "fraud_production"}


def test_a_folder_of_parquet_files_through_local_equals_the_single_file(ctx, login, files):
    user = login(USER)
    registration.register_model(ctx, user, demo_spec("One file", "data/fraud/training.parquet",
                                                      "data/fraud/production.parquet", **ROLES))
    registration.register_model(ctx, user, demo_spec("A folder", "data/fraud/training_parts",
                                                      "data/fraud/production.parquet", **ROLES))
    assert _profiles(ctx, "A folder") == _profiles(ctx, "One file")
    assert _model(ctx, "A folder").connector_details["training"] == "data/fraud/training_parts"


def test_the_registration_job_reads_through_the_connector_too(ctx, login, warehouse):
    from vision_widgets.worker import Runner

    job = registration.submit_registration(ctx, login(USER), demo_spec(
        "Queued from tables", "fraud_training", "fraud_production", connector="warehouse", **ROLES))
    Runner(ctx, "test-worker").run(job.id)
    done = jobs.get_job(ctx, login(USER), job.id)
    assert done.state == "done", done.error
    assert done.result["model"] == "Queued from tables"
    assert _model(ctx, "Queued from tables").connector == "warehouse"


def test_an_unknown_connector_is_refused_before_anything_is_queued(ctx, login):
    with pytest.raises(InvalidInput, match="no connector named 'nowhere'; choose one of: local") as err:
        registration.submit_registration(ctx, login(USER), demo_spec("Lost", "t", "p", connector="nowhere"))
    assert err.value.field == "connector"
    with ctx.store.read() as conn:
        from vision_widgets.core.jobs import records as job_records

        assert job_records.find(conn) == []


def test_a_missing_reference_names_the_field(ctx, login, warehouse):
    with pytest.raises(InvalidInput) as err:
        registration.submit_registration(ctx, login(USER), demo_spec("No data", "fraud_training", " ",
                                                                     connector="warehouse", **ROLES))
    assert err.value.field == "production"


def test_a_table_that_does_not_exist_fails_the_registration_and_stores_nothing(ctx, login, warehouse):
    before = model_rows(ctx)
    with pytest.raises((ConnectorError, InvalidInput)) as err:
        registration.register_model(ctx, login(USER), demo_spec("No table", "no_such_table", "fraud_production",
                                                                 connector="warehouse", **ROLES))
    assert "no_such_table" in str(err.value)
    assert model_rows(ctx) == before


def test_a_connector_whose_secrets_cannot_be_read_says_so(ctx, login, warehouse, monkeypatch):
    from vision_widgets.core import secrets

    monkeypatch.setattr(secrets.SecretBox, "open", lambda self, token: (_ for _ in ()).throw(
        secrets.SecretsUnreadable("the key changed")))
    with pytest.raises(ConnectorError, match="re-enter"):
        registration.submit_registration(ctx, login(USER), demo_spec("Locked", "fraud_training", "fraud_production",
                                                                     connector="warehouse", **ROLES))


def test_users_see_the_connectors_they_may_use_with_local_folders_by_name(ctx, login, warehouse):
    sources = registration.data_sources(ctx, login(USER))
    assert dict(sources.connectors) == {"local": "local — Local filesystem", "warehouse": "warehouse — SQL database"}
    assert sources.local_connectors == ("local",)
    assert sources.root_paths == ()  # no server path for a user
    assert registration.data_sources(ctx, login(ADMIN)).root_paths  # an admin sees where the folders are


def test_production_data_is_added_through_the_models_connector_or_another(ctx, login, files, warehouse):
    user = login(USER)
    registration.register_model(ctx, user, demo_spec("Mixed", "fraud_training", "fraud_production",
                                                      connector="warehouse", **ROLES))
    submissions.add_production_batch(ctx, user, "Mixed", "fraud_production", "from the table")
    submissions.add_production_batch(ctx, user, "Mixed", "data/fraud/production.parquet", "from a file",
                                     connector="local")
    bodies = _profiles(ctx, "Mixed")["production"]
    # the two later batches (both on the stored reference's bins) are the same data through two connectors
    assert len(bodies) == 3 and bodies[1] == bodies[2]
    with pytest.raises(PermissionDenied):
        submissions.add_production_batch(ctx, login(OTHER_USER), "Mixed", "fraud_production")


def test_a_connector_removed_while_a_registration_profiles_refuses_the_model_and_stores_nothing(ctx, login,
                                                                                               tmp_path):
    from vision_widgets.core.catalog import records

    train, prod = _frames()
    db = tmp_path / "r.db"
    with sqlite3.connect(db) as con:
        train.to_sql("training", con, index=False)
        prod.to_sql("events", con, index=False)
    stored_connectors.add_connector(ctx, login(ADMIN), "gone", "sql", {}, {"url": f"sqlite:///{db}"})
    removed = []

    def meanwhile(_fraction, _what=None):  # the admin removes it while the data is being profiled
        if not removed:
            stored_connectors.remove_connector(ctx, login(ADMIN), "gone")
            removed.append(True)

    with pytest.raises(ConnectorError, match="removed while Dangling was being registered"):
        registration.register_model(ctx, login(USER), demo_spec("Dangling", "training", "events", connector="gone",
                                                                 timestamp="", exclude=("record_id",)),
                                    progress=meanwhile)
    with ctx.store.read() as conn:
        assert records.find(conn, "Dangling") is None


def test_a_bad_local_file_is_named_as_the_user_gave_it_never_by_the_servers_path(ctx, login, files):
    _, prod = _frames()
    prod.iloc[0:0].to_parquet(files / "empty.parquet", index=False)
    with pytest.raises(InvalidInput) as caught:
        registration.register_model(ctx, login(USER), demo_spec("Leaky", "data/fraud/training.parquet",
                                                                 "data/fraud/empty.parquet", timestamp="",
                                                                 exclude=("record_id",)))
    text = str(caught.value)
    assert "data/fraud/empty.parquet" in text and str(ctx.settings.home) not in text, text
