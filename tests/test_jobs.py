"""Jobs in one process: the record, claims and leases, reclaiming, the runner and its handlers, purging,
the workers' status. The worker as a real process (kill -9, two workers, a database that is down) is in
test_worker.py; who may call the jobs service is in test_access_matrix.py."""
from __future__ import annotations

from datetime import timedelta

import pytest
from helpers import ADMIN, OTHER_USER, USER, demo_spec, model_rows, write_demo_files
from sqlalchemy import func, select

from vision_widgets.core import audit
from vision_widgets.core.errors import InvalidInput, NotFound
from vision_widgets.core.identity import sessions as session_records
from vision_widgets.core.jobs import lease, records, workers
from vision_widgets.core.jobs.lease import LeaseLost
from vision_widgets.core.jobs.records import DONE, FAILED, QUEUED, RUNNING
from vision_widgets.core.jobs.queue import open_huey
from vision_widgets.core.jobs.runs import JobRun
from vision_widgets.core.storage import schema
from vision_widgets.services import accounts, jobs, registration
from vision_widgets.worker import Runner, purge_expired

LEASE = timedelta(seconds=60)


@pytest.fixture
def files(settings):
    return write_demo_files(settings.home / "data")


def _queue(ctx, kind="test kind", actor=USER, params=None, max_attempts=3):
    with ctx.store.write() as conn:
        return records.insert(conn, kind=kind, actor=actor, title="a test job", params=params or {},
                              now=ctx.now(), max_attempts=max_attempts)


def _job(ctx, job_id):
    with ctx.store.read() as conn:
        return records.get(conn, job_id)


def _claim(ctx, job_id, worker):
    with ctx.store.write() as conn:
        return lease.claim(conn, job_id, worker, ctx.now(), LEASE)


def _audit(ctx, action):
    with ctx.store.read() as conn:
        return [e for e in audit.recent(conn, 1000) if e.action == action]


# -- the record ---------------------------------------------------------------------------------
def test_a_submitted_job_is_queued_with_its_params_and_actor(ctx, login):
    job = jobs.submit_job(ctx, login(USER), jobs.REGISTER_MODEL, {"name": "m", "features": ["a", "b"]}, title="m")
    assert (job.state, job.actor, job.kind, job.title) == (QUEUED, USER, "register model", "m")
    assert job.params == {"name": "m", "features": ["a", "b"]}
    assert (job.attempts, job.max_attempts, job.progress, job.result, job.error) == (0, 3, 0.0, None, "")
    assert job.lease_owner is None and job.active
    # announced on the default queue: queue.db beside a SQLite database, the PostgreSQL database itself
    assert open_huey(ctx.settings).pending_count() == 1


@pytest.mark.parametrize("params, field", [
    ({"password": "x"}, "params.password"),
    ({"connector_details": {"api_key": "sk-123"}}, "params.connector_details.api_key"),
    ({"sources": [{"token": "t"}]}, "params.sources[0].token"),
    ({"when": object()}, "params.when"),
])
def test_a_job_never_stores_a_secret_or_a_non_json_value(ctx, login, params, field):
    with pytest.raises(InvalidInput) as error:
        jobs.submit_job(ctx, login(USER), jobs.REGISTER_MODEL, params)
    assert error.value.field == field
    with ctx.store.read() as conn:
        assert conn.execute(select(func.count()).select_from(schema.jobs)).scalar_one() == 0


def test_an_unknown_kind_cannot_be_submitted(ctx, login):
    with pytest.raises(InvalidInput, match="no job kind 'purge everything'") as error:
        jobs.submit_job(ctx, login(ADMIN), "purge everything", {})
    assert error.value.field == "kind"


def test_a_missing_job_is_not_found(ctx, login):
    with pytest.raises(NotFound, match="no job number 42"):
        jobs.get_job(ctx, login(USER), 42)


def test_lists_are_newest_first_and_filter_by_kind_and_state(ctx, login, clock):
    me = login(USER)
    first = jobs.submit_job(ctx, me, jobs.REGISTER_MODEL, {}, title="first")
    clock.advance(1)
    _queue(ctx, kind="other kind")
    clock.advance(1)
    third = jobs.submit_job(ctx, me, jobs.REGISTER_MODEL, {}, title="third")
    _claim(ctx, third.id, "w1")
    assert [j.title for j in jobs.list_jobs(ctx, me, kind=jobs.REGISTER_MODEL)] == ["third", "first"]
    assert [j.id for j in jobs.list_jobs(ctx, me, kind=jobs.REGISTER_MODEL, states=[RUNNING])] == [third.id]
    assert [j.id for j in jobs.list_jobs(ctx, me, states=[QUEUED])][-1] == first.id
    with pytest.raises(InvalidInput, match="Unknown job state"):
        jobs.list_jobs(ctx, me, states=["paused"])


# -- claims and leases --------------------------------------------------------------------------
def test_a_claim_is_exclusive_until_the_lease_expires(ctx, clock):
    job = _queue(ctx)
    mine = _claim(ctx, job.id, "w1")
    assert (mine.state, mine.lease_owner, mine.attempts) == (RUNNING, "w1", 1)
    assert mine.lease_expires == ctx.now() + LEASE
    assert _claim(ctx, job.id, "w2") is None, "a running job under a live lease is not free"

    clock.advance(LEASE.total_seconds() + 1)  # w1 died: nothing extended its lease
    taken = _claim(ctx, job.id, "w2")
    assert (taken.lease_owner, taken.attempts) == ("w2", 2)


def test_a_heartbeat_extends_only_the_leases_of_jobs_still_running(ctx, clock):
    running, abandoned = _queue(ctx), _queue(ctx)
    _claim(ctx, running.id, "w1")
    _claim(ctx, abandoned.id, "w1")
    clock.advance(50)
    with ctx.store.write() as conn:
        assert lease.extend(conn, "w1", [running.id], ctx.now(), LEASE) == 1
    clock.advance(20)  # past the first lease, inside the extended one
    assert _claim(ctx, running.id, "w2") is None
    assert _claim(ctx, abandoned.id, "w2").lease_owner == "w2"


def test_a_worker_that_lost_its_lease_cannot_finish_and_its_effect_rolls_back(ctx, clock):
    job = _queue(ctx)
    slow = _claim(ctx, job.id, "slow")
    clock.advance(LEASE.total_seconds() + 1)
    _claim(ctx, job.id, "fast")
    run = JobRun(ctx, slow, "slow", LEASE)
    with pytest.raises(LeaseLost):
        with ctx.store.write() as conn:
            audit.record(conn, ctx.now(), USER, "test effect", str(job.id))
            run.finish(conn, {"by": "slow"})
    with pytest.raises(LeaseLost):
        run.progress(0.5, "still going")
    assert _audit(ctx, "test effect") == [], "the stale worker's effect was rolled back with its finish"

    winner = JobRun(ctx, _job(ctx, job.id), "fast", LEASE)
    with ctx.store.write() as conn:
        audit.record(conn, ctx.now(), USER, "test effect", str(job.id))
        winner.finish(conn, {"by": "fast"})
    done = _job(ctx, job.id)
    assert (done.state, done.result, done.progress, done.lease_owner) == (DONE, {"by": "fast"}, 1.0, None)
    assert len(_audit(ctx, "test effect")) == 1
    assert _claim(ctx, job.id, "late") is None, "a finished job is never claimed again"


def test_progress_is_recorded_throttled_and_bounded(ctx):
    job = _claim(ctx, _queue(ctx).id, "w1")
    ticks = iter([0.0, 0.1, 0.7, 0.8])
    run = JobRun(ctx, job, "w1", LEASE, monotonic=lambda: next(ticks))
    run.progress(0.2, "Profiling training data")
    assert (_job(ctx, job.id).progress, _job(ctx, job.id).message) == (0.2, "Profiling training data")
    run.progress(0.3, "too soon")  # 0.1 s later: not written
    assert _job(ctx, job.id).progress == 0.2
    run.progress(7.0, "  Profiling\nproduction   data ")  # clipped to 1, one line
    assert (_job(ctx, job.id).progress, _job(ctx, job.id).message) == (1.0, "Profiling production data")


# -- reclaiming ---------------------------------------------------------------------------------
def test_reclaim_requeues_jobs_whose_worker_died_and_gives_up_after_max_attempts(ctx, clock):
    retried, exhausted, healthy = _queue(ctx), _queue(ctx, max_attempts=1), _queue(ctx)
    for job in (retried, exhausted, healthy):
        _claim(ctx, job.id, "dead" if job is not healthy else "alive")
    clock.advance(LEASE.total_seconds() + 1)
    with ctx.store.write() as conn:
        lease.extend(conn, "alive", [healthy.id], ctx.now(), LEASE)
        found = lease.reclaim(conn, ctx.now(), lost_after=timedelta(minutes=10))
    assert found == lease.Reclaimed(requeued=(retried.id,), given_up=(exhausted.id,))
    again = _job(ctx, retried.id)
    assert (again.state, again.lease_owner, again.attempts) == (QUEUED, None, 1)
    failed = _job(ctx, exhausted.id)
    assert failed.state == FAILED and "stopped while running this job 1 time(s)" in failed.error
    assert _job(ctx, healthy.id).state == RUNNING
    with ctx.store.write() as conn:
        assert lease.reclaim(conn, ctx.now(), timedelta(minutes=10)) == lease.Reclaimed(), "nothing twice"


def test_reclaim_resends_a_job_whose_message_was_lost_once_per_period(ctx, clock):
    job = _queue(ctx)
    with ctx.store.write() as conn:
        assert lease.reclaim(conn, ctx.now(), timedelta(minutes=4)).requeued == ()
    clock.advance(5 * 60)
    with ctx.store.write() as conn:
        assert lease.reclaim(conn, ctx.now(), timedelta(minutes=4)).requeued == (job.id,)
        assert lease.reclaim(conn, ctx.now(), timedelta(minutes=4)).requeued == ()


def test_a_stopping_worker_gives_its_jobs_back(ctx):
    a, b = _queue(ctx), _queue(ctx)
    _claim(ctx, a.id, "stopping")
    _claim(ctx, b.id, "other")
    with ctx.store.write() as conn:
        assert lease.release(conn, "stopping", ctx.now()) == [a.id]
    assert (_job(ctx, a.id).state, _job(ctx, b.id).state) == (QUEUED, RUNNING)
    assert _claim(ctx, a.id, "next").attempts == 2


# -- the runner and the registration handler ----------------------------------------------------
def test_a_registration_job_registers_the_model_once_as_its_submitter(ctx, login, files):
    me = login(USER)
    job = registration.submit_registration(ctx, me, demo_spec("Card fraud v2", *files))
    assert job.title == "Card fraud v2" and model_rows(ctx)["models"] == 0, "nothing is stored before the job runs"
    session_records.logout(ctx, me)  # the tab (and its session) may be long gone when the job runs

    runner = Runner(ctx, "w1")
    runner.run(job.id)
    done = _job(ctx, job.id)
    assert done.state == DONE, done.error
    assert done.result["model"] == "Card fraud v2" and done.result["owner"] == USER
    assert isinstance(done.result["dataset_drift"], bool) and 0.0 <= done.result["drift_share"] <= 1.0
    assert (done.attempts, done.progress, done.message, done.lease_owner) == (1, 1.0, "Done", None)
    assert model_rows(ctx) == {"models": 1, "profiles": 2, "drift_reports": 1, "upload_tokens": 0}
    assert [(e.actor, e.target) for e in _audit(ctx, "register model")] == [(USER, "Card fraud v2")]

    runner.run(job.id)  # a duplicate message: the job is done, nothing happens
    assert model_rows(ctx)["models"] == 1 and len(_audit(ctx, "register model")) == 1


@pytest.mark.parametrize("change, reason", [
    (dict(target="is_fraud_label"), "is_fraud_label"),  # a role naming a column the files do not have
    (dict(exclude=("customer_id",)), "customer_id"),
])
def test_a_registration_that_fails_in_the_job_says_why_and_stores_nothing(ctx, login, files, change, reason):
    job = registration.submit_registration(ctx, login(USER), demo_spec("Broken", *files, **change))
    Runner(ctx, "w1").run(job.id)
    failed = _job(ctx, job.id)
    assert failed.state == FAILED and failed.error and reason in failed.error
    assert "Traceback" not in failed.error
    assert model_rows(ctx)["models"] == 0 and _audit(ctx, "register model") == []


def test_what_can_be_checked_at_once_is_refused_before_a_job_is_queued(ctx, login, files):
    me = login(USER)
    registration.register_model(ctx, me, demo_spec("Taken", *files))
    for spec, message in (
        (demo_spec("Taken", *files), "already exists"),
        (demo_spec("Outside", "/etc/passwd", files[1]), "outside the folders"),
        (demo_spec("Missing", "nowhere.csv", files[1]), "No file at nowhere.csv"),
        (demo_spec("For someone else", *files, owner=OTHER_USER), "Only an admin"),
        (demo_spec("Restricted", restricted=True), "register it directly"),
    ):
        with pytest.raises(Exception, match=message):
            registration.submit_registration(ctx, me, spec)
    assert jobs.list_jobs(ctx, me) == []


def test_a_job_acts_with_the_account_as_it_is_when_it_runs(ctx, login, files):
    admin = login(ADMIN)
    job = registration.submit_registration(ctx, admin, demo_spec("For the PO", *files, owner=OTHER_USER))
    accounts.change_role(ctx, login("sre_admin"), ADMIN, "user")  # demoted while the job waited
    Runner(ctx, "w1").run(job.id)
    failed = _job(ctx, job.id)
    assert failed.state == FAILED and "Only an admin may register a model for another user" in failed.error

    gone = registration.submit_registration(ctx, login(OTHER_USER), demo_spec("Orphan", *files))
    accounts.remove_account(ctx, login("sre_admin"), OTHER_USER)
    Runner(ctx, "w1").run(gone.id)
    assert "'productowner_user' that submitted this job no longer exists" in _job(ctx, gone.id).error
    assert model_rows(ctx)["models"] == 0


def test_a_job_of_a_kind_this_worker_does_not_know_fails_with_a_clear_reason(ctx):
    job = _queue(ctx, kind="from a newer release")
    Runner(ctx, "w1").run(job.id)
    assert "cannot run jobs of kind 'from a newer release'" in _job(ctx, job.id).error


def test_an_unexpected_error_fails_the_job_without_a_traceback(ctx):
    def broken(run):
        raise ZeroDivisionError("internal detail")

    job = _queue(ctx)
    Runner(ctx, "w1", {"test kind": broken}).run(job.id)
    failed = _job(ctx, job.id)
    assert failed.state == FAILED and "unexpected error" in failed.error and "internal detail" not in failed.error


def test_a_handler_without_an_effect_of_its_own_returns_its_result(ctx):
    job = _queue(ctx)
    Runner(ctx, "w1", {"test kind": lambda run: {"answer": 42}}).run(job.id)
    assert _job(ctx, job.id).result == {"answer": 42}


def test_run_queued_runs_every_queued_job_oldest_first(ctx, clock):
    seen = []
    ids = []
    for _ in range(3):
        ids.append(_queue(ctx).id)
        clock.advance(1)
    runner = Runner(ctx, "once", {"test kind": lambda run: seen.append(run.job.id)})
    assert runner.run_queued() == 3
    assert seen == ids and {_job(ctx, i).state for i in ids} == {DONE}


def test_a_spec_survives_the_trip_through_a_jobs_params(files):
    spec = demo_spec("Round trip", *files, features=("amount", "hour"), connector_details={"region": "eu"})
    params = spec.to_params()
    records.check_params(params)
    assert registration.ModelSpec.from_params(params) == spec
    with pytest.raises(InvalidInput, match="unknown fields"):
        registration.ModelSpec.from_params({**params, "surprise": 1})


# -- periodic purge and worker status -----------------------------------------------------------
def test_purge_deletes_only_what_expired(ctx, login, clock, files):
    me = login(USER)
    old = _queue(ctx)
    Runner(ctx, "w1", {"test kind": lambda run: {}}).run(old.id)
    restricted = registration.register_model(ctx, me, demo_spec("Secret", restricted=True))
    with ctx.store.write() as conn:
        workers.beat(conn, "w1", "host", 1, ctx.now())
    clock.advance(days=31)
    fresh = _queue(ctx)
    live = login(OTHER_USER)
    counts = purge_expired(ctx)
    assert counts == {"sessions": 1, "upload tokens": 1, "finished jobs": 1, "worker records": 1}
    assert _job(ctx, fresh.id).state == QUEUED
    assert accounts.my_account(ctx, live).username == OTHER_USER, "a live session is kept"
    assert purge_expired(ctx) == dict.fromkeys(counts, 0)
    assert restricted.model.name == "Secret"


def test_worker_status_reports_never_seen_alive_and_silent_workers(ctx, clock):
    stale = timedelta(seconds=60)
    with ctx.store.read() as conn:
        status = workers.status(conn, ctx.now(), stale)
    assert (status.state, status.alive, status.last_heartbeat) == ("never seen", 0, None)
    with ctx.store.write() as conn:
        workers.beat(conn, "w1", "host", 123, ctx.now())
    clock.advance(10)
    with ctx.store.read() as conn:
        status = workers.status(conn, ctx.now(), stale)
    assert (status.state, status.alive, status.seconds_since) == ("ok", 1, 10.0)
    clock.advance(290)
    with ctx.store.read() as conn:
        status = workers.status(conn, ctx.now(), stale).to_dict()
    assert status["state"] == "stale" and status["seconds_since_heartbeat"] == 300.0
    assert status["message"].startswith("worker not seen for 300 s")
