"""Who runs a job right now: claims, leases, heartbeats, and the end of a job (inside the caller's transaction).

Every change a worker makes to a job it runs is conditional on still holding
its lease (``lease_owner = <this worker> AND state = 'running'``). A worker that
stalled past its lease and lost the job to another therefore cannot report
progress, finish or fail it any more: the statement matches no row and
``LeaseLost`` is raised, which rolls back the handler's transaction with it. So
whatever the timing, one attempt at most commits a job's effect.

The claim is one UPDATE whose WHERE clause is the whole rule (queued, or running
with an expired lease, and attempts left), so two workers racing for a job are
decided by the database: one UPDATE matches the row, the other matches nothing.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping

from sqlalchemy import Connection, select, update

from vision_widgets.core.errors import VisionError
from vision_widgets.core.jobs.records import (
    DONE,
    FAILED,
    QUEUED,
    RUNNING,
    Job,
    clip_message,
    clip_reason,
    from_row,
)
from vision_widgets.core.storage import schema


class LeaseLost(VisionError):
    """This worker no longer holds the job (its lease expired and another worker took it, or it ended)."""


#: The reason recorded when a job's workers kept dying under it.
GAVE_UP = (
    "The worker stopped while running this job {attempts} time(s) (it was killed, ran out of memory, or "
    "lost the database), so it is not tried again. Submit it again; if it keeps happening, tell an "
    "administrator (the worker's log has the details)."
)


def _expired(now: datetime):
    t = schema.jobs
    return (t.c.state == RUNNING) & (t.c.lease_expires < now)


def claim(conn: Connection, job_id: int, worker: str, now: datetime, lease: timedelta) -> Job | None:
    """Take job ``job_id`` for ``worker`` if it is free; ``None`` if it is not (taken, finished, out of tries).

    Free means queued, or running under a lease that expired (its worker died).
    One UPDATE: the database decides between racing workers.
    """
    t = schema.jobs
    claimable = (t.c.id == job_id) & ((t.c.state == QUEUED) | _expired(now)) & (t.c.attempts < t.c.max_attempts)
    row = conn.execute(
        update(t).where(claimable).values(
            state=RUNNING, lease_owner=worker, lease_expires=now + lease, heartbeat_at=now,
            attempts=t.c.attempts + 1, started_at=now, message="Starting", progress=0.0,
        ).returning(*t.c)
    ).mappings().first()
    return None if row is None else from_row(row)


def extend(conn: Connection, worker: str, job_ids: Iterable[int], now: datetime, lease: timedelta) -> int:
    """Extend ``worker``'s leases on ``job_ids``, the jobs it is running now (its heartbeat).

    Only those: a job whose handler gave up (say, on a database error) keeps
    its row "running" but is not extended, so its lease runs out and it is
    reclaimed. Returns how many of them the worker still holds.
    """
    ids = list(job_ids)
    if not ids:
        return 0
    t = schema.jobs
    held = (t.c.lease_owner == worker) & (t.c.state == RUNNING) & t.c.id.in_(ids)
    return conn.execute(update(t).where(held).values(lease_expires=now + lease, heartbeat_at=now)).rowcount


def _mine(job_id: int, worker: str):
    t = schema.jobs
    return (t.c.id == job_id) & (t.c.lease_owner == worker) & (t.c.state == RUNNING)


def _change(conn: Connection, job_id: int, worker: str, **values: Any) -> None:
    done = conn.execute(update(schema.jobs).where(_mine(job_id, worker)).values(**values))
    if done.rowcount != 1:
        raise LeaseLost(f"Job {job_id} is no longer held by worker {worker}; another worker took it over.")


def report(conn: Connection, job_id: int, worker: str, fraction: float, message: str, now: datetime) -> None:
    """Record how far the job got (``LeaseLost`` if ``worker`` no longer holds it)."""
    fraction = max(0.0, min(1.0, float(fraction)))
    _change(conn, job_id, worker, progress=fraction, message=clip_message(message), heartbeat_at=now)


def finish(conn: Connection, job_id: int, worker: str, result: Mapping[str, Any], now: datetime) -> None:
    """Mark the job done with ``result``, in the transaction that applied its effect.

    ``LeaseLost`` when ``worker`` no longer holds the job: the caller's
    transaction, effect included, must then roll back (it does, since the
    exception leaves the ``store.write()`` block).
    """
    _change(conn, job_id, worker, state=DONE, progress=1.0, message="Done", finished_at=now,
            result=json.dumps(dict(result), allow_nan=False, default=str), lease_owner=None, lease_expires=None)


def fail(conn: Connection, job_id: int, worker: str, reason: str, now: datetime) -> None:
    """Mark the job failed with a reason a person can act on (``LeaseLost`` if no longer held)."""
    _change(conn, job_id, worker, state=FAILED, finished_at=now, error=clip_reason(reason),
            message="Failed", lease_owner=None, lease_expires=None)


def release(conn: Connection, worker: str, now: datetime) -> list[int]:
    """Give back every job ``worker`` holds (it is stopping): they are queued again. Returns their ids."""
    t = schema.jobs
    held = (t.c.lease_owner == worker) & (t.c.state == RUNNING)
    ids = conn.execute(select(t.c.id).where(held)).scalars().all()
    conn.execute(update(t).where(held & t.c.id.in_(ids)).values(
        state=QUEUED, lease_owner=None, lease_expires=None, enqueued_at=now, message="Waiting for a worker",
    ))
    return list(ids)


@dataclass(frozen=True)
class Reclaimed:
    """What one reclaim pass did: jobs to put in the queue again, and jobs given up on."""

    requeued: tuple[int, ...] = ()
    given_up: tuple[int, ...] = ()


def reclaim(conn: Connection, now: datetime, lost_after: timedelta) -> Reclaimed:
    """Find jobs no worker will finish, and queue them again (or give up on them).

    * running with an expired lease: its worker died. Queued again while tries
      are left, failed with ``GAVE_UP`` otherwise;
    * queued since longer than ``lost_after`` without being claimed: its queue
      message was probably lost (the queue was down when it was submitted, or a
      worker took the message and died before claiming). Queued again.

    Each change is conditional on what was read, so two reclaimers never both
    requeue one job. The caller enqueues ``requeued`` after the commit; a
    duplicate message is harmless (its claim matches nothing).
    """
    t = schema.jobs
    requeued: list[int] = []
    given_up: list[int] = []
    for job_id, attempts, max_attempts in conn.execute(
        select(t.c.id, t.c.attempts, t.c.max_attempts).where(_expired(now)).order_by(t.c.id)
    ).all():  # in id order, as every reclaimer: two workers' reclaimers never lock rows in opposite orders
        guard = (t.c.id == job_id) & _expired(now)
        if attempts >= max_attempts:
            done = conn.execute(update(t).where(guard).values(
                state=FAILED, finished_at=now, error=GAVE_UP.format(attempts=attempts), message="Failed",
                lease_owner=None, lease_expires=None,
            ))
            if done.rowcount:
                given_up.append(job_id)
        else:
            done = conn.execute(update(t).where(guard).values(
                state=QUEUED, lease_owner=None, lease_expires=None, enqueued_at=now,
                message="Waiting for a worker (the previous one stopped)",
            ))
            if done.rowcount:
                requeued.append(job_id)
    for job_id, enqueued_at, attempts, max_attempts in conn.execute(
        select(t.c.id, t.c.enqueued_at, t.c.attempts, t.c.max_attempts)
        .where((t.c.state == QUEUED) & (t.c.enqueued_at < now - lost_after)).order_by(t.c.id)
    ).all():
        guard = (t.c.id == job_id) & (t.c.state == QUEUED) & (t.c.enqueued_at == enqueued_at)
        if attempts >= max_attempts:  # given back by stopping workers as often as it may be tried
            done = conn.execute(update(t).where(guard).values(
                state=FAILED, finished_at=now, error=GAVE_UP.format(attempts=attempts), message="Failed"))
            if done.rowcount:
                given_up.append(job_id)
            continue
        if conn.execute(update(t).where(guard).values(enqueued_at=now)).rowcount:
            requeued.append(job_id)
    return Reclaimed(tuple(requeued), tuple(given_up))
