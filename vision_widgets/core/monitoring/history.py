"""Each run of the checks, stored (one ``health_checks`` row per check) and read back.

The worker's periodic job records the platform checks every minute and the server records its own
(uptime, kernels); history older than ``KEEP`` is pruned by the same job.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Sequence

from sqlalchemy import delete, func, select

from vision_widgets.core.clock import as_utc
from vision_widgets.core.monitoring import Check
from vision_widgets.core.storage import schema

#: How long the history is kept.
KEEP = timedelta(days=7)


@dataclass(frozen=True)
class Recorded:
    """A check as it was recorded at ``checked_at``."""

    checked_at: datetime
    result: Check


def record(conn, checks: Iterable[Check], at: datetime) -> int:
    """Store one run of ``checks`` at time ``at``; returns how many rows."""
    rows = [dict(checked_at=at, check=c.check, subject=c.subject[:128], status=c.status, critical=c.critical,
                 value=c.value, unit=c.unit[:16], message=c.message) for c in checks]
    if rows:
        conn.execute(schema.health_checks.insert(), rows)
    return len(rows)


def prune(conn, before: datetime, checks: Sequence[str] | None = None) -> int:
    """Delete the rows recorded before ``before`` (of ``checks`` only, if given); returns how many."""
    t = schema.health_checks
    query = delete(t).where(t.c.checked_at < before)
    if checks:
        query = query.where(t.c.check.in_(list(checks)))
    return conn.execute(query).rowcount


def _recorded(row) -> Recorded:
    return Recorded(as_utc(row["checked_at"]), Check(row["check"], row["subject"], row["status"], bool(row["critical"]),
                                                      row["value"], row["unit"], row["message"]))


def read(conn, *, since: datetime | None = None, checks: Sequence[str] | None = None,
         limit: int = 5000) -> list[Recorded]:
    """Recorded checks, newest first, optionally since a time and of some check names only."""
    t = schema.health_checks
    query = select(t)
    if since is not None:
        query = query.where(t.c.checked_at >= since)
    if checks:
        query = query.where(t.c.check.in_(list(checks)))
    query = query.order_by(t.c.checked_at.desc(), t.c.id.desc()).limit(limit)
    return [_recorded(r) for r in conn.execute(query).mappings()]


def last_run(conn, marker: str = "database") -> list[Recorded]:
    """Every row of the newest recorded platform run (the rows stored with its ``marker`` check)."""
    t = schema.health_checks
    at = conn.execute(select(func.max(t.c.checked_at)).where(t.c.check == marker)).scalar_one()
    if at is None:
        return []
    query = select(t).where(t.c.checked_at == at).order_by(t.c.id)
    return [_recorded(r) for r in conn.execute(query).mappings()]


def latest(conn, checks: Sequence[str]) -> list[Recorded]:
    """The last recorded row of each (check, subject) among ``checks``."""
    t = schema.health_checks
    last = (select(t.c.check, t.c.subject, func.max(t.c.id).label("id"))
            .where(t.c.check.in_(list(checks))).group_by(t.c.check, t.c.subject).subquery())
    query = select(t).join(last, t.c.id == last.c.id).order_by(t.c.check, t.c.subject)
    return [_recorded(r) for r in conn.execute(query).mappings()]
