"""API keys: credentials an admin issues for automation (a pipeline sending usage records).

A key is ``vsk_`` + ``secrets.token_urlsafe(32)``, shown once when it is issued and
stored only as its SHA-256 (like sessions and upload tokens), so a copy of the database
holds no usable key. A key has a ``scope`` (what it may do; today only ``usage``: send
usage records for any model), may expire, and is revoked rather than deleted, so the
audit log and the key list still say whose it was.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update

from vision_widgets.core.errors import AuthenticationError, NotFound, PermissionDenied
from vision_widgets.core.identity.sessions import token_hash
from vision_widgets.core.storage import schema

PREFIX = "vsk_"
SCOPES = ("usage",)


@dataclass(frozen=True)
class ApiKey:
    """A key as listed: never the key itself, never its hash."""

    id: int
    name: str
    scope: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    def state(self, now: datetime) -> str:
        """``active``, ``expired`` or ``revoked``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


def _key(row) -> ApiKey:
    return ApiKey(int(row["id"]), row["name"], row["scope"], row["created_by"], row["created_at"],
                  row["expires_at"], row["revoked_at"], row["last_used_at"])


def looks_like_key(token: str) -> bool:
    """Whether a bearer credential is an API key (else it may be an upload token)."""
    return token.startswith(PREFIX)


def issue(conn: Connection, name: str, scope: str, created_by: str, now: datetime,
          expires_at: datetime | None) -> tuple[str, ApiKey]:
    """Store a new key's hash; returns (the key, shown once, and its listing)."""
    key = PREFIX + secrets.token_urlsafe(32)
    new_id = conn.execute(schema.api_keys.insert().values(
        key_hash=token_hash(key), name=name, scope=scope, created_by=created_by, created_at=now,
        expires_at=expires_at,
    )).inserted_primary_key[0]
    return key, get(conn, int(new_id))


def get(conn: Connection, key_id: int) -> ApiKey:
    row = conn.execute(select(schema.api_keys).where(schema.api_keys.c.id == key_id)).mappings().first()
    if row is None:
        raise NotFound(f"There is no API key with id {key_id}; `vision api-keys list` shows them.")
    return _key(row)


def listed(conn: Connection) -> list[ApiKey]:
    """Every key, newest first (revoked and expired ones too)."""
    t = schema.api_keys
    return [_key(r) for r in conn.execute(select(t).order_by(t.c.created_at.desc(), t.c.id.desc())).mappings()]


def active_name_taken(conn: Connection, name: str) -> bool:
    t = schema.api_keys
    return conn.execute(select(t.c.id).where((t.c.name == name) & t.c.revoked_at.is_(None))).first() is not None


def revoke(conn: Connection, key_id: int, now: datetime) -> tuple[ApiKey, bool]:
    """Revoke a key; returns it and whether this call revoked it (idempotent: a revoked key keeps its
    first revocation time). Conditional, so of two revocations at once only one changes the row."""
    t = schema.api_keys
    get(conn, key_id)  # NotFound
    done = conn.execute(update(t).where((t.c.id == key_id) & t.c.revoked_at.is_(None)).values(revoked_at=now))
    return get(conn, key_id), done.rowcount == 1


def holder(conn: Connection, key: str, scope: str, now: datetime) -> ApiKey:
    """The live key behind ``key`` with ``scope``.

    ``AuthenticationError`` (401) for an unknown, revoked or expired key, ``PermissionDenied``
    (403) for a key of another scope. Marks the key used (``last_used_at``) inside the caller's
    transaction.
    """
    row = conn.execute(select(schema.api_keys).where(schema.api_keys.c.key_hash == token_hash(key))).mappings().first()
    if row is None:
        raise AuthenticationError("The API key is not valid; ask an administrator for a key.")
    found = _key(row)
    if found.revoked_at is not None:
        raise AuthenticationError("This API key was revoked; ask an administrator for a new one.")
    if found.expires_at is not None and found.expires_at <= now:
        raise AuthenticationError("This API key expired; ask an administrator for a new one.")
    if found.scope != scope:
        raise PermissionDenied(f"This API key is for {found.scope!r}, not {scope!r}.")
    return found


def touch(conn: Connection, key_id: int, now: datetime) -> None:
    """Record that a key was used (inside the transaction its use writes)."""
    conn.execute(update(schema.api_keys).where(schema.api_keys.c.id == key_id).values(last_used_at=now))
