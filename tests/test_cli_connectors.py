"""``vision connectors list | types | add | update | test | remove | reseal`` as an operator runs them, over a real SQLite source."""
from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO_ROOT

from vision_widgets.core import audit
from vision_widgets.core.config import load_settings
from vision_widgets.core.context import Context
from vision_widgets.core.storage import schema
from vision_widgets.demo import sample_accounts

SECRET_URL_MARK = "distinctive-cli-secret"


def vision(home, *args, env_extra: dict | None = None, stdin: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VISION_")}
    env["VISION_HOME"] = str(home)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "vision_widgets", *args], cwd=REPO_ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def home(tmp_path, fast_users_file):
    home = tmp_path / "home"
    ctx = Context.open(load_settings({"VISION_HOME": str(home)}), upgrade=True)
    sample_accounts.load_users(ctx, fast_users_file)
    ctx.store.dispose()
    return home


@pytest.fixture
def sales_db(tmp_path) -> Path:
    """A SQLite file with two tables, in a folder with a distinctive name: the URL is the secret, and its
    folder is the part messages must never show (the file's own name they may)."""
    (tmp_path / SECRET_URL_MARK).mkdir()
    path = tmp_path / SECRET_URL_MARK / "sales.db"
    with sqlite3.connect(path) as db:
        db.execute("create table orders (id integer, amount real)")
        db.execute("create table customers (id integer, name text)")
    return path


@pytest.fixture
def run_cli(monkeypatch, capsys):
    """``cli.main`` in this process (cheaper than a subprocess), standard input not a terminal."""
    from vision_widgets import cli

    def _run(home, *args, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
        for key in [k for k in os.environ if k.startswith("VISION_")]:
            monkeypatch.delenv(key)
        monkeypatch.setenv("VISION_HOME", str(home))
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = cli.main(list(args))
        out = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out.out, out.err)

    return _run


def _audit(home):
    ctx = Context.open(load_settings({"VISION_HOME": str(home)}))
    try:
        with ctx.store.read() as conn:
            return audit.recent(conn, 20)
    finally:
        ctx.store.dispose()


def test_add_from_an_environment_variable_then_test_and_list(home, sales_db):
    url = f"sqlite:///{sales_db}"
    added = vision(home, "connectors", "add", "sales", "--type", "sql", "--secret-env", "url=SALES_URL",
                   "--set", "connect_timeout=5", "--description", "Sales database", env_extra={"SALES_URL": url})
    assert added.returncode == 0, added.stderr
    assert "Added connector sales (SQL database); secrets sealed: url." in added.stdout
    tested = vision(home, "connectors", "test", "sales")
    assert tested.returncode == 0, tested.stderr
    assert tested.stdout.startswith("ok: ") and " ms" in tested.stdout
    assert "sees: customers, orders" in tested.stdout
    listed = vision(home, "connectors", "list")
    assert listed.returncode == 0, listed.stderr
    line = next(line for line in listed.stdout.splitlines() if line.startswith("sales"))
    assert "sql" in line and "ok, " in line and "Sales database" in line
    for out in (added, tested, listed):
        assert SECRET_URL_MARK not in out.stdout + out.stderr
    db = home / "vision.db"
    for path in (db, Path(f"{db}-wal")):
        if path.exists():
            assert SECRET_URL_MARK.encode() not in path.read_bytes()
    actions = [(e.actor.startswith("cli"), e.action, e.target) for e in _audit(home)]
    assert (True, "test connector", "sales") in actions and (True, "add connector", "sales") in actions


def test_add_reads_a_secret_from_standard_input_and_list_json_shows_no_value(home, sales_db, run_cli):
    done = run_cli(home, "connectors", "add", "sales", "--type", "sql", "--secret", "url", stdin=f"sqlite:///{sales_db}\n")
    assert done.returncode == 0, done.stderr
    listed = run_cli(home, "connectors", "list", "--json")
    data = {c["name"]: c for c in json.loads(listed.stdout)}
    assert data["sales"]["secrets_set"] == ["url"] and data["sales"]["readable"] is True
    assert data["sales"]["config"]["connect_timeout"] == 10 and data["sales"]["last_test"] is None
    assert data["local"]["type"] == "local"
    assert SECRET_URL_MARK not in listed.stdout


def test_a_secret_is_never_taken_from_the_command_line(home, run_cli):
    done = run_cli(home, "connectors", "add", "sales", "--type", "sql", "--set", f"url=sqlite:///{SECRET_URL_MARK}.db")
    assert done.returncode == 2
    assert "url is a secret: never give it as an argument" in done.stderr
    assert SECRET_URL_MARK not in done.stderr + done.stdout


@pytest.mark.parametrize("args, message", [
    (("add", "bad name", "--type", "sql"), "1–32 letters"),
    (("add", "x", "--type", "nosuch"), "no connector type 'nosuch'"),
    (("add", "x", "--type", "sql", "--secret-env", "url=NOT_SET_ANYWHERE"), "NOT_SET_ANYWHERE (for url) is not set"),
    (("add", "x", "--type", "sql", "--secret", "schema"), "not a secret field"),
    (("add", "x", "--type", "sql", "--set", "schema"), "--set takes FIELD=VALUE"),
    (("test", "nosuch"), "no connector named 'nosuch'"),
    (("remove", "local"), "cannot be removed"),
])
def test_bad_input_is_one_line_and_exit_2(home, run_cli, args, message):
    done = run_cli(home, "connectors", *args)
    assert done.returncode == 2, done
    assert message in done.stderr and "Traceback" not in done.stderr


def test_a_failing_test_prints_the_error_and_exits_1(home, tmp_path, run_cli):
    missing = tmp_path / "no-such-folder" / "gone.db"
    run_cli(home, "connectors", "add", "gone", "--type", "sql", "--secret", "url", stdin=f"sqlite:///{missing}\n")
    done = run_cli(home, "connectors", "test", "gone", "--timeout", "5")
    assert done.returncode == 1, done
    assert done.stdout.startswith("failed")
    assert str(missing.parent) not in done.stdout  # the error names the database, not the secret URL


def test_remove_moves_models_or_is_refused(home, sales_db, run_cli):
    for name in ("sales", "sales2"):
        assert run_cli(home, "connectors", "add", name, "--type", "sql", "--secret", "url",
                       stdin=f"sqlite:///{sales_db}\n").returncode == 0
    ctx = Context.open(load_settings({"VISION_HOME": str(home)}))
    now = ctx.now()
    with ctx.store.write() as conn:
        conn.execute(schema.models.insert().values(
            name="Churn", name_key="churn", description="", task="classification", platform="", connector="sales",
            connector_details="{}", owner="datascientist_user", lob="", sub_lob="", roles="{}", restricted=False,
            status="active", drift_settings="{}", created_by="x", created_at=now, updated_at=now))
    ctx.store.dispose()
    refused = run_cli(home, "connectors", "remove", "sales")
    assert refused.returncode == 2 and "1 model uses it: Churn" in refused.stderr
    done = run_cli(home, "connectors", "remove", "sales", "--move-models-to", "sales2")
    assert done.returncode == 0, done.stderr
    assert "Removed connector sales; 1 model(s) moved to sales2." in done.stdout
    listed = json.loads(run_cli(home, "connectors", "list", "--json").stdout)
    assert {c["name"]: c["models"] for c in listed} == {"local": [], "sales2": ["Churn"]}


def test_types_lists_every_field_and_marks_secrets(home, run_cli):
    done = run_cli(home, "connectors", "types")
    assert done.returncode == 0
    assert "sql — SQL database" in done.stdout and "secret: --secret" in done.stdout


def test_update_changes_only_what_it_is_given_and_repairs_an_unreadable_connector(home, sales_db, tmp_path, run_cli):
    url = f"sqlite:///{sales_db}"
    assert run_cli(home, "connectors", "add", "sales", "--type", "sql", "--secret", "url", "--set", "connect_timeout=5",
                   "--description", "Sales", stdin=f"{url}\n").returncode == 0
    done = run_cli(home, "connectors", "update", "sales", "--set", "statement_timeout=60")
    assert done.returncode == 0, done.stderr
    config = next(c for c in json.loads(run_cli(home, "connectors", "list", "--json").stdout) if c["name"] == "sales")
    assert config["config"]["connect_timeout"] == 5 and config["config"]["statement_timeout"] == 60  # the rest stays
    assert config["description"] == "Sales" and config["secrets_set"] == ["url"]
    refused = run_cli(home, "connectors", "update", "sales", "--set", f"url={url}")
    assert refused.returncode == 2 and "never give it as an argument" in refused.stderr
    assert run_cli(home, "connectors", "update", "sales").returncode == 2  # nothing to change

    (home / "secret.key").unlink()  # the key lost: only re-entering the secrets repairs it
    refused = run_cli(home, "connectors", "update", "sales", "--set", "connect_timeout=7")
    assert refused.returncode == 2 and "re-enter its secrets" in refused.stderr
    done = run_cli(home, "connectors", "update", "sales", "--secret-env", "url=SALES_URL", env={"SALES_URL": url})
    assert done.returncode == 0, done.stderr
    assert "secrets re-entered: url" in done.stdout and SECRET_URL_MARK not in done.stdout + done.stderr
    assert run_cli(home, "connectors", "test", "sales").returncode == 0
    assert [e.action for e in _audit(home)][:2] == ["test connector", "update connector"]


def test_reseal_after_a_key_rotation(home, sales_db, run_cli):
    from cryptography.fernet import Fernet

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    assert run_cli(home, "connectors", "add", "sales", "--type", "sql", "--secret", "url",
                   stdin=f"sqlite:///{sales_db}\n", env={"VISION_SECRET_KEY": old}).returncode == 0
    done = run_cli(home, "connectors", "reseal", env={"VISION_SECRET_KEY": f"{new},{old}"})
    assert done.returncode == 0 and "1 connector(s)" in done.stdout, done
    assert run_cli(home, "connectors", "test", "sales", env={"VISION_SECRET_KEY": new}).returncode == 0
