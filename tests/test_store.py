"""The database (core/storage/engine.py): WAL, a checked schema, all-or-nothing writes.

How the schema is created and upgraded is tested in test_migrations.py.
"""
from __future__ import annotations

import sqlite3

import pytest
from helpers import ADMIN, OTHER_USER, PASSWORDS, STRONG, USER
from sqlalchemy import func, select, text

from vision_widgets.core import audit
from vision_widgets.core.context import Context
from vision_widgets.core.errors import ConfigurationError
from vision_widgets.core.identity import auth, users
from vision_widgets.core.storage import schema, upgrade
from vision_widgets.core.storage.engine import Store
from vision_widgets.services import accounts


def _count(ctx, table) -> int:
    with ctx.store.read() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_the_default_database_is_sqlite_in_vision_home_in_wal_mode(ctx, settings):
    assert settings.database_url == f"sqlite:///{settings.home / 'vision.db'}"
    assert (settings.home / "vision.db").exists()
    with ctx.store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    # Another process (sqlite3 itself) sees WAL too: it is a property of the file.
    raw = sqlite3.connect(settings.home / "vision.db")
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        raw.close()


def test_opening_checks_the_schema_revision_and_changes_nothing(ctx, settings):
    with ctx.store.read() as conn:
        before = conn.exec_driver_sql("SELECT sql FROM sqlite_master ORDER BY name").all()
    again = Store.open(settings)
    try:
        assert upgrade.current_revision(again) == upgrade.HEAD
        with again.read() as conn:
            assert conn.exec_driver_sql("SELECT sql FROM sqlite_master ORDER BY name").all() == before
    finally:
        again.dispose()


def test_opening_a_database_that_was_never_initialised_says_to_run_vision_init(settings):
    with pytest.raises(ConfigurationError, match="run `vision init`"):
        Store.open(settings)
    assert not (settings.home / "vision.db").exists()  # no empty file left behind
    settings.home.mkdir(parents=True)
    raw = sqlite3.connect(settings.home / "vision.db")
    raw.execute("CREATE TABLE unrelated (x INTEGER)")
    raw.close()
    with pytest.raises(ConfigurationError, match="no Vision AI schema yet.*run `vision init`"):
        Context.open(settings)


def test_reopening_keeps_the_data(ctx, settings):
    again = Store.open(settings)
    try:
        with again.read() as conn:
            assert len(users.list_all(conn)) == 10
    finally:
        again.dispose()


def test_a_write_that_raises_commits_nothing(ctx):
    with pytest.raises(RuntimeError):
        with ctx.store.write() as conn:
            audit.record(conn, ctx.now(), "tester", "first half")
            raise RuntimeError("crash between two statements")
    assert all(e.action != "first half" for e in _entries(ctx))


def _entries(ctx):
    with ctx.store.read() as conn:
        return audit.recent(conn)


def _broken_audit(*_args, **_kwargs):
    raise OSError("disk full while writing the audit entry")


@pytest.mark.parametrize(
    "action, check",
    [
        (lambda ctx, admin: accounts.create_account(
            ctx, admin, accounts.NewAccount("new_person", "Analyst", "user"), STRONG),
         lambda ctx: "new_person" not in _names(ctx)),
        (lambda ctx, admin: accounts.remove_account(ctx, admin, USER),
         lambda ctx: USER in _names(ctx)),
        (lambda ctx, admin: accounts.change_role(ctx, admin, OTHER_USER, "admin"),
         lambda ctx: _role(ctx, OTHER_USER) == "user"),
    ],
    ids=["create_account", "remove_account", "change_role"],
)
def test_a_change_whose_audit_entry_fails_leaves_nothing(ctx, login, monkeypatch, action, check):
    admin = login(ADMIN)
    before = _count(ctx, schema.audit_log)
    monkeypatch.setattr(audit, "record", _broken_audit)
    with pytest.raises(OSError):
        action(ctx, admin)
    assert check(ctx)
    assert _count(ctx, schema.audit_log) == before


def test_a_password_reset_whose_audit_entry_fails_keeps_the_old_password_and_sessions(ctx, login, monkeypatch):
    admin, victim = login(ADMIN), login(USER)
    monkeypatch.setattr(audit, "record", _broken_audit)
    with pytest.raises(OSError):
        accounts.reset_password(ctx, admin, USER, STRONG)
    monkeypatch.undo()
    assert accounts.my_account(ctx, victim).username == USER  # session not revoked
    assert auth.login(ctx, USER, PASSWORDS[USER])  # old password still works


def _names(ctx):
    with ctx.store.read() as conn:
        return {a.username for a in users.list_all(conn)}


def _role(ctx, username):
    with ctx.store.read() as conn:
        return users.get(conn, username).role


def test_two_stores_on_one_file_see_each_others_commits(ctx, settings, clock):
    other = Context(settings=settings, store=Store.open(settings), clock=clock)
    try:
        with other.store.write() as conn:
            audit.record(conn, clock(), "kernel-2", "hello")
        assert _entries(ctx)[0].action == "hello"
    finally:
        other.store.dispose()


def test_reads_see_no_uncommitted_write(ctx, settings):
    other = Store.open(settings)
    try:
        with ctx.store.write() as conn:
            audit.record(conn, ctx.now(), "kernel-1", "pending")
            with other.read() as reader:
                seen = reader.execute(text("SELECT count(*) FROM audit_log WHERE action = 'pending'")).scalar_one()
            assert seen == 0
        with other.read() as reader:
            assert reader.execute(text("SELECT count(*) FROM audit_log WHERE action = 'pending'")).scalar_one() == 1
    finally:
        other.dispose()
