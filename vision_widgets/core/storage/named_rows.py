"""Rows named by an admin, holding settings as JSON and their secrets as one sealed token.

Connectors (``core/catalog/connector_store.py``) and alert channels (``core/notify/channel_store.py``)
are stored alike: a name of 1–32 characters ``[A-Za-z0-9_.-]``, unique whatever its case (the
``name_key`` column, lower-cased), ``config`` as JSON without secrets, ``secrets`` a token sealed by
``core/secrets.py`` (or NULL) that this module never opens, and ``updated_at`` as the row's version.
The stores keep their own public functions and columns; what they share is here, once:

- a name checked with one message saying what a name may hold;
- an insert refused with ``Conflict`` when the name is taken, also when another admin added it in
  the same instant (the unique index, ``unique_or_conflict``);
- an update whose ``updated_at`` strictly increases (even on a coarse or skewed clock) and which,
  given the ``version`` it was built on, is conditional on it: ``Conflict`` when another admin saved
  the row since, rather than putting back what they changed (a secret merged from the old ones).
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, RowMapping, Table, select, update

from vision_widgets.core.errors import Conflict, InvalidInput
from vision_widgets.core.storage.engine import unique_or_conflict

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


def check_name(name: str, noun: str, example: str) -> str:
    """``name`` stripped, or ``InvalidInput`` saying what the name of a ``noun`` may hold."""
    name = (name or "").strip()
    if not _NAME.match(name):
        raise InvalidInput(f"{noun}'s name is 1–32 letters, digits, dots, dashes or underscores "
                           f"(e.g. {example}).", field="name")
    return name


def key_of(name: str) -> str:
    """The ``name_key`` a name is found by, whatever its case."""
    return (name or "").strip().lower()


def config_of(raw: str | None) -> dict:
    """The stored JSON settings as a dict (``{}`` when missing or not an object)."""
    try:
        config = json.loads(raw or "{}")
    except ValueError:
        return {}
    return config if isinstance(config, dict) else {}


def dump_config(config: Mapping[str, Any]) -> str:
    """Settings as the ``config`` column holds them (sorted keys: the same settings, the same text)."""
    return json.dumps(dict(config), sort_keys=True)


def find(conn: Connection, table: Table, name: str) -> RowMapping | None:
    """The row of ``table`` named ``name`` (any case), or None."""
    return conn.execute(select(table).where(table.c.name_key == key_of(name))).mappings().first()


def insert(conn: Connection, table: Table, name: str, config: Mapping[str, Any], taken: str,
           **values: Any) -> None:
    """Insert a row named ``name`` (already checked) with ``config`` and ``values``;
    ``Conflict(taken)`` when the name is taken (whatever its case)."""
    if find(conn, table, name) is not None:
        raise Conflict(taken)
    with unique_or_conflict(taken):  # added meanwhile by another admin
        conn.execute(table.insert().values(name=name, name_key=name.lower(), config=dump_config(config), **values))


def update_versioned(conn: Connection, table: Table, where: ColumnElement[bool], name: str, updated_at: datetime,
                     now: datetime, values: dict[str, Any], version: datetime | None) -> None:
    """Write ``values`` (a ``config`` mapping is stored as JSON) into the row ``where`` selects, named
    ``name`` and last updated at ``updated_at``; its new ``updated_at`` is ``now`` or just after the old.
    With ``version`` only if the row is still that version; ``Conflict`` otherwise."""
    if "config" in values:
        values = {**values, "config": dump_config(values["config"])}
    if now <= updated_at:
        now = updated_at + timedelta(microseconds=1)
    if version is not None:  # conditional: PostgreSQL re-checks it after waiting for a concurrent save
        where = where & (table.c.updated_at == version)
    if conn.execute(update(table).where(where).values(updated_at=now, **values)).rowcount != 1:
        # another admin saved it since ``version`` was read: writing this over it would put back what they
        # changed (a secret merged from the old ones, an old setting)
        raise Conflict(f"{name} was changed meanwhile by another admin; reload it and save again.")


def replace_token(conn: Connection, table: Table, name: str, secrets: str) -> None:
    """The same secrets sealed again (a new key): nothing else changes, not even the version."""
    conn.execute(update(table).where(table.c.name_key == name.lower()).values(secrets=secrets))
