"""Two requests at once on PostgreSQL (several server processes share it; SQLite's write transactions never
overlap): a cost rate for the same platform and day is a Conflict for the second, not a 500, and two API keys
issued with the same name at once leave one live key and a Conflict (tests/support/postgres.py)."""
from __future__ import annotations

import threading

import pytest
from helpers import ADMIN, USERS_JSON
from sqlalchemy import func, select

from tests.support.postgres import PATIENCE, in_thread, postgres_settings_env, until, waiting_on_a_lock
from vision_widgets.core.config import load_settings
from vision_widgets.core.errors import Conflict
from vision_widgets.core.identity import api_keys as core_keys
from vision_widgets.core.storage import schema
from vision_widgets.core.usage import rates
from vision_widgets.services import api_keys, cost_rates


@pytest.fixture
def settings(tmp_path, request):  # overrides conftest's: the same ctx, on a PostgreSQL database dropped after
    return load_settings({"VISION_HOME": str(tmp_path / "home"), "VISION_USERS_FILE": str(USERS_JSON),
                          **postgres_settings_env(request)})


def test_a_rate_set_twice_at_once_is_a_conflict_for_the_second_not_a_500(ctx, login):
    admin = login(ADMIN)
    day = rates.check_rate("AWS", "USD", 0.4, 3.2, "2026-01-01")[4]
    with ctx.store.write() as first:
        rates.insert(first, "AWS", "USD", 0.4, 3.2, day, "admin", ctx.now())  # not committed yet
        thread, out, done = in_thread(lambda: cost_rates.set_rate(ctx, admin, "AWS", "USD", "0.5", "3.5",
                                                                   "2026-01-01"))
        # the second found no rate for that day and now waits on the unique index for the first
        until(lambda: waiting_on_a_lock(ctx), done)
        assert not done.is_set(), out
    thread.join(PATIENCE)
    assert isinstance(out.get("error"), Conflict), out
    assert "already has a rate from 2026-01-01" in str(out["error"])
    assert [(r.platform, r.per_1k_predictions) for r in cost_rates.list_rates(ctx, admin)] == [("AWS", 0.4)]


def test_two_keys_issued_with_one_name_at_once_leave_one_live_key_and_a_conflict(ctx, login, monkeypatch):
    admin = login(ADMIN)
    second_done = threading.Event()
    real = core_keys.issue
    calls = []

    def slow_issue(conn, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:  # the first issuer has checked the name: hold it until the second has tried
            until(lambda: waiting_on_a_lock(ctx), second_done)
        return real(conn, *args, **kwargs)

    monkeypatch.setattr(core_keys, "issue", slow_issue)
    first, first_out, _ = in_thread(lambda: api_keys.issue(ctx, admin, "pipeline"))
    until(lambda: bool(calls), threading.Event())
    second, second_out, done = in_thread(lambda: api_keys.issue(ctx, admin, "pipeline"))
    second_done_watch = threading.Thread(target=lambda: (done.wait(PATIENCE), second_done.set()), daemon=True)
    second_done_watch.start()
    first.join(PATIENCE)
    second.join(PATIENCE)
    assert "value" in first_out, first_out
    assert isinstance(second_out.get("error"), Conflict), second_out
    t = schema.api_keys
    with ctx.store.read() as conn:
        live = conn.execute(select(func.count()).select_from(t).where(
            (t.c.name == "pipeline") & t.c.revoked_at.is_(None))).scalar_one()
    assert live == 1
