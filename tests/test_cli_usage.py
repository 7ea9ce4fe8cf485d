"""``vision usage import`` and ``vision api-keys issue | list | revoke`` as an operator runs them."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
from helpers import USER, demo_spec
from sqlalchemy import select

from vision_widgets.core import audit
from vision_widgets.core.config import load_settings
from vision_widgets.core.context import Context
from vision_widgets.core.identity import sessions
from vision_widgets.core.storage import schema
from vision_widgets.demo import sample_accounts
from vision_widgets.services import registration, usage

NAME = "CLI usage model"
CSV = ("timestamp,predictions,compute_hours,memory_share\n"
       "2026-09-01T00:00:00Z,1200,3.5,0.5\n"
       "2026-09-02T00:00:00Z,1350,3.75,\n")


@pytest.fixture
def home(tmp_path, fast_users_file):
    """A VISION_HOME after ``vision init`` with a restricted model of USER (cheap to register)."""
    home = tmp_path / "home"
    ctx = Context.open(load_settings({"VISION_HOME": str(home)}), upgrade=True)
    sample_accounts.load_users(ctx, fast_users_file)
    registration.register_model(ctx, sessions.operator_session(ctx, USER), demo_spec(NAME, restricted=True))
    ctx.store.dispose()
    return home


@pytest.fixture
def run_cli(monkeypatch, capsys):
    """``cli.main`` in this process (cheaper than a subprocess), standard input not a terminal."""
    from vision_widgets import cli

    def _run(home, *args, stdin: str = "") -> subprocess.CompletedProcess:
        for key in [k for k in os.environ if k.startswith("VISION_")]:
            monkeypatch.delenv(key)
        monkeypatch.setenv("VISION_HOME", str(home))
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode())))
        code = cli.main(list(args))
        out = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out.out, out.err)

    return _run


def _db(home):
    return Context.open(load_settings({"VISION_HOME": str(home)}))


def _rows(home) -> list[tuple]:
    ctx = _db(home)
    try:
        t = schema.usage_records
        with ctx.store.read() as conn:
            return [tuple(r) for r in conn.execute(select(t.c.predictions, t.c.memory_share, t.c.source)
                                                   .order_by(t.c.at))]
    finally:
        ctx.store.dispose()


def test_import_stores_the_file_then_a_re_import_is_unchanged(home, tmp_path, run_cli):
    path = tmp_path / "usage.csv"
    path.write_text(CSV)
    done = run_cli(home, "usage", "import", str(path), "--model", NAME)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"Stored 2 usage record(s) for {NAME}."
    assert _rows(home) == [(1200, 0.5, "cli"), (1350, None, "cli")]
    again = run_cli(home, "usage", "import", str(path), "--model", NAME, "--json")
    assert json.loads(again.stdout) == {"status": "accepted", "model": NAME, "stored": 0, "unchanged": 2,
                                        "conflicting": 0}
    ctx = _db(home)
    with ctx.store.read() as conn:
        entry = next(e for e in audit.recent(conn) if e.action == "import usage")
    ctx.store.dispose()
    assert entry.actor.startswith("cli") and entry.detail == "cli: 0 stored, 2 unchanged"


def test_import_reads_standard_input(home, run_cli):
    done = run_cli(home, "usage", "import", "-", "--model", NAME, stdin=CSV)
    assert done.returncode == 0 and len(_rows(home)) == 2, done.stderr


def test_a_bad_file_exits_2_naming_every_bad_line_and_stores_nothing(home, tmp_path, run_cli):
    path = tmp_path / "usage.csv"
    path.write_text(CSV + "2026-09-03,-4,1,\n2026-09-04,5,-1,\n")
    done = run_cli(home, "usage", "import", str(path), "--model", NAME)
    assert done.returncode == 2
    assert "line 4, column predictions: -4 is negative" in done.stderr
    assert "line 5, column compute_hours: '-1' is negative" in done.stderr
    assert _rows(home) == []


@pytest.mark.parametrize("args, words", [
    (["nowhere.csv", "--model", NAME], "There is no file 'nowhere.csv'"),
    (["{csv}", "--model", "Nope"], "There is no model named 'Nope'"),
])
def test_a_missing_file_or_model_is_a_clear_message(home, tmp_path, run_cli, args, words):
    path = tmp_path / "usage.csv"
    path.write_text(CSV)
    done = run_cli(home, "usage", "import", *[a.replace("{csv}", str(path)) for a in args])
    assert done.returncode == 2 and words in done.stderr


def test_api_keys_issue_list_revoke_and_the_key_works_until_revoked(home, run_cli):
    issued = run_cli(home, "api-keys", "issue", "nightly export", "--expires-in-days", "30")
    assert issued.returncode == 0, issued.stderr
    key = issued.stdout.strip()
    assert key.startswith("vsk_") and "\n" not in key  # stdout is the key alone: KEY=$(vision api-keys issue …)
    assert "Store it now: it is not shown again." in issued.stderr and key not in issued.stderr
    listed = json.loads(run_cli(home, "api-keys", "list", "--json").stdout)
    assert [(k["name"], k["scope"], k["state"]) for k in listed] == [("nightly export", "usage", "active")]
    table = run_cli(home, "api-keys", "list").stdout
    assert "nightly export" in table and key not in table

    ctx = _db(home)
    try:
        assert usage.ingest(ctx, key, NAME, [{"timestamp": "2026-09-01", "predictions": 1, "compute_hours": 1}],
                            "api").stored == 1
        revoked = run_cli(home, "api-keys", "revoke", str(listed[0]["id"]))
        assert revoked.returncode == 0 and "is revoked" in revoked.stdout
        from vision_widgets.core.errors import AuthenticationError

        with pytest.raises(AuthenticationError, match="revoked"):
            usage.ingest(ctx, key, NAME, [{"timestamp": "2026-09-02", "predictions": 1, "compute_hours": 1}], "api")
    finally:
        ctx.store.dispose()
    assert json.loads(run_cli(home, "api-keys", "list", "--json").stdout)[0]["state"] == "revoked"
    assert run_cli(home, "api-keys", "revoke", "999").returncode == 2


def test_delete_removes_the_days_given_and_says_how_many(home, run_cli):
    assert run_cli(home, "usage", "import", "-", "--model", NAME, stdin=CSV).returncode == 0
    done = run_cli(home, "usage", "delete", "--model", NAME, "--from", "2026-09-02", "--to", "2026-09-02")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (f"Deleted 1 usage record(s) of {NAME} on 2026-09-02 (1,350 predictions); "
                                   "send the corrected records again.")
    assert _rows(home) == [(1200, 0.5, "cli")]
    again = run_cli(home, "usage", "delete", "--model", NAME, "--from", "2026-09-01", "--to", "2026-09-30", "--json")
    assert json.loads(again.stdout) == {"model": NAME, "from": "2026-09-01", "to": "2026-09-30", "deleted": 1,
                                        "predictions": 1200}
    bad = run_cli(home, "usage", "delete", "--model", NAME, "--from", "2026-09-30", "--to", "2026-09-01")
    assert bad.returncode == 2 and "is after the last" in bad.stderr
