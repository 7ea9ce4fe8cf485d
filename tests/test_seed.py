"""users.json and ``vision init``'s loader (core/sample_accounts.py)."""
from __future__ import annotations

import json

import pytest
from helpers import PASSWORDS, STRONG, USER, USERS_JSON
from sqlalchemy import select

from vision_widgets.core import audit
from vision_widgets.core.context import Context
from vision_widgets.core.errors import AuthenticationError, ConfigurationError
from vision_widgets.core.identity import auth, users
from vision_widgets.core.identity.passwords import verify_password
from vision_widgets.core.storage import schema
from vision_widgets.demo import sample_accounts
from vision_widgets.services import accounts

#: The table of issue #2: username -> (persona, profile, line of business, sub-LOB).
SAMPLE_ACCOUNTS = {
    "datascientist_user": ("Data Scientist", "user", "Analytics", "Fraud"),
    "datascientist_admin": ("Data Scientist", "admin", "Analytics", "Fraud"),
    "productowner_user": ("Product Owner", "user", "Product", "Payments"),
    "productowner_admin": ("Product Owner", "admin", "Product", "Payments"),
    "sre_user": ("SRE", "user", "Operations", "Infrastructure"),
    "sre_admin": ("SRE", "admin", "Operations", "Infrastructure"),
    "mlengineer_user": ("ML Engineer", "user", "Engineering", "Models"),
    "mlengineer_admin": ("ML Engineer", "admin", "Engineering", "Models"),
    "appowner_user": ("Application Owner", "user", "Applications", "Retail"),
    "appowner_admin": ("Application Owner", "admin", "Applications", "Retail"),
}


@pytest.fixture
def empty_ctx(settings, clock, fast_hashing):
    """A fresh database with no accounts."""
    context = Context.open(settings, clock=clock, upgrade=True)
    yield context
    context.store.dispose()


def _names(ctx):
    with ctx.store.read() as conn:
        return [a.username for a in users.list_all(conn)]


# -- the shipped users.json ------------------------------------------------------------
def test_users_json_holds_only_argon2id_hashes_and_no_plaintext():
    raw = USERS_JSON.read_text(encoding="utf-8")
    entries = json.loads(raw)["users"]
    assert {e["username"] for e in entries} == set(SAMPLE_ACCOUNTS)
    for entry in entries:
        assert entry["password_hash"].startswith("$argon2id$"), entry["username"]
        assert "password" not in entry
    for password in PASSWORDS.values():
        assert password not in raw


def test_every_demo_password_verifies_against_its_hash():
    """The README's demo passwords log in (the real hashes, at the real cost)."""
    for entry in json.loads(USERS_JSON.read_text(encoding="utf-8"))["users"]:
        assert verify_password(entry["password_hash"], PASSWORDS[entry["username"]]), entry["username"]


def test_init_loads_the_ten_sample_accounts_as_the_issue_describes(settings, clock):
    ctx = Context.open(settings, clock=clock, upgrade=True)
    try:
        added = sample_accounts.load_users(ctx)  # settings.users_file: the repo's users.json
        assert sorted(added) == sorted(SAMPLE_ACCOUNTS)
        with ctx.store.read() as conn:
            loaded = {a.username: (a.persona, a.role, a.lob, a.sub_lob) for a in users.list_all(conn)}
            owners = {a.username: a.owned_model for a in users.list_all(conn)}
        assert loaded == SAMPLE_ACCOUNTS
        assert all(owners[name] for name in SAMPLE_ACCOUNTS if name.endswith("_user")), "every user owns a model"
        # One real-cost login proves the hashes went in untouched.
        assert auth.login(ctx, "sre_admin", PASSWORDS["sre_admin"]).principal.role == "admin"
    finally:
        ctx.store.dispose()


# -- idempotence -------------------------------------------------------------------------
def test_init_twice_adds_nothing_the_second_time(ctx, fast_users_file):
    assert sample_accounts.load_users(ctx, fast_users_file) == []
    assert len(_names(ctx)) == 10
    with ctx.store.read() as conn:
        loads = [e for e in audit.recent(conn)
                 if e.action == "load accounts"]
    assert len(loads) == 1


def test_init_never_resets_a_changed_password(ctx, login, fast_users_file):
    accounts.change_own_password(ctx, login(USER), PASSWORDS[USER], STRONG)
    sample_accounts.load_users(ctx, fast_users_file)
    with pytest.raises(AuthenticationError):
        auth.login(ctx, USER, PASSWORDS[USER])
    assert auth.login(ctx, USER, STRONG)


def test_init_never_changes_a_changed_role(ctx, login, fast_users_file):
    accounts.change_role(ctx, login("datascientist_admin"), "sre_user", "admin")
    sample_accounts.load_users(ctx, fast_users_file)
    with ctx.store.read() as conn:
        assert users.get(conn, "sre_user").role == "admin"


# -- malformed files -----------------------------------------------------------------------
def _good_entry(username: str = "good_one", **overrides):
    entry = {
        "username": username,
        "password_hash": "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$ZmFrZWhhc2hmYWtlaGFzaA",
        "persona": "Analyst",
        "profile": "user",
        "line_of_business": "Analytics",
        "sub_lob": "Fraud",
    }
    entry.update(overrides)
    return {k: v for k, v in entry.items() if v is not None}


def _without(entry, key):
    return {k: v for k, v in entry.items() if k != key}


MALFORMED = {
    "bad JSON": ('{"users": [', "not valid JSON"),
    "not an object": ("[]", 'must be an object with a "users" list'),
    "users not a list": ('{"users": {"a": 1}}', 'must be an object with a "users" list'),
    "entry not an object": ({"users": [_good_entry(), "alice"]}, "entry 2 is not an object"),
    "missing persona": ({"users": [_good_entry(), _without(_good_entry("no_persona"), "persona")]},
                        "entry 2 ('no_persona') is missing persona"),
    "missing username": ({"users": [_without(_good_entry(), "username")]}, "entry 1 is missing username"),
    "plaintext password": ({"users": [_good_entry(), _without(_good_entry("plain_pw", password="hunter2hunter2"),
                                                             "password_hash")]},
                           "entry 2 ('plain_pw') has a plaintext 'password'"),
    "plaintext beside a hash": ({"users": [_good_entry("both_pw", password="hunter2hunter2")]},
                                "entry 1 ('both_pw') has a plaintext 'password'"),
    "hash not argon2id": ({"users": [_good_entry("bcrypt_pw", password_hash="$2b$12$abcdefghijklmnopqrstuv")]},
                          "entry 1 ('bcrypt_pw'): password_hash is not an Argon2id hash"),
    "username with a space": ({"users": [_good_entry(), _good_entry("bad name")]},
                              "entry 2 ('bad name'): A username is 3 to 32 characters"),
    "username with HTML": ({"users": [_good_entry("<img src=x onerror=alert(1)>")]},
                           "entry 1 ('<img src=x onerror=alert(1)>'): A username"),
    "unknown profile": ({"users": [_good_entry(profile="root")]}, "entry 1 ('good_one'): The role must be one of"),
    "duplicate username": ({"users": [_good_entry("twin"), _good_entry("other"), _good_entry("Twin")]},
                           "entry 3 ('Twin') repeats a username"),
}


@pytest.mark.parametrize("content, message", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_users_file_names_the_entry_and_loads_nothing(empty_ctx, tmp_path, content, message):
    path = tmp_path / "users.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    with pytest.raises(ConfigurationError) as error:
        sample_accounts.load_users(empty_ctx, path)
    assert message in str(error.value)
    assert _names(empty_ctx) == []
    with empty_ctx.store.read() as conn:
        assert conn.execute(select(schema.audit_log)).first() is None


def test_a_missing_users_file_says_how_to_point_at_one(empty_ctx, tmp_path):
    with pytest.raises(ConfigurationError, match="does not exist; set VISION_USERS_FILE"):
        sample_accounts.load_users(empty_ctx, tmp_path / "nope.json")


def test_init_does_not_bring_back_a_removed_sample_account(ctx):
    with ctx.store.write() as conn:
        users.remove(conn, "sre_user")
    assert sample_accounts.load_users(ctx) == []
    with ctx.store.read() as conn:
        assert not users.exists(conn, "sre_user")
