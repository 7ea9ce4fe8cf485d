"""Logins, lockout and sessions (core/auth.py), as a user of the login form meets them."""
from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from helpers import ADMIN, OTHER_ADMIN, OTHER_USER, PASSWORDS, STRONG, USER
from sqlalchemy import select

from vision_widgets.core.config import load_settings
from vision_widgets.core.context import Context
from vision_widgets.core.errors import (
    AccountLocked,
    AuthenticationError,
    PermissionDenied,
    SessionExpired,
)
from vision_widgets.core.identity import auth, sessions
from vision_widgets.core.storage import schema
from vision_widgets.core.storage.engine import Store
from vision_widgets.demo import sample_accounts
from vision_widgets.services import accounts


def _user_row(ctx, username):
    with ctx.store.read() as conn:
        return conn.execute(select(schema.users).where(schema.users.c.username == username)).mappings().first()


def _session_rows(ctx):
    with ctx.store.read() as conn:
        return conn.execute(select(schema.sessions)).mappings().all()


# -- login -------------------------------------------------------------------------
def test_login_returns_a_session_for_the_account(ctx, clock):
    session = auth.login(ctx, USER, PASSWORDS[USER])
    p = session.principal
    assert (p.username, p.role, p.persona, p.lob, p.sub_lob) == (USER, "user", "Data Scientist", "Analytics", "Fraud")
    assert p.owned_model == "Fraud detection"
    assert session.expires_at == clock.now + timedelta(minutes=30)  # the default TTL
    assert len(session.token) >= 40
    assert _user_row(ctx, USER)["last_login"] == clock.now


def test_the_token_is_stored_only_as_its_sha256(ctx):
    session = auth.login(ctx, USER, PASSWORDS[USER])
    rows = _session_rows(ctx)
    assert [r["token_hash"] for r in rows] == [hashlib.sha256(session.token.encode()).hexdigest()]
    assert session.token not in repr(session) and session.token not in repr(session.principal)
    assert sessions.resume(ctx, session.token).username == USER


def test_each_login_gets_a_new_token(ctx):
    a, b = auth.login(ctx, USER, PASSWORDS[USER]), auth.login(ctx, USER, PASSWORDS[USER])
    assert a.token != b.token and len(_session_rows(ctx)) == 2


def test_unknown_user_and_wrong_password_get_the_same_message(ctx):
    with pytest.raises(AuthenticationError) as unknown:
        auth.login(ctx, "nobody_here", "whatever-password")
    with pytest.raises(AuthenticationError) as wrong:
        auth.login(ctx, USER, "not-the-password")
    assert str(unknown.value) == str(wrong.value) == auth.WRONG_CREDENTIALS
    assert type(unknown.value) is type(wrong.value) is AuthenticationError
    assert _session_rows(ctx) == []


def test_empty_credentials_are_refused(ctx):
    for username, password in [("", ""), (USER, ""), ("", PASSWORDS[USER]), (None, None)]:
        with pytest.raises(AuthenticationError):
            auth.login(ctx, username, password)


def test_the_username_is_trimmed_but_the_password_is_exact(ctx):
    assert auth.login(ctx, f"  {USER} ", PASSWORDS[USER]).principal.username == USER
    with pytest.raises(AuthenticationError):
        auth.login(ctx, USER, PASSWORDS[USER] + " ")


# -- lockout -----------------------------------------------------------------------
def _fail(ctx, username, times):
    for _ in range(times):
        with pytest.raises(AuthenticationError):
            auth.login(ctx, username, "wrong-password")


def test_five_failures_lock_for_fifteen_minutes_and_say_until_when(ctx, clock):
    _fail(ctx, USER, 4)
    with pytest.raises(AccountLocked) as locked:
        auth.login(ctx, USER, "wrong-password")
    # clock starts at 2024-05-01 12:00 UTC: locked until 12:15.
    assert "until 12:15 UTC" in str(locked.value) and "2024-05-01" in str(locked.value)
    assert "administrator" in str(locked.value)
    # Even the right password is refused while locked, with the same "until".
    clock.advance(minutes=14, seconds=59)
    with pytest.raises(AccountLocked, match="until 12:15 UTC"):
        auth.login(ctx, USER, PASSWORDS[USER])
    assert _session_rows(ctx) == []


def test_the_lock_expires_after_fifteen_minutes(ctx, clock):
    _fail(ctx, USER, 5)
    clock.advance(minutes=15)
    assert auth.login(ctx, USER, PASSWORDS[USER]).principal.username == USER
    # And a fresh count starts: one more failure does not lock again.
    _fail(ctx, USER, 1)
    assert auth.login(ctx, USER, PASSWORDS[USER])


def test_a_successful_login_resets_the_count(ctx):
    _fail(ctx, USER, 4)
    auth.login(ctx, USER, PASSWORDS[USER])
    _fail(ctx, USER, 4)
    assert auth.login(ctx, USER, PASSWORDS[USER])  # 8 failures in all, never 5 in a row


def test_the_lock_belongs_to_one_account(ctx):
    _fail(ctx, USER, 5)
    assert auth.login(ctx, OTHER_USER, PASSWORDS[OTHER_USER])


def test_the_failure_count_lives_in_the_database(ctx, settings, clock):
    """Every browser tab is its own kernel: a second Store on the same file sees the count."""
    _fail(ctx, USER, 3)
    other = Context(settings=settings, store=Store.open(settings), clock=clock)
    try:
        assert _user_row(other, USER)["failed_logins"] == 3
        _fail(other, USER, 1)
        with pytest.raises(AccountLocked):
            auth.login(other, USER, "wrong-password")
    finally:
        other.store.dispose()
    with pytest.raises(AccountLocked):
        auth.login(ctx, USER, PASSWORDS[USER])


# -- sessions ----------------------------------------------------------------------
def test_a_session_expires_after_the_ttl(ctx, clock, login):
    me = login(USER)
    clock.advance(ctx.settings.token_ttl_seconds)
    with pytest.raises(SessionExpired, match="Your session expired — please log in again"):
        accounts.my_account(ctx, me)
    assert _session_rows(ctx) == [], "an expired session is deleted when found"


def test_activity_renews_the_session(ctx, clock, login):
    ttl = ctx.settings.token_ttl_seconds
    me = login(USER)
    for _ in range(4):  # 4 × (ttl - 1 s) is far past the first expiry
        clock.advance(ttl - 1)
        assert accounts.my_account(ctx, me).username == USER
    clock.advance(ttl)
    with pytest.raises(SessionExpired):
        accounts.my_account(ctx, me)


def test_the_ttl_comes_from_the_settings(tmp_path, clock, fast_users_file, fast_hashing):
    settings = load_settings({"VISION_HOME": str(tmp_path), "VISION_TOKEN_TTL": "60"})
    short = Context.open(settings, clock=clock, upgrade=True)
    sample_accounts.load_users(short, fast_users_file)
    session = auth.login(short, USER, PASSWORDS[USER])
    assert (session.expires_at - clock.now).total_seconds() == 60
    clock.advance(61)
    with pytest.raises(SessionExpired):
        sessions.authenticate(short, session.principal)
    short.store.dispose()


def test_resume_refuses_unknown_and_empty_tokens(ctx):
    for token in ["", "not-a-token", None]:
        with pytest.raises(SessionExpired):
            sessions.resume(ctx, token)


def test_logout_ends_that_session_only(ctx):
    tab1 = auth.login(ctx, USER, PASSWORDS[USER])
    tab2 = auth.login(ctx, USER, PASSWORDS[USER])
    sessions.logout(ctx, tab1.principal)
    with pytest.raises(SessionExpired):
        accounts.my_account(ctx, tab1.principal)
    with pytest.raises(SessionExpired):
        sessions.resume(ctx, tab1.token)
    assert accounts.my_account(ctx, tab2.principal).username == USER
    sessions.logout(ctx, tab1.principal)  # idempotent


def test_changing_your_password_ends_every_session_of_the_account(ctx, login):
    tab1, tab2 = login(USER), login(USER)
    bystander = login(OTHER_USER)
    accounts.change_own_password(ctx, tab1, PASSWORDS[USER], STRONG)
    for tab in (tab1, tab2):
        with pytest.raises(SessionExpired):
            accounts.my_account(ctx, tab)
    assert accounts.my_account(ctx, bystander).username == OTHER_USER
    with pytest.raises(AuthenticationError):
        auth.login(ctx, USER, PASSWORDS[USER])
    assert auth.login(ctx, USER, STRONG)


def test_an_admin_reset_ends_the_accounts_sessions_and_unlocks_it(ctx, login):
    admin, victim = login(ADMIN), login(USER)
    _fail(ctx, USER, 5)
    accounts.reset_password(ctx, admin, USER, STRONG)
    with pytest.raises(SessionExpired):
        accounts.my_account(ctx, victim)
    assert accounts.my_account(ctx, admin).username == ADMIN
    assert auth.login(ctx, USER, STRONG)


def test_removing_an_account_ends_its_sessions(ctx, login):
    admin, victim = login(ADMIN), auth.login(ctx, USER, PASSWORDS[USER])
    accounts.remove_account(ctx, admin, USER)
    with pytest.raises(SessionExpired):
        accounts.my_account(ctx, victim.principal)
    with pytest.raises(SessionExpired):
        sessions.resume(ctx, victim.token)
    with pytest.raises(AuthenticationError, match="Wrong username or password"):
        auth.login(ctx, USER, PASSWORDS[USER])


def test_a_demoted_admin_loses_admin_permissions_on_the_next_call(ctx, login):
    demoted, other = login(ADMIN), login(OTHER_ADMIN)
    assert accounts.list_accounts(ctx, demoted)
    accounts.change_role(ctx, other, ADMIN, "user")
    with pytest.raises(PermissionDenied):
        accounts.list_accounts(ctx, demoted)  # same session, stale principal says "admin"
    assert sessions.authenticate(ctx, demoted).role == "user"
    assert accounts.my_account(ctx, demoted).role == "user"


def test_a_promoted_user_gains_admin_permissions_on_the_next_call(ctx, login):
    promoted, admin = login(USER), login(ADMIN)
    with pytest.raises(PermissionDenied):
        accounts.list_accounts(ctx, promoted)
    accounts.change_role(ctx, admin, USER, "admin")
    assert len(accounts.list_accounts(ctx, promoted)) == 10


def test_a_login_upgrades_a_hash_made_at_a_weaker_cost(ctx, monkeypatch):
    from argon2 import PasswordHasher, Type

    from vision_widgets.core.identity import passwords

    monkeypatch.setattr(passwords, "_HASHER", PasswordHasher(type=Type.ID))  # today's default cost
    weak = _user_row(ctx, USER)["password_hash"]
    auth.login(ctx, USER, PASSWORDS[USER])
    upgraded = _user_row(ctx, USER)["password_hash"]
    assert upgraded != weak and not passwords.needs_rehash(upgraded)
    assert passwords.verify_password(upgraded, PASSWORDS[USER])


def test_login_accepts_the_username_in_any_case(ctx):
    # Usernames are unique ignoring case, so the form need not match the case.
    session = auth.login(ctx, "DataScientist_User", "ds_user123")
    assert session.principal.username == "datascientist_user"


def test_the_password_check_holds_no_database_lock(ctx, monkeypatch):
    # SQLite has one write lock per file; a slow Argon2 check inside it would let a flood of
    # guesses stall every other tab. Another process must be able to write during the check.
    from vision_widgets.core.storage.engine import Store

    other = Store(ctx.settings.database_url)
    real_verify = auth.verify_password
    wrote = []

    def verify_while_another_tab_writes(password_hash, password):
        with other.write() as conn:
            conn.execute(schema.audit_log.insert().values(at=ctx.now(), actor="tab2", action="probe"))
        wrote.append(True)
        return real_verify(password_hash, password)

    monkeypatch.setattr(auth, "verify_password", verify_while_another_tab_writes)
    assert auth.login(ctx, USER, PASSWORDS[USER]).principal.username == USER
    with pytest.raises(AuthenticationError):
        auth.login(ctx, USER, "wrong-password")
    assert wrote == [True, True]
    other.dispose()
