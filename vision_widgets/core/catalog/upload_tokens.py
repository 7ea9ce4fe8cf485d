"""Upload tokens: let a restricted client submit profiles for ONE model.

A token is ``secrets.token_urlsafe(32)``, shown once to the owner, stored only
as its SHA-256, valid 24 hours, and spent by the first accepted submission.
"""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, select, update

from vision_widgets.core.errors import AuthenticationError, PermissionDenied
from vision_widgets.core.identity.sessions import token_hash
from vision_widgets.core.storage import schema

TOKEN_TTL = timedelta(hours=24)


def issue(conn: Connection, model_id: int, created_by: str, now: datetime) -> tuple[str, datetime]:
    """Make a token for ``model_id``; returns (token, expires_at). The token is not stored."""
    token = secrets.token_urlsafe(32)
    expires = now + TOKEN_TTL
    conn.execute(schema.upload_tokens.insert().values(
        token_hash=token_hash(token), model_id=model_id, created_by=created_by, created_at=now, expires_at=expires,
    ))
    return token, expires


def holder(conn: Connection, token: str, now: datetime, *, allow_used: bool = False) -> tuple[str, int]:
    """(hash, model id) of a valid token; ``AuthenticationError`` (HTTP 401) otherwise.

    Checked before the model named in the request is even looked up, so a caller
    without a valid token learns nothing about which models exist. ``allow_used``: a token
    spent by a profile submission still sends usage records until it expires (usage never
    spends it; docs/decisions.md, "Usage records").
    """
    if not token:
        raise AuthenticationError("An upload token is required (Authorization: Bearer <token>).")
    digest = token_hash(token)
    row = conn.execute(select(schema.upload_tokens).where(schema.upload_tokens.c.token_hash == digest)).mappings().first()
    if row is None:
        raise AuthenticationError("The upload token is not valid; ask the model's owner for a new one.")
    if row["used_at"] is not None and not allow_used:
        raise AuthenticationError("This upload token was already used; the model's owner can issue a new one.")
    if row["expires_at"] <= now:
        raise AuthenticationError("This upload token expired (tokens last 24 hours); the model's owner can issue a new one.")
    return digest, int(row["model_id"])


def check(conn: Connection, token: str, model_id: int, now: datetime) -> str:
    """Validate a token for ``model_id``; returns its hash (to ``spend`` it when the submission is stored).

    ``AuthenticationError`` (401) for a missing, unknown, expired or used token,
    ``PermissionDenied`` (403) for a token of another model.
    """
    digest, owner_model = holder(conn, token, now)
    if owner_model != model_id:
        raise PermissionDenied("This upload token belongs to another model; use the token issued for this model.")
    return digest


def check_hash(conn: Connection, digest: str, model_id: int, now: datetime) -> str:
    """``check`` for a token known by its hash (re-checked inside the storing transaction)."""
    row = conn.execute(select(schema.upload_tokens).where(schema.upload_tokens.c.token_hash == digest)).mappings().first()
    if row is None or row["used_at"] is not None or row["expires_at"] <= now:
        raise AuthenticationError("This upload token is no longer valid (used, expired or replaced); "
                                  "the model's owner can issue a new one.")
    if row["model_id"] != model_id:
        raise PermissionDenied("This upload token belongs to another model; use the token issued for this model.")
    return digest


def revoke_unused(conn: Connection, model_id: int) -> None:
    """Drop a model's tokens that were never used (a new token replaces them)."""
    t = schema.upload_tokens
    conn.execute(delete(t).where((t.c.model_id == model_id) & (t.c.used_at.is_(None))))


def spend(conn: Connection, digest: str, now: datetime) -> None:
    """Mark a token used, inside the transaction that stores its submission.

    Only while it is unused, in one conditional UPDATE: of two submissions racing with one token (on
    PostgreSQL the second waits for the first's row lock, then re-checks ``used_at``), one spends it and
    the other is refused, so a token stores one submission whatever the interleaving.
    """
    t = schema.upload_tokens
    spent = conn.execute(update(t).where((t.c.token_hash == digest) & t.c.used_at.is_(None)).values(used_at=now))
    if spent.rowcount != 1:
        raise AuthenticationError("This upload token was already used; the model's owner can issue a new one.")


def purge_expired(conn: Connection, before: datetime) -> int:
    """Delete tokens (used or not) that expired before ``before``; returns how many.

    Kept a while after expiry so a late client still hears "expired" rather than "not valid".
    """
    t = schema.upload_tokens
    return conn.execute(delete(t).where(t.c.expires_at < before)).rowcount
