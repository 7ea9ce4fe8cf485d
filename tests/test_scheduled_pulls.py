"""Scheduled pulls: a model's new production data read through its stored connector on a cadence.

Due or not, one job per model at a time, each new file once, rows past a watermark, a connector
removed while a pull runs (nothing stored), and who may set or run a pull (owner, admin; not
another user).
"""
from __future__ import annotations

import sqlite3

import pytest
from helpers import ADMIN, OTHER_USER, USER, demo_frames, demo_spec, model_rows

from vision_widgets.core.catalog import records
from vision_widgets.core.errors import ConnectorError, InvalidInput, PermissionDenied
from vision_widgets.core.jobs import records as job_records
from vision_widgets.services import connectors as stored_connectors
from vision_widgets.services import jobs, registration, scheduled_pulls
from vision_widgets.worker import Runner

ROLES = dict(timestamp="", exclude=("record_id",))


@pytest.fixture(autouse=True)
def files_are_written_whole(monkeypatch):
    """Files these tests drop are complete at once: no waiting for a minimum age (tested on its own)."""
    from vision_widgets.services import scheduled_pulls as _pulls

    monkeypatch.setattr(_pulls, "MIN_FILE_AGE", 0.0)


def _frames():
    train, prod = demo_frames()
    return train.drop(columns=["event_time"]), prod.drop(columns=["event_time"])


@pytest.fixture
def incoming(ctx):
    """A data folder new production files arrive in (empty at first) and the training file beside it."""
    train, _ = _frames()
    folder = ctx.settings.home / "data" / "fraud"
    (folder / "incoming").mkdir(parents=True)
    train.to_parquet(folder / "training.parquet", index=False)
    return folder / "incoming"


def _drop(folder, name: str, rows: slice) -> None:
    """A new production file arrives."""
    _, prod = _frames()
    prod.iloc[rows].to_parquet(folder / name, index=False)


@pytest.fixture
def model(ctx, login, incoming):
    """USER's model, registered from files through the built-in local connector."""
    _drop(incoming, "week-00.parquet", slice(0, 250))
    registration.register_model(ctx, login(USER), demo_spec("Pulled", "data/fraud/training.parquet",
                                                             "data/fraud/incoming/week-00.parquet", **ROLES))
    return "Pulled"


def _production(ctx, name: str) -> list:
    with ctx.store.read() as conn:
        record = records.get(conn, name)
        return records.profiles_of(conn, record.id, records.PRODUCTION)


def _pulled_at(ctx, name: str):
    from vision_widgets.core.catalog import pulls

    with ctx.store.read() as conn:
        return pulls.get(conn, records.get(conn, name).id).pulled_at


def _active_jobs(ctx):
    with ctx.store.read() as conn:
        return job_records.find(conn, kind=jobs.PULL_PRODUCTION, states=list(job_records.ACTIVE))


# -- settings and permissions ----------------------------------------------------------------
@pytest.mark.parametrize("who, allowed", [(USER, True), (ADMIN, True), (OTHER_USER, False)])
def test_only_the_owner_or_an_admin_may_set_see_or_run_a_pull(ctx, login, model, who, allowed):
    principal = login(who)
    calls = [
        lambda: scheduled_pulls.set_pull(ctx, principal, model, "1D", "data/fraud/incoming"),
        lambda: scheduled_pulls.get_pull(ctx, principal, model),
        lambda: scheduled_pulls.pull_now(ctx, principal, model),
        lambda: scheduled_pulls.run_pull(ctx, principal, model),
    ]
    for call in calls:
        if allowed:
            call()
        else:
            with pytest.raises(PermissionDenied):
                call()


def test_a_cadence_is_read_by_the_products_one_parser_and_stored_in_one_form(ctx, login, model):
    user = login(USER)
    for good, stored in (("1h", "1h"), ("1D", "1D"), (" 7d ", "7D"), ("24H", "24h"), ("1w", "1W"), ("daily", "1D"),
                         ("30 minutes", "30min")):
        assert scheduled_pulls.set_pull(ctx, user, model, good).cadence == stored
    for bad in ("soon", "0D", "-1h", "1M", "monthly"):
        with pytest.raises(InvalidInput) as err:
            scheduled_pulls.set_pull(ctx, user, model, bad, "data/fraud/incoming")
        assert err.value.field == "cadence"
    with pytest.raises(InvalidInput, match="cadence"):
        scheduled_pulls.set_pull(ctx, user, model, "", "data/fraud/incoming")


def test_a_restricted_model_takes_a_cadence_but_no_pull(ctx, login, register_restricted):
    register_restricted("Secret")
    user = login(USER)
    assert scheduled_pulls.set_pull(ctx, user, "Secret", "7D").cadence == "7D"
    with pytest.raises(InvalidInput, match="restricted"):
        scheduled_pulls.set_pull(ctx, user, "Secret", "7D", "data/x")


# -- due or not, one job at a time ------------------------------------------------------------
def test_a_due_pull_is_queued_once_until_its_job_ends_then_not_before_the_cadence(ctx, login, model, clock, incoming):
    assert scheduled_pulls.queue_due_pulls(ctx) == []  # no schedule yet
    scheduled_pulls.set_pull(ctx, login(USER), model, "1h", "data/fraud/incoming")
    first = scheduled_pulls.queue_due_pulls(ctx)  # never pulled: due now
    assert [j.params["model"] for j in first] == [model] and first[0].actor == USER  # acts as the owner
    clock.advance(hours=2)
    assert scheduled_pulls.queue_due_pulls(ctx) == []  # queued already: no second job
    with pytest.raises(InvalidInput, match="already queued"):
        scheduled_pulls.pull_now(ctx, login(USER), model)

    Runner(ctx, "test-worker").run(first[0].id)
    assert _active_jobs(ctx) == []
    assert _pulled_at(ctx, model) == clock.now
    clock.advance(minutes=59)
    assert scheduled_pulls.queue_due_pulls(ctx) == []  # not due before the cadence has passed
    clock.advance(minutes=1)
    assert len(scheduled_pulls.queue_due_pulls(ctx)) == 1


def test_a_failing_pull_is_tried_again_a_cadence_later_not_every_minute(ctx, login, model, clock):
    scheduled_pulls.set_pull(ctx, login(USER), model, "1D", "data/fraud/no-such-folder")
    job = scheduled_pulls.queue_due_pulls(ctx)[0]
    Runner(ctx, "test-worker").run(job.id)
    assert jobs.get_job(ctx, login(USER), job.id).state == "failed"
    assert scheduled_pulls.get_pull(ctx, login(USER), model).last_outcome.startswith("The last pull failed: ")
    clock.advance(hours=1)
    assert scheduled_pulls.queue_due_pulls(ctx) == []
    clock.advance(days=1)
    assert len(scheduled_pulls.queue_due_pulls(ctx)) == 1


# -- what a pull reads ------------------------------------------------------------------------
def test_each_new_file_becomes_one_batch_once(ctx, login, model, incoming, clock):
    user = login(USER)
    scheduled_pulls.set_pull(ctx, user, model, "1D", "data/fraud/incoming")
    first = scheduled_pulls.run_pull(ctx, user, model)  # week-00 was registered with, but never pulled
    assert first.batches == 1 and first.rows == 250
    _drop(incoming, "week-01.parquet", slice(250, 500))
    _drop(incoming, "week-02.parquet", slice(500, 800))
    clock.advance(days=1)
    user = login(USER)  # a day later: a new session
    second = scheduled_pulls.run_pull(ctx, user, model)
    assert (second.batches, second.rows) == (2, 550)
    assert [p.label for p in _production(ctx, model)][-2:] == ["week-01.parquet", "week-02.parquet"]
    clock.advance(days=1)
    user = login(USER)
    again = scheduled_pulls.run_pull(ctx, user, model)
    assert again.batches == 0 and again.message == "no new data"
    assert _pulled_at(ctx, model) == clock.now and len(_production(ctx, model)) == 4
    assert scheduled_pulls.get_pull(ctx, user, model).files_pulled == 3


def test_changing_what_is_pulled_starts_afresh_keeping_it_keeps_what_was_read(ctx, login, model):
    user = login(USER)
    scheduled_pulls.set_pull(ctx, user, model, "1D", "data/fraud/incoming")
    scheduled_pulls.run_pull(ctx, user, model)
    assert scheduled_pulls.set_pull(ctx, user, model, "7D", "data/fraud/incoming").files_pulled == 1
    assert scheduled_pulls.set_pull(ctx, user, model, "7D", "data/fraud").files_pulled == 0


@pytest.fixture
def events(ctx, login, tmp_path):
    """A SQLite table production rows are appended to, with an increasing ``seq`` column, behind a
    stored ``sql`` connector; and USER's model registered from its first rows through it."""
    train, prod = _frames()
    train, prod = train.assign(seq=0), prod.assign(seq=range(1, len(prod) + 1))
    db = tmp_path / "events.db"
    with sqlite3.connect(db) as con:
        train.to_sql("training", con, index=False)
        prod.iloc[:300].to_sql("events", con, index=False)
    stored_connectors.add_connector(ctx, login(ADMIN), "events", "sql", {}, {"url": f"sqlite:///{db}"})
    registration.register_model(ctx, login(USER), demo_spec("Streamed", "training", "events", connector="events",
                                                             timestamp="", exclude=("record_id", "seq")))

    def append(rows: slice) -> None:
        with sqlite3.connect(db) as con:
            prod.iloc[rows].to_sql("events", con, index=False, if_exists="append")

    return append


def test_a_watermark_reads_only_the_rows_past_the_last_value(ctx, login, events, clock):
    user = login(USER)
    scheduled_pulls.set_pull(ctx, user, "Streamed", "1h", "events", mode="query", watermark="seq")
    assert scheduled_pulls.run_pull(ctx, user, "Streamed").rows == 300  # nothing read yet: everything
    events(slice(300, 420))
    clock.advance(hours=1)
    assert scheduled_pulls.run_pull(ctx, login(USER), "Streamed").rows == 120
    clock.advance(hours=1)
    assert scheduled_pulls.run_pull(ctx, login(USER), "Streamed").message == "no new data"
    assert [p.rows for p in _production(ctx, "Streamed")] == [300, 300, 120]


def test_a_query_without_a_watermark_is_one_whole_batch_per_pull(ctx, login, events):
    user = login(USER)
    scheduled_pulls.set_pull(ctx, user, "Streamed", "1D", "SELECT * FROM events WHERE is_fraud = 0", mode="query")
    first = scheduled_pulls.run_pull(ctx, user, "Streamed")
    second = scheduled_pulls.run_pull(ctx, user, "Streamed")
    assert first.batches == second.batches == 1 and first.rows == second.rows > 0


def test_a_missing_watermark_column_is_named(ctx, login, events):
    user = login(USER)
    scheduled_pulls.set_pull(ctx, user, "Streamed", "1D", "events", mode="query", watermark="nope")
    with pytest.raises(InvalidInput, match="'nope'"):
        scheduled_pulls.run_pull(ctx, user, "Streamed")


# -- failures leave nothing half-written --------------------------------------------------------
def test_a_connector_removed_while_a_pull_runs_fails_it_and_stores_nothing(ctx, login, events, tmp_path):
    user, admin = login(USER), login(ADMIN)
    scheduled_pulls.set_pull(ctx, user, "Streamed", "1D", "events", mode="query", watermark="seq")
    before, pulled_at = model_rows(ctx), _pulled_at(ctx, "Streamed")
    removed = []

    db = tmp_path / "events.db"
    stored_connectors.add_connector(ctx, admin, "events-copy", "sql", {}, {"url": f"sqlite:///{db}"})

    def meanwhile(_fraction, _what):  # an admin removes the connector (its models moved) mid-read
        if not removed:
            removed.append(True)
            stored_connectors.remove_connector(ctx, admin, "events", move_models_to="events-copy")

    with pytest.raises(ConnectorError, match="removed or replaced while"):
        scheduled_pulls.run_pull(ctx, user, "Streamed", progress=meanwhile)
    assert removed and model_rows(ctx) == before and _pulled_at(ctx, "Streamed") == pulled_at


def test_a_pull_job_whose_connector_is_gone_fails_with_a_clear_reason(ctx, login, events):
    user, admin = login(USER), login(ADMIN)
    scheduled_pulls.set_pull(ctx, user, "Streamed", "1D", "events", mode="query")
    job = scheduled_pulls.pull_now(ctx, user, "Streamed")
    from sqlalchemy import delete

    from vision_widgets.core.storage import schema

    with ctx.store.write() as conn:  # gone without its models moved (a database edited by hand)
        conn.execute(delete(schema.connectors).where(schema.connectors.c.name == "events"))
    before = model_rows(ctx)
    Runner(ctx, "test-worker").run(job.id)
    failed = jobs.get_job(ctx, user, job.id)
    assert failed.state == "failed" and "no longer exists" in failed.error and "Nothing was stored" in failed.error
    assert model_rows(ctx) == before
    assert jobs.get_job(ctx, admin, job.id).actor == USER


def test_the_worker_job_adds_the_batch_and_says_what_it_did(ctx, login, model, incoming):
    user = login(USER)
    scheduled_pulls.set_pull(ctx, user, model, "1D", "data/fraud/incoming")
    job = scheduled_pulls.pull_now(ctx, user, model)
    Runner(ctx, "test-worker").run(job.id)
    done = jobs.get_job(ctx, user, job.id)
    assert done.state == "done", done.error
    assert done.result["batches"] == 1 and done.result["read"] == ["data/fraud/incoming/week-00.parquet"]
    again = scheduled_pulls.pull_now(ctx, user, model)
    Runner(ctx, "test-worker").run(again.id)
    assert jobs.get_job(ctx, user, again.id).result["message"] == "no new data"


def test_the_pull_is_audited_without_a_secret(ctx, login, events):
    from sqlalchemy import select

    from vision_widgets.core.storage import schema

    user = login(USER)
    scheduled_pulls.set_pull(ctx, user, "Streamed", "1D", "events", mode="query", watermark="seq")
    scheduled_pulls.run_pull(ctx, user, "Streamed")
    with ctx.store.read() as conn:
        entries = [(r.action, r.detail) for r in conn.execute(select(schema.audit_log))]
    assert ("pull production data", "events: 1 new batch(es), 300 rows") in entries
    assert any(a == "set scheduled pull" for a, _ in entries)
    assert not any("sqlite:///" in d for _, d in entries)


def test_secrets_that_cannot_be_decrypted_fail_the_pull_and_say_to_re_enter_them(ctx, login, events, monkeypatch):
    from vision_widgets.core import secrets

    user = login(USER)
    scheduled_pulls.set_pull(ctx, user, "Streamed", "1D", "events", mode="query")
    before = model_rows(ctx)

    def lost_key(self, token):
        raise secrets.SecretsUnreadable("the key changed")

    monkeypatch.setattr(secrets.SecretBox, "open", lost_key)
    with pytest.raises(ConnectorError, match="re-enter"):
        scheduled_pulls.run_pull(ctx, user, "Streamed")
    assert model_rows(ctx) == before


def test_the_worker_queues_due_pulls_every_minute(ctx):
    from vision_widgets import worker

    class Recorder:
        def __init__(self):
            self.tasks = {}

        def periodic(self, name, when, fn):
            self.tasks[name] = (when, fn)

    queue = Recorder()
    worker.schedule(queue, ctx)
    when, fn = queue.tasks["vision.queue_due_pulls"]
    from datetime import datetime

    assert all(when(datetime(2024, 5, 1, 12, m)) for m in range(60))  # every minute
    assert fn() == 0  # nothing scheduled: nothing queued


def test_new_files_under_an_s3_prefix_are_pulled_once_each(ctx, login, moto_s3, database):
    """The same pull through an S3-compatible store (moto's server on loopback)."""
    import io

    s3 = moto_s3.client()
    bucket = f"pulls-{database}"  # moto's server lives for the session: one bucket per run of this test
    s3.create_bucket(Bucket=bucket)
    train, prod = _frames()

    def put(key, frame):
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        s3.put_object(Bucket=bucket, Key=key, Body=buf.getvalue())

    put("fraud/training.parquet", train)
    put("fraud/incoming/day-00.parquet", prod.iloc[:200])
    config, secrets = moto_s3.config(bucket, prefix="fraud")
    stored_connectors.add_connector(ctx, login(ADMIN), "lake", "s3", config, secrets)
    user = login(USER)
    registration.register_model(ctx, user, demo_spec("From the lake", "training.parquet", "incoming/day-00.parquet",
                                                      connector="lake", **ROLES))
    scheduled_pulls.set_pull(ctx, user, "From the lake", "1h", "incoming")
    assert scheduled_pulls.run_pull(ctx, user, "From the lake").rows == 200
    put("fraud/incoming/day-01.parquet", prod.iloc[200:350])
    second = scheduled_pulls.run_pull(ctx, user, "From the lake")
    assert (second.batches, second.rows) == (1, 150) and second.what == ("incoming/day-01.parquet",)
    assert scheduled_pulls.run_pull(ctx, user, "From the lake").message == "no new data"


def test_two_workers_queueing_at_once_queue_one_pull(ctx, login, model):
    """The periodic task runs in every worker: the second one to mark a due model queues nothing."""
    from vision_widgets.core.catalog import pulls

    scheduled_pulls.set_pull(ctx, login(USER), model, "1h", "data/fraud/incoming")
    with ctx.store.read() as conn:
        seen_by_both = pulls.scheduled(conn)[0]
    with ctx.store.write() as conn:
        assert pulls.mark_tried(conn, seen_by_both, ctx.now())  # the first worker
    with ctx.store.write() as conn:
        assert not pulls.mark_tried(conn, seen_by_both, ctx.now())  # the second, on what it read before


def test_two_pulls_of_one_model_at_once_store_the_new_data_once(ctx, login, model):
    """`vision models pull` beside the worker's job: the one that stores second stores nothing."""
    from vision_widgets.core.errors import Conflict

    user = login(USER)
    scheduled_pulls.set_pull(ctx, user, model, "1D", "data/fraud/incoming")
    inner = []

    def meanwhile(_fraction, _what):
        if not inner:
            inner.append(scheduled_pulls.run_pull(ctx, user, model))

    with pytest.raises(Conflict, match="Another pull"):
        scheduled_pulls.run_pull(ctx, user, model, progress=meanwhile)
    assert inner[0].batches == 1 and len(_production(ctx, model)) == 2  # the registration's and one pull's


# --------------------------------------------------------------------------------------------
# Review of issue 11: large folders, late rows at the watermark, empty or broken files, CSV types
# --------------------------------------------------------------------------------------------
def test_files_past_the_first_listed_are_pulled_and_old_ones_are_not_pulled_again(ctx, login, model, incoming,
                                                                                  monkeypatch):
    monkeypatch.setattr(scheduled_pulls, "LIST_LIMIT", 3)  # new files read per pull
    scheduled_pulls.set_pull(ctx, login(USER), model, "1D", "data/fraud/incoming")
    for n in range(1, 4):
        _drop(incoming, f"week-0{n}.parquet", slice(0, 50))
    first = scheduled_pulls.run_pull(ctx, login(USER), model)   # week-00..02 (three per pull)
    _drop(incoming, "week-09.parquet", slice(0, 50))             # arrives later; sorts last
    second = scheduled_pulls.run_pull(ctx, login(USER), model)   # week-03 and week-09
    third = scheduled_pulls.run_pull(ctx, login(USER), model)
    assert (first.batches, second.batches, third.batches) == (3, 2, 0), (first, second, third)
    assert [p.rsplit("/", 1)[-1] for p in second.what] == ["week-03.parquet", "week-09.parquet"]


def test_a_file_removed_from_the_folder_is_forgotten_so_the_list_stays_the_folders_size(ctx, login, model,
                                                                                         incoming):
    scheduled_pulls.set_pull(ctx, login(USER), model, "1D", "data/fraud/incoming")
    _drop(incoming, "week-01.parquet", slice(0, 50))
    scheduled_pulls.run_pull(ctx, login(USER), model)
    (incoming / "week-00.parquet").unlink()
    scheduled_pulls.run_pull(ctx, login(USER), model)
    assert scheduled_pulls.get_pull(ctx, login(USER), model).files_pulled == 1


def _sqlite_events(tmp_path, login, ctx, prod, first_rows):
    train, _ = _frames()
    db = tmp_path / "ev.db"
    with sqlite3.connect(db) as con:
        train.assign(ts=0).to_sql("training", con, index=False)
        prod.iloc[:first_rows].to_sql("events", con, index=False)
    stored_connectors.add_connector(ctx, login(ADMIN), "ev", "sql", {}, {"url": f"sqlite:///{db}"})
    registration.register_model(ctx, login(USER), demo_spec("W", "training", "events", connector="ev",
                                                             timestamp="", exclude=("record_id", "ts")))
    return db


def test_rows_at_the_watermarks_last_value_arriving_later_are_pulled_once(ctx, login, tmp_path):
    _, prod = _frames()
    prod = prod.iloc[:40].copy()
    prod["ts"] = [1] * 20 + [2] * 20
    db = _sqlite_events(tmp_path, login, ctx, prod, 30)          # ts=1 x20, ts=2 x10
    scheduled_pulls.set_pull(ctx, login(USER), "W", "1h", "events", mode="query", watermark="ts")
    assert scheduled_pulls.run_pull(ctx, login(USER), "W").rows == 30
    assert scheduled_pulls.run_pull(ctx, login(USER), "W").batches == 0   # nothing new: nothing re-read
    with sqlite3.connect(db) as con:
        prod.iloc[30:].to_sql("events", con, index=False, if_exists="append")  # 10 more rows at ts=2
    assert scheduled_pulls.run_pull(ctx, login(USER), "W").rows == 10
    with sqlite3.connect(db) as con:  # identical copies of a row already read are new rows
        prod.iloc[[39] * 10].to_sql("events", con, index=False, if_exists="append")
    assert scheduled_pulls.run_pull(ctx, login(USER), "W").rows == 10
    assert scheduled_pulls.run_pull(ctx, login(USER), "W").batches == 0


def test_the_largest_watermark_is_compared_as_a_time_not_as_text():
    import pyarrow as pa

    from vision_widgets.core.catalog.pulls import PullPlan

    tz = pa.timestamp("us", tz="Europe/Paris")
    # 02:30+02:00 (00:30 UTC) comes before 02:10+01:00 (01:10 UTC) on the night clocks go back
    early = pa.record_batch({"ts": pa.array([1792888200_000000], tz)})   # 2026-10-25T00:30Z
    late = pa.record_batch({"ts": pa.array([1792890600_000000], tz)})    # 2026-10-25T01:10Z
    seen: dict = {}
    list(scheduled_pulls._past_watermark([early, late], "ts", PullPlan("t", "query", "ts"), seen))
    after = scheduled_pulls._advanced(PullPlan("t", "query", "ts"), seen)
    assert after.last == "2026-10-25T02:10:00+01:00", after.last


def test_an_empty_file_is_skipped_and_a_broken_one_does_not_block_the_others(ctx, login, model, incoming):
    scheduled_pulls.set_pull(ctx, login(USER), model, "1D", "data/fraud/incoming")
    scheduled_pulls.run_pull(ctx, login(USER), model)
    _, prod = _frames()
    prod.iloc[0:0].to_parquet(incoming / "week-01.parquet", index=False)   # an export with no rows
    (incoming / "week-02.parquet").write_bytes(b"not parquet at all")        # a broken file
    _drop(incoming, "week-03.parquet", slice(0, 50))
    first = scheduled_pulls.run_pull(ctx, login(USER), model)
    assert first.batches == 1 and first.what == ("data/fraud/incoming/week-03.parquet",)
    assert "data/fraud/incoming/week-02.parquet" in first.message
    assert str(ctx.settings.home) not in first.message            # never the server's path
    for _ in range(2):                                            # tried again up to MAX_FILE_TRIES…
        assert scheduled_pulls.run_pull(ctx, login(USER), model).problems
    last = scheduled_pulls.run_pull(ctx, login(USER), model)      # …then left alone
    assert (last.batches, last.problems, last.message) == (0, (), "no new data")


def test_a_local_file_still_being_written_waits_for_the_next_pull(ctx, login, model, incoming, monkeypatch):
    import os
    import time

    monkeypatch.setattr(scheduled_pulls, "MIN_FILE_AGE", 60.0)
    scheduled_pulls.set_pull(ctx, login(USER), model, "1D", "data/fraud/incoming")
    old = time.time() - 120
    os.utime(incoming / "week-00.parquet", (old, old))
    _drop(incoming, "week-01.parquet", slice(0, 50))   # just written (maybe only partly)
    first = scheduled_pulls.run_pull(ctx, login(USER), model)
    assert [p.rsplit("/", 1)[-1] for p in first.what] == ["week-00.parquet"]
    os.utime(incoming / "week-01.parquet", (old, old))
    assert scheduled_pulls.run_pull(ctx, login(USER), model).what == ("data/fraud/incoming/week-01.parquet",)


def test_a_csv_watermark_pull_with_a_value_of_another_type_says_which_file_not_a_raw_arrow_error(
        ctx, login, model, incoming, monkeypatch):
    import pyarrow.csv as pcsv

    from vision_widgets.core.connectors import object_store

    _, prod = _frames()
    rows = prod.iloc[:200].copy()
    rows["seq"] = [str(i) for i in range(199)] + ["1.5"]    # a later value of another type
    rows.to_csv(incoming.parent / "stream.csv", index=False)
    monkeypatch.setattr(object_store, "_csv_read_options", lambda: pcsv.ReadOptions(block_size=1 << 12))
    scheduled_pulls.set_pull(ctx, login(USER), model, "1D", "data/fraud/stream.csv", mode="query",
                             watermark="seq")
    with pytest.raises(InvalidInput) as caught:
        scheduled_pulls.run_pull(ctx, login(USER), model)
    assert "data/fraud/stream.csv" in str(caught.value) and str(ctx.settings.home) not in str(caught.value)


def test_new_files_cannot_be_pulled_through_a_connector_of_tables(ctx, login, tmp_path):
    _, prod = _frames()
    _sqlite_events(tmp_path, login, ctx, prod.assign(ts=1), 50)
    with pytest.raises(InvalidInput) as caught:
        scheduled_pulls.set_pull(ctx, login(USER), "W", "1D", "events", mode="new-files")
    assert caught.value.field == "mode"


def test_the_last_outcome_is_found_however_many_other_models_pulled_since(ctx, login, model):
    from sqlalchemy import update

    from vision_widgets.core.storage import schema
    from vision_widgets.services.jobs import PULL_PRODUCTION

    with ctx.store.write() as conn:
        mine = job_records.insert(conn, kind=PULL_PRODUCTION, actor=USER, title="Pull", params={"model": model},
                                  now=ctx.now(), max_attempts=1)
        conn.execute(update(schema.jobs).where(schema.jobs.c.id == mine.id).values(state="failed", error="boom"))
        for _ in range(250):
            other = job_records.insert(conn, kind=PULL_PRODUCTION, actor=USER, title="Pull",
                                       params={"model": "Another"}, now=ctx.now(), max_attempts=1)
        conn.execute(update(schema.jobs).where(schema.jobs.c.id > mine.id).values(state="done"))
    assert other.id and scheduled_pulls.get_pull(ctx, login(USER), model).last_outcome == \
        "The last pull failed: boom"


def test_a_pull_queued_now_and_the_periodic_task_at_once_queue_one_job(ctx, login, model):
    from vision_widgets.core.catalog import pulls

    scheduled_pulls.set_pull(ctx, login(USER), model, "1D", "data/fraud/incoming")
    with ctx.store.read() as conn:
        stale = pulls.scheduled(conn)[0]   # what the periodic task read, in a transaction of its own
    scheduled_pulls.pull_now(ctx, login(USER), model)
    with ctx.store.write() as conn:
        assert not pulls.mark_tried(conn, stale, ctx.now())   # so it queues no second job
