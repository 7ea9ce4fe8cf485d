"""Review of issue 11 (stored connectors): the defects the reviewer demonstrated, asserted fixed.

Secrets never reach a log, a traceback or a person through a library's text (also URL-encoded);
users see whether a connector's last test passed, not its message; a test of old settings is not
kept against new ones; an unreadable connector's settings are not stored unchecked; reading never
creates a key (and a shared database needs ``VISION_SECRET_KEY``); the key file is private, works
without hard links, and keys rotate; a local path with ``~user`` is plain invalid input.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import sqlite3
import stat
import threading
from urllib.parse import quote

import pytest
from cryptography.fernet import Fernet
from helpers import ADMIN, USER, all_at_once, signed_in_state

from vision_widgets.core import audit
from vision_widgets.core import connectors as types_registry
from vision_widgets.core import secrets as secrets_module
from vision_widgets.core.config import load_settings
from vision_widgets.core.connectors import Entry, Field, TestResult, check_fields
from vision_widgets.core.errors import ConfigurationError, ConnectorError, InvalidInput, PermissionDenied
from vision_widgets.core.secrets import KEY_FILE, KeyMissing, SecretBox, SecretsUnreadable
from vision_widgets.services import connectors

PASSWORD = "p@ss/w0rd-Distinctive-77"
RELEASE = threading.Event()   # a "slow" test waits on it (the test decides when it ends)
STARTED = threading.Event()


class Conn:
    def __init__(self, config, secrets):
        self.config, self.secrets = config, secrets

    def browse(self, path="", limit=200):
        if path == "boom":
            raise RuntimeError(f"cannot list postgresql://reader:{self.secrets['password']}@db/x")
        if path == "encoded":
            raise OSError(f"cannot list postgresql://reader:{quote(self.secrets['password'], safe='')}@db/x")
        return [Entry("t", "t", "table")]

    def open(self, ref):
        return ref

    def describe(self, ref):
        return ref

    def test(self, timeout=10.0):
        mode = self.config.get("mode")
        if mode == "crash":
            raise RuntimeError(f"driver bug: dsn=postgresql://reader:{self.secrets['password']}@db/x")
        if mode == "encoded":
            return TestResult(False, 1.0, f"could not connect to postgresql://reader:"
                                          f"{quote(self.secrets['password'], safe='')}@db/x")
        if mode == "slow":
            STARTED.set()
            RELEASE.wait(10)
        return TestResult(True, 1.0, "ok", ("a_rather_long_table_name_of_the_warehouse_2026",))

    def close(self):
        pass


class VType:
    type, title = "vault2", "Vault 2"
    fields = (Field("mode", "Mode"), Field("timeout", "Timeout", kind="int", default=10),
              Field("password", "Password", secret=True, required=True))

    def check(self, config, secrets):
        return check_fields(self.fields, config, secrets)

    def connect(self, settings, config, secrets):
        if config.get("mode") == "no-connect":
            raise ValueError(f"bad dsn postgresql://reader:{secrets['password']}@db/x")
        return Conn(dict(config), dict(secrets))


@pytest.fixture(autouse=True)
def vtype(monkeypatch):
    monkeypatch.setitem(types_registry._TYPES, "vault2", VType())
    RELEASE.clear()
    STARTED.clear()
    yield
    RELEASE.set()


def _sqlite(tmp_path, name="x.db"):
    db = tmp_path / name
    sqlite3.connect(db).execute("create table salaries (x)").connection.close()
    return f"sqlite:///{db}"


# -- finding 4: nothing raw reaches a log or a caller --------------------------------------------------

def test_an_unexpected_test_failure_logs_its_class_and_scrubbed_line_only(ctx, login, caplog):
    caplog.set_level(logging.DEBUG)
    admin = login(ADMIN)
    connectors.add_connector(ctx, admin, "c1", "vault2", {"mode": "crash"}, {"password": PASSWORD})
    result = connectors.test_connector(ctx, admin, "c1")
    assert not result.ok and PASSWORD not in result.message
    assert "could not be read" in result.message or "c1" in result.message
    assert PASSWORD not in caplog.text and quote(PASSWORD, safe="") not in caplog.text
    assert "RuntimeError" in caplog.text
    assert not any(r.exc_info for r in caplog.records)  # no traceback: its text and frames may hold a secret


def test_browse_errors_become_scrubbed_connector_errors(ctx, login, caplog):
    caplog.set_level(logging.DEBUG)
    user = login(USER)
    connectors.add_connector(ctx, login(ADMIN), "c3", "vault2", {}, {"password": PASSWORD})
    for path in ("boom", "encoded"):
        with pytest.raises(ConnectorError) as raised:
            connectors.browse(ctx, user, "c3", path)
        assert PASSWORD not in str(raised.value) and quote(PASSWORD, safe="") not in str(raised.value)
    assert PASSWORD not in caplog.text and quote(PASSWORD, safe="") not in caplog.text


def test_a_type_failing_to_connect_gives_a_scrubbed_connector_error(ctx, login):
    admin = login(ADMIN)
    connectors.add_connector(ctx, admin, "c5", "vault2", {"mode": "no-connect"}, {"password": PASSWORD})
    for call in (lambda: connectors.browse(ctx, admin, "c5"), lambda: connectors.connect(ctx, admin, "c5")):
        with pytest.raises(ConnectorError) as raised:
            call()
        assert PASSWORD not in str(raised.value)
    result = connectors.test_connector(ctx, admin, "c5")
    assert not result.ok and PASSWORD not in result.message


# -- finding 5: one scrub, also URL-encoded ------------------------------------------------------------

def test_a_url_encoded_secret_is_scrubbed_before_it_is_stored(ctx, login):
    admin = login(ADMIN)
    connectors.add_connector(ctx, admin, "c2", "vault2", {"mode": "encoded"}, {"password": PASSWORD})
    result = connectors.test_connector(ctx, admin, "c2")
    assert quote(PASSWORD, safe="") not in result.message and "***" in result.message
    stored = connectors.get_connector(ctx, admin, "c2").last_test_message
    assert quote(PASSWORD, safe="") not in stored and PASSWORD not in stored


def test_a_sample_keeps_long_table_names(ctx, login):
    admin = login(ADMIN)
    connectors.add_connector(ctx, admin, "c7", "vault2", {}, {"password": PASSWORD})
    result = connectors.test_connector(ctx, admin, "c7")
    assert result.sample == ("a_rather_long_table_name_of_the_warehouse_2026",)


# -- finding 6: users see ok/failed and when, not the message -------------------------------------------

def test_a_user_sees_whether_the_last_test_passed_but_not_its_message(ctx, login, tmp_path):
    admin, user = login(ADMIN), login(USER)
    connectors.add_connector(ctx, admin, "hr", "sql", {}, {"url": _sqlite(tmp_path, "hr-payroll-2026.db")})
    connectors.test_connector(ctx, admin, "hr")
    for seen in (next(c for c in connectors.list_connectors(ctx, user) if c.name == "hr"),
                 connectors.get_connector(ctx, user, "hr")):
        assert seen.config == {} and seen.last_test_message == "" and seen.last_test_ms is None
        assert seen.last_test_ok is True and seen.last_test_at is not None
    assert "hr-payroll-2026.db" not in repr(connectors.list_connectors(ctx, user))
    assert connectors.get_connector(ctx, admin, "hr").last_test_message  # admins still read it


# -- finding 7: a test of old settings is not kept against new ones -----------------------------------

def test_a_test_of_the_old_settings_is_not_recorded_against_the_new_ones(ctx, login):
    admin = login(ADMIN)
    connectors.add_connector(ctx, admin, "c6", "vault2", {"mode": "slow"}, {"password": PASSWORD})
    worker = threading.Thread(target=connectors.test_connector, args=(ctx, admin, "c6"))
    worker.start()
    assert STARTED.wait(10)
    # the fake clock stands still: the edit has the same timestamp as the row the test read
    connectors.update_connector(ctx, admin, "c6", config={"mode": "crash"})   # forgets the last test
    RELEASE.set()
    worker.join(10)
    info = connectors.get_connector(ctx, admin, "c6")
    assert info.config["mode"] == "crash" and info.last_test_at is None and info.last_test_ok is None
    with ctx.store.read() as conn:
        entry = next(e for e in audit.recent(conn) if e.action == "test connector")
    assert "not kept" in entry.detail
    # a test of the current settings is kept
    connectors.update_connector(ctx, admin, "c6", config={"mode": ""})
    connectors.test_connector(ctx, admin, "c6")
    assert connectors.get_connector(ctx, admin, "c6").last_test_ok is True


# -- finding 10: an unreadable connector's settings are not stored unchecked --------------------------

def test_an_unreadable_connector_refuses_new_settings_until_its_secrets_are_reentered(ctx, login, tmp_path):
    admin = login(ADMIN)
    url = _sqlite(tmp_path)
    connectors.add_connector(ctx, admin, "c4", "sql", {}, {"url": url})
    (ctx.settings.home / KEY_FILE).unlink()
    with pytest.raises(InvalidInput) as raised:  # what can be checked without the secrets is checked
        connectors.update_connector(ctx, admin, "c4", config={"connect_timeout": "abc", "statement_timeout": 999999})
    assert raised.value.field == "connect_timeout"
    with pytest.raises(InvalidInput, match="re-enter its secrets") as raised:  # the rest needs them
        connectors.update_connector(ctx, admin, "c4", config={"statement_timeout": 999999})
    assert raised.value.field == "url"
    assert connectors.get_connector(ctx, admin, "c4").config["statement_timeout"] != 999999
    with pytest.raises(InvalidInput):
        connectors.update_connector(ctx, admin, "c4", config={"statement_timeout": 999999}, secrets={"url": url})
    before = connectors.get_connector(ctx, admin, "c4")
    # the same settings (a form saved for its description) still pass, the token kept as it is
    info = connectors.update_connector(ctx, admin, "c4", config={k: str(v) for k, v in before.config.items()},
                                       description="payroll")
    assert info.description == "payroll" and info.config == before.config and not info.readable
    info = connectors.update_connector(ctx, admin, "c4", config={"statement_timeout": 60}, secrets={"url": url})
    assert info.readable and info.config["statement_timeout"] == 60


# -- finding 12: '~user' in a local path ---------------------------------------------------------------

def test_a_local_path_with_a_tilde_is_invalid_input_not_an_unexpected_error(ctx, login):
    for path in ("~nosuchuser-r11/x", "~/x"):
        with pytest.raises(InvalidInput):
            connectors.browse(ctx, login(USER), "local", path)


# -- finding 3: reading never creates a key; a shared database needs VISION_SECRET_KEY ---------------

def test_reading_never_creates_a_key_file(ctx, login):
    admin, user = login(ADMIN), login(USER)
    connectors.add_connector(ctx, admin, "c8", "vault2", {}, {"password": PASSWORD})
    path = ctx.settings.home / KEY_FILE
    path.unlink()
    assert not connectors.get_connector(ctx, admin, "c8").readable
    assert not next(c for c in connectors.list_connectors(ctx, user) if c.name == "c8").readable
    with pytest.raises(ConnectorError, match="key file is missing") as raised:
        connectors.browse(ctx, user, "c8")
    assert str(ctx.settings.home) not in str(raised.value)  # a user is told, but not the server's paths
    assert not path.exists()  # a new key would make the lost one's secrets look merely "changed"
    with pytest.raises(KeyMissing, match="missing"):
        SecretBox.for_settings(ctx.settings)
    # re-entering the secrets (a write) creates the new key
    assert connectors.update_connector(ctx, admin, "c8", secrets={"password": PASSWORD}).readable
    assert path.exists()


def test_a_shared_database_without_vision_secret_key_is_a_configuration_error(tmp_path):
    settings = load_settings({"VISION_HOME": str(tmp_path), "VISION_DATABASE_URL": "postgresql+psycopg://u@db/vision"})
    for create in (False, True):
        with pytest.raises(ConfigurationError, match="VISION_SECRET_KEY"):
            SecretBox.for_settings(settings, create=create)
    assert not (tmp_path / KEY_FILE).exists()
    key = Fernet.generate_key().decode()
    settings = load_settings({"VISION_HOME": str(tmp_path), "VISION_DATABASE_URL": "postgresql+psycopg://u@db/vision",
                              "VISION_SECRET_KEY": key})
    assert SecretBox(key).open(SecretBox.for_settings(settings).seal({"a": "b"})) == {"a": "b"}


# -- finding 15: a private key file, no hard links, rotation ----------------------------------------

@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
def test_a_key_file_others_may_read_is_refused(settings):
    SecretBox.for_settings(settings, create=True)
    path = settings.home / KEY_FILE
    key = path.read_text().strip()
    path.chmod(0o644)
    with pytest.raises(ConfigurationError, match="chmod 600") as raised:
        SecretBox.for_settings(settings)
    assert key not in str(raised.value)
    path.chmod(0o600)
    SecretBox.for_settings(settings)


def test_a_file_system_without_hard_links_still_gets_one_private_key(settings, monkeypatch):
    def no_links(*_args, **_kwargs):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(secrets_module.os, "link", no_links)
    boxes = all_at_once(lambda: SecretBox.for_settings(settings, create=True), 6)
    token = boxes[0].seal({"a": "b"})
    assert len(boxes) == 6 and all(b.open(token) == {"a": "b"} for b in boxes)
    path = settings.home / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in settings.home.iterdir() if "key" in p.name] == [KEY_FILE]


def test_a_key_file_that_cannot_be_created_is_a_configuration_error(settings, monkeypatch):
    def refused(*_args, **_kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(secrets_module.os, "open", refused)
    with pytest.raises(ConfigurationError, match="cannot be created"):
        SecretBox.for_settings(settings, create=True)


def test_keys_rotate_the_first_seals_every_one_opens_and_reseal_drops_the_old(tmp_path, ctx, login):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = SecretBox(old).seal({"password": PASSWORD})
    settings = load_settings({"VISION_HOME": str(tmp_path), "VISION_SECRET_KEY": f"{new}, {old}"})
    box = SecretBox.for_settings(settings)
    assert box.open(token) == {"password": PASSWORD}
    assert SecretBox(new).open(box.seal({"x": "y"})) == {"x": "y"}
    with pytest.raises(ConfigurationError) as raised:
        load_settings({"VISION_HOME": str(tmp_path), "VISION_SECRET_KEY": f"{new},hunter2-not-a-key"})
    assert "hunter2" not in str(raised.value)

    admin = login(ADMIN)
    connectors.add_connector(ctx, admin, "c9", "vault2", {}, {"password": PASSWORD})
    connectors.test_connector(ctx, admin, "c9")
    first = (ctx.settings.home / KEY_FILE).read_text().strip()
    second = Fernet.generate_key().decode()
    rotating = dataclasses.replace(ctx, settings=dataclasses.replace(ctx.settings, secret_key=f"{second},{first}"))
    with pytest.raises(PermissionDenied):
        connectors.reseal(rotating, login(USER))
    done, unreadable = connectors.reseal(rotating, admin)
    assert "c9" in done and unreadable == []
    rotated = dataclasses.replace(ctx, settings=dataclasses.replace(ctx.settings, secret_key=second))
    info = connectors.get_connector(rotated, admin, "c9")
    assert info.readable and info.last_test_ok is True  # the values did not change: the test still holds
    assert not connectors.get_connector(ctx, admin, "c9").readable  # the old key alone no longer opens it


def test_the_box_never_shows_its_key():
    key = Fernet.generate_key().decode()
    assert key not in repr(SecretBox(key)) and key not in repr(SecretBox(f"{key},{Fernet.generate_key().decode()}"))
    with pytest.raises(SecretsUnreadable):
        SecretBox(Fernet.generate_key()).open(SecretBox(key).seal({"a": "b"}))


# -- finding 14 (Connectors page): a test ending after logout or close updates nothing ---------------

def test_a_test_ending_after_logout_updates_nothing(ctx, login, caplog, monkeypatch):
    from vision_widgets.views.connectors import ConnectorsView

    caplog.set_level(logging.DEBUG)
    admin = login(ADMIN)
    connectors.add_connector(ctx, admin, "c10", "vault2", {"mode": "slow"}, {"password": PASSWORD})
    state = signed_in_state(admin)
    view = ConnectorsView(ctx, state)
    try:
        view.choice.value = "c10"
        calls = []
        real = connectors.list_connectors
        monkeypatch.setattr(connectors, "list_connectors", lambda *a, **k: calls.append(a) or real(*a, **k))
        view.test.click()
        assert STARTED.wait(10)
        state.end_session("You are logged out.")
        view.close()
        RELEASE.set()
        view.wait()
        assert calls == []
        assert "unexpected" not in caplog.text.lower() and "Traceback" not in caplog.text
        assert not any(r.levelno >= logging.ERROR for r in caplog.records)
    finally:
        RELEASE.set()
        view.wait()
        view.close()
