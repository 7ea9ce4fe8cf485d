"""Account records and their invariants, inside the caller's transaction.

These functions do not check who is acting: ``services.accounts`` does that
before calling them, and the ``vision users`` CLI (an operator with access to
the database) calls them directly. The invariants that must hold whoever acts
— unique usernames, at least one admin, valid fields — are enforced here.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from vision_widgets.core.errors import Conflict, InvalidInput, NotFound
from vision_widgets.core.identity.passwords import hash_password, validate_username
from vision_widgets.core.identity.rbac import ADMIN, ROLES
from vision_widgets.core.storage import schema
from vision_widgets.core.storage.engine import serialise

_FIELD_LIMIT = 64


@dataclass(frozen=True)
class Account:
    """What the UI may show about an account (never the hash)."""

    username: str
    persona: str
    role: str
    lob: str
    sub_lob: str
    notes: str
    owned_model: str
    created_at: datetime
    last_login: datetime | None
    locked_until: datetime | None

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


@dataclass(frozen=True)
class NewAccount:
    """The fields an admin (or users.json) gives for a new account."""

    username: str
    persona: str
    role: str
    lob: str = ""
    sub_lob: str = ""
    notes: str = ""
    owned_model: str = ""

    def validated(self) -> "NewAccount":
        """Return self if every field is acceptable, else raise ``InvalidInput``."""
        validate_username(self.username)
        validate_role(self.role)
        for name in ("persona", "lob", "sub_lob", "owned_model"):
            value = getattr(self, name)
            if not isinstance(value, str) or len(value) > _FIELD_LIMIT or any(c in value for c in "\r\n\t"):
                raise InvalidInput(f"{name.replace('_', ' ')} must be text of at most {_FIELD_LIMIT} characters on one line.")
        if not self.persona.strip():
            raise InvalidInput("Give the account a persona (e.g. Data Scientist).")
        if not isinstance(self.notes, str) or len(self.notes) > 1000:
            raise InvalidInput("notes must be text of at most 1000 characters.")
        return self


def validate_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInput(f"The role must be one of: {', '.join(ROLES)} (got {role!r}).", field="role")
    return role


def _account(row) -> Account:
    return Account(
        username=row["username"],
        persona=row["persona"],
        role=row["role"],
        lob=row["lob"],
        sub_lob=row["sub_lob"],
        notes=row["notes"],
        owned_model=row["owned_model"],
        created_at=row["created_at"],
        last_login=row["last_login"],
        locked_until=row["locked_until"],
    )


def list_all(conn: Connection) -> list[Account]:
    t = schema.users
    return [_account(r) for r in conn.execute(select(t).order_by(t.c.username)).mappings()]


def get_row(conn: Connection, username: str, any_case: bool = False, *, lock: bool = False):
    """The full row (including the hash) for ``username``, or ``None``.

    ``lock``: hold the row until the write transaction ends (``FOR UPDATE``; SQLite, whose writers never
    overlap, ignores it), for a read-modify-write such as counting a failed login: on PostgreSQL two
    servers counting at once would otherwise both read 3 and both write 4.
    """
    t = schema.users
    match = func.lower(t.c.username) == username.lower() if any_case else t.c.username == username
    query = select(t).where(match)
    return conn.execute(query.with_for_update() if lock else query).mappings().first()


def get(conn: Connection, username: str) -> Account:
    row = get_row(conn, username)
    if row is None:
        raise NotFound(f"There is no account named {username!r}; check the spelling in the accounts table.")
    return _account(row)


def exists(conn: Connection, username: str) -> bool:
    return get_row(conn, username) is not None


def insert(conn: Connection, new: NewAccount, password_hash: str, now: datetime) -> Account:
    """Add an account with an existing Argon2id hash (users.json, or one just made)."""
    new.validated()
    # Case-insensitive uniqueness: "Alice" and "alice" on one login form would confuse everyone. The
    # unique index is case-sensitive, so on PostgreSQL the check runs one creator at a time.
    serialise(conn, "account names")
    clash = conn.execute(
        select(schema.users.c.username).where(func.lower(schema.users.c.username) == new.username.lower())
    ).first()
    if clash is not None:
        raise Conflict(f"An account named {clash[0]!r} already exists; choose another username.")
    try:
        conn.execute(
            schema.users.insert().values(
                username=new.username,
                password_hash=password_hash,
                persona=new.persona,
                role=new.role,
                lob=new.lob,
                sub_lob=new.sub_lob,
                notes=new.notes,
                owned_model=new.owned_model,
                created_at=now,
                failed_logins=0,
                password_changed_at=now,
            )
        )
    except IntegrityError:
        raise Conflict(f"An account named {new.username!r} already exists; choose another username.") from None
    return get(conn, new.username)


def _lock_admins(conn: Connection) -> int:
    """Lock the admins' rows until the write transaction ends and return how many there are.

    Taken BEFORE the account is read: on PostgreSQL two admins demoting each other at once would
    otherwise both count two admins and leave none. The second waits here, then its FOR UPDATE re-reads
    the rows the first changed, so it counts one; its read of the account comes after, so it sees the
    first one's change too. Always in id order, so two of these never deadlock. (SQLite ignores
    FOR UPDATE: its writers never overlap.)
    """
    t = schema.users
    return len(conn.execute(select(t.c.id).where(t.c.role == ADMIN).order_by(t.c.id).with_for_update()).all())


def _ensure_not_last_admin(account: Account, admins: int, verb: str) -> None:
    if account.role == ADMIN and admins <= 1:
        raise Conflict(f"{account.username!r} is the last admin; make another account admin before you {verb} it.")


def remove(conn: Connection, username: str) -> None:
    """Delete an account and (by cascade and explicitly) its sessions."""
    admins = _lock_admins(conn)
    account = get(conn, username)
    _ensure_not_last_admin(account, admins, "remove")
    owned = conn.execute(
        select(func.count()).select_from(schema.models).where(schema.models.c.owner == account.username)
    ).scalar_one()
    if owned:
        # Models are owned by username: a later account of the same name would inherit them.
        raise Conflict(f"{account.username!r} owns {owned} model(s); delete them (or ask their owner to) "
                       "before removing the account.")
    row = get_row(conn, username)
    conn.execute(delete(schema.sessions).where(schema.sessions.c.user_id == row["id"]))
    conn.execute(delete(schema.users).where(schema.users.c.id == row["id"]))


def set_role(conn: Connection, username: str, role: str) -> tuple[Account, str]:
    """Give ``username`` the role ``role``; returns the account and the role it had before this call
    changed it (its role now when this call changed nothing: two admins promoting it at once)."""
    validate_role(role)
    admins = _lock_admins(conn) if role != ADMIN else 0
    account = get(conn, username)
    if account.role == role:
        return account, role
    if role != ADMIN:
        _ensure_not_last_admin(account, admins, "demote")
    t = schema.users
    done = conn.execute(update(t).where((t.c.username == username) & (t.c.role != role)).values(role=role))
    return get(conn, username), account.role if done.rowcount == 1 else role


def set_password(conn: Connection, username: str, new_password: str, now: datetime) -> None:
    """Store a new hash, clear any lock, and end every session of the account."""
    set_password_hash(conn, username, hash_password(new_password), now)


def set_password_hash(conn: Connection, username: str, password_hash: str, now: datetime) -> None:
    """``set_password`` with a hash made beforehand (outside the transaction: Argon2 is slow)."""
    row = get_row(conn, username)
    if row is None:
        raise NotFound(f"There is no account named {username!r}.")
    conn.execute(
        update(schema.users)
        .where(schema.users.c.id == row["id"])
        .values(password_hash=password_hash, password_changed_at=now, failed_logins=0, locked_until=None)
    )
    revoke_sessions(conn, row["id"])


def unlock(conn: Connection, username: str) -> Account:
    get(conn, username)
    conn.execute(
        update(schema.users).where(schema.users.c.username == username).values(failed_logins=0, locked_until=None)
    )
    return get(conn, username)


def revoke_sessions(conn: Connection, user_id: int) -> None:
    conn.execute(delete(schema.sessions).where(schema.sessions.c.user_id == user_id))
