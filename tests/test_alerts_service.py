"""services/alerts.py: the permission matrix, secrets sealed and never shown or audited, updates, tests."""
from __future__ import annotations

import pytest
from helpers import ADMIN, OTHER_ADMIN, USER, lose_secret_key
from sqlalchemy import select
from support.alert_receivers import WebhookReceiver

from vision_widgets.core import audit
from vision_widgets.core.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from vision_widgets.core.storage import schema
from vision_widgets.services import alerts, sessions

TOKEN = "distinctive-hook-token"
URL = f"https://hooks.example.com/services/{TOKEN}"


def _add(ctx, who, name="team", url=URL, lob=""):
    return alerts.add_channel(ctx, who, name, "webhook", lob, {}, {"url": url})


ACTIONS = {
    "lines_of_business": lambda ctx, p: alerts.lines_of_business(ctx, p),
    "list_channels": lambda ctx, p: alerts.list_channels(ctx, p),
    "get_channel": lambda ctx, p: alerts.get_channel(ctx, p, "team"),
    "add_channel": lambda ctx, p: _add(ctx, p, name="other"),
    "update_channel": lambda ctx, p: alerts.update_channel(ctx, p, "team", enabled=False),
    "remove_channel": lambda ctx, p: alerts.remove_channel(ctx, p, "team"),
    "test_channel": lambda ctx, p: alerts.test_channel(ctx, p, "team"),
    "delivery_log": lambda ctx, p: alerts.delivery_log(ctx, p),
    "retry": lambda ctx, p: alerts.retry(ctx, p, 1),
    "retry_failed": lambda ctx, p: alerts.retry_failed(ctx, p),
}


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_a_user_may_do_nothing_here(ctx, login, action):
    _add(ctx, login(ADMIN))
    with pytest.raises(PermissionDenied, match="configure alert delivery"):
        ACTIONS[action](ctx, login(USER))
    assert [c.name for c in alerts.list_channels(ctx, login(ADMIN))] == ["team"]


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_admins_and_operators_may(ctx, login, action):
    _add(ctx, login(ADMIN))
    for who in (login(OTHER_ADMIN), sessions.operator("cli:ops")):
        try:
            ACTIONS[action](ctx, who)
        except (NotFound, Conflict):
            pass  # e.g. no delivery 1, or the channel already removed by the first: allowed, not refused
        if action == "remove_channel":
            _add(ctx, login(ADMIN))


def test_the_url_is_sealed_never_returned_and_never_audited(ctx, login):
    info = _add(ctx, login(ADMIN))
    assert info.secrets_set == ("url",) and info.readable and TOKEN not in repr(info)
    with ctx.store.read() as conn:
        stored = conn.execute(select(schema.alert_channels)).mappings().one()
        entries = audit.recent(conn)
    assert TOKEN not in stored["config"] and TOKEN not in stored["secrets"]
    assert entries[0].action == "add alert channel" and "secrets: url" in entries[0].detail
    assert all(TOKEN not in e.detail for e in entries)


def test_update_keeps_an_empty_secret_and_changes_settings_and_lob(ctx, login):
    admin = login(ADMIN)
    _add(ctx, admin)
    info = alerts.update_channel(ctx, admin, "team", config={"format": "teams"}, secrets={"url": ""},
                                 lob="Analytics")
    assert (info.config["format"], info.lob, info.secrets_set) == ("teams", "Analytics", ("url",))
    with ctx.store.read() as conn:
        assert audit.recent(conn)[0].detail == "settings: format; lob"


def test_an_unknown_line_of_business_is_refused(ctx, login):
    with pytest.raises(InvalidInput) as bad:
        _add(ctx, login(ADMIN), lob="Nowhere")
    assert bad.value.field == "lob" and "Analytics" in str(bad.value)


def test_a_channel_name_is_unique_whatever_its_case(ctx, login):
    _add(ctx, login(ADMIN))
    with pytest.raises(Conflict):
        _add(ctx, login(ADMIN), name="TEAM")


def test_test_channel_sends_now_and_says_how_it_went(ctx, login):
    admin = login(ADMIN)
    with WebhookReceiver(script=[200, 404]) as hook:
        _add(ctx, admin, url=hook.url)
        ok = alerts.test_channel(ctx, admin, "team")
        failed = alerts.test_channel(ctx, admin, "team")
    assert ok.ok and ok.message.startswith("sent in ")
    assert hook.received[0]["json"]["text"].startswith("Vision AI test message for channel team")
    assert not failed.ok and "HTTP 404" in failed.message and TOKEN not in failed.message
    with ctx.store.read() as conn:
        assert [e.detail for e in audit.recent(conn)[:2]] == ["failed", "sent"]


def test_lost_key_marks_the_channel_unreadable_until_its_secret_is_re_entered(ctx, login):
    admin = login(ADMIN)
    _add(ctx, admin)
    lose_secret_key(ctx)
    [info] = alerts.list_channels(ctx, admin)
    assert not info.readable
    outcome = alerts.test_channel(ctx, admin, "team")
    assert not outcome.ok and "re-enter" in outcome.message
    with pytest.raises(InvalidInput, match="re-enter"):
        alerts.update_channel(ctx, admin, "team", config={"format": "teams"})
    fixed = alerts.update_channel(ctx, admin, "team", secrets={"url": URL})
    assert fixed.readable and fixed.secrets_set == ("url",)


def test_retry_refuses_what_is_not_failed(ctx, login):
    with pytest.raises(NotFound):
        alerts.retry(ctx, login(ADMIN), 999)
