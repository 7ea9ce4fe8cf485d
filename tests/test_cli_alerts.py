"""``vision alerts …`` as an operator runs it (in this process, standard input not a terminal)."""
from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from support.alert_receivers import WebhookReceiver
from test_alert_delivery import add_model, notify

from vision_widgets.core import audit
from vision_widgets.core.config import load_settings
from vision_widgets.core.context import Context
from vision_widgets.core.notify import delivery
from vision_widgets.demo import sample_accounts
from vision_widgets.services import alerts

TOKEN = "distinctive-hook-token"


@pytest.fixture
def home(tmp_path, fast_users_file):
    home = tmp_path / "home"
    ctx = Context.open(load_settings({"VISION_HOME": str(home)}), upgrade=True)
    sample_accounts.load_users(ctx, fast_users_file)
    ctx.store.dispose()
    return home


@pytest.fixture
def run_cli(monkeypatch, capsys, home):
    from vision_widgets import cli

    def _run(*args, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
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


@pytest.fixture
def opened(home):
    ctx = Context.open(load_settings({"VISION_HOME": str(home)}))
    yield ctx
    ctx.store.dispose()


def test_add_from_standard_input_test_and_list(run_cli, home):
    with WebhookReceiver() as hook:
        added = run_cli("alerts", "add", "team", "--kind", "webhook", "--secret", "url", "--set", "format=teams",
                        stdin=hook.url + "\n")
        assert added.returncode == 0, added.stderr
        assert added.stdout == "Added webhook channel team for every line of business; secrets sealed: url.\n"
        tested = run_cli("alerts", "test", "team")
    assert tested.returncode == 0 and tested.stdout.startswith("sent: sent in ")
    assert hook.received[0]["json"]["type"] == "message"
    listed = run_cli("alerts", "channels")
    line = next(x for x in listed.stdout.splitlines() if x.startswith("team"))
    assert "webhook" in line and "Teams Workflows webhook" in line
    for out in (added, tested, listed):
        assert TOKEN not in out.stdout + out.stderr


def test_a_secret_as_an_argument_is_refused(run_cli):
    done = run_cli("alerts", "add", "team", "--kind", "webhook", "--set", f"url=https://h.example.com/{TOKEN}")
    assert done.returncode != 0 and "never give it as an argument" in done.stderr
    assert TOKEN not in done.stderr


def test_an_email_channel_from_the_environment_and_a_failed_test_exits_1(run_cli):
    added = run_cli("alerts", "add", "mail", "--kind", "email", "--lob", "Analytics", "--set", "host=127.0.0.1",
                    "--set", "port=1", "--set", "security=starttls", "--set", "username=alerts",
                    "--set", "sender=vision@example.com", "--set", "to=a@example.com,b@example.com",
                    "--secret-env", "password=SMTP_PASSWORD", env={"SMTP_PASSWORD": "distinctive-pw"})
    assert added.returncode == 0, added.stderr
    tested = run_cli("alerts", "test", "mail")
    assert tested.returncode == 1 and tested.stdout.startswith("failed: ") and "distinctive-pw" not in tested.stdout
    updated = run_cli("alerts", "update", "mail", "--disable", "--lob", "")
    assert updated.returncode == 0 and updated.stdout == "Updated channel mail.\n"
    assert "no " in next(x for x in run_cli("alerts", "channels").stdout.splitlines() if x.startswith("mail"))


def test_log_and_retry_of_a_failed_delivery(run_cli, opened):
    from vision_widgets.services import sessions

    ops = sessions.operator("cli:test")
    fraud = add_model(opened, "Fraud", "Analytics")
    with WebhookReceiver(script=[500] * delivery.MAX_ATTEMPTS) as hook:
        alerts.add_channel(opened, ops, "team", "webhook", "", {}, {"url": hook.url})
        notify(opened, fraud, "drift:fraud:1", title="Data drift on Fraud")
        alerts.run_deliveries(opened)
        with opened.store.write() as conn:  # as if every attempt had been made
            conn.execute(delivery.d.update().values(attempts=delivery.MAX_ATTEMPTS, state="failed"))
    logged = run_cli("alerts", "log", "--state", "failed")
    assert logged.returncode == 0
    assert "team" in logged.stdout and "failed" in logged.stdout and "Data drift on Fraud" in logged.stdout
    assert "reason: The webhook answered HTTP 500" in logged.stdout and TOKEN not in logged.stdout
    [row] = alerts.delivery_log(opened, ops)
    retried = run_cli("alerts", "retry", str(row.id))
    assert retried.returncode == 0 and retried.stdout == f"Delivery {row.id} will be sent again within a minute.\n"
    assert alerts.delivery_log(opened, ops)[0].state == "retrying"
    again = run_cli("alerts", "retry", str(row.id))
    assert again.returncode != 0 and "not failed" in again.stderr
    with opened.store.read() as conn:
        assert [e.action for e in audit.recent(conn)[:1]] == ["retry alert delivery"]
    removed = run_cli("alerts", "remove", "team")
    assert removed.returncode == 0 and alerts.list_channels(opened, ops) == []


def test_reseal_after_a_new_key_is_put_first(run_cli, home):
    from cryptography.fernet import Fernet

    old = (home / "secret.key").read_text().strip() if (home / "secret.key").exists() else None
    first = Fernet.generate_key().decode()
    added = run_cli("alerts", "add", "team", "--kind", "webhook", "--secret-env", "url=HOOK",
                    env={"HOOK": "https://hooks.example.com/x", "VISION_SECRET_KEY": first})
    assert added.returncode == 0, added.stderr
    new = Fernet.generate_key().decode()
    done = run_cli("alerts", "reseal", env={"VISION_SECRET_KEY": f"{new},{first}"})
    assert done.returncode == 0 and done.stdout == "Sealed again with the first key: 1 channel(s).\n"
    listed = run_cli("alerts", "channels", "--json", env={"VISION_SECRET_KEY": new})
    assert '"readable": true' in listed.stdout and old is None
