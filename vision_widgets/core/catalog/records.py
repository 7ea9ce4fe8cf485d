"""Registered models, their stored profiles and drift reports (inside the caller's transaction).

No permission checks here: the services (``services.registration``, ``catalog``, ``submissions``) check who acts first. What
must hold whoever acts is enforced here: unique names (case-insensitive),
valid tasks and statuses, and JSON blobs that parse.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from vision_widgets.core.errors import Conflict, InvalidInput, NotFound
from vision_widgets.core.storage import schema
from vision_widgets.core.storage.engine import unique_or_conflict

TASKS = ("binary classification", "multiclass classification", "regression")
PLATFORMS = ("Databricks", "AWS SageMaker", "Azure ML", "Google Vertex AI", "on-premises", "other")
AWAITING = "awaiting metrics"
#: Profile kinds: the training profile, production batches, and labels that arrived after their
#: production window (a labelled profile of the same window: realised performance, never drift).
REFERENCE, PRODUCTION, LABELS = "reference", "production", "labels"
PROFILE_KINDS = (REFERENCE, PRODUCTION, LABELS)
ACTIVE = "active"
STATUSES = (AWAITING, ACTIVE)

_NAME_MAX = 128
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class ModelRecord:
    """A registered model's metadata (what the model list and model 360 show)."""

    id: int
    name: str
    description: str
    task: str
    platform: str
    connector: str
    connector_details: dict[str, Any]
    owner: str
    lob: str
    sub_lob: str
    roles: dict[str, Any]
    restricted: bool
    status: str
    drift_settings: dict[str, Any]
    created_by: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class StoredProfile:
    id: int
    model_id: int
    kind: str
    label: str
    source: str
    rows: int
    created_at: datetime
    body: str = field(repr=False)


@dataclass(frozen=True)
class StoredDrift:
    id: int
    model_id: int
    profile_id: int
    created_at: datetime
    dataset_drift: bool
    drift_share: float
    body: str = field(repr=False)


def validate_name(name: str) -> str:
    """A model name: 1–128 printable characters (shown as text everywhere, so HTML is harmless)."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Give the model a name.")
    if len(name) > _NAME_MAX or _CONTROL.search(name):
        raise InvalidInput(f"A model name is at most {_NAME_MAX} characters on one line.")
    return name


def validate_task(task: str) -> str:
    if task not in TASKS:
        raise InvalidInput(f"The task must be one of: {', '.join(TASKS)}.")
    return task


def record_from_row(row) -> ModelRecord:
    return ModelRecord(
        id=row["id"], name=row["name"], description=row["description"], task=row["task"],
        platform=row["platform"], connector=row["connector"],
        connector_details=json.loads(row["connector_details"] or "{}"), owner=row["owner"], lob=row["lob"],
        sub_lob=row["sub_lob"], roles=json.loads(row["roles"]), restricted=bool(row["restricted"]),
        status=row["status"], drift_settings=json.loads(row["drift_settings"] or "{}"),
        created_by=row["created_by"], created_at=row["created_at"], updated_at=row["updated_at"],
    )


def insert(conn: Connection, *, name: str, description: str, task: str, platform: str, connector: str,
           connector_details: dict, owner: str, lob: str, sub_lob: str, roles: dict, restricted: bool,
           status: str, drift_settings: dict, created_by: str, now: datetime) -> ModelRecord:
    """Add a model; a name already taken (in any case) is a ``Conflict``."""
    name = validate_name(name)
    validate_task(task)
    if status not in STATUSES:
        raise InvalidInput(f"Unknown model status {status!r}.")
    taken = f"A model named {name!r} already exists; choose another name."
    if find(conn, name) is not None:
        raise Conflict(taken)
    with unique_or_conflict(taken):  # the same name registered meanwhile by another server or tab
        conn.execute(schema.models.insert().values(
            name=name, name_key=name.lower(), description=description or "", task=task, platform=platform or "",
            connector=connector, connector_details=json.dumps(connector_details or {}), owner=owner, lob=lob,
            sub_lob=sub_lob, roles=json.dumps(roles), restricted=bool(restricted), status=status,
            drift_settings=json.dumps(drift_settings or {}), created_by=created_by, created_at=now, updated_at=now,
        ))
    return get(conn, name)


def find(conn: Connection, name: str, lock: bool = False) -> ModelRecord | None:
    """Model ``name`` (case-insensitive), or None; with ``lock``, its row held as ``lock`` holds it."""
    query = select(schema.models).where(schema.models.c.name_key == (name or "").strip().lower())
    row = conn.execute(query.with_for_update() if lock else query).mappings().first()
    return None if row is None else record_from_row(row)


def get(conn: Connection, name: str, lock: bool = False) -> ModelRecord:
    """Model ``name``, ``NotFound`` when there is none; with ``lock``, its row held (see ``lock``)."""
    found = find(conn, name, lock=lock)
    if found is None:
        raise NotFound(f"There is no model named {name!r}.")
    return found


def lock(conn: Connection, model_id: int) -> ModelRecord:
    """The model, its row held until the write transaction ends (``FOR UPDATE``; SQLite ignores it, its
    writers never overlap); ``NotFound`` when it was deleted meanwhile.

    Every write that stores into a model or deletes it takes this first (after the connector's lock,
    when it takes one: connector → model → the model's rows, so two writes never wait on each other
    in opposite orders). What such a write checked before (is a training profile stored yet, is the
    upload token still unused, which pull was stored last) then holds until it commits, also across
    servers on PostgreSQL.
    """
    t = schema.models
    row = conn.execute(select(t).where(t.c.id == model_id).with_for_update()).mappings().first()
    if row is None:
        raise NotFound("This model was deleted meanwhile; nothing was stored.")
    return record_from_row(row)


def get_by_id(conn: Connection, model_id: int) -> ModelRecord:
    row = conn.execute(select(schema.models).where(schema.models.c.id == model_id)).mappings().first()
    if row is None:
        raise NotFound(f"There is no model with id {model_id}.")
    return record_from_row(row)


def set_status(conn: Connection, model_id: int, status: str, now: datetime) -> None:
    if status not in STATUSES:
        raise InvalidInput(f"Unknown model status {status!r}.")
    conn.execute(update(schema.models).where(schema.models.c.id == model_id).values(status=status, updated_at=now))


def remove(conn: Connection, model_id: int) -> None:
    """Delete a model with its profiles, drift reports and upload tokens."""
    for table in (schema.upload_tokens, schema.drift_reports, schema.profiles):
        conn.execute(delete(table).where(table.c.model_id == model_id))
    conn.execute(delete(schema.models).where(schema.models.c.id == model_id))


def add_profile(conn: Connection, model_id: int, kind: str, label: str, source: str, rows: int, body: str,
                now: datetime) -> int:
    """Store one profile's JSON; returns its id."""
    if kind not in PROFILE_KINDS:
        raise InvalidInput(f"Unknown profile kind {kind!r}.")
    result = conn.execute(schema.profiles.insert().values(
        model_id=model_id, kind=kind, label=label, source=source, rows=int(rows), created_at=now, body=body,
    ))
    return int(result.inserted_primary_key[0])


def add_drift(conn: Connection, model_id: int, profile_id: int, dataset_drift: bool, drift_share: float,
              body: str, now: datetime) -> int:
    result = conn.execute(schema.drift_reports.insert().values(
        model_id=model_id, profile_id=profile_id, created_at=now, dataset_drift=bool(dataset_drift),
        drift_share=float(drift_share), body=body,
    ))
    return int(result.inserted_primary_key[0])


def profiles_of(conn: Connection, model_id: int, kind: str | None = None) -> list[StoredProfile]:
    t = schema.profiles
    query = select(t).where(t.c.model_id == model_id).order_by(t.c.created_at, t.c.id)
    if kind is not None:
        query = query.where(t.c.kind == kind)
    return [StoredProfile(**dict(r)) for r in conn.execute(query).mappings()]


def profile_headers(conn: Connection, model_id: int, kind: str) -> list[StoredProfile]:
    """The stored profiles of one kind, in arrival order, without their bodies (``body`` is "").

    A page that lists a model's batches needs their labels and times, not megabytes of JSON.
    """
    t = schema.profiles
    cols = [c for c in t.c if c.name != "body"]
    query = select(*cols).where((t.c.model_id == model_id) & (t.c.kind == kind)).order_by(t.c.created_at, t.c.id)
    return [StoredProfile(**dict(r), body="") for r in conn.execute(query).mappings()]


def profile_body(conn: Connection, model_id: int, profile_id: int) -> str:
    """The JSON body of one stored profile of model ``model_id`` (``NotFound`` if it is gone)."""
    t = schema.profiles
    body = conn.execute(select(t.c.body).where((t.c.id == profile_id) & (t.c.model_id == model_id))).scalar()
    if body is None:
        raise NotFound("This production batch is no longer stored; reload the page.")
    return body


def drift_history(conn: Connection, model_id: int) -> list[StoredDrift]:
    t = schema.drift_reports
    query = select(t).where(t.c.model_id == model_id).order_by(t.c.created_at, t.c.id)
    return [StoredDrift(**dict(r)) for r in conn.execute(query).mappings()]


def list_with_latest_drift(conn: Connection, owner: str | None = None, text: str = "", lob: str = "",
                           platform: str = "", status: str = "") -> list[tuple[ModelRecord, bool | None, float | None, datetime | None]]:
    """Models (of ``owner``, or all) matching the filters, each with its latest drift verdict, share and time.

    ``text`` matches the name literally, ignoring case: LIKE's wildcards are
    escaped and the value is a bound parameter, never formatted into SQL.
    """
    m, d = schema.models, schema.drift_reports
    latest = select(d.c.model_id, func.max(d.c.id).label("last_id")).group_by(d.c.model_id).subquery()
    query = (
        select(m, d.c.dataset_drift, d.c.drift_share, d.c.created_at.label("drift_at"))
        .select_from(m.outerjoin(latest, latest.c.model_id == m.c.id).outerjoin(d, d.c.id == latest.c.last_id))
        .order_by(m.c.name_key)
    )
    if owner is not None:
        query = query.where(m.c.owner == owner)
    if text.strip():
        typed = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(m.c.name_key.like(f"%{typed}%", escape="\\"))
    if lob:
        query = query.where(m.c.lob == lob)
    if platform:
        query = query.where(m.c.platform == platform)
    if status:
        query = query.where(m.c.status == status)
    return [
        (record_from_row(r), None if r["dataset_drift"] is None else bool(r["dataset_drift"]),
         r["drift_share"], r["drift_at"])
        for r in conn.execute(query).mappings()
    ]
