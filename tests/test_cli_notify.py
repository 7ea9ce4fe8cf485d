"""``vision notifications run | list | drop`` as an operator runs them (a subprocess, as a pipeline would)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from helpers import REPO_ROOT, START

from vision_widgets.core.config import load_settings
from vision_widgets.core.context import Context
from vision_widgets.core.monitoring import FAIL, Check, history
from vision_widgets.core.notify import store
from vision_widgets.demo import sample_accounts


def vision(home, *args) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VISION_")}
    env["VISION_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "vision_widgets", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def home(tmp_path, fast_users_file):
    """A database with the worker check failing since an hour (the health rule's cause)."""
    home = tmp_path / "home"
    ctx = Context.open(load_settings({"VISION_HOME": str(home)}), upgrade=True)
    sample_accounts.load_users(ctx, fast_users_file)
    with ctx.store.write() as conn:
        history.record(conn, [Check("worker", "", FAIL, True, None, "s", "No worker has beaten for an hour.")], START)
        history.record(conn, [Check("worker", "", FAIL, True, None, "s", "Still no worker.")], START + timedelta(hours=1))
    ctx.store.dispose()
    return home


def test_run_then_list_then_run_again_stores_the_cause_once(home):
    done = vision(home, "notifications", "run")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Judged 0 model(s): 1 cause(s) seen, 1 new notification(s)."
    again = vision(home, "notifications", "run")
    assert again.stdout.strip() == "Judged 0 model(s): 1 cause(s) seen, 0 new notification(s)."
    listed = json.loads(vision(home, "notifications", "list", "--json").stdout)
    assert [(n["kind"], n["title"], n["model"], n["link"]) for n in listed] == [
        ("health", "Health check failing: worker", None, "?page=monitoring")]
    assert listed[0]["body"]["since"] == START.isoformat(timespec="seconds")


def test_drop_shows_sets_and_refuses_a_bad_value(home):
    assert vision(home, "notifications", "drop").stdout.strip() == "0.05"
    done = vision(home, "notifications", "drop", "0.1")
    assert done.returncode == 0 and "0.1" in done.stdout
    bad = vision(home, "notifications", "drop", "1.5")
    assert bad.returncode != 0 and "more than 0 and less than 1" in (bad.stderr + bad.stdout)
    ctx = Context.open(load_settings({"VISION_HOME": str(home)}))
    with ctx.store.read() as conn:
        assert store.get_setting(conn, store.PERFORMANCE_DROP_KEY) == 0.1
    ctx.store.dispose()
