"""Logging in: the password check, failed-login counting and lockout.

Failed logins are counted in the database so every kernel (every browser tab
is its own process) sees the same count, and an account locks for a while
after repeated failures. A successful login opens a session (``sessions``).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, update

from vision_widgets.core.context import Context
from vision_widgets.core.errors import AccountLocked, AuthenticationError
from vision_widgets.core.identity import sessions, users
from vision_widgets.core.identity.passwords import (
    burn_verify,
    hash_password,
    needs_rehash,
    verify_password,
)
from vision_widgets.core.identity.principal import from_row
from vision_widgets.core.storage import schema

#: The same words for an unknown user and a wrong password: the form must not
#: tell an attacker which usernames exist.
WRONG_CREDENTIALS = "Wrong username or password."


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


def login(ctx: Context, username: str, password: str) -> "sessions.Session":
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
        row = users.get_row(conn, seen["username"], lock=True)  # the failure count is read, then written
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
            # Housekeeping in the same transaction: expired sessions of this account go.
            conn.execute(
                delete(schema.sessions).where(
                    (schema.sessions.c.user_id == row["id"]) & (schema.sessions.c.expires_at <= now)
                )
            )
            token, digest, expires = sessions.open_session(conn, row["id"], now, settings.token_ttl_seconds)
    # Raised after the transaction commits, so the failed-attempt count is kept.
    if error is not None:
        raise error
    return sessions.Session(token=token, principal=from_row(row, digest), expires_at=expires)


