"""Stored notifications: insert once per cause, list for an account, read state per account.

``add`` relies on the unique ``dedupe_key``: an insert that meets an existing key is skipped by the
database itself (``INSERT … ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL; a savepoint that
swallows the ``IntegrityError`` elsewhere). Checking first and inserting after would let two runs
that race both find a cause new; the index lets only one row in, and the other run reads the
conflict as "already there".

No permission checks here: ``owner`` narrows a query to one account's models (a user's view);
``None`` means every notification, platform ones included (an admin's).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import Connection, and_, func, insert, literal, select
from sqlalchemy.exc import IntegrityError

from vision_widgets.core.clock import as_utc
from vision_widgets.core.notify.rules import Due
from vision_widgets.core.storage import schema
from vision_widgets.core.storage.engine import dialect_insert, upsert

#: The run-time setting of the performance rule (``app_settings``).
PERFORMANCE_DROP_KEY = "notify.performance_drop"
#: The most a list returns.
LIST_LIMIT = 500


@dataclass(frozen=True)
class Stored:
    """A notification as an account sees it."""

    id: int
    kind: str
    model_id: int | None
    model: str  # "" for a platform notification
    owner: str
    created_at: datetime
    title: str
    body: Mapping[str, Any]
    link: str
    read: bool


# --------------------------------------------------------------------------------------------
# Insert once
# --------------------------------------------------------------------------------------------
def _insert_ignoring(conn: Connection, table, rows: list[dict], keys: Sequence[str]) -> int:
    """Insert ``rows``, skipping those whose ``keys`` already exist; returns how many were inserted."""
    if not rows:
        return 0
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        added = 0
        for row in rows:  # one statement per row; RETURNING says whether it went in (rowcount does not:
            # psycopg reports -1 for an INSERT … RETURNING whose rows were not fetched)
            statement = (dialect_insert(conn, table).values(**row).on_conflict_do_nothing(index_elements=list(keys))
                         .returning(*[table.c[k] for k in keys]))
            added += len(conn.execute(statement).all())
        return added
    added = 0
    for row in rows:
        try:
            with conn.begin_nested():
                conn.execute(insert(table).values(**row))
            added += 1
        except IntegrityError:
            pass  # already there
    return added


def add(conn: Connection, due: Iterable[Due], now: datetime) -> int:
    """Store the notifications not stored yet (by ``dedupe_key``); returns how many were new."""
    rows = [dict(kind=d.kind, model_id=d.model_id, dedupe_key=d.dedupe_key, created_at=now, title=d.title,
                 body=json.dumps(dict(d.body), allow_nan=False, default=str), link=d.link) for d in due]
    return _insert_ignoring(conn, schema.notifications, rows, ["dedupe_key"])


# --------------------------------------------------------------------------------------------
# Read
# --------------------------------------------------------------------------------------------
def _visible(owner: str | None):
    """The WHERE clause of what an account sees: its models' notifications, or all (None)."""
    if owner is None:
        return literal(True)
    return schema.models.c.owner == owner


def _read_join(username: str):
    n, r = schema.notifications, schema.notification_reads
    return and_(r.c.notification_id == n.c.id, r.c.username == username)


def _filtered(query, username: str, owner: str | None, model_id: int | None, kind: str, read: bool | None):
    """``query`` over notifications ⟕ models ⟕ this account's reads, narrowed to what the filters keep."""
    n, m, r = schema.notifications, schema.models, schema.notification_reads
    query = (query.select_from(n.outerjoin(m, m.c.id == n.c.model_id).outerjoin(r, _read_join(username)))
             .where(_visible(owner)))
    if model_id is not None:
        query = query.where(n.c.model_id == model_id)
    if kind:
        query = query.where(n.c.kind == kind)
    if read is True:
        query = query.where(r.c.read_at.is_not(None))
    elif read is False:
        query = query.where(r.c.read_at.is_(None))
    return query


def list_for(conn: Connection, username: str, owner: str | None, *, model_id: int | None = None,
             kind: str = "", read: bool | None = None, limit: int = LIST_LIMIT) -> list[Stored]:
    """Notifications ``username`` sees (``owner``: see the module docstring), newest first, filtered."""
    n, m, r = schema.notifications, schema.models, schema.notification_reads
    query = _filtered(select(n, m.c.name.label("model_name"), m.c.owner, r.c.read_at), username, owner,
                      model_id, kind, read).order_by(n.c.created_at.desc(), n.c.id.desc()).limit(limit)
    return [Stored(id=row["id"], kind=row["kind"], model_id=row["model_id"], model=row["model_name"] or "",
                   owner=row["owner"] or "", created_at=as_utc(row["created_at"]), title=row["title"],
                   body=json.loads(row["body"] or "{}"), link=row["link"], read=row["read_at"] is not None)
            for row in conn.execute(query).mappings()]


def count_for(conn: Connection, username: str, owner: str | None, *, model_id: int | None = None,
              kind: str = "", read: bool | None = None) -> int:
    """How many notifications ``list_for`` would list with the same filters and no limit."""
    return int(conn.execute(_filtered(select(func.count()), username, owner, model_id, kind, read)).scalar_one())


def unread_count(conn: Connection, username: str, owner: str | None) -> int:
    """How many notifications ``username`` sees and has not read (one indexed count)."""
    n, m, r = schema.notifications, schema.models, schema.notification_reads
    query = (select(func.count()).select_from(n.outerjoin(m, m.c.id == n.c.model_id).outerjoin(r, _read_join(username)))
             .where(_visible(owner) & r.c.read_at.is_(None)))
    return int(conn.execute(query).scalar_one())


def owners_of(conn: Connection, ids: Sequence[int]) -> dict[int, str | None]:
    """Each existing notification's model owner (None: a platform notification)."""
    n, m = schema.notifications, schema.models
    query = select(n.c.id, m.c.owner).select_from(n.outerjoin(m, m.c.id == n.c.model_id)).where(n.c.id.in_(list(ids)))
    return {row.id: row.owner for row in conn.execute(query)}


def hold_models_of(conn: Connection, ids: Sequence[int]) -> None:
    """Keep the models of notifications ``ids`` from being deleted until this write transaction ends.

    ``FOR KEY SHARE`` on their rows, in id order (SQLite ignores it: its writers never overlap). It
    conflicts only with what a deletion takes (``records.lock``'s ``FOR UPDATE``), so tabs marking
    at once do not wait on each other, nor on a model's other writes. Lock order is connector → model
    → the model's rows: the model's row is held before its notifications' rows are touched, so a
    deletion that began first is waited for and its notifications are then gone, and one that
    begins after waits for this transaction.
    """
    n, m = schema.notifications, schema.models
    of_them = select(n.c.model_id).where(n.c.id.in_(list(ids)), n.c.model_id.is_not(None))
    conn.execute(select(m.c.id).where(m.c.id.in_(of_them)).order_by(m.c.id)
                 .with_for_update(read=True, key_share=True)).all()


def mark_read(conn: Connection, ids: Sequence[int], username: str, now: datetime) -> int:
    """Record that ``username`` read ``ids`` (already read: unchanged; deleted meanwhile, with their
    model: skipped); returns how many were new.

    Without ``hold_models_of`` first, a notification whose model a concurrent transaction had just
    deleted (not yet committed) passed the caller's checks, and the read row's foreign key then
    failed once the deletion committed (PostgreSQL: an ``IntegrityError``, a failed click).
    """
    hold_models_of(conn, ids)
    n = schema.notifications
    present = conn.execute(select(n.c.id).where(n.c.id.in_(sorted(set(ids))))).scalars().all()  # as of now
    # in id order: two tabs marking the same ones in other orders would wait on each other's index entries
    rows = [dict(notification_id=i, username=username, read_at=now) for i in sorted(present)]
    return _insert_ignoring(conn, schema.notification_reads, rows, ["notification_id", "username"])


def mark_all_read(conn: Connection, username: str, owner: str | None, now: datetime) -> int:
    """Mark every notification ``username`` sees as read; returns how many were unread."""
    ids = [s.id for s in list_for(conn, username, owner, read=False, limit=100_000)]
    return mark_read(conn, ids, username, now)


# --------------------------------------------------------------------------------------------
# The performance rule's setting
# --------------------------------------------------------------------------------------------
def get_setting(conn: Connection, key: str) -> Any:
    """A run-time setting's value (JSON), or None when it was never set."""
    raw = conn.execute(select(schema.app_settings.c.value).where(schema.app_settings.c.key == key)).scalar_one_or_none()
    return None if raw is None else json.loads(raw)


def set_setting(conn: Connection, key: str, value: Any, username: str, now: datetime) -> None:
    """Store a run-time setting (replacing its value)."""
    upsert(conn, schema.app_settings, {"key": key},
           {"value": json.dumps(value, allow_nan=False), "updated_by": username, "updated_at": now})
