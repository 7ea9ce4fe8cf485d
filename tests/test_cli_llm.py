"""``vision llm log`` and ``vision llm record on|off`` as an operator runs them."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
from helpers import OTHER_USER, PASSWORDS, USER

from vision_widgets.core import audit
from vision_widgets.core.config import load_settings
from vision_widgets.core.context import Context
from vision_widgets.core.identity import auth
from vision_widgets.demo import sample_accounts
from vision_widgets.services import llm_chat


@pytest.fixture
def home(tmp_path, fast_users_file, fast_hashing):
    """A database with two FAQ questions asked (no LLM configured), by USER then OTHER_USER."""
    home = tmp_path / "home"
    ctx = Context.open(load_settings({"VISION_HOME": str(home)}), upgrade=True)
    sample_accounts.load_users(ctx, fast_users_file)
    for who, question in ((USER, "How do I change my password?"), (OTHER_USER, "What does PSI mean?")):
        principal = auth.login(ctx, who, PASSWORDS[who]).principal
        list(llm_chat.ask_faq(ctx, principal, question, conversation=f"conv-{who}"))
    ctx.store.dispose()
    return home


@pytest.fixture
def run_cli(monkeypatch, capsys):
    from vision_widgets import cli

    def _run(home, *args) -> subprocess.CompletedProcess:
        for key in [k for k in os.environ if k.startswith("VISION_") or k.startswith("OPENAI_")]:
            monkeypatch.delenv(key)
        monkeypatch.setenv("VISION_HOME", str(home))
        monkeypatch.setattr(sys, "stdin", io.StringIO(""))
        code = cli.main(list(args))
        out = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out.out, out.err)

    return _run


def test_the_log_lists_prompts_and_answers_newest_first_and_filters_by_account(home, run_cli):
    out = run_cli(home, "llm", "log")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    heads = [l for l in lines if not l.startswith("    ")]
    assert [h.split("  ")[1:4] for h in heads] == [[OTHER_USER, "FAQ", "faq"], [OTHER_USER, "FAQ", "prompt"],
                                                   [USER, "FAQ", "faq"], [USER, "FAQ", "prompt"]]
    assert "    What does PSI mean?" in lines and "    How do I change my password?" in lines
    mine = json.loads(run_cli(home, "llm", "log", "--user", USER, "--json").stdout)
    assert {r["user"] for r in mine} == {USER} and [r["kind"] for r in mine] == ["faq", "prompt"]
    assert mine[0]["conversation"] == f"conv-{USER}" and mine[0]["endpoint"] == ""
    assert len(json.loads(run_cli(home, "llm", "log", "--limit", "1", "--json").stdout)) == 1


def test_record_off_stops_recording_and_is_audited(home, run_cli):
    out = run_cli(home, "llm", "record", "off")
    assert out.returncode == 0 and "no longer recorded" in out.stdout
    ctx = Context.open(load_settings({"VISION_HOME": str(home)}))
    try:
        assert llm_chat.recording(ctx) is False
        principal = auth.login(ctx, USER, PASSWORDS[USER]).principal
        list(llm_chat.ask_faq(ctx, principal, "Who can see the Connectors page?"))
        with ctx.store.read() as conn:
            assert audit.recent(conn, 1)[0].action == "LLM chat recording off"
    finally:
        ctx.store.dispose()
    listed = run_cli(home, "llm", "log")
    assert "recording is off" in listed.stdout and "Connectors" not in listed.stdout
    assert run_cli(home, "llm", "record", "on").returncode == 0


def test_a_bad_limit_is_an_input_error(home, run_cli):
    out = run_cli(home, "llm", "log", "--limit", "0")
    assert out.returncode != 0 and "limit" in out.stderr
