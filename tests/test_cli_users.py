"""``python -m vision_widgets init`` and ``users list|add|remove|set-password``, as an operator runs them."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
from helpers import PASSWORDS, REPO_ROOT, USER, USERS_JSON
from sqlalchemy import select

from vision_widgets.core import audit
from vision_widgets.core.config import load_settings
from vision_widgets.core.context import Context
from vision_widgets.core.errors import AuthenticationError
from vision_widgets.core.identity import auth, sessions, users
from vision_widgets.core.storage import schema
from vision_widgets.demo import sample_accounts

NEW_PASSWORD = "Fresh-Operator-Pass-7"


def vision(home, *args, stdin: str | None = None) -> subprocess.CompletedProcess:
    """Run the CLI with VISION_HOME=home, the password (if any) on standard input (not a tty)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VISION_")}
    env["VISION_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "vision_widgets", *args],
        cwd=REPO_ROOT, env=env, input=stdin if stdin is not None else "", capture_output=True, text=True, timeout=120,
    )


@pytest.fixture
def home(tmp_path, fast_users_file):
    """A VISION_HOME whose database holds the sample accounts (seeded in-process: cheaper than a subprocess)."""
    home = tmp_path / "home"
    ctx = Context.open(load_settings({"VISION_HOME": str(home)}), upgrade=True)
    sample_accounts.load_users(ctx, fast_users_file)
    ctx.store.dispose()
    return home


def _ctx(home) -> Context:
    return Context.open(load_settings({"VISION_HOME": str(home)}))


def _names(home) -> set[str]:
    ctx = _ctx(home)
    try:
        with ctx.store.read() as conn:
            return {a.username for a in users.list_all(conn)}
    finally:
        ctx.store.dispose()


def _login_works(home, username, password) -> bool:
    ctx = _ctx(home)
    try:
        auth.login(ctx, username, password)
        return True
    except AuthenticationError:
        return False
    finally:
        ctx.store.dispose()


def _fails_with(done: subprocess.CompletedProcess, message: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert message in done.stderr
    assert "Traceback" not in done.stderr


@pytest.fixture
def run_cli(monkeypatch, capsys):
    """``cli.main`` in this process (a subprocess costs seconds): same parser, same exit codes.

    Used for the bad-input table; the subprocess tests above prove the real entry point.
    """
    from vision_widgets import cli

    def _run(home, *args, stdin: str = "") -> subprocess.CompletedProcess:
        for key in [k for k in os.environ if k.startswith("VISION_")]:
            monkeypatch.delenv(key)
        monkeypatch.setenv("VISION_HOME", str(home))
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = cli.main(list(args))
        out = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out.out, out.err)

    return _run


# -- init --------------------------------------------------------------------------------
def test_init_creates_the_database_then_adds_nothing_the_second_time(tmp_path):
    home = tmp_path / "fresh-home"
    first = vision(home, "init")
    assert first.returncode == 0, first.stderr
    assert "10 account(s) added" in first.stdout and str(home / "vision.db") in first.stdout
    assert _names(home) == set(PASSWORDS)
    # the data folder the Register page names first exists, so a first file can go there
    assert (home / "data").is_dir() and "data folder" in first.stdout
    second = vision(home, "init")
    assert second.returncode == 0, second.stderr
    assert "0 account(s) added (all present already)" in second.stdout


def test_init_refuses_a_vision_home_it_cannot_write(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    _fails_with(vision(blocker / "home", "init"), "cannot be written")


def test_init_with_a_malformed_users_file_names_the_entry_and_loads_nothing(tmp_path, run_cli):
    data = json.loads(USERS_JSON.read_text(encoding="utf-8"))
    data["users"][3]["password"] = "po_admin123"
    bad = tmp_path / "users.json"
    bad.write_text(json.dumps(data))
    _fails_with(run_cli(tmp_path / "home", "init", "--users", str(bad)), "entry 4 ('productowner_admin') has a plaintext")
    assert _names(tmp_path / "home") == set()


# -- users -------------------------------------------------------------------------------
def test_users_list_shows_every_account_and_no_hash(home):
    done = vision(home, "users", "list")
    assert done.returncode == 0, done.stderr
    for name in PASSWORDS:
        assert name in done.stdout
    assert "$argon2" not in done.stdout
    assert "datascientist_admin   admin" in done.stdout


def test_users_add_reads_the_password_from_stdin_and_the_account_can_log_in(home):
    done = vision(home, "users", "add", "ops_person", "--persona", "Operator", "--profile", "admin",
                  "--lob", "Operations", stdin=NEW_PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    assert "Added ops_person (admin)." in done.stdout
    assert NEW_PASSWORD not in done.stdout + done.stderr
    assert _login_works(home, "ops_person", NEW_PASSWORD)
    ctx = _ctx(home)
    with ctx.store.read() as conn:
        entry = audit.recent(conn, 1)[0]
        stored = conn.execute(select(schema.users.c.password_hash).where(schema.users.c.username == "ops_person")).scalar_one()
    ctx.store.dispose()
    assert (entry.action, entry.target) == ("create account", "ops_person") and entry.actor.startswith("cli")
    assert stored.startswith("$argon2id$") and NEW_PASSWORD not in stored


@pytest.mark.parametrize(
    "username, stdin, message",
    [
        ("bad name", NEW_PASSWORD, "3 to 32 characters"),
        ("<img src=x onerror=alert(1)>", NEW_PASSWORD, "3 to 32 characters"),
        ("new_person", "short-1", "at least 10 characters"),
        ("new_person", "", "at least 10 characters"),
        ("new_person", "my-NEW_PERSON-pass", "must not contain the username"),
        ("Sre_User", NEW_PASSWORD, "already exists"),
    ],
    ids=["space", "html", "weak-password", "no-password", "contains-username", "duplicate-any-case"],
)
def test_users_add_refuses_bad_input_with_exit_2_and_adds_nothing(home, run_cli, username, stdin, message):
    _fails_with(run_cli(home, "users", "add", username, "--persona", "Analyst", stdin=stdin + "\n"), message)
    assert _names(home) == set(PASSWORDS)


def test_users_remove_removes_the_account(home):
    done = vision(home, "users", "remove", USER)
    assert done.returncode == 0 and f"Removed {USER}." in done.stdout
    assert _names(home) == set(PASSWORDS) - {USER}



def test_users_remove_refuses_an_unknown_account(home, run_cli):
    _fails_with(run_cli(home, "users", "remove", "ghost"), "There is no account named 'ghost'")


def test_users_remove_refuses_the_last_admin(tmp_path, fast_users_file, run_cli):
    data = json.loads(fast_users_file.read_text())
    data["users"] = [e for e in data["users"] if e["username"] in (USER, "sre_admin")]
    small = tmp_path / "two-users.json"
    small.write_text(json.dumps(data))
    home = tmp_path / "home"
    ctx = Context.open(load_settings({"VISION_HOME": str(home)}), upgrade=True)
    sample_accounts.load_users(ctx, small)
    ctx.store.dispose()
    _fails_with(run_cli(home, "users", "remove", "sre_admin"), "'sre_admin' is the last admin")
    assert _names(home) == {USER, "sre_admin"}


def test_users_set_password_changes_it_and_ends_sessions(home):
    ctx = _ctx(home)
    session = auth.login(ctx, USER, PASSWORDS[USER])
    done = vision(home, "users", "set-password", USER, stdin=NEW_PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    assert "sessions were ended" in done.stdout
    with pytest.raises(AuthenticationError):
        sessions.resume(ctx, session.token)
    ctx.store.dispose()
    assert not _login_works(home, USER, PASSWORDS[USER])
    assert _login_works(home, USER, NEW_PASSWORD)


def test_users_set_password_refuses_a_weak_password_or_unknown_account_and_changes_nothing(home, run_cli):
    _fails_with(run_cli(home, "users", "set-password", USER, stdin=f"{USER}-2024!\n"), "must not contain the username")
    _fails_with(run_cli(home, "users", "set-password", "ghost", stdin=NEW_PASSWORD + "\n"), "no account named 'ghost'")
    assert _login_works(home, USER, PASSWORDS[USER])
