"""The job record: what to do, for whom, how far it got and how it ended (inside the caller's transaction).

No permission checks here (``services.jobs`` checks who acts). What must hold
whoever acts is enforced here: a known state, parameters that are JSON and hold
no secret (a job row is read by its owner's pages, by admins, by the worker's
log), a progress between 0 and 1.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, Sequence

from sqlalchemy import Connection, delete, select

from vision_widgets.core.errors import InvalidInput, NotFound
from vision_widgets.core.storage import schema

QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
STATES = (QUEUED, RUNNING, DONE, FAILED)
#: A job in one of these states may still change.
ACTIVE = (QUEUED, RUNNING)

_TITLE_MAX = 200
_MESSAGE_MAX = 200
_REASON_MAX = 2000
#: Parameter names that smell of a secret: a job row is no place for one.
_SECRET_NAME = re.compile(r"password|passwd|secret|token|api[_-]?key|credential|private[_-]?key", re.IGNORECASE)


@dataclass(frozen=True)
class Job:
    """One job as stored (what the pages show and the worker runs)."""

    id: int
    kind: str
    #: The account that submitted it; the job acts as this account (its role as it is when the job runs).
    actor: str
    title: str
    params: Mapping[str, Any] = field(repr=False)
    state: str
    progress: float
    message: str
    result: Mapping[str, Any] | None
    #: Why it failed, in words a person can act on ("" unless ``state == FAILED``).
    error: str
    attempts: int
    max_attempts: int
    created_at: datetime
    enqueued_at: datetime
    started_at: datetime | None
    heartbeat_at: datetime | None
    finished_at: datetime | None
    lease_owner: str | None
    lease_expires: datetime | None

    @property
    def active(self) -> bool:
        """Queued or running: it may still change."""
        return self.state in ACTIVE


def from_row(row: Mapping[str, Any]) -> Job:
    """The ``Job`` of a ``jobs`` row."""
    return Job(
        id=row["id"], kind=row["kind"], actor=row["actor"], title=row["title"],
        params=json.loads(row["params"]), state=row["state"], progress=float(row["progress"]),
        message=row["message"], result=json.loads(row["result"]) if row["result"] else None,
        error=row["error"], attempts=row["attempts"], max_attempts=row["max_attempts"],
        created_at=row["created_at"], enqueued_at=row["enqueued_at"], started_at=row["started_at"],
        heartbeat_at=row["heartbeat_at"], finished_at=row["finished_at"], lease_owner=row["lease_owner"],
        lease_expires=row["lease_expires"],
    )


def check_params(params: Mapping[str, Any], path: str = "params") -> None:
    """Refuse parameters that are not JSON objects of plain values, or that name a secret.

    A job's parameters are stored in clear and shown to its owner and to admins:
    a credential belongs in the connector's configuration, referenced by name.
    """
    if not isinstance(params, Mapping):
        raise InvalidInput("A job's parameters are a JSON object.", field=path)
    for key, value in params.items():
        where = f"{path}.{key}"
        if not isinstance(key, str):
            raise InvalidInput("A job's parameter names are strings.", field=where)
        if _SECRET_NAME.search(key):
            raise InvalidInput(
                f"A job's parameters are stored in clear, so {key!r} cannot be one; keep secrets in the "
                "connector's settings and pass only their name.", field=where)
        _check_value(value, where)


def _check_value(value: Any, where: str) -> None:
    if isinstance(value, Mapping):
        check_params(value, where)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_value(item, f"{where}[{i}]")
    elif not (value is None or isinstance(value, (str, int, float, bool))):
        raise InvalidInput(f"A job's parameters hold plain JSON values, not {type(value).__name__}.", field=where)


def insert(conn: Connection, *, kind: str, actor: str, title: str, params: Mapping[str, Any], now: datetime,
           max_attempts: int) -> Job:
    """Queue a new job; returns it as stored."""
    check_params(params)
    if max_attempts < 1:
        raise InvalidInput("A job needs at least one attempt.", field="max_attempts")
    t = schema.jobs
    new_id = conn.execute(t.insert().values(
        kind=kind, actor=actor, title=title.strip()[:_TITLE_MAX], params=json.dumps(dict(params), allow_nan=False),
        state=QUEUED, progress=0.0, message="Waiting for a worker", result=None, error="", attempts=0,
        max_attempts=max_attempts, created_at=now, enqueued_at=now, started_at=None, heartbeat_at=None,
        finished_at=None, lease_owner=None, lease_expires=None,
    )).inserted_primary_key[0]
    return get(conn, new_id)


def get(conn: Connection, job_id: int) -> Job:
    """Job ``job_id`` (``NotFound`` if there is none)."""
    row = conn.execute(select(schema.jobs).where(schema.jobs.c.id == job_id)).mappings().first()
    if row is None:
        raise NotFound(f"There is no job number {job_id}; it may have been cleaned up after 30 days.")
    return from_row(row)


def find(conn: Connection, *, actor: str | None = None, kind: str | None = None,
         states: Sequence[str] | None = None, limit: int = 50) -> list[Job]:
    """Jobs, newest first, optionally only one actor's, one kind, some states."""
    t = schema.jobs
    query = select(t).order_by(t.c.created_at.desc(), t.c.id.desc()).limit(max(1, min(limit, 500)))
    if actor is not None:
        query = query.where(t.c.actor == actor)
    if kind is not None:
        query = query.where(t.c.kind == kind)
    if states is not None:
        unknown = set(states) - set(STATES)
        if unknown:
            raise InvalidInput(f"Unknown job state(s) {sorted(unknown)}; use {', '.join(STATES)}.", field="states")
        query = query.where(t.c.state.in_(list(states)))
    return [from_row(r) for r in conn.execute(query).mappings()]


def purge_finished(conn: Connection, before: datetime) -> int:
    """Delete jobs that finished before ``before``; returns how many."""
    t = schema.jobs
    return conn.execute(delete(t).where(t.c.state.in_([DONE, FAILED]) & (t.c.finished_at < before))).rowcount


def clip_message(message: str) -> str:
    """A progress message as stored (one line, bounded)."""
    return " ".join(str(message).split())[:_MESSAGE_MAX]


def clip_reason(reason: str) -> str:
    """A failure reason as stored (bounded)."""
    return str(reason).strip()[:_REASON_MAX] or "The job failed without saying why."
