"""Session renewal (core/identity/sessions.py) on the fake clock: activity keeps a session alive
whatever the TTL, and renewal writes the expiry at most once per ``renew_after(ttl)``."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from helpers import PASSWORDS, USER
from sqlalchemy import select

from vision_widgets.core.context import Context
from vision_widgets.core.errors import SessionExpired
from vision_widgets.core.identity import auth, sessions
from vision_widgets.core.storage import schema


def _with_ttl(ctx: Context, seconds: int) -> Context:
    return Context(replace(ctx.settings, token_ttl_seconds=seconds), ctx.store, ctx.clock)


def _expires(ctx: Context, principal) -> object:
    with ctx.store.read() as conn:
        return conn.execute(select(schema.sessions.c.expires_at)
                            .where(schema.sessions.c.token_hash == principal.session_id)).scalar_one()


@pytest.mark.parametrize("ttl", [30, 45, 60, 61, 240, 30 * 60])
def test_activity_renews_a_session_whatever_the_ttl(ctx, clock, ttl):
    short = _with_ttl(ctx, ttl)
    me = auth.login(short, USER, PASSWORDS[USER]).principal
    for _ in range(6):  # 6 x (ttl - 1 s) is far past the first expiry
        clock.advance(ttl - 1)
        assert sessions.authenticate(short, me).username == USER
    clock.advance(ttl)
    with pytest.raises(SessionExpired):
        sessions.authenticate(short, me)


@pytest.mark.parametrize("ttl, after", [(30, 7.5), (60, 15), (240, 60), (30 * 60, 60)])
def test_renewal_waits_a_quarter_of_the_ttl_at_most_a_minute(ttl, after):
    assert sessions.renew_after(ttl) == after


def test_the_expiry_is_written_only_once_renew_after_has_passed(ctx, clock):
    short = _with_ttl(ctx, 30)  # the shortest TTL the settings allow: renew after 7.5 s
    me = auth.login(short, USER, PASSWORDS[USER]).principal
    first = _expires(short, me)
    clock.advance(7)
    sessions.authenticate(short, me)
    assert _expires(short, me) == first, "no write before 7.5 s"
    clock.advance(1)
    sessions.authenticate(short, me)
    assert _expires(short, me) == clock.now + timedelta(seconds=30)


def test_a_renewal_does_not_revive_a_logged_out_session(ctx, clock):
    short = _with_ttl(ctx, 30)
    me = auth.login(short, USER, PASSWORDS[USER]).principal
    sessions.logout(short, me)
    clock.advance(10)
    with pytest.raises(SessionExpired):
        sessions.authenticate(short, me)
