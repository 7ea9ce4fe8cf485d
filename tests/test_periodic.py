"""Periodic tasks run once per period however many workers there are (docs/decisions.md, "Periodic
tasks once per period (several workers)").

Every `vision worker`'s scheduler enqueues every periodic task; each run first claims its period in
``periodic_runs``. On SQLite and on PostgreSQL: several workers' runs of one period do the work once,
the next period's runs do it again. On PostgreSQL also the interleavings where a second claim waits on
the first's row lock (the first-ever claim, and a later one), held open at the point that matters.
"""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from helpers import all_at_once
from sqlalchemy import func, select

from tests.support.postgres import (
    DATABASES, PATIENCE, in_thread, settings_on, until, waiting_on_a_lock,
)
from tests.support.postgres import postgres_cluster  # noqa: F401 - the session fixture
from vision_widgets import worker
from vision_widgets.core.context import Context
from vision_widgets.core.jobs import periodic
from vision_widgets.core.storage import schema
from vision_widgets.worker import Periodic, run_once_per_period

WORKERS = 4


@pytest.fixture(params=DATABASES)
def settings(request, tmp_path):
    """On SQLite and on a throw-away PostgreSQL: the claim is the database's business."""
    return settings_on(request, tmp_path)


@pytest.fixture
def workers_ctx(ctx, clock):
    """``WORKERS`` contexts on ``ctx``'s database, each with its own engine (its own connections), as
    separate `vision worker` processes have; they share the test's clock."""
    contexts = [Context.open(ctx.settings, clock=clock) for _ in range(WORKERS)]
    yield contexts
    for c in contexts:
        c.store.dispose()


class Counting:
    """A task body that counts its runs (from any thread)."""

    def __init__(self) -> None:
        self.runs = 0
        self._lock = threading.Lock()

    def __call__(self, ctx) -> str:
        with self._lock:
            self.runs += 1
        return "ran"


def test_several_workers_runs_of_one_period_do_the_work_once_and_the_next_period_again(workers_ctx, clock):
    body = Counting()
    task = Periodic("test.every_minute", 1, body)
    turn = iter(range(WORKERS * 3))

    def each_worker_runs_it():
        return run_once_per_period(workers_ctx[next(turn) % WORKERS], task, f"worker-{threading.get_ident()}")

    assert sorted(all_at_once(each_worker_runs_it, WORKERS), key=str) == [None] * (WORKERS - 1) + ["ran"]
    assert body.runs == 1
    clock.advance(seconds=40)  # later in the same minute (another worker's scheduler enqueues it then)
    assert run_once_per_period(workers_ctx[1], task, "late") is None and body.runs == 1
    clock.advance(seconds=20)  # the next minute
    assert sorted(all_at_once(each_worker_runs_it, WORKERS), key=str) == [None] * (WORKERS - 1) + ["ran"]
    assert body.runs == 2


def test_a_five_minute_task_runs_once_in_its_five_minutes(workers_ctx, clock):
    body = Counting()
    task = Periodic("test.every_five", 5, body)
    runs = []
    for minute in range(10):  # two workers each enqueue it in every minute of ten (as if every minute)
        runs += [run_once_per_period(c, task, f"w{i}") for i, c in enumerate(workers_ctx[:2])]
        clock.advance(minutes=1)
    assert body.runs == 2 and runs.count("ran") == 2


def count_rows(ctx, table) -> int:
    with ctx.store.read() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


class Recorder:
    """A queue that keeps what ``worker.schedule`` registers (fakes over mocks)."""

    def __init__(self) -> None:
        self.tasks: dict = {}

    def periodic(self, name, when, fn) -> None:
        assert name not in self.tasks, f"{name} is scheduled twice"
        self.tasks[name] = (when, fn)


def test_two_workers_schedules_run_each_periodic_task_once_a_period(workers_ctx, clock):
    first, second = Recorder(), Recorder()
    worker.schedule(first, workers_ctx[0], "host-a:1:aaa")
    worker.schedule(second, workers_ctx[1], "host-b:2:bbb")
    assert set(first.tasks) == {t.name for t in worker.PERIODIC} == set(second.tasks)
    clock.advance(minutes=5)  # a period start for the five-minute tasks too

    for name in first.tasks:
        assert first.tasks[name][1]() is not None, name  # this worker's run did the work
        assert second.tasks[name][1]() is None, name  # the other's, in the same period, did nothing
    one_run = count_rows(workers_ctx[0], schema.health_checks)
    assert one_run > 0  # the Monitoring history: one record per check, not one per check per worker

    clock.advance(minutes=1)
    assert second.tasks["vision.record_health"][1]() == one_run  # the next minute: the other worker's turn
    assert first.tasks["vision.record_health"][1]() is None
    assert count_rows(workers_ctx[0], schema.health_checks) == 2 * one_run
    with workers_ctx[0].store.read() as conn:
        claims = periodic.last_claims(conn)
    assert claims["vision.record_health"] == (datetime(2024, 5, 1, 12, 6, tzinfo=timezone.utc), "host-b:2:bbb")
    assert claims["vision.purge_expired"] == (datetime(2024, 5, 1, 12, 5, tzinfo=timezone.utc), "host-a:1:aaa")


def test_a_worker_that_dies_mid_task_loses_that_periods_run_and_the_next_period_runs(workers_ctx, clock):
    class Dies(Exception):
        pass

    def dies(ctx):
        raise Dies("killed mid-task")

    with pytest.raises(Dies):
        run_once_per_period(workers_ctx[0], Periodic("test.health", 1, dies), "dying")
    body = Counting()
    task = Periodic("test.health", 1, body)
    assert run_once_per_period(workers_ctx[1], task, "alive") is None  # that minute was claimed: lost
    clock.advance(minutes=1)
    assert run_once_per_period(workers_ctx[1], task, "alive") == "ran" and body.runs == 1  # caught up


def test_a_worker_whose_clock_lags_never_runs_a_past_period_again(ctx):
    now = datetime(2024, 5, 1, 12, 7, 42, tzinfo=timezone.utc)
    with ctx.store.write() as conn:
        assert periodic.claim(conn, "t", periodic.period_start(now, timedelta(minutes=1)), "ahead", now)
    with ctx.store.write() as conn:  # a worker 2 minutes behind, in what it takes for 12:05
        assert not periodic.claim(conn, "t", datetime(2024, 5, 1, 12, 5, tzinfo=timezone.utc), "behind", now)
    with ctx.store.write() as conn:
        assert periodic.claim(conn, "t", datetime(2024, 5, 1, 12, 8, tzinfo=timezone.utc), "behind", now)


def test_periods_are_counted_from_the_hour():
    at = datetime(2024, 5, 1, 12, 7, 42, 123456, tzinfo=timezone.utc)
    assert periodic.period_start(at, timedelta(minutes=1)) == datetime(2024, 5, 1, 12, 7, tzinfo=timezone.utc)
    assert periodic.period_start(at, timedelta(minutes=5)) == datetime(2024, 5, 1, 12, 5, tzinfo=timezone.utc)
    naive = datetime(2024, 5, 1, 12, 10)  # read back from SQLite: UTC
    assert periodic.period_start(naive, timedelta(minutes=5)) == datetime(2024, 5, 1, 12, 10, tzinfo=timezone.utc)


# -- PostgreSQL: the second claim waits on the first's row lock, then finds the period taken ---------------
@pytest.mark.parametrize("claimed_before", [False, True], ids=["first-ever claim", "a later period"])
def test_a_claim_that_waits_on_another_workers_claim_of_the_same_period_gets_nothing(
        workers_ctx, clock, monkeypatch, claimed_before):
    if workers_ctx[0].settings.uses_sqlite:
        pytest.skip("SQLite's write transactions never overlap: the claims cannot interleave")
    body = Counting()
    task = Periodic("test.contended", 1, body)
    if claimed_before:
        assert run_once_per_period(workers_ctx[0], task, "earlier") == "ran"
        clock.advance(minutes=1)
    real, reached, first = periodic.claim, threading.Event(), []

    def held(conn, *args, **kwargs):  # the first claim: its upsert done, not committed until the other waits
        won = real(conn, *args, **kwargs)
        if not first:
            first.append(threading.current_thread())
            reached.set()
            until(lambda: waiting_on_a_lock(workers_ctx[0]), threading.Event())
        return won

    monkeypatch.setattr(periodic, "claim", held)
    t1, out1, _ = in_thread(lambda: run_once_per_period(workers_ctx[1], task, "one"))
    assert reached.wait(PATIENCE)
    t2, out2, _ = in_thread(lambda: run_once_per_period(workers_ctx[2], task, "two"))
    t1.join(PATIENCE)
    t2.join(PATIENCE)
    assert out1 == {"value": "ran"} and out2 == {"value": None}, (out1, out2)
    assert body.runs == 1 + claimed_before
    with workers_ctx[0].store.read() as conn:
        assert periodic.last_claims(conn)["test.contended"][1] == "one"


def test_huey_enqueues_them_on_their_crontab_and_its_runs_go_through_the_claim(workers_ctx, clock):
    from vision_widgets.core.jobs.queue import JobQueue

    queues = [JobQueue(c.settings, run=lambda job_id: None) for c in workers_ctx[:2]]
    try:
        for i, (queue, c) in enumerate(zip(queues, workers_ctx)):
            worker.schedule(queue, c, f"worker-{i}")
        every_minute = {t.name for t in worker.PERIODIC if t.minutes == 1}
        assert {t.name for t in queues[0].huey.read_periodic(datetime(2024, 5, 1, 12, 1))} == every_minute
        due = queues[0].huey.read_periodic(datetime(2024, 5, 1, 12, 5))
        assert {t.name for t in due} == {t.name for t in worker.PERIODIC}
        health = [next(t for t in q.huey.read_periodic(datetime(2024, 5, 1, 12, 5)) if t.name == "vision.record_health")
                  for q in queues]
        first, second = (q.huey.execute(t) for q, t in zip(queues, health))
        assert first == count_rows(workers_ctx[0], schema.health_checks) > 0
        assert second is None  # the second worker's run of the same minute: nothing
    finally:
        for queue in queues:
            queue.close()
