"""services/connectors: who may do what, secrets sealed at rest, the rules of names, removal and a lost key.

A fake connector type (``vault``: two secret fields, one setting) stands in for a real source so
these tests are about storage and permissions; the real types are tested against real servers in
their own files. One test goes through the real ``sql`` type on a SQLite file.
"""
from __future__ import annotations

import inspect
import logging
import os
import sqlite3
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import pytest
from helpers import ADMIN, OTHER_ADMIN, USER, all_at_once, lose_secret_key, stored_text
from sqlalchemy import select

from vision_widgets.core import audit, connectors as types_registry
from vision_widgets.core.config import load_settings
from vision_widgets.core.connectors import Entry, Field, TestResult, check_fields
from vision_widgets.core.errors import (
    ConfigurationError,
    Conflict,
    ConnectorError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    SessionExpired,
)
from vision_widgets.core.secrets import KEY_FILE, SecretBox, SecretsUnreadable
from vision_widgets.core.storage import schema
from vision_widgets.services import connectors

PASSWORD = "Sup3r-Distinctive-Pa55word-7f3a9"
TOKEN = "tok-9c1e-Distinctive-Token-44b2"


# -- a fake connector type --------------------------------------------------------------------------

@dataclass
class VaultConnection:
    config: dict
    secrets: dict
    echo: bool = False

    def browse(self, path: str = "", limit: int = 200) -> list[Entry]:
        return [Entry("accounts", "accounts", "table"), Entry("orders", "orders", "table")][:limit]

    def open(self, reference: str) -> Any:
        return reference

    def describe(self, reference: str) -> str:
        return f"table {reference}"

    def test(self, timeout: float = 10.0) -> TestResult:
        if self.config.get("region") == "nowhere":
            # A careless library that repeats the password: the service must scrub it.
            return TestResult(False, 3.0, f"login failed for password {self.secrets.get('password')}")
        return TestResult(True, 12.5, "connected", ("accounts", "orders"))

    def close(self) -> None:
        pass


class VaultType:
    type = "vault"
    title = "Test vault"
    fields = (
        Field("path", "Path", required=True),
        Field("region", "Region", default="eu"),
        Field("password", "Password", secret=True, required=True),
        Field("token", "Token", secret=True),
    )

    def check(self, config: Mapping[str, Any], secrets: Mapping[str, str]) -> tuple[dict, dict]:
        return check_fields(self.fields, config, secrets)

    def connect(self, settings, config, secrets):
        return VaultConnection(dict(config), dict(secrets))


@pytest.fixture(autouse=True)
def vault_type(monkeypatch):
    monkeypatch.setitem(types_registry._TYPES, "vault", VaultType())


@pytest.fixture
def admin(login):
    return login(ADMIN)


@pytest.fixture
def user(login):
    return login(USER)


def _add(ctx, admin, name="warehouse", **config):
    return connectors.add_connector(ctx, admin, name, "vault", {"path": "/data", **config},
                                    {"password": PASSWORD, "token": TOKEN}, description="The warehouse")


def _use(ctx, name: str, connector: str) -> None:
    """A model registered through ``connector`` (the row is what matters to connectors)."""
    now = ctx.now()
    with ctx.store.write() as conn:
        conn.execute(schema.models.insert().values(
            name=name, name_key=name.lower(), description="", task="classification", platform="",
            connector=connector, connector_details="{}", owner=USER, lob="", sub_lob="", roles="{}",
            restricted=False, status="active", drift_settings="{}", created_by=USER, created_at=now, updated_at=now,
        ))


def _audit(ctx):
    with ctx.store.read() as conn:
        return audit.recent(conn, 50)


# -- the permission matrix ----------------------------------------------------------------------------

ALLOWED = "allowed"
OPS = {
    "list_types": lambda ctx, p: connectors.list_types(ctx, p),
    "list_connectors": lambda ctx, p: connectors.list_connectors(ctx, p),
    "get_connector": lambda ctx, p: connectors.get_connector(ctx, p, "warehouse"),
    "add_connector": lambda ctx, p: connectors.add_connector(ctx, p, "new-one", "vault", {"path": "/x"},
                                                             {"password": PASSWORD}),
    "update_connector": lambda ctx, p: connectors.update_connector(ctx, p, "warehouse", description="changed"),
    "remove_connector": lambda ctx, p: connectors.remove_connector(ctx, p, "warehouse"),
    "test_connector": lambda ctx, p: connectors.test_connector(ctx, p, "warehouse"),
    "browse": lambda ctx, p: connectors.browse(ctx, p, "warehouse"),
    "connect": lambda ctx, p: connectors.connect(ctx, p, "warehouse"),
    "reseal": lambda ctx, p: connectors.reseal(ctx, p),
}
USES = ("list_connectors", "get_connector", "browse", "connect")
MANAGES = ("list_types", "add_connector", "update_connector", "remove_connector", "test_connector", "reseal")
MATRIX = (
    [(op, "user", ALLOWED) for op in USES] + [(op, "user", PermissionDenied) for op in MANAGES]
    + [(op, "admin", ALLOWED) for op in (*USES, *MANAGES)]
    + [(op, "expired user", SessionExpired) for op in OPS] + [(op, "expired admin", SessionExpired) for op in OPS]
)


def test_the_matrix_covers_every_public_service_function():
    public = {name for name, fn in inspect.getmembers(connectors, inspect.isfunction)
              if not name.startswith("_") and fn.__module__ == connectors.__name__}
    # every one takes a principal: no connector is used for no one (connect_as_system is gone)
    assert public == set(OPS) == {op for op, _, _ in MATRIX}


@pytest.mark.parametrize("op, actor, expected", MATRIX, ids=[f"{o}-{a}" for o, a, _ in MATRIX])
def test_permission_matrix(ctx, login, clock, op, actor, expected):
    _add(ctx, login(OTHER_ADMIN))
    me = login(ADMIN if actor.endswith("admin") else USER)
    if actor.startswith("expired"):
        clock.advance(seconds=ctx.settings.token_ttl_seconds + 1)
    before = _audit(ctx)
    if expected is ALLOWED:
        OPS[op](ctx, me)
    else:
        with pytest.raises(expected):
            OPS[op](ctx, me)
        assert _audit(ctx) == before  # a refused call changes nothing


def test_a_user_sees_names_and_titles_only(ctx, admin, user):
    _add(ctx, admin)
    _use(ctx, "Fraud", "warehouse")
    mine = {c.name: c for c in connectors.list_connectors(ctx, user)}
    assert set(mine) == {"local", "warehouse"}
    seen = mine["warehouse"]
    assert (seen.type, seen.title, seen.description) == ("vault", "Test vault", "The warehouse")
    assert seen.config == {} and seen.secrets_set == () and seen.models == ()
    assert connectors.get_connector(ctx, user, "warehouse").config == {}
    full = connectors.get_connector(ctx, admin, "warehouse")
    assert full.config == {"path": "/data", "region": "eu"}
    assert full.secrets_set == ("password", "token") and full.models == ("Fraud",) and full.readable


def test_a_user_browses_and_connects_but_the_admin_tests(ctx, admin, user):
    _add(ctx, admin)
    assert [e.name for e in connectors.browse(ctx, user, "warehouse")] == ["accounts", "orders"]
    connection = connectors.connect(ctx, user, "warehouse")
    assert connection.secrets == {"password": PASSWORD, "token": TOKEN}  # the type gets them, in clear
    connection.close()


# -- secrets at rest -------------------------------------------------------------------------------

def test_the_database_files_audit_log_and_logs_never_hold_a_secret(ctx, admin, caplog):
    caplog.set_level(logging.DEBUG)
    _add(ctx, admin)
    connectors.update_connector(ctx, admin, "warehouse", secrets={"token": TOKEN + "-2"})
    connectors.test_connector(ctx, admin, "warehouse")
    connectors.add_connector(ctx, admin, "broken", "vault", {"path": "/x", "region": "nowhere"}, {"password": PASSWORD})
    result = connectors.test_connector(ctx, admin, "broken")
    assert not result.ok and PASSWORD not in result.message and "***" in result.message
    dump = stored_text(ctx)
    assert "warehouse" in dump
    for secret in (PASSWORD, TOKEN, TOKEN + "-2"):
        assert secret not in dump
    if ctx.settings.uses_sqlite:  # the raw pages too: a deleted row's bytes can linger in a file
        db = Path(ctx.settings.database_url.removeprefix("sqlite:///"))
        files = [p for p in (db, Path(f"{db}-wal")) if p.exists()]
        assert Path(f"{db}-wal") in files  # WAL mode: the newest pages are in the -wal file
        for path in files:
            raw = path.read_bytes()
            for secret in (PASSWORD, TOKEN, TOKEN + "-2"):
                assert secret.encode() not in raw, path
    entries = _audit(ctx)
    text = "\n".join(f"{e.action} {e.target} {e.detail}" for e in entries)
    assert "add connector warehouse type=vault; settings: path, region; secrets: password, token" in text
    assert "update connector warehouse secrets: token" in text
    assert PASSWORD not in text and TOKEN not in text
    assert PASSWORD not in caplog.text and TOKEN not in caplog.text
    for info in connectors.list_connectors(ctx, admin):
        assert PASSWORD not in repr(info) and TOKEN not in repr(info)
    with ctx.store.read() as conn:
        stored = conn.execute(select(schema.connectors.c.last_test_message)).scalars().all()
    assert not any(PASSWORD in m for m in stored)


def test_key_file_is_created_once_with_mode_0600(tmp_path):
    settings = load_settings({"VISION_HOME": str(tmp_path / "home")})  # no VISION_SECRET_KEY: the key file
    box = SecretBox.for_settings(settings, create=True)
    path = settings.home / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = box.seal({"password": PASSWORD})
    assert SecretBox.for_settings(settings).open(token) == {"password": PASSWORD}
    assert "key" not in repr(box).replace("<key hidden>", "")


def test_processes_racing_for_the_key_file_end_with_one_key(tmp_path):
    settings = load_settings({"VISION_HOME": str(tmp_path / "race")})
    boxes = all_at_once(lambda: SecretBox.for_settings(settings, create=True), 8)
    token = boxes[0].seal({"a": "b"})
    assert all(b.open(token) == {"a": "b"} for b in boxes)
    assert [p.name for p in (tmp_path / "race").iterdir()] == [KEY_FILE]  # no temporary left behind


def test_separate_processes_starting_at_once_end_with_one_key(tmp_path):
    import subprocess
    import sys

    home = tmp_path / "procs"
    script = ("import sys, time\n"
              "from vision_widgets.core.config import load_settings\n"
              "from vision_widgets.core.secrets import SecretBox\n"
              "settings = load_settings({'VISION_HOME': sys.argv[1]})\n"
              "while time.time() < float(sys.argv[2]): pass\n"
              "print(SecretBox.for_settings(settings, create=True).seal({'who': sys.argv[3]}))\n")
    start = f"{time.time() + 2.0:.3f}"  # every process imports first, then all race for the file at once
    procs = [subprocess.Popen([sys.executable, "-c", script, str(home), start, str(i)], stdout=subprocess.PIPE,
                              text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
             for i in range(4)]
    tokens = [p.communicate(timeout=60)[0].strip() for p in procs]
    box = SecretBox((home / KEY_FILE).read_bytes().strip())
    assert [box.open(t)["who"] for t in tokens] == ["0", "1", "2", "3"]
    assert [p.name for p in home.iterdir()] == [KEY_FILE]


def test_the_environment_key_wins_and_a_bad_one_is_refused_without_echo(tmp_path):
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    settings = load_settings({"VISION_HOME": str(tmp_path), "VISION_SECRET_KEY": key})
    assert key not in repr(settings)
    token = SecretBox.for_settings(settings).seal({"x": "y"})
    assert SecretBox(key).open(token) == {"x": "y"}
    assert not (tmp_path / KEY_FILE).exists()
    with pytest.raises(ConfigurationError, match="VISION_SECRET_KEY is not a Fernet key") as raised:
        load_settings({"VISION_HOME": str(tmp_path), "VISION_SECRET_KEY": "not-a-key-hunter2"})
    assert "hunter2" not in str(raised.value)
    with pytest.raises(SecretsUnreadable):
        SecretBox(Fernet.generate_key()).open(token)


# -- a lost key --------------------------------------------------------------------------------------

def test_a_lost_key_marks_connectors_unreadable_and_reentering_fixes_it(ctx, admin, user):
    _add(ctx, admin)
    lose_secret_key(ctx)
    info = connectors.get_connector(ctx, admin, "warehouse")
    assert not info.readable and info.secrets_set == () and info.config["path"] == "/data"
    assert [c.name for c in connectors.list_connectors(ctx, user)] == ["local", "warehouse"]
    for call in (lambda: connectors.connect(ctx, user, "warehouse"),
                 lambda: connectors.browse(ctx, user, "warehouse"),
                 lambda: connectors.test_connector(ctx, admin, "warehouse")):
        with pytest.raises(ConnectorError, match="secrets cannot be decrypted .*re-enter them"):
            call()
    after = connectors.get_connector(ctx, admin, "warehouse")
    assert after.last_test_ok is False and "re-enter" in after.last_test_message
    # A description change keeps the (unreadable) secrets as they are; nothing else breaks.
    assert connectors.update_connector(ctx, admin, "warehouse", description="still here").description == "still here"
    assert connectors.get_connector(ctx, admin, "local").readable
    fixed = connectors.update_connector(ctx, admin, "warehouse", secrets={"password": "new-" + PASSWORD})
    assert fixed.readable and fixed.secrets_set == ("password",)
    assert connectors.test_connector(ctx, admin, "warehouse").ok


# -- rules --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["", "a" * 33, "has space", "semi;colon", "ünïcode", "../up"])
def test_bad_names_are_refused(ctx, admin, name):
    with pytest.raises(InvalidInput) as raised:
        connectors.add_connector(ctx, admin, name, "vault", {"path": "/x"}, {"password": PASSWORD})
    assert raised.value.field == "name"


def test_names_are_unique_whatever_their_case(ctx, admin):
    _add(ctx, admin, "Warehouse")
    with pytest.raises(Conflict, match="exists already"):
        _add(ctx, admin, "WAREHOUSE")
    with pytest.raises(Conflict):
        _add(ctx, admin, "LOCAL")
    assert connectors.get_connector(ctx, admin, "warehouse").name == "Warehouse"


def test_type_checks_name_the_field(ctx, admin):
    with pytest.raises(InvalidInput) as raised:
        connectors.add_connector(ctx, admin, "w", "vault", {"path": "/x"}, {})
    assert raised.value.field == "password"
    with pytest.raises(InvalidInput) as raised:
        connectors.add_connector(ctx, admin, "w", "nosuchtype", {}, {})
    assert raised.value.field == "type" and "vault" in str(raised.value)
    with pytest.raises(InvalidInput) as raised:
        connectors.add_connector(ctx, admin, "w", "vault", {"path": "/x", "colour": "red"}, {"password": "p"})
    assert raised.value.field == "colour"
    # A secret given among the settings is still sealed, never stored in the config.
    info = connectors.add_connector(ctx, admin, "w", "vault", {"path": "/x", "password": PASSWORD}, {})
    assert info.secrets_set == ("password",) and "password" not in info.config


def test_update_replaces_only_the_secrets_given(ctx, admin):
    _add(ctx, admin)
    connectors.update_connector(ctx, admin, "warehouse", config={"path": "/new", "region": "us"},
                                secrets={"password": "", "token": "fresh-token"})
    connection = connectors.connect(ctx, admin, "warehouse")
    assert connection.secrets == {"password": PASSWORD, "token": "fresh-token"}
    assert connection.config == {"path": "/new", "region": "us"}
    entry = _audit(ctx)[0]
    assert (entry.action, entry.detail) == ("update connector", "settings: path, region; secrets: token")


def test_a_changed_configuration_forgets_the_last_test(ctx, admin):
    _add(ctx, admin)
    result = connectors.test_connector(ctx, admin, "warehouse")
    assert result.ok and result.sample == ("accounts", "orders")
    tested = connectors.get_connector(ctx, admin, "warehouse")
    assert tested.last_test_ok and tested.last_test_ms == 12.5 and tested.last_test_at == ctx.now()
    assert _audit(ctx)[0].detail == "ok, 12 ms"
    connectors.update_connector(ctx, admin, "warehouse", description="only words")
    assert connectors.get_connector(ctx, admin, "warehouse").last_test_ok  # words change no result
    connectors.update_connector(ctx, admin, "warehouse", config={"path": "/elsewhere"})
    assert connectors.get_connector(ctx, admin, "warehouse").last_test_at is None


def test_the_built_in_local_connector_stays(ctx, admin):
    with pytest.raises(Conflict, match="cannot be removed"):
        connectors.remove_connector(ctx, admin, "local")
    with pytest.raises(InvalidInput):
        connectors.update_connector(ctx, admin, "local", config={"root": "/etc"})
    assert connectors.get_connector(ctx, admin, "local").config == {}


def test_remove_is_refused_while_models_use_it_unless_they_move(ctx, admin):
    _add(ctx, admin)
    _add(ctx, admin, "backup")
    _use(ctx, "Fraud", "warehouse")
    _use(ctx, "Churn", "warehouse")
    with pytest.raises(Conflict, match=r"2 models use it: Churn, Fraud; move them to another connector first"):
        connectors.remove_connector(ctx, admin, "warehouse")
    with pytest.raises(InvalidInput, match="Local filesystem|local") as raised:
        connectors.remove_connector(ctx, admin, "warehouse", move_models_to="local")
    assert raised.value.field == "move_models_to"
    with pytest.raises(NotFound):
        connectors.remove_connector(ctx, admin, "warehouse", move_models_to="nowhere")
    assert connectors.get_connector(ctx, admin, "warehouse").models == ("Churn", "Fraud")  # nothing moved
    connectors.remove_connector(ctx, admin, "warehouse", move_models_to="backup")
    assert connectors.get_connector(ctx, admin, "backup").models == ("Churn", "Fraud")
    with pytest.raises(NotFound):
        connectors.get_connector(ctx, admin, "warehouse")
    entry = _audit(ctx)[0]
    assert (entry.action, entry.target, entry.detail) == ("remove connector", "warehouse", "moved 2 models to backup")


def test_a_connector_no_model_uses_is_removed(ctx, admin):
    _add(ctx, admin)
    connectors.remove_connector(ctx, admin, "warehouse")
    assert [c.name for c in connectors.list_connectors(ctx, admin)] == ["local"]


# -- through the real sql type -----------------------------------------------------------------------

def test_a_sql_connector_on_sqlite_is_tested_browsed_and_opened_through_the_service(ctx, admin, user, tmp_path):
    folder = tmp_path / "distinctive-sql-folder"
    folder.mkdir()
    with sqlite3.connect(folder / "sales.db") as db:
        db.execute("create table orders (id integer, amount real)")
        db.executemany("insert into orders values (?, ?)", [(i, i * 1.5) for i in range(100)])
    url = f"sqlite:///{folder / 'sales.db'}"
    info = connectors.add_connector(ctx, admin, "sales", "sql", {}, {"url": url})
    assert info.secrets_set == ("url",) and info.config["connect_timeout"] == 10
    result = connectors.test_connector(ctx, admin, "sales")
    assert result.ok and result.sample == ("orders",) and "distinctive-sql-folder" not in result.message
    assert [(e.name, e.kind) for e in connectors.browse(ctx, user, "sales")] == [("orders", "table")]
    connection = connectors.connect(ctx, user, "sales")
    try:
        assert connection.open("orders").read_all().num_rows == 100
    finally:
        connection.close()
    db_file = Path(ctx.settings.database_url.removeprefix("sqlite:///"))
    for path in (db_file, Path(f"{db_file}-wal")):
        if path.exists():
            assert b"distinctive-sql-folder" not in path.read_bytes()


def test_an_unreachable_database_fails_the_test_in_time_without_its_password(ctx, admin):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql+psycopg://reader:{PASSWORD}@127.0.0.1:{port}/sales"
    connectors.add_connector(ctx, admin, "pg", "sql", {"connect_timeout": "2"}, {"url": url})
    result = connectors.test_connector(ctx, admin, "pg", timeout=5)
    assert not result.ok and PASSWORD not in result.message and result.message
    stored = connectors.get_connector(ctx, admin, "pg")
    assert stored.last_test_ok is False and PASSWORD not in stored.last_test_message
