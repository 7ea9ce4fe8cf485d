"""Account use cases: every function takes the acting principal and checks it.

Each call first proves the session is alive (``sessions.authenticate`` raises
``SessionExpired`` otherwise, and renews it), then checks the permission on
the account *as it is now*, then does the whole change, with its audit entry,
in one transaction.
"""
from __future__ import annotations

from vision_widgets.core import audit
from vision_widgets.core.audit import AuditEntry
from vision_widgets.core.context import Context
from vision_widgets.core.errors import (
    AccountLocked,
    AuthenticationError,
    Conflict,
    InvalidInput,
    SessionExpired,
)
from vision_widgets.core.identity import auth, users
from vision_widgets.core.identity.passwords import (
    check_password_policy,
    hash_password,
    verify_password,
)
from vision_widgets.core.identity.principal import Principal
from vision_widgets.core.identity.rbac import Permission
from vision_widgets.core.identity.users import Account, NewAccount
from vision_widgets.services.sessions import acting

__all__ = [
    "Account",
    "NewAccount",
    "my_account",
    "change_own_password",
    "list_accounts",
    "get_account",
    "create_account",
    "remove_account",
    "change_role",
    "reset_password",
    "unlock_account",
    "audit_log",
    "administrators",
]


def my_account(ctx: Context, principal: Principal) -> Account:
    """The acting principal's own account."""
    me = acting(ctx, principal, Permission.MANAGE_OWN_ACCOUNT)
    with ctx.store.read() as conn:
        return users.get(conn, me.username)


def change_own_password(ctx: Context, principal: Principal, current_password: str, new_password: str) -> None:
    """Change your password. Ends every session of the account, this one included."""
    me = acting(ctx, principal, Permission.MANAGE_OWN_ACCOUNT)
    check_password_policy(me.username, new_password, current_password)
    now = ctx.now()
    with ctx.store.read() as conn:
        seen = users.get_row(conn, me.username)
    # The Argon2 check runs outside the write transaction (see auth.login).
    correct = verify_password(seen["password_hash"], current_password)
    new_hash = hash_password(new_password) if correct else None
    with ctx.store.write() as conn:
        row = users.get_row(conn, me.username, lock=True)  # the failure count is read, then written
        if row is None or row["password_hash"] != seen["password_hash"]:
            raise SessionExpired("Your password was changed elsewhere; please log in again.")
        if not correct:
            # Counted like a failed login (a live session must not allow unlimited guesses).
            failure = auth.count_failure(conn, row, now, ctx.settings)
        else:
            failure = None
            users.set_password_hash(conn, me.username, new_hash, now)
            audit.record(conn, now, me.username, "change own password", me.username)
    if isinstance(failure, AccountLocked):
        raise SessionExpired(f"{failure} You have been logged out.")
    if failure is not None:
        raise AuthenticationError("The current password is wrong; nothing was changed.")


def list_accounts(ctx: Context, principal: Principal) -> list[Account]:
    """Every account (admins)."""
    acting(ctx, principal, Permission.MANAGE_ACCESS)
    with ctx.store.read() as conn:
        return users.list_all(conn)


def get_account(ctx: Context, principal: Principal, username: str) -> Account:
    """One account by name (admins); ``NotFound`` if there is none."""
    acting(ctx, principal, Permission.MANAGE_ACCESS)
    with ctx.store.read() as conn:
        return users.get(conn, username)


def create_account(ctx: Context, principal: Principal, new: NewAccount, initial_password: str) -> Account:
    """Add an account with an initial password under the policy (admins)."""
    admin = acting(ctx, principal, Permission.MANAGE_ACCESS)
    new = NewAccount(**{**new.__dict__, "username": new.username.strip()}).validated()
    check_password_policy(new.username, initial_password)
    password_hash = hash_password(initial_password)
    now = ctx.now()
    with ctx.store.write() as conn:
        account = users.insert(conn, new, password_hash, now)
        audit.record(conn, now, admin.username, "create account", new.username, f"role={new.role}")
    return account


def remove_account(ctx: Context, principal: Principal, username: str) -> None:
    """Remove an account and end its sessions (admins; never yourself, never the last admin)."""
    admin = acting(ctx, principal, Permission.MANAGE_ACCESS)
    if username == admin.username:
        raise Conflict("You cannot remove your own account; ask another admin.")
    now = ctx.now()
    with ctx.store.write() as conn:
        users.remove(conn, username)
        audit.record(conn, now, admin.username, "remove account", username)


def change_role(ctx: Context, principal: Principal, username: str, role: str) -> Account:
    """Make an account ``user`` or ``admin`` (admins; not your own, never the last admin)."""
    admin = acting(ctx, principal, Permission.MANAGE_ACCESS)
    if username == admin.username:
        raise Conflict("You cannot change your own role; ask another admin.")
    now = ctx.now()
    with ctx.store.write() as conn:
        account, before = users.set_role(conn, username, role)
        if before != account.role:  # audited by the one call that changed it
            audit.record(conn, now, admin.username, "change role", username, f"{before} → {role}")
    return account


def reset_password(ctx: Context, principal: Principal, username: str, new_password: str) -> None:
    """Set another account's password (admins); ends that account's sessions and unlocks it."""
    admin = acting(ctx, principal, Permission.MANAGE_ACCESS)
    if username == admin.username:
        raise InvalidInput("Change your own password on the My account page (it asks for the current one).")
    check_password_policy(username, new_password)
    password_hash = hash_password(new_password)  # before the write lock: Argon2 is slow on purpose
    now = ctx.now()
    with ctx.store.write() as conn:
        users.set_password_hash(conn, username, password_hash, now)
        audit.record(conn, now, admin.username, "reset password", username)


def unlock_account(ctx: Context, principal: Principal, username: str) -> Account:
    """Clear a lockout and the failed-login count (admins)."""
    admin = acting(ctx, principal, Permission.MANAGE_ACCESS)
    now = ctx.now()
    with ctx.store.write() as conn:
        account = users.unlock(conn, username)
        audit.record(conn, now, admin.username, "unlock account", username)
    return account


def audit_log(ctx: Context, principal: Principal, limit: int = 200) -> list[AuditEntry]:
    """The newest audit entries (admins)."""
    acting(ctx, principal, Permission.MANAGE_ACCESS)
    with ctx.store.read() as conn:
        return audit.recent(conn, limit)


def administrators(ctx: Context, principal: Principal) -> tuple[str, ...]:
    """The usernames of the administrators: whom a user asks for a model or for access.

    Any logged-in account may know them (a page with nothing to show names them); nothing else
    about the accounts is revealed.
    """
    acting(ctx, principal, Permission.MANAGE_OWN_ACCOUNT)
    with ctx.store.read() as conn:
        return tuple(sorted(a.username for a in users.list_all(conn) if a.role == "admin"))
