"""Logins and sessions.

A login returns a random token (``secrets.token_urlsafe(32)``); the database
keeps only its SHA-256, with an expiry renewed by activity. Failed logins are
counted in the database so every kernel (every browser tab is its own process)
sees the same count, and an account locks for a while after repeated failures.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from vision_widgets.core import schema, users
from vision_widgets.core.context import Context
from vision_widgets.core.errors import AccountLocked, AuthenticationError, SessionExpired
from vision_widgets.core.passwords import burn_verify, hash_password, needs_rehash, verify_password
from vision_widgets.core.rbac import Permission, permissions_for

#: The same words for an unknown user and a wrong password: the form must not
#: tell an attacker which usernames exist.
WRONG_CREDENTIALS = "Wrong username or password."


@dataclass(frozen=True)
class Principal:
    """Who is acting: the account and the session it acts through."""

    user_id: int
    username: str
    persona: str
    profile: str
    lob: str
    sub_lob: str
    owned_model: str
    # The SHA-256 of the session token, so services can check the session is
    # still alive. The token itself is never kept after login.
    session_id: str = field(repr=False, compare=False)

    @property
    def permissions(self) -> frozenset[Permission]:
        return permissions_for(self.profile)

    @property
    def is_admin(self) -> bool:
        return Permission.MANAGE_ACCESS in self.permissions


@dataclass(frozen=True)
class Session:
    """The result of a login. ``token`` is the bearer secret: show it to no one."""

    token: str = field(repr=False)
    principal: Principal
    expires_at: datetime


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _principal(row, session_id: str) -> Principal:
    return Principal(
        user_id=row["id"],
        username=row["username"],
        persona=row["persona"],
        profile=row["profile"],
        lob=row["lob"],
        sub_lob=row["sub_lob"],
        owned_model=row["owned_model"],
        session_id=session_id,
    )


def _locked_message(until: datetime) -> str:
    return (
        f"This account is locked after repeated failed logins until {until:%H:%M} UTC "
        f"({until:%Y-%m-%d}). Try again then, or ask an administrator to unlock it."
    )


def count_failure(conn, row, now: datetime, settings) -> AuthenticationError:
    """Count one wrong password for the account in ``row``; lock it at the threshold.

    Returns the error to raise *after* the caller's transaction commits, so the
    count is kept. Used by login and by the password change (a live session must
    not allow unlimited guesses of the current password either).
    """
    failed = (row["failed_logins"] or 0) + 1
    if failed >= settings.lockout_threshold:
        until = now + timedelta(seconds=settings.lockout_seconds)
        conn.execute(update(schema.users).where(schema.users.c.id == row["id"]).values(failed_logins=0, locked_until=until))
        conn.execute(delete(schema.sessions).where(schema.sessions.c.user_id == row["id"]))
        return AccountLocked(_locked_message(until))
    conn.execute(update(schema.users).where(schema.users.c.id == row["id"]).values(failed_logins=failed))
    return AuthenticationError(WRONG_CREDENTIALS)


def login(ctx: Context, username: str, password: str) -> Session:
    """Check the credentials and open a session, or raise ``AuthenticationError``.

    The Argon2 check (a few hundred ms on purpose) runs outside any transaction:
    SQLite has one write lock for the whole file, and a flood of guesses must not
    hold it while every other tab waits. The short write that follows re-reads
    the account, so a lock or a password change made meanwhile by another tab wins.
    """
    now = ctx.now()
    settings = ctx.settings
    username = (username or "").strip()
    with ctx.store.read() as conn:
        # Usernames are unique ignoring case, so "Alice" logs in as "alice".
        seen = users.get_row(conn, username, any_case=True) if username else None
    if seen is None:
        burn_verify(password or "")
        raise AuthenticationError(WRONG_CREDENTIALS)
    if seen["locked_until"] is not None and seen["locked_until"] > now:
        raise AccountLocked(_locked_message(seen["locked_until"]))
    correct = verify_password(seen["password_hash"], password or "")
    new_hash = hash_password(password) if correct and needs_rehash(seen["password_hash"]) else None

    error: AuthenticationError | None = None
    with ctx.store.write() as conn:
        row = users.get_row(conn, seen["username"])
        if row is None or row["password_hash"] != seen["password_hash"]:
            error = AuthenticationError(WRONG_CREDENTIALS)  # removed, or its password changed meanwhile
        elif row["locked_until"] is not None and row["locked_until"] > now:
            error = AccountLocked(_locked_message(row["locked_until"]))
        elif not correct:
            error = count_failure(conn, row, now, settings)
        else:
            values = {"failed_logins": 0, "locked_until": None, "last_login": now}
            if new_hash is not None:
                values["password_hash"] = new_hash
            conn.execute(update(schema.users).where(schema.users.c.id == row["id"]).values(**values))
            token = secrets.token_urlsafe(32)
            expires = now + timedelta(seconds=settings.token_ttl_seconds)
            digest = token_hash(token)
            # Housekeeping in the same transaction: expired sessions of this account go.
            conn.execute(
                delete(schema.sessions).where(
                    (schema.sessions.c.user_id == row["id"]) & (schema.sessions.c.expires_at <= now)
                )
            )
            conn.execute(
                schema.sessions.insert().values(token_hash=digest, user_id=row["id"], created_at=now, expires_at=expires)
            )
    # Raised after the transaction commits, so the failed-attempt count is kept.
    if error is not None:
        raise error
    return Session(token=token, principal=_principal(row, digest), expires_at=expires)


#: A session's expiry is written again only when it is older than this: most
#: actions then need no write transaction at all.
RENEW_AFTER_SECONDS = 60


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
    if row["expires_at"] < now + ttl - timedelta(seconds=RENEW_AFTER_SECONDS):
        with ctx.store.write() as conn:
            # Only if it still exists: a logout or revocation in another tab wins.
            done = conn.execute(update(s).where(s.c.token_hash == session_id).values(expires_at=now + ttl))
        if done.rowcount == 0:
            raise SessionExpired()
    return _principal(row, session_id)


def authenticate(ctx: Context, principal: Principal) -> Principal:
    """Check the principal's session is alive, renew it, and return the account as it is now.

    The returned principal carries the *current* profile, so a demotion takes
    effect on the next action, not the next login.
    """
    return _touch(ctx, principal.session_id)


def resume(ctx: Context, token: str) -> Principal:
    """The principal behind a bearer token (for HTTP API calls)."""
    if not token:
        raise SessionExpired()
    return _touch(ctx, token_hash(token))


def logout(ctx: Context, principal: Principal) -> None:
    """End this session (idempotent)."""
    with ctx.store.write() as conn:
        conn.execute(delete(schema.sessions).where(schema.sessions.c.token_hash == principal.session_id))


def operator_session(ctx: Context, username: str) -> Principal:
    """A session for ``username`` without a password, for trusted local jobs (``vision init --demo``).

    Only the command line calls this: whoever runs it can already write the
    database. No web handler or view may. End it with ``logout``.
    """
    now = ctx.now()
    token = secrets.token_urlsafe(32)
    digest = token_hash(token)
    with ctx.store.write() as conn:
        row = users.get_row(conn, username)
        if row is None:
            raise AuthenticationError(f"There is no account named {username!r}; run `vision init` first.")
        conn.execute(schema.sessions.insert().values(
            token_hash=digest, user_id=row["id"], created_at=now,
            expires_at=now + timedelta(seconds=ctx.settings.token_ttl_seconds),
        ))
    return _principal(row, digest)
