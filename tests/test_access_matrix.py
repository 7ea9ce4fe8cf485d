"""Who may call what: every public function of services/accounts × {self, another user, an admin,
an expired session}, plus the invariants no one may break (last admin, yourself, bad input)."""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable

import pytest
from helpers import ADMIN, OTHER_ADMIN, OTHER_USER, PASSWORDS, STRONG, USER
from sqlalchemy import func, select

from vision_widgets.core import audit
from vision_widgets.core.errors import (
    AuthenticationError,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    SessionExpired,
)
from vision_widgets.core.identity import auth, sessions, users
from vision_widgets.core.identity.principal import Principal
from vision_widgets.core.storage import schema
from vision_widgets.services import accounts, jobs

ALLOWED = "allowed"
NEW = accounts.NewAccount("new_analyst", "Analyst", "user", "Analytics", "Fraud")


def _snapshot(ctx):
    """Everything an action could change: accounts (with hashes, locks), sessions, audit entries."""
    with ctx.store.read() as conn:
        return (
            conn.execute(select(schema.users).order_by(schema.users.c.id)).all(),
            conn.execute(select(func.count()).select_from(schema.sessions)).scalar_one(),
            conn.execute(select(func.count()).select_from(schema.audit_log)).scalar_one(),
        )


def _account(ctx, username):
    with ctx.store.read() as conn:
        row = users.get_row(conn, username)
    return row


def _last_audit(ctx):
    with ctx.store.read() as conn:
        return audit.recent(conn, 1)[0]


@dataclass(frozen=True)
class Op:
    """A service call on ``target`` (a username) and the proof that it did what it says."""

    call: Callable[[Any, Principal, str], Any]
    effect: Callable[[Any, Principal, str, Any], None]


def _my_account_effect(ctx, me, target, result):
    assert result.username == me.username


def _own_password_effect(ctx, me, target, result):
    assert auth.login(ctx, me.username, STRONG)
    with pytest.raises(SessionExpired):  # it ended the session it was made through
        sessions.authenticate(ctx, me)


def _list_effect(ctx, me, target, result):
    assert len(result) == 10 and {a.username for a in result} >= {USER, ADMIN}
    assert not any(hasattr(a, "password_hash") for a in result)


def _get_effect(ctx, me, target, result):
    assert result.username == target and not hasattr(result, "password_hash")


def _audit_effect(ctx, me, target, result):
    assert [e.action for e in result] == ["load accounts"]


def _admin_effect(action):
    def check(ctx, me, target, result):
        entry = _last_audit(ctx)
        assert (entry.actor, entry.action, entry.target) == (me.username, action, target)
        EFFECTS[action](ctx, target)

    return check


def _created(ctx, target):
    assert _account(ctx, target)["persona"] == "Analyst"


def _removed(ctx, target):
    assert _account(ctx, target) is None


def _promoted(ctx, target):
    assert _account(ctx, target)["role"] == "admin"


def _reset(ctx, target):
    assert auth.login(ctx, target, STRONG)


def _unlocked(ctx, target):
    row = _account(ctx, target)
    assert row["failed_logins"] == 0 and row["locked_until"] is None


EFFECTS = {
    "create account": _created,
    "remove account": _removed,
    "change role": _promoted,
    "reset password": _reset,
    "unlock account": _unlocked,
}


OPS: dict[str, Op] = {
    "my_account": Op(lambda ctx, p, t: accounts.my_account(ctx, p), _my_account_effect),
    "change_own_password": Op(
        lambda ctx, p, t: accounts.change_own_password(ctx, p, PASSWORDS[p.username], STRONG), _own_password_effect
    ),
    "list_accounts": Op(lambda ctx, p, t: accounts.list_accounts(ctx, p), _list_effect),
    "get_account": Op(lambda ctx, p, t: accounts.get_account(ctx, p, t), _get_effect),
    "audit_log": Op(lambda ctx, p, t: accounts.audit_log(ctx, p), _audit_effect),
    "create_account": Op(
        lambda ctx, p, t: accounts.create_account(ctx, p, NEW, STRONG),
        lambda ctx, me, t, r: _admin_effect("create account")(ctx, me, "new_analyst", r),
    ),
    "remove_account": Op(lambda ctx, p, t: accounts.remove_account(ctx, p, t), _admin_effect("remove account")),
    "change_role": Op(lambda ctx, p, t: accounts.change_role(ctx, p, t, "admin"), _admin_effect("change role")),
    "reset_password": Op(lambda ctx, p, t: accounts.reset_password(ctx, p, t, STRONG), _admin_effect("reset password")),
    "unlock_account": Op(lambda ctx, p, t: accounts.unlock_account(ctx, p, t), _admin_effect("unlock account")),
    "administrators": Op(lambda ctx, p, t: accounts.administrators(ctx, p), lambda ctx, me, t, r: _admins_effect(r)),
}


def _admins_effect(result) -> None:
    """Only the admins' usernames: nothing else about the accounts, and no user."""
    assert ADMIN in result and OTHER_USER not in result and all(isinstance(name, str) for name in result)

# actor: "user" / "admin" log in as USER / ADMIN; "expired …" does the same, then lets the TTL pass.
# target: "self" is the actor's own account, "other" another user's (OTHER_USER).
SELF_SERVICE = ("my_account", "change_own_password", "administrators")
ADMIN_ONLY = ("list_accounts", "audit_log", "create_account")
ON_ACCOUNT = ("get_account", "remove_account", "change_role", "reset_password", "unlock_account")

MATRIX: list[tuple[str, str, str, Any]] = []
for name in SELF_SERVICE:
    MATRIX += [
        (name, "user", "self", ALLOWED),
        (name, "admin", "self", ALLOWED),
        (name, "expired user", "self", SessionExpired),
        (name, "expired admin", "self", SessionExpired),
    ]
for name in ADMIN_ONLY:
    MATRIX += [
        (name, "user", "self", PermissionDenied),
        (name, "admin", "self", ALLOWED),
        (name, "expired user", "self", SessionExpired),
        (name, "expired admin", "self", SessionExpired),
    ]
for name in ON_ACCOUNT:
    MATRIX += [
        (name, "user", "self", PermissionDenied),  # a user cannot promote, unlock or reset themselves
        (name, "user", "other", PermissionDenied),
        (name, "admin", "other", ALLOWED),
        (name, "expired user", "other", SessionExpired),
        (name, "expired admin", "other", SessionExpired),
    ]
MATRIX += [
    ("remove_account", "admin", "self", Conflict),  # never yourself
    ("change_role", "admin", "self", Conflict),  # demoting yourself: ask another admin
    ("reset_password", "admin", "self", InvalidInput),  # use My account (asks for the current password)
    ("unlock_account", "admin", "self", ALLOWED),
    ("get_account", "admin", "self", ALLOWED),
]


def test_the_matrix_covers_every_public_service_function():
    public = {
        name
        for name in accounts.__all__
        if inspect.isfunction(getattr(accounts, name))
    }
    public |= {
        name
        for name, fn in inspect.getmembers(accounts, inspect.isfunction)
        if not name.startswith("_") and fn.__module__ == accounts.__name__
    }
    assert public == set(OPS) == {row[0] for row in MATRIX}


@pytest.mark.parametrize(
    "name, actor, target, expected", MATRIX, ids=[f"{n}-{a}-{t}" for n, a, t, _ in MATRIX]
)
def test_access(ctx, clock, login, name, actor, target, expected):
    principal = login(ADMIN if actor.endswith("admin") else USER)
    if actor.startswith("expired"):
        clock.advance(ctx.settings.token_ttl_seconds + 1)
    target_name = principal.username if target == "self" else OTHER_USER
    op = OPS[name]
    if expected is ALLOWED:
        result = op.call(ctx, principal, target_name)
        op.effect(ctx, principal, target_name, result)
        return
    before = _snapshot(ctx)
    with pytest.raises(expected) as error:
        op.call(ctx, principal, target_name)
    if expected is PermissionDenied:
        assert "ask an administrator" in str(error.value)
    if expected is SessionExpired:
        assert str(error.value) == "Your session expired — please log in again."
        before = (before[0], before[1] - 1, before[2])  # the dead session row is cleaned up
    assert _snapshot(ctx) == before, "a refused call changes nothing"


# -- invariants -------------------------------------------------------------------------
def test_the_last_admin_can_be_neither_removed_nor_demoted(ctx, login):
    admin = login(ADMIN)
    for other in ("productowner_admin", "sre_admin", "mlengineer_admin", "appowner_admin"):
        accounts.remove_account(ctx, admin, other)
    # Through the services the last admin is also "yourself"…
    with pytest.raises(Conflict, match="cannot remove your own account"):
        accounts.remove_account(ctx, admin, ADMIN)
    with pytest.raises(Conflict, match="cannot change your own role"):
        accounts.change_role(ctx, admin, ADMIN, "user")
    # …and the rule holds underneath, for every caller (the CLI acts there directly).
    before = _snapshot(ctx)
    with ctx.store.write() as conn, pytest.raises(Conflict, match="last admin"):
        users.remove(conn, ADMIN)
    with ctx.store.write() as conn, pytest.raises(Conflict, match="last admin"):
        users.set_role(conn, ADMIN, "user")
    assert _snapshot(ctx) == before
    assert [a.username for a in accounts.list_accounts(ctx, admin) if a.role == "admin"] == [ADMIN]


def test_an_admin_may_remove_and_demote_other_admins(ctx, login):
    admin = login(ADMIN)
    assert accounts.change_role(ctx, admin, OTHER_ADMIN, "user").role == "user"
    accounts.remove_account(ctx, admin, "appowner_admin")
    assert {a.username for a in accounts.list_accounts(ctx, admin)} == set(PASSWORDS) - {"appowner_admin"}


@pytest.mark.parametrize(
    "username",
    ["bad name", "<img src=x onerror=alert(1)>", "<b>bold</b>", "a\"quote", "ab", "x" * 33, "   ", "tab\there"],
)
def test_a_username_with_spaces_html_or_bad_length_is_rejected(ctx, login, username):
    admin = login(ADMIN)
    before = _snapshot(ctx)
    with pytest.raises(InvalidInput, match="letters, digits"):
        accounts.create_account(ctx, admin, accounts.NewAccount(username, "Analyst", "user"), STRONG)
    assert _snapshot(ctx) == before


def test_surrounding_spaces_are_trimmed_from_a_new_username(ctx, login):
    created = accounts.create_account(ctx, login(ADMIN), accounts.NewAccount("  new_analyst ", "Analyst", "user"), STRONG)
    assert created.username == "new_analyst"
    assert auth.login(ctx, "new_analyst", STRONG)


@pytest.mark.parametrize(
    "password, rule",
    [("short-9", "at least 10 characters"), ("xx-NEW_ANALYST-xx", "must not contain the username")],
)
def test_a_weak_initial_password_names_the_rule_and_creates_nothing(ctx, login, password, rule):
    admin = login(ADMIN)
    before = _snapshot(ctx)
    with pytest.raises(InvalidInput, match=rule):
        accounts.create_account(ctx, admin, NEW, password)
    assert _snapshot(ctx) == before


@pytest.mark.parametrize(
    "new, rule",
    [
        ("short-9", "at least 10 characters"),
        (f"my-{USER}-pw", "must not contain the username"),
        (PASSWORDS[USER], "different from the current one"),
    ],
)
def test_a_weak_new_password_names_the_rule_and_changes_nothing(ctx, login, new, rule):
    me, admin = login(USER), login(ADMIN)
    before = _snapshot(ctx)
    with pytest.raises(InvalidInput, match=rule):
        accounts.change_own_password(ctx, me, PASSWORDS[USER], new)
    if new != PASSWORDS[USER]:  # (an admin reset has no "current" password to compare with)
        with pytest.raises(InvalidInput, match=rule):
            accounts.reset_password(ctx, admin, USER, new)
    assert _snapshot(ctx)[0] == before[0]
    assert accounts.my_account(ctx, me).username == USER, "the session survives a refused change"


def test_a_wrong_current_password_changes_nothing_but_counts_as_a_failed_attempt(ctx, login):
    me = login(USER)
    before = _account(ctx, USER)
    with pytest.raises(AuthenticationError, match="current password is wrong; nothing was changed"):
        accounts.change_own_password(ctx, me, "not-my-password", STRONG)
    after = _account(ctx, USER)
    assert after["password_hash"] == before["password_hash"]
    assert after["failed_logins"] == before["failed_logins"] + 1
    assert accounts.my_account(ctx, me).username == USER


def test_guessing_the_current_password_locks_the_account_and_ends_the_session(ctx, login):
    me = login(USER)
    for _ in range(ctx.settings.lockout_threshold - 1):
        with pytest.raises(AuthenticationError, match="current password is wrong"):
            accounts.change_own_password(ctx, me, "not-my-password", STRONG)
    with pytest.raises(SessionExpired, match="locked"):
        accounts.change_own_password(ctx, me, "not-my-password", STRONG)
    with pytest.raises(SessionExpired):
        accounts.my_account(ctx, me)


@pytest.mark.parametrize("username", [USER, USER.upper(), "DataScientist_User"])
def test_a_duplicate_username_in_any_case_is_a_conflict_and_creates_nothing(ctx, login, username):
    admin = login(ADMIN)
    before = _snapshot(ctx)
    with pytest.raises(Conflict, match="already exists"):
        accounts.create_account(ctx, admin, accounts.NewAccount(username, "Analyst", "admin"), STRONG)
    assert _snapshot(ctx) == before
    assert auth.login(ctx, USER, PASSWORDS[USER]).principal.role == "user"


@pytest.mark.parametrize("op", ["remove_account", "change_role", "reset_password", "unlock_account"])
def test_acting_on_an_unknown_account_is_not_found(ctx, login, op):
    admin = login(ADMIN)
    before = _snapshot(ctx)
    with pytest.raises(NotFound, match="no account named 'ghost'"):
        OPS[op].call(ctx, admin, "ghost")
    assert _snapshot(ctx)[0] == before[0] and _snapshot(ctx)[2] == before[2]


def test_an_unknown_role_is_invalid(ctx, login):
    admin = login(ADMIN)
    with pytest.raises(InvalidInput, match="role must be one of: user, admin"):
        accounts.change_role(ctx, admin, USER, "root")
    with pytest.raises(InvalidInput, match="role must be one of"):
        accounts.create_account(ctx, admin, accounts.NewAccount("new_analyst", "Analyst", "superuser"), STRONG)


def test_unlock_lets_a_locked_out_user_in_again(ctx, login):
    admin = login(ADMIN)
    for _ in range(ctx.settings.lockout_threshold):
        with pytest.raises(AuthenticationError):
            auth.login(ctx, USER, "wrong-password")
    locked = next(a for a in accounts.list_accounts(ctx, admin) if a.username == USER)
    assert locked.is_locked(ctx.now())
    assert not accounts.unlock_account(ctx, admin, USER).is_locked(ctx.now())
    assert auth.login(ctx, USER, PASSWORDS[USER])


# -- background jobs (services/jobs) ----------------------------------------------------------------
# actor: as above. target: "own" is a job the actor submitted, "other" one OTHER_USER submitted.
# A user follows their own jobs; an admin everyone's; an expired session nothing.
def _job_count(ctx):
    with ctx.store.read() as conn:
        return conn.execute(select(func.count()).select_from(schema.jobs)).scalar_one()


def _submitted(ctx, me, job_id, result):
    assert (result.actor, result.state, result.kind) == (me.username, "queued", jobs.REGISTER_MODEL)
    assert result.id not in job_id.values()


def _listed_own(ctx, me, job_id, result):
    assert [j.id for j in result] == [job_id["own"]]


def _listed_all(ctx, me, job_id, result):
    assert sorted(j.id for j in result) == sorted(job_id.values())


def _got(target):
    def check(ctx, me, job_id, result):
        assert result.id == job_id[target]

    return check


JOB_OPS: dict[str, Callable] = {
    "submit_job": lambda ctx, p, job_id, t: jobs.submit_job(ctx, p, jobs.REGISTER_MODEL, {"name": "m"}),
    "list_jobs": lambda ctx, p, job_id, t: jobs.list_jobs(ctx, p, everyone=(t == "other")),
    "get_job": lambda ctx, p, job_id, t: jobs.get_job(ctx, p, job_id[t]),
}
JOB_MATRIX: list[tuple[str, str, str, Any, Callable | None]] = []
for _actor in ("user", "admin"):
    JOB_MATRIX += [
        ("submit_job", _actor, "own", ALLOWED, _submitted),
        ("list_jobs", _actor, "own", ALLOWED, _listed_own),  # your own, whatever your role
        ("get_job", _actor, "own", ALLOWED, _got("own")),
    ]
    for _name in JOB_OPS:
        for _target in ("own", "other"):
            JOB_MATRIX.append((_name, f"expired {_actor}", _target, SessionExpired, None))
JOB_MATRIX += [
    ("list_jobs", "user", "other", PermissionDenied, None),  # everyone's jobs: admins only
    ("list_jobs", "admin", "other", ALLOWED, _listed_all),
    ("get_job", "user", "other", PermissionDenied, None),
    ("get_job", "admin", "other", ALLOWED, _got("other")),
]


def test_the_jobs_matrix_covers_every_public_jobs_service_function():
    public = {name for name, fn in inspect.getmembers(jobs, inspect.isfunction)
              if not name.startswith("_") and fn.__module__ == jobs.__name__}
    assert public == set(JOB_OPS) == {row[0] for row in JOB_MATRIX} == {
        n for n in jobs.__all__ if inspect.isfunction(getattr(jobs, n))}


@pytest.mark.parametrize("name, actor, target, expected, effect", JOB_MATRIX,
                         ids=[f"{n}-{a}-{t}" for n, a, t, _, _ in JOB_MATRIX])
def test_jobs_access(ctx, clock, login, name, actor, target, expected, effect):
    principal = login(ADMIN if actor.endswith("admin") else USER)
    job_id = {
        "own": jobs.submit_job(ctx, principal, jobs.REGISTER_MODEL, {"name": "mine"}).id,
        "other": jobs.submit_job(ctx, login(OTHER_USER), jobs.REGISTER_MODEL, {"name": "theirs"}).id,
    }
    if actor.startswith("expired"):
        clock.advance(ctx.settings.token_ttl_seconds + 1)
    call = JOB_OPS[name]
    if expected is ALLOWED:
        effect(ctx, principal, job_id, call(ctx, principal, job_id, target))
        return
    before = _job_count(ctx)
    with pytest.raises(expected) as error:
        call(ctx, principal, job_id, target)
    if expected is PermissionDenied:
        assert "ask an administrator" in str(error.value) or "only your own jobs" in str(error.value)
    assert _job_count(ctx) == before, "a refused call queues nothing"
