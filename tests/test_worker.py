"""The worker as real processes: a job outlives the tab that submitted it, a worker killed with SIGKILL
mid-job leaves the job to another that applies it exactly once, two workers never run the same job, a
worker waits for a database that is down, and ``vision serve`` starts and stops its own worker.

Every wait polls what it waits for, with a deadline; the kill lands mid-job because the job waits at a
gate (tests/support/job_worker.py) until the test opens it. Leases are 2 s here (``VISION_JOB_LEASE``).
"""
from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

import pytest
from helpers import PASSWORDS, REPO_ROOT, USER, demo_spec, model_rows, write_demo_files
from sqlalchemy import select

from tests.support.job_worker import EFFECT
from tests.support.server_process import (
    server_env,
    start_server,
    stop_process,
    stop_server,
)
from vision_widgets.core import audit
from vision_widgets.core.config import load_settings
from vision_widgets.core.context import Context
from vision_widgets.core.identity import auth
from vision_widgets.core.jobs import records, workers
from vision_widgets.core.jobs.queue import JobQueue
from vision_widgets.core.jobs.records import DONE, FAILED, RUNNING
from vision_widgets.core.storage import schema
from vision_widgets.core.storage.upgrade import upgrade
from vision_widgets.demo import sample_accounts
from vision_widgets.services import jobs, registration

LEASE_SECONDS = "2"
DEADLINE = 90.0
TEST_WORKER = "tests.support.job_worker"
REAL_WORKER = "vision_widgets"  # `python -m vision_widgets worker`, as `vision worker`


def wait_until(what: str, check: Callable[[], Any], timeout: float = DEADLINE, log: Callable[[], str] = str) -> Any:
    """Poll ``check()`` until it returns something truthy; fail with ``what`` (and a log) at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{log()}")
        time.sleep(0.05)


@dataclass
class WorkerProcess:
    proc: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""


@pytest.fixture
def env(tmp_path, fast_users_file, fast_hashing):
    """A fresh VISION_HOME with an initialised database and the sample accounts (cheap hashes)."""
    home = tmp_path / "home"
    environment = server_env(home, VISION_JOB_LEASE=LEASE_SECONDS, VISION_WORKER_THREADS="2",
                             VISION_USERS_FILE=str(fast_users_file))
    return environment


def _initialise(environment: dict[str, str], fast_users_file: Path) -> Context:
    settings = load_settings(environment)
    settings.home.mkdir(parents=True, exist_ok=True)
    upgrade(settings)
    ctx = Context.open(settings)
    sample_accounts.load_users(ctx, fast_users_file)
    return ctx


@pytest.fixture
def ctx(env, fast_users_file):
    """The services' context of a tab (real clock: the worker processes share it)."""
    context = _initialise(env, fast_users_file)
    yield context
    context.store.dispose()


@pytest.fixture
def spawn(tmp_path):
    """``spawn(module, env, **extra) -> WorkerProcess``: a worker subprocess, stopped after the test."""
    started: list[WorkerProcess] = []

    def _spawn(module: str, environment: dict[str, str], **extra: str) -> WorkerProcess:
        log_path = tmp_path / f"worker-{len(started) + 1}.log"
        cmd = [sys.executable, "-m", module] + (["worker"] if module == REAL_WORKER else [])
        with open(log_path, "w", encoding="utf-8") as log_file:
            proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env={**environment, **extra}, stdout=log_file,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        started.append(WorkerProcess(proc, log_path))
        return started[-1]

    yield _spawn
    for worker in started:
        stop_process(worker.proc)


def _job(ctx, job_id) -> records.Job:
    with ctx.store.read() as conn:  # a plain read: never waits for a worker's write lock
        return records.get(conn, job_id)


def _finished(ctx, job_id):
    job = _job(ctx, job_id)
    return job if job.state in (DONE, FAILED) else None


def _audit(ctx, action) -> list[audit.AuditEntry]:
    with ctx.store.read() as conn:
        return [e for e in audit.recent(conn, 10_000) if e.action == action]


def _logs(*procs: WorkerProcess) -> Callable[[], str]:
    return lambda: "\n".join(f"--- worker pid {w.proc.pid} ---\n{w.log()}" for w in procs)


# -- a job outlives its tab ---------------------------------------------------------------------
def test_a_registration_survives_the_tab_that_started_it(env, ctx, spawn):
    files = write_demo_files(ctx.settings.home / "data")
    tab = Context.open(ctx.settings)  # the tab's kernel
    me = auth.login(tab, USER, PASSWORDS[USER]).principal
    job = registration.submit_registration(tab, me, demo_spec("Card fraud v2", *files))
    tab.store.dispose()  # the tab is closed: its kernel, and everything it held, are gone
    del tab, me

    worker = spawn(REAL_WORKER, env)
    later = Context.open(ctx.settings)  # a new tab, later
    try:
        me_again = auth.login(later, USER, PASSWORDS[USER]).principal
        done = wait_until("the worker to finish the registration", lambda: _finished(later, job.id), log=worker.log)
        seen = jobs.get_job(later, me_again, job.id)
        assert seen.state == DONE, seen.error
        assert seen.result["model"] == "Card fraud v2" and seen.attempts == 1 == done.attempts
        assert model_rows(later) == {"models": 1, "profiles": 2, "drift_reports": 1, "upload_tokens": 0}
    finally:
        later.store.dispose()


def test_vision_worker_once_runs_the_queued_jobs_and_exits(env, ctx):
    files = write_demo_files(ctx.settings.home / "data")
    me = auth.login(ctx, USER, PASSWORDS[USER]).principal
    job = registration.submit_registration(ctx, me, demo_spec("From a pipeline", *files))
    done = subprocess.run([sys.executable, "-m", "vision_widgets", "worker", "--once"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=DEADLINE)
    assert done.returncode == 0, done.stderr
    assert "ran the 1 job(s) that were queued" in done.stderr
    assert _job(ctx, job.id).state == DONE


# -- kill -9 mid-job ----------------------------------------------------------------------------
@pytest.mark.parametrize("at", ["profiling", "storing"])
def test_a_worker_killed_mid_job_leaves_it_to_another_that_applies_it_once(env, ctx, spawn, tmp_path, at):
    files = write_demo_files(ctx.settings.home / "data")
    me = auth.login(ctx, USER, PASSWORDS[USER]).principal
    job = registration.submit_registration(ctx, me, demo_spec("Card fraud v2", *files))
    gate = tmp_path / "gate"
    gate.mkdir()
    steer = {"VISION_TEST_GATE_DIR": str(gate), "VISION_TEST_GATE_AT": at}

    first = spawn(TEST_WORKER, env, **steer)
    wait_until(f"the first worker to stop at the {at} gate", lambda: list(gate.glob("reached-*")), log=first.log)
    running = _job(ctx, job.id)
    assert (running.state, running.attempts) == (RUNNING, 1)
    assert f":{first.proc.pid}:" in running.lease_owner
    first.proc.send_signal(signal.SIGKILL)  # mid-job; with "storing", inside its open write transaction
    first.proc.wait(timeout=10)
    assert model_rows(ctx)["models"] == 0, "nothing of the killed attempt is visible"

    (gate / "open").touch()
    second = spawn(TEST_WORKER, env, **steer)
    done = wait_until("another worker to finish the job", lambda: _finished(ctx, job.id), log=_logs(first, second))
    assert done.state == DONE, done.error
    assert (done.attempts, done.lease_owner, done.result["model"]) == (2, None, "Card fraud v2")
    assert f"job {job.id}: reclaimed" in second.log()
    assert model_rows(ctx) == {"models": 1, "profiles": 2, "drift_reports": 1, "upload_tokens": 0}
    assert [(e.actor, e.target) for e in _audit(ctx, "register model")] == [(USER, "Card fraud v2")]


# -- two workers, many jobs ---------------------------------------------------------------------
def test_two_workers_never_run_the_same_job(env, ctx, spawn, tmp_path):
    runs = tmp_path / "runs.txt"
    a = spawn(TEST_WORKER, env, VISION_TEST_RUNS=str(runs))
    b = spawn(TEST_WORKER, env, VISION_TEST_RUNS=str(runs))
    logs = _logs(a, b)

    def both_alive():
        with ctx.store.read() as conn:
            return conn.execute(select(schema.workers.c.id).where(schema.workers.c.stopped_at.is_(None))).all()

    wait_until("both workers' first heartbeat", lambda: len(both_alive()) == 2, log=logs)
    with ctx.store.write() as conn:
        ids = [records.insert(conn, kind=EFFECT, actor=USER, title=f"job {i}", params={"i": i}, now=ctx.now(),
                              max_attempts=3).id for i in range(40)]
    queue = JobQueue(ctx.settings)
    try:
        for job_id in ids:
            queue.enqueue(job_id)
    finally:
        queue.close()

    wait_until("all 40 jobs to finish", lambda: all(_finished(ctx, i) for i in ids), log=logs)
    jobs_done = [_job(ctx, i) for i in ids]
    assert {j.state for j in jobs_done} == {DONE}
    assert [j.attempts for j in jobs_done] == [1] * 40, "no job was started twice"
    started = collections.Counter(int(line.split()[0]) for line in runs.read_text().splitlines())
    assert started == collections.Counter(ids), "each job's handler ran exactly once"
    applied = collections.Counter(int(e.target) for e in _audit(ctx, EFFECT))
    assert applied == collections.Counter(ids), "each job's effect was applied exactly once"
    by_pid = collections.Counter(line.split()[1] for line in runs.read_text().splitlines())
    print(f"jobs per worker: {dict(by_pid)}")


# -- the database is down -----------------------------------------------------------------------
def test_a_worker_waits_for_an_unreachable_database_and_recovers(env, spawn, tmp_path, fast_users_file):
    database = tmp_path / "db" / "vision.db"  # its folder does not exist yet: nothing can be opened there
    down = {**env, "VISION_DATABASE_URL": f"sqlite:///{database}"}
    worker = spawn(REAL_WORKER, down)
    wait_until("two retries in the worker's log",
               lambda: worker.log().count("database unreachable or not ready") >= 2, log=worker.log)
    assert "retrying in 1 s" in worker.log() and "retrying in 2 s" in worker.log(), "the delay grows"
    assert worker.proc.poll() is None, "the worker keeps waiting"

    database.parent.mkdir()
    ctx = _initialise(down, fast_users_file)  # the database comes back
    try:
        wait_until("the worker to say the database is back", lambda: "database reachable" in worker.log(),
                   log=worker.log)

        def alive():
            with ctx.store.read() as conn:
                return workers.status(conn, ctx.now(), timedelta(seconds=2)).state == workers.OK

        wait_until("the worker's heartbeat", alive, log=worker.log)
        files = write_demo_files(ctx.settings.home / "data")
        me = auth.login(ctx, USER, PASSWORDS[USER]).principal
        job = registration.submit_registration(ctx, me, demo_spec("After the outage", *files))
        done = wait_until("the job to finish", lambda: _finished(ctx, job.id), log=worker.log)
        assert done.state == DONE, done.error
    finally:
        ctx.store.dispose()


@pytest.fixture
def own_postgres():
    """A PostgreSQL cluster of this test's own (the test stops and restarts it)."""
    from tests.support.postgres import pg_bin_dir, start_cluster

    if pg_bin_dir() is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql; `make test` installs it)")
    cluster = start_cluster()
    yield cluster
    cluster.stop()


def test_a_worker_rides_out_a_postgresql_outage_mid_run(env, own_postgres, spawn, fast_users_file):
    """The database and the queue (PostgresHuey, in the same database) both go away under a running worker."""
    on_postgres = {**env, "VISION_DATABASE_URL": own_postgres.new_database()}
    ctx = _initialise(on_postgres, fast_users_file)
    worker = spawn(REAL_WORKER, on_postgres)
    try:
        def alive():
            with ctx.store.read() as conn:
                return workers.status(conn, ctx.now(), timedelta(seconds=2)).state == workers.OK

        wait_until("the worker's first heartbeat", alive, log=worker.log)
        own_postgres.pause()  # every connection is cut
        wait_until("the worker to log that the database is unreachable, twice (it retries, later each time)",
                   lambda: worker.log().count("database unreachable") >= 2, log=worker.log)
        assert worker.proc.poll() is None, "the worker keeps running"
        own_postgres.resume()
        wait_until("the worker to say the database is back", lambda: "database reachable again" in worker.log(),
                   log=worker.log)
        ctx.store.engine.dispose()  # this process's pooled connections died with the server too
        files = write_demo_files(ctx.settings.home / "data")
        me = auth.login(ctx, USER, PASSWORDS[USER]).principal
        job = registration.submit_registration(ctx, me, demo_spec("After the outage", *files))
        done = wait_until("the job to finish", lambda: _finished(ctx, job.id), log=worker.log)
        assert done.state == DONE, done.error
    finally:
        ctx.store.dispose()


# -- vision serve runs its own worker -----------------------------------------------------------
def test_vision_serve_starts_its_worker_reports_it_in_health_and_stops_it(tmp_path):
    server = start_server(tmp_path / "home", tmp_path / "server.log",
                          env_extra={"VISION_KERNEL_POOL": "0", "VISION_JOB_LEASE": LEASE_SECONDS})
    try:
        health = wait_until("the health endpoint to report a live worker",
                            lambda: (h := server.health()).get("worker", {}).get("state") == "ok" and h,
                            log=server.log)
        assert health["status"] == "ok" and health["worker"]["alive"] == 1
        ctx = Context.open(load_settings(server.env))
        try:
            with ctx.store.read() as conn:
                pid = conn.execute(select(schema.workers.c.pid)).scalar_one()
        finally:
            ctx.store.dispose()
        assert _alive(pid)
    finally:
        stop_server(server)
    wait_until("the worker to stop with the server", lambda: not _alive(pid), timeout=30, log=server.log)
    assert "worker" in server.log() and "stopped" in server.log()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by its parent) counts as stopped
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False
