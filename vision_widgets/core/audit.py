"""The audit log: who did what, to whom, when. Written in the same transaction as the change."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from vision_widgets.core.storage import schema


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str
    target: str
    detail: str


def record(conn: Connection, at: datetime, actor: str, action: str, target: str = "", detail: str = "") -> None:
    """Append one entry, inside the caller's transaction."""
    conn.execute(
        schema.audit_log.insert().values(at=at, actor=actor, action=action, target=target, detail=detail)
    )


def recent(conn: Connection, limit: int = 200) -> list[AuditEntry]:
    """The newest ``limit`` entries, newest first."""
    t = schema.audit_log
    rows = conn.execute(select(t).order_by(t.c.at.desc(), t.c.id.desc()).limit(limit)).mappings()
    return [AuditEntry(r["at"], r["actor"], r["action"], r["target"], r["detail"]) for r in rows]
