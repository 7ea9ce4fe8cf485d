"""Stored alert channels: rows of ``alert_channels``.

``config`` is JSON without secrets; ``secrets`` is one sealed token (``core/secrets.py``) or NULL.
As ``core/catalog/connector_store.py`` does, this module never opens the token. Names are 1–32
characters ``[A-Za-z0-9_.-]``, unique whatever their case (``name_key``). ``lob`` "" means every
line of business (and platform notifications, which belong to none).
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, select, update

from vision_widgets.core.errors import Conflict, InvalidInput, NotFound
from vision_widgets.core.storage import schema
from vision_widgets.core.storage.engine import unique_or_conflict

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
t = schema.alert_channels


@dataclass(frozen=True)
class ChannelRow:
    """One channel as the table holds it (``secrets`` is the sealed token, never values)."""

    id: int
    name: str
    kind: str
    lob: str
    config: dict
    secrets: str | None
    enabled: bool
    created_by: str
    created_at: datetime
    updated_at: datetime


def check_name(name: str) -> str:
    """``name`` stripped, or ``InvalidInput`` saying what a name may hold."""
    name = (name or "").strip()
    if not _NAME.match(name):
        raise InvalidInput("A channel's name is 1–32 letters, digits, dots, dashes or underscores "
                           "(e.g. fraud-team-slack).", field="name")
    return name


def _row(r: Mapping[str, Any]) -> ChannelRow:
    try:
        config = json.loads(r["config"] or "{}")
    except ValueError:
        config = {}
    return ChannelRow(id=r["id"], name=r["name"], kind=r["kind"], lob=r["lob"] or "",
                      config=config if isinstance(config, dict) else {}, secrets=r["secrets"],
                      enabled=bool(r["enabled"]), created_by=r["created_by"], created_at=r["created_at"],
                      updated_at=r["updated_at"])


def find(conn: Connection, name: str) -> ChannelRow | None:
    """The channel called ``name`` (any case), or None."""
    r = conn.execute(select(t).where(t.c.name_key == (name or "").strip().lower())).mappings().first()
    return _row(r) if r is not None else None


def get(conn: Connection, name: str) -> ChannelRow:
    """The channel called ``name``; ``NotFound`` naming it otherwise."""
    found = find(conn, name)
    if found is None:
        raise NotFound(f"There is no alert channel named {name!r}; `vision alerts channels` lists them.")
    return found


def by_id(conn: Connection, channel_id: int) -> ChannelRow | None:
    r = conn.execute(select(t).where(t.c.id == channel_id)).mappings().first()
    return _row(r) if r is not None else None


def list_all(conn: Connection) -> list[ChannelRow]:
    """Every channel, by name."""
    return [_row(r) for r in conn.execute(select(t).order_by(t.c.name_key)).mappings()]


def insert(conn: Connection, name: str, kind: str, lob: str, config: Mapping[str, Any], secrets: str | None,
           created_by: str, now: datetime, enabled: bool = True) -> ChannelRow:
    """Add a channel; ``Conflict`` when the name is taken (whatever its case)."""
    name = check_name(name)
    taken = f"An alert channel named {name!r} exists already; choose another name."
    if find(conn, name) is not None:
        raise Conflict(taken)
    with unique_or_conflict(taken):  # added meanwhile by another admin
        conn.execute(t.insert().values(
            name=name, name_key=name.lower(), kind=kind, lob=lob, config=json.dumps(dict(config), sort_keys=True),
            secrets=secrets, enabled=enabled, created_by=created_by, created_at=now, updated_at=now))
    return get(conn, name)


def update_row(conn: Connection, name: str, now: datetime, *, config: Mapping[str, Any] | None = None,
               secrets: str | None = None, lob: str | None = None, enabled: bool | None = None,
               version: datetime | None = None) -> ChannelRow:
    """Replace the given columns (None: keep); ``updated_at`` strictly increases. ``version``: the
    ``updated_at`` the change was built on; ``Conflict`` if the row moved on since."""
    current = get(conn, name)
    if now <= current.updated_at:
        now = current.updated_at + timedelta(microseconds=1)
    values: dict[str, Any] = {"updated_at": now}
    if config is not None:
        values["config"] = json.dumps(dict(config), sort_keys=True)
    if secrets is not None:
        values["secrets"] = secrets
    if lob is not None:
        values["lob"] = lob
    if enabled is not None:
        values["enabled"] = enabled
    where = t.c.id == current.id
    if version is not None:  # conditional: PostgreSQL re-checks it after waiting for a concurrent save
        where &= t.c.updated_at == version
    if conn.execute(update(t).where(where).values(**values)).rowcount != 1:
        # another admin saved it since ``version`` was read: writing this over it would put back what they
        # changed (a secret merged from the old ones, an old setting)
        raise Conflict(f"{current.name} was changed meanwhile by another admin; reload it and save again.")
    return get(conn, name)


def replace_token(conn: Connection, name: str, secrets: str) -> None:
    """The same secrets sealed again (a new key): nothing else changes."""
    conn.execute(update(t).where(t.c.name_key == name.lower()).values(secrets=secrets))


def remove(conn: Connection, name: str) -> None:
    """Delete the channel and its delivery log (the rows of a channel that is gone mean nothing)."""
    row = get(conn, name)
    conn.execute(delete(schema.alert_deliveries).where(schema.alert_deliveries.c.channel_id == row.id))
    conn.execute(delete(t).where(t.c.id == row.id))


def lines_of_business(conn: Connection) -> list[str]:
    """Every line of business named by a model or an account, sorted (what a channel may route)."""
    m, u = schema.models, schema.users
    found = {r[0] for r in conn.execute(select(m.c.lob).distinct())} | {r[0] for r in conn.execute(select(u.c.lob).distinct())}
    return sorted(x for x in found if x)
