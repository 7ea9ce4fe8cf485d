"""The workers seen: each ``vision worker`` writes its heartbeat here, the health endpoint reads it.

The database is the only state servers share, so "is a worker alive?" is
answered from here by whichever server process is asked.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from vision_widgets.core.storage import schema

OK = "ok"
STALE = "stale"
NEVER_SEEN = "never seen"
#: The database could not be asked (the health endpoint says why).
UNKNOWN = "unknown"
STATES = (OK, STALE, NEVER_SEEN, UNKNOWN)


def beat(conn: Connection, worker: str, host: str, pid: int, now: datetime) -> None:
    """Record that ``worker`` is alive now (inserting its row on its first beat)."""
    t = schema.workers
    if conn.execute(update(t).where(t.c.id == worker).values(heartbeat_at=now, stopped_at=None)).rowcount == 0:
        conn.execute(t.insert().values(id=worker, host=host[:255], pid=pid, started_at=now, heartbeat_at=now,
                                       stopped_at=None))


def stopped(conn: Connection, worker: str, now: datetime) -> None:
    """Record that ``worker`` stopped on purpose (so its silence is not reported as trouble)."""
    t = schema.workers
    conn.execute(update(t).where(t.c.id == worker).values(stopped_at=now))


def forget(conn: Connection, before: datetime) -> int:
    """Drop the rows of workers not heard from since ``before``; returns how many."""
    t = schema.workers
    return conn.execute(delete(t).where(t.c.heartbeat_at < before)).rowcount


@dataclass(frozen=True)
class WorkerStatus:
    """What the health endpoint says about the workers."""

    state: str
    #: Workers that beat within the staleness limit.
    alive: int
    last_heartbeat: datetime | None
    seconds_since: float | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "alive": self.alive,
            "last_heartbeat": self.last_heartbeat.isoformat() if self.last_heartbeat else None,
            "seconds_since_heartbeat": None if self.seconds_since is None else round(self.seconds_since, 1),
            "message": self.message,
        }


def status(conn: Connection, now: datetime, stale_after: timedelta) -> WorkerStatus:
    """Whether a worker beat within ``stale_after``, and when the last beat was."""
    t = schema.workers
    last = conn.execute(select(func.max(t.c.heartbeat_at))).scalar_one()
    if last is None:
        return WorkerStatus(NEVER_SEEN, 0, None, None,
                            "No worker has ever run on this database: start one with `vision worker` "
                            "(`vision serve` starts one unless given --no-worker).")
    alive = conn.execute(
        select(func.count()).select_from(t).where((t.c.heartbeat_at >= now - stale_after) & t.c.stopped_at.is_(None))
    ).scalar_one()
    since = max(0.0, (now - last).total_seconds())
    if alive:
        return WorkerStatus(OK, alive, last, since, f"{alive} worker(s) alive; last heartbeat {since:.0f} s ago.")
    return WorkerStatus(STALE, 0, last, since,
                        f"worker not seen for {since:.0f} s: background jobs (registrations, scheduled "
                        "work) are waiting; start `vision worker` or check its log.")
