"""Stored connectors: rows of the ``connectors`` table (a named configuration of a connector type).

``config`` is JSON without secrets; ``secrets`` is one sealed token (``core/secrets.py``) or NULL,
stored as alert channels are (``core/storage/named_rows.py``). This module never opens the token: it stores and returns it as it is, so nothing here can leak a
secret. Names are 1–32 characters ``[A-Za-z0-9_.-]``, unique whatever their case (``name_key``).
The row ``local`` (files under the allowed data folders) is built in: created by migration 0006,
never removed or renamed, its config always empty.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from sqlalchemy import Connection, delete, func, select, update

from vision_widgets.core.errors import NotFound
from vision_widgets.core.storage import named_rows, schema

BUILT_IN = "local"

t = schema.connectors


@dataclass(frozen=True)
class ConnectorRow:
    """One stored connector as the table holds it (``secrets`` is the sealed token, never values)."""

    name: str
    type: str
    description: str
    config: dict
    secrets: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    last_test_at: datetime | None
    last_test_ok: bool | None
    last_test_ms: float | None
    last_test_message: str

    @property
    def built_in(self) -> bool:
        return self.name.lower() == BUILT_IN


def check_name(name: str) -> str:
    """``name`` stripped, or ``InvalidInput`` saying what a name may hold."""
    return named_rows.check_name(name, "A connector", "warehouse-prod")


def _row(r: Mapping[str, Any]) -> ConnectorRow:
    return ConnectorRow(
        name=r["name"], type=r["type"], description=r["description"] or "",
        config=named_rows.config_of(r["config"]), secrets=r["secrets"],
        created_by=r["created_by"], created_at=r["created_at"], updated_at=r["updated_at"],
        last_test_at=r["last_test_at"], last_test_ok=r["last_test_ok"], last_test_ms=r["last_test_ms"],
        last_test_message=r["last_test_message"] or "",
    )


def find(conn: Connection, name: str) -> ConnectorRow | None:
    """The connector called ``name`` (any case), or None."""
    r = named_rows.find(conn, t, name)
    return _row(r) if r is not None else None


def lock(conn: Connection, *names: str) -> None:
    """Hold the rows of the connectors ``names`` (any case; missing ones are skipped) until the write
    transaction ends, in name order so two of these never deadlock (SQLite ignores it)."""
    keys = sorted({(n or "").strip().lower() for n in names if (n or "").strip()})
    conn.execute(select(t.c.id).where(t.c.name_key.in_(keys)).order_by(t.c.name_key).with_for_update())


def get(conn: Connection, name: str) -> ConnectorRow:
    """The connector called ``name``; ``NotFound`` naming it otherwise."""
    found = find(conn, name)
    if found is None:
        raise NotFound(f"There is no connector named {name!r}; `vision connectors list` shows them.")
    return found


def list_all(conn: Connection) -> list[ConnectorRow]:
    """Every stored connector, the built-in ``local`` first, then by name."""
    rows = [_row(r) for r in conn.execute(select(t).order_by(t.c.name_key)).mappings()]
    return sorted(rows, key=lambda c: (not c.built_in, c.name.lower()))


def insert(conn: Connection, name: str, type_name: str, description: str, config: Mapping[str, Any],
           secrets: str | None, created_by: str, now: datetime) -> ConnectorRow:
    """Add a connector; ``Conflict`` when the name is taken (whatever its case)."""
    name = check_name(name)
    named_rows.insert(conn, t, name, config, f"A connector named {name!r} exists already; choose another name.",
                      type=type_name, description=description or "", secrets=secrets, created_by=created_by,
                      created_at=now, updated_at=now, last_test_message="")
    return get(conn, name)


def update_row(conn: Connection, name: str, now: datetime, *, config: Mapping[str, Any] | None = None,
               secrets: str | None = None, description: str | None = None,
               version: datetime | None = None) -> ConnectorRow:
    """Replace the given columns of ``name`` (None: keep). A changed configuration forgets the last
    test: it said something about the old one. ``updated_at`` is the row's version (``record_test``
    compares it), so it strictly increases even when the clock does not (a coarse or skewed clock).
    ``version``: the ``updated_at`` the change was built on; ``Conflict`` if the row moved on since."""
    current = get(conn, name)
    given = {"config": config, "secrets": secrets, "description": description}
    values: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    if config is not None or secrets is not None:
        values.update(last_test_at=None, last_test_ok=None, last_test_ms=None, last_test_message="")
    named_rows.update_versioned(conn, t, t.c.name_key == current.name.lower(), current.name, current.updated_at,
                                now, values, version)
    return get(conn, name)


def replace_token(conn: Connection, name: str, secrets: str) -> None:
    """The same secrets sealed again (a new key): nothing else changes, the last test still holds."""
    named_rows.replace_token(conn, t, name, secrets)


def record_test(conn: Connection, name: str, at: datetime, ok: bool, latency_ms: float | None, message: str,
                tested: datetime | None = None) -> bool:
    """Keep the result of the latest connection test (Monitoring reads it). With ``tested`` (the
    ``updated_at`` of the row the test read), only if the connector was not changed since: a test of
    the old settings must not be shown as the new ones'. Whether it was kept."""
    where = t.c.name_key == name.lower()
    if tested is not None:
        where = where & (t.c.updated_at == tested)
    done = conn.execute(update(t).where(where).values(
        last_test_at=at, last_test_ok=ok, last_test_ms=latency_ms, last_test_message=message,
    ))
    return bool(done.rowcount)


def remove(conn: Connection, name: str) -> None:
    """Delete the row (the service has checked that no model uses it)."""
    conn.execute(delete(t).where(t.c.name_key == name.lower()))


def models_using(conn: Connection, name: str) -> list[str]:
    """Names of the models registered through connector ``name``, sorted."""
    m = schema.models
    rows = conn.execute(select(m.c.name).where(func.lower(m.c.connector) == name.lower()).order_by(m.c.name_key))
    return [r[0] for r in rows]


def models_by_connector(conn: Connection) -> dict[str, list[str]]:
    """Model names per connector name (lower-cased key), for a listing in one query."""
    m = schema.models
    found: dict[str, list[str]] = {}
    for connector, model in conn.execute(select(m.c.connector, m.c.name).order_by(m.c.name_key)):
        found.setdefault((connector or "").lower(), []).append(model)
    return found


def move_models(conn: Connection, source: str, target: str, now: datetime) -> int:
    """Point every model of ``source`` at ``target`` (inside the caller's transaction); how many moved."""
    m = schema.models
    done = conn.execute(update(m).where(func.lower(m.c.connector) == source.lower())
                        .values(connector=target, updated_at=now))
    return int(done.rowcount or 0)
