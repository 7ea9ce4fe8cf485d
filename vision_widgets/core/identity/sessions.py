"""Sessions: a random bearer token per login, kept in the database only as its hash.

A session's expiry is renewed by activity; logout, a password change and the
removal of the account end it. Every kernel (one per browser tab) and the HTTP
API resolve a session through here, so they all see the same state.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, select, update

from vision_widgets.core.context import Context
from vision_widgets.core.errors import AuthenticationError, SessionExpired
from vision_widgets.core.identity import users
from vision_widgets.core.identity.principal import Principal, from_row
from vision_widgets.core.storage import schema


@dataclass(frozen=True)
class Session:
    """The result of a login. ``token`` is the bearer secret: show it to no one."""

    token: str = field(repr=False)
    principal: Principal
    expires_at: datetime


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def open_session(conn: Connection, user_id: int, now: datetime, ttl_seconds: int) -> tuple[str, str, datetime]:
    """Insert a new session for ``user_id`` inside the caller's transaction.

    Returns ``(token, token_hash, expires_at)``; only the hash is stored.
    """
    token = secrets.token_urlsafe(32)
    digest = token_hash(token)
    expires = now + timedelta(seconds=ttl_seconds)
    conn.execute(schema.sessions.insert().values(token_hash=digest, user_id=user_id, created_at=now, expires_at=expires))
    return token, digest, expires


#: A session's expiry is written again only when it was last written at least this
#: long ago: most actions then need no write transaction at all.
RENEW_AFTER_SECONDS = 60


def renew_after(ttl_seconds: float) -> float:
    """Seconds after its last renewal that activity renews a session: 60, or a quarter of the TTL.

    With a fixed 60 s a TTL of 60 s or less (``VISION_TOKEN_TTL`` may be 30) was never
    renewed: the session always expired first. A quarter keeps the saving (one write
    per quarter TTL at most) and renews a session that is used at least every ¾ TTL.
    """
    return min(RENEW_AFTER_SECONDS, ttl_seconds / 4)


def _touch(ctx: Context, session_id: str) -> Principal:
    now = ctx.now()
    ttl = timedelta(seconds=ctx.settings.token_ttl_seconds)
    s, u = schema.sessions, schema.users
    query = select(u, s.c.expires_at).join(s, s.c.user_id == u.c.id).where(s.c.token_hash == session_id)
    with ctx.store.read() as conn:
        row = conn.execute(query).mappings().first()
    alive = row is not None and row["expires_at"] > now
    if not alive:
        if row is not None:
            with ctx.store.write() as conn:
                conn.execute(delete(s).where((s.c.token_hash == session_id) & (s.c.expires_at <= now)))
        raise SessionExpired()
    if row["expires_at"] <= now + ttl - timedelta(seconds=renew_after(ttl.total_seconds())):
        with ctx.store.write() as conn:
            # Only if it still exists: a logout or revocation in another tab wins.
            done = conn.execute(update(s).where(s.c.token_hash == session_id).values(expires_at=now + ttl))
        if done.rowcount == 0:
            raise SessionExpired()
    return from_row(row, session_id)


def authenticate(ctx: Context, principal: Principal) -> Principal:
    """Check the principal's session is alive, renew it, and return the account as it is now.

    The returned principal carries the *current* profile, so a demotion takes
    effect on the next action, not the next login.
    """
    return _touch(ctx, principal.session_id)


def peek(ctx: Context, principal: Principal) -> Principal:
    """Like ``authenticate`` but without renewing the session: for what a tab asks on its own timer
    (the header's unread count), which must not keep an idle session alive."""
    s, u = schema.sessions, schema.users
    query = select(u, s.c.expires_at).join(s, s.c.user_id == u.c.id).where(s.c.token_hash == principal.session_id)
    with ctx.store.read() as conn:
        row = conn.execute(query).mappings().first()
    if row is None or row["expires_at"] <= ctx.now():
        raise SessionExpired()
    return from_row(row, principal.session_id)


def resume(ctx: Context, token: str) -> Principal:
    """The principal behind a bearer token (for HTTP API calls)."""
    if not token:
        raise SessionExpired()
    return _touch(ctx, token_hash(token))


def by_id(ctx: Context, session_id: str) -> Principal:
    """The principal of the live session whose hash is ``session_id`` (renewed); ``SessionExpired`` otherwise."""
    if not session_id:
        raise SessionExpired()
    return _touch(ctx, session_id)


def logout(ctx: Context, principal: Principal) -> None:
    """End this session (idempotent)."""
    end(ctx, principal.session_id)


def end(ctx: Context, session_id: str) -> None:
    """Delete the session whose hash is ``session_id`` (idempotent); its pending codes go with it."""
    with ctx.store.write() as conn:
        conn.execute(delete(schema.sessions).where(schema.sessions.c.token_hash == session_id))


def operator_session(ctx: Context, username: str) -> Principal:
    """A session for ``username`` without a password, for trusted local jobs (``vision init --demo``).

    Only the command line calls this: whoever runs it can already write the
    database. No web handler or view may. End it with ``logout``.
    """
    now = ctx.now()
    with ctx.store.write() as conn:
        row = users.get_row(conn, username)
        if row is None:
            raise AuthenticationError(f"There is no account named {username!r}; run `vision init` first.")
        _token, digest, _expires = open_session(conn, row["id"], now, ctx.settings.token_ttl_seconds)
    return from_row(row, digest)


def purge_expired(conn: Connection, now: datetime) -> int:
    """Delete every session that expired by ``now`` (the worker does it every few minutes); returns how many.

    A dead session is also deleted when someone presents it; this removes the
    ones nobody comes back with (a closed laptop, a tab left open for a week).
    """
    s = schema.sessions
    return conn.execute(delete(s).where(s.c.expires_at <= now)).rowcount
