"""Periodic tasks run once per period, however many workers enqueue them.

Every ``vision worker`` runs huey's scheduler, and each scheduler enqueues every periodic
task when its crontab matches: with n workers, n messages a period, and before this each was
run. Now a run first *claims* its period: ``periodic_runs`` holds, per task, the last period
claimed, and the claim is one statement that inserts the task's row or moves its
``period_start`` forward — ``INSERT … ON CONFLICT (task) DO UPDATE … WHERE period_start <
excluded.period_start``. Exactly one claim per (task, period) changes the row; the others
change nothing and their runs do no work.

Why it holds on PostgreSQL under READ COMMITTED: ``INSERT … ON CONFLICT DO UPDATE`` always
either inserts or updates; a second claim on the same row waits for the first's row lock and
then evaluates the ``WHERE`` against the committed row, whose ``period_start`` is now equal,
so it updates nothing (and two first-ever claims: the second waits on the first's key, then
takes the update branch, and finds the same). On SQLite write transactions never overlap. The
claim commits on its own before the task's body runs, so the body's transaction is not held
open by it and other workers see the claim at once.

The period is the clock's time floored to the task's interval (UTC, from the epoch), taken when
the run starts: huey's scheduler enqueues periodic tasks every 60 s counted from the worker's
start, so two workers enqueue at different seconds of the same minute, and both floor to the same
period. The ``<`` also means a period is never claimed again once a later one was (a worker whose
clock lags behind cannot re-run a past period).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import Connection, select

from vision_widgets.core.clock import as_utc
from vision_widgets.core.storage import schema
from vision_widgets.core.storage.engine import dialect_insert

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def period_start(now: datetime, every: timedelta) -> datetime:
    """The start of the period of length ``every`` that ``now`` falls in (periods counted from the epoch,
    UTC: every 5 minutes starts at :00, :05, …)."""
    if every <= timedelta(0):
        raise ValueError("a period must be longer than zero")
    now = as_utc(now)
    return now - (now - _EPOCH) % every


def claim(conn: Connection, task: str, period: datetime, worker: str, now: datetime) -> bool:
    """Claim the run of ``task`` for the period starting at ``period``, for ``worker``.

    ``True`` for the one claim of a (task, period) that gets it, ``False`` for every other (the
    period, or a later one, was claimed already). Commit the transaction before running the task.
    """
    t = schema.periodic_runs
    stmt = dialect_insert(conn, t).values(task=task, period_start=period, worker=worker[:255], claimed_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=[t.c.task],
        set_={"period_start": stmt.excluded.period_start, "worker": stmt.excluded.worker,
              "claimed_at": stmt.excluded.claimed_at},
        where=t.c.period_start < stmt.excluded.period_start,
    ).returning(t.c.task)  # RETURNING, not rowcount: psycopg reports -1 for an unfetched INSERT … RETURNING
    return bool(conn.execute(stmt).all())


def last_claims(conn: Connection) -> dict[str, tuple[datetime, str]]:
    """Each periodic task's last claimed period and the worker that claimed it."""
    t = schema.periodic_runs
    return {row.task: (as_utc(row.period_start), row.worker)
            for row in conn.execute(select(t.c.task, t.c.period_start, t.c.worker))}
