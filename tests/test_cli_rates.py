"""``vision rates list | set`` as an operator runs them: the history, a bad amount refused with the reason
(exit 2, nothing stored), the audit entry."""
from __future__ import annotations

import json

import pytest

from vision_widgets import cli
from vision_widgets.core import audit
from vision_widgets.core.config import load_settings
from vision_widgets.core.context import Context
from vision_widgets.services import cost_rates
from vision_widgets.services.sessions import operator


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    for key in [k for k in __import__("os").environ if k.startswith("VISION_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("VISION_HOME", str(home))
    Context.open(load_settings({"VISION_HOME": str(home)}), upgrade=True).store.dispose()
    return home


def test_set_then_list_keeps_the_history_and_audits(home, capsys):
    assert cli.main(["rates", "set", "Databricks", "--currency", "eur", "--per-1k", "0.4", "--per-hour", "3",
                     "--from", "2026-01-01"]) == 0
    assert cli.main(["rates", "set", "Databricks", "--currency", "EUR", "--per-1k", "0.5", "--per-hour", "3.5",
                     "--from", "2026-09-29"]) == 0
    assert "EUR 0.5 per 1,000 predictions and 3.5 per compute hour from 2026-09-29" in capsys.readouterr().out
    assert cli.main(["rates", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(r["platform"], r["effective_from"], r["per_1k_predictions"]) for r in listed] == [
        ("Databricks", "2026-01-01", 0.4), ("Databricks", "2026-09-29", 0.5)]
    assert cli.main(["rates", "list"]) == 0
    assert "2026-09-29" in capsys.readouterr().out
    ctx = Context.open(load_settings({"VISION_HOME": str(home)}))
    with ctx.store.read() as conn:
        assert [e.action for e in audit.recent(conn)].count("set cost rate") == 2
    ctx.store.dispose()


@pytest.mark.parametrize("amount, message", [("-1", "cannot be negative"), ("abc", "must be a number"),
                                             ("nan", "finite number")])
def test_a_bad_amount_is_refused_and_nothing_is_stored(home, capsys, amount, message):
    assert cli.main(["rates", "set", "Databricks", "--currency", "EUR", "--per-1k", amount, "--per-hour", "3",
                     "--from", "2026-01-01"]) == cli.EXIT_INPUT_ERROR
    assert message in capsys.readouterr().err
    ctx = Context.open(load_settings({"VISION_HOME": str(home)}))
    assert cost_rates.list_rates(ctx, operator("cli")) == []
    ctx.store.dispose()
