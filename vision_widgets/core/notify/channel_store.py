"""Stored alert channels: rows of ``alert_channels``.

Stored as connectors are (``core/storage/named_rows.py``): ``config`` is JSON without secrets;
``secrets`` is one sealed token (``core/secrets.py``) or NULL, never opened here. Names are 1–32
characters ``[A-Za-z0-9_.-]``, unique whatever their case (``name_key``). ``lob`` "" means every
line of business (and platform notifications, which belong to none).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select

from vision_widgets.core.errors import NotFound
from vision_widgets.core.storage import named_rows, schema

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
    return named_rows.check_name(name, "A channel", "fraud-team-slack")


def _row(r: Mapping[str, Any]) -> ChannelRow:
    return ChannelRow(id=r["id"], name=r["name"], kind=r["kind"], lob=r["lob"] or "",
                      config=named_rows.config_of(r["config"]), secrets=r["secrets"],
                      enabled=bool(r["enabled"]), created_by=r["created_by"], created_at=r["created_at"],
                      updated_at=r["updated_at"])


def find(conn: Connection, name: str) -> ChannelRow | None:
    """The channel called ``name`` (any case), or None."""
    r = named_rows.find(conn, t, name)
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
    named_rows.insert(conn, t, name, config, f"An alert channel named {name!r} exists already; choose another name.",
                      kind=kind, lob=lob, secrets=secrets, enabled=enabled, created_by=created_by, created_at=now,
                      updated_at=now)
    return get(conn, name)


def update_row(conn: Connection, name: str, now: datetime, *, config: Mapping[str, Any] | None = None,
               secrets: str | None = None, lob: str | None = None, enabled: bool | None = None,
               version: datetime | None = None) -> ChannelRow:
    """Replace the given columns (None: keep); ``updated_at`` strictly increases. ``version``: the
    ``updated_at`` the change was built on; ``Conflict`` if the row moved on since."""
    current = get(conn, name)
    given = {"config": config, "secrets": secrets, "lob": lob, "enabled": enabled}
    named_rows.update_versioned(conn, t, t.c.id == current.id, current.name, current.updated_at, now,
                                {k: v for k, v in given.items() if v is not None}, version)
    return get(conn, name)


def replace_token(conn: Connection, name: str, secrets: str) -> None:
    """The same secrets sealed again (a new key): nothing else changes."""
    named_rows.replace_token(conn, t, name, secrets)


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
