"""The notifications service: who receives what (the permission matrix), filters, read state per account,
marking another account's notification refused, the performance drop setting (admins, validated)."""
from __future__ import annotations

import pytest
from helpers import ADMIN, OTHER_ADMIN, OTHER_USER, USER, demo_spec, write_demo_files
from sqlalchemy import select

from tests.support.postgres import DATABASES, settings_on
from tests.support.postgres import postgres_cluster  # noqa: F401 - the session fixture

from vision_widgets.core.errors import InvalidInput, PermissionDenied, SessionExpired
from vision_widgets.core.notify import rules, store
from vision_widgets.core.notify.rules import Due
from vision_widgets.core.storage import schema
from vision_widgets.services import notification_runs, notifications, registration


@pytest.fixture(params=DATABASES)
def settings(request, tmp_path):
    """On SQLite and on a throw-away PostgreSQL: who receives what, read state and counts are queries,
    and the database's business."""
    return settings_on(request, tmp_path)


def due(kind: str, model_id: int | None, key: str, title: str) -> Due:
    return Due(kind=kind, model_id=model_id, dedupe_key=key, title=title, body={"summary": title},
               link=rules.link("drift", "x"))


@pytest.fixture
def world(ctx, login, settings, clock):
    """Two users' models and their notifications, and one platform notification, one minute apart."""
    train, prod = write_demo_files(settings.home / "data")
    mine = registration.register_model(ctx, login(USER), demo_spec("Fraud detection", train, prod)).model
    theirs = registration.register_model(ctx, login(OTHER_USER), demo_spec("Churn", train, prod)).model
    with ctx.store.write() as conn:
        conn.execute(schema.notifications.delete())  # the registrations' own, to start from a known list
    made = {}
    for kind, model_id, name in (("drift", mine.id, "mine-drift"), ("stale", mine.id, "mine-stale"),
                                 ("drift", theirs.id, "theirs-drift"), ("health", None, "platform")):
        clock.advance(minutes=1)
        with ctx.store.write() as conn:
            store.add(conn, [due(kind, model_id, name, name)], ctx.now())
            made[name] = conn.execute(select(schema.notifications.c.id).where(
                schema.notifications.c.dedupe_key == name)).scalar_one()
    return made


def titles(found) -> list[str]:
    return [n.title for n in found.items]


@pytest.mark.parametrize("username, expected", [
    (USER, ["mine-stale", "mine-drift"]),
    (OTHER_USER, ["theirs-drift"]),
    (ADMIN, ["platform", "theirs-drift", "mine-stale", "mine-drift"]),
    (OTHER_ADMIN, ["platform", "theirs-drift", "mine-stale", "mine-drift"]),
])
def test_users_receive_their_own_models_and_admins_all_newest_first(ctx, login, world, username, expected):
    found = notifications.list_notifications(ctx, login(username))
    assert titles(found) == expected
    assert found.unread == len(expected) == notifications.unread_count(ctx, login(username))
    assert all(n.model == ("" if n.kind == "health" else n.model) for n in found.items)


def test_filters_by_model_kind_and_read_state(ctx, login, world):
    me = login(USER)
    assert titles(notifications.list_notifications(ctx, me, model="Fraud detection", kind="stale")) == ["mine-stale"]
    notifications.mark_read(ctx, me, [world["mine-drift"]])
    assert titles(notifications.list_notifications(ctx, me, state="unread")) == ["mine-stale"]
    assert titles(notifications.list_notifications(ctx, me, state="read")) == ["mine-drift"]
    with pytest.raises(InvalidInput, match="No model named 'Churn' is open to you"):
        notifications.list_notifications(ctx, me, model="Churn")
    with pytest.raises(InvalidInput, match="Unknown kind"):
        notifications.list_notifications(ctx, me, kind="bogus")


def test_read_state_is_per_account(ctx, login, world):
    notifications.mark_read(ctx, login(ADMIN), [world["mine-drift"], world["platform"]])
    assert notifications.unread_count(ctx, login(ADMIN)) == 2
    assert notifications.unread_count(ctx, login(OTHER_ADMIN)) == 4
    assert notifications.unread_count(ctx, login(USER)) == 2  # the admin's reading is not the owner's
    assert notifications.mark_read(ctx, login(ADMIN), [world["mine-drift"]]) == 0  # already read: unchanged


@pytest.mark.parametrize("username, target, allowed", [
    (USER, "mine-drift", True), (USER, "theirs-drift", False), (USER, "platform", False),
    (OTHER_USER, "mine-stale", False), (ADMIN, "theirs-drift", True), (ADMIN, "platform", True),
])
def test_marking_a_notification_the_account_does_not_receive_is_refused(ctx, login, world, username, target, allowed):
    principal = login(username)
    if allowed:
        assert notifications.mark_read(ctx, principal, [world[target]]) == 1
        return
    with pytest.raises(PermissionDenied, match="not yours to mark"):
        notifications.mark_read(ctx, principal, [world["mine-drift"] if username != USER else world["mine-stale"],
                                                 world[target]])
    with ctx.store.read() as conn:
        assert conn.execute(select(schema.notification_reads)).all() == []  # nothing marked, not even the own one
    with pytest.raises(PermissionDenied):
        notifications.mark_read(ctx, principal, [999_999])  # an unknown one: the same answer


def test_mark_all_read_marks_only_what_the_account_receives(ctx, login, world):
    assert notifications.mark_all_read(ctx, login(USER)) == 2
    assert notifications.unread_count(ctx, login(USER)) == 0
    assert notifications.unread_count(ctx, login(OTHER_USER)) == 1
    assert notifications.unread_count(ctx, login(ADMIN)) == 4
    assert notifications.mark_all_read(ctx, login(USER)) == 0


def test_an_ended_session_is_refused_and_the_bells_count_does_not_renew_it(ctx, login, world, clock):
    me = login(USER)
    mine = select(schema.sessions.c.expires_at).where(schema.sessions.c.token_hash == me.session_id)
    with ctx.store.read() as conn:
        before = conn.execute(mine).scalar_one()
    clock.advance(seconds=ctx.settings.token_ttl_seconds * 0.9)
    assert notifications.unread_count(ctx, me) == 2
    with ctx.store.read() as conn:
        assert conn.execute(mine).scalar_one() == before  # not renewed
    clock.advance(seconds=ctx.settings.token_ttl_seconds * 0.2)
    with pytest.raises(SessionExpired):
        notifications.unread_count(ctx, me)
    with pytest.raises(SessionExpired):
        notifications.list_notifications(ctx, me)


def test_the_performance_drop_is_an_admins_validated_setting_and_the_rules_use_it(ctx, login):
    assert notifications.performance_drop(ctx, login(USER)) == rules.DEFAULT_PERFORMANCE_DROP
    with pytest.raises(PermissionDenied):
        notifications.set_performance_drop(ctx, login(USER), 0.1)
    for bad in ("", "abc", "0", "1", "-0.1", "nan", "inf", "1.5"):
        with pytest.raises(InvalidInput) as err:
            notifications.set_performance_drop(ctx, login(ADMIN), bad)
        assert err.value.field == "performance_drop"
    assert notifications.set_performance_drop(ctx, login(ADMIN), " 0.1 ") == 0.1
    assert notifications.performance_drop(ctx, login(OTHER_USER)) == 0.1
    with ctx.store.read() as conn:
        assert notifications.stored_performance_drop(conn) == 0.1
        row = conn.execute(select(schema.audit_log).where(schema.audit_log.c.action == "set performance drop")).first()
    assert row is not None and row.actor == ADMIN


def test_a_new_batch_runs_its_models_rules(ctx, login, settings, clock):
    """Registration (the first batch) stores the drift notifications of its windows at once."""
    train, prod = write_demo_files(settings.home / "data")
    registration.register_model(ctx, login(USER), demo_spec("Fraud detection", train, prod))
    found = notifications.list_notifications(ctx, login(USER))
    ran = notification_runs.run_rules(ctx)
    assert ran.stored == 0 and len(found.items) == ran.due  # nothing left for the periodic run


def test_the_total_counts_every_match_past_the_list_limit(ctx, login, clock):
    with ctx.store.write() as conn:
        store.add(conn, [due("health", None, f"health:x:{i}", f"failing {i}") for i in range(store.LIST_LIMIT + 20)],
                  ctx.now())
    found = notifications.list_notifications(ctx, login(ADMIN), kind="health", limit=10)
    assert len(found.items) == 10 and found.total == store.LIST_LIMIT + 20 == found.unread
    assert notifications.list_notifications(ctx, login(ADMIN), kind="drift").total == 0
