"""Alert delivery (core/notify/delivery.py, services/alerts.run_deliveries): planning by line of
business, idempotence, retries with backoff against loopback receivers, and bounded runs."""
from __future__ import annotations

import pytest
from helpers import ADMIN, USER
from sqlalchemy import select

from support.alert_receivers import WebhookReceiver
from support.blackhole import silent_port

from tests.support.postgres import DATABASES, settings_on
from tests.support.postgres import postgres_cluster  # noqa: F401 - the session fixture

from vision_widgets.core.notify import delivery
from vision_widgets.core.storage import schema
from vision_widgets.services import alerts, sessions


@pytest.fixture(params=DATABASES)
def settings(request, tmp_path):
    """On SQLite and on a throw-away PostgreSQL: planning against the unique index and claiming by
    compare-and-set are the database's business."""
    return settings_on(request, tmp_path)


def add_model(ctx, name: str, lob: str) -> int:
    now = ctx.now()
    with ctx.store.write() as conn:
        return conn.execute(schema.models.insert().values(
            name=name, name_key=name.lower(), description="", task="classification", platform="",
            connector="local", connector_details="{}", owner=USER, lob=lob, sub_lob="", roles="{}",
            restricted=False, status="active", drift_settings="{}", created_by=USER, created_at=now,
            updated_at=now)).inserted_primary_key[0]


def notify(ctx, model_id: int | None, key: str, title: str = "Data drift", kind: str = "drift",
           body: str = '{"drift_share": 0.6}', link: str = "?page=drift&model=Fraud") -> int:
    """A notification row as the notify rules write it (until they land)."""
    with ctx.store.write() as conn:
        return conn.execute(schema.notifications.insert().values(
            kind=kind, model_id=model_id, dedupe_key=key, created_at=ctx.now(), title=title, body=body,
            link=link)).inserted_primary_key[0]


def pairs(ctx) -> set[tuple[str, str]]:
    d, n, c = schema.alert_deliveries, schema.notifications, schema.alert_channels
    with ctx.store.read() as conn:
        rows = conn.execute(select(n.c.dedupe_key, c.c.name).select_from(
            d.join(n, n.c.id == d.c.notification_id).join(c, c.c.id == d.c.channel_id)))
        return {(r[0], r[1]) for r in rows}


def webhook(ctx, admin, name: str, url: str, lob: str = "", **config):
    return alerts.add_channel(ctx, admin, name, "webhook", lob, {"timeout": 2, "connect_timeout": 1, **config},
                              {"url": url})


@pytest.fixture
def admin(login):
    return login(ADMIN)


def test_planning_routes_by_line_of_business_and_platform_notifications_go_to_all_only(ctx, admin, clock):
    fraud = add_model(ctx, "Fraud", "Analytics")
    churn = add_model(ctx, "Churn", "Product")
    webhook(ctx, admin, "analytics", "https://hooks.example.com/a", lob="Analytics")
    webhook(ctx, admin, "everyone", "https://hooks.example.com/e")
    clock.advance(1)
    notify(ctx, fraud, "drift:fraud:1")
    notify(ctx, churn, "drift:churn:1")
    notify(ctx, None, "health:db:1", kind="health", title="Database check failed")
    with ctx.store.write() as conn:
        assert delivery.plan(conn, ctx.now()) == 4
    assert pairs(ctx) == {("drift:fraud:1", "analytics"), ("drift:fraud:1", "everyone"),
                          ("drift:churn:1", "everyone"), ("health:db:1", "everyone")}


def test_planning_is_idempotent_and_skips_older_notifications_and_disabled_channels(ctx, admin, clock):
    fraud = add_model(ctx, "Fraud", "Analytics")
    notify(ctx, fraud, "drift:fraud:old")
    clock.advance(1)
    webhook(ctx, admin, "everyone", "https://hooks.example.com/e")
    webhook(ctx, admin, "off", "https://hooks.example.com/o")
    alerts.update_channel(ctx, admin, "off", enabled=False)
    notify(ctx, fraud, "drift:fraud:new")
    with ctx.store.write() as conn:
        assert delivery.plan(conn, ctx.now()) == 1
        assert delivery.plan(conn, ctx.now()) == 0
    assert pairs(ctx) == {("drift:fraud:new", "everyone")}


def test_planning_reads_only_past_each_channels_high_water_mark(ctx, admin, clock):
    """The per-minute plan does not read the whole history again: a notification older than the look-back
    and below the channel's largest planned id is not looked at (its row removed here to show it), while
    one committed late with a smaller id than one already planned, but raised recently, still is."""
    n = schema.notifications
    fraud = add_model(ctx, "Fraud", "Analytics")
    webhook(ctx, admin, "everyone", "https://hooks.example.com/e")
    clock.advance(1)
    old = notify(ctx, fraud, "drift:fraud:old")
    notify(ctx, fraud, "drift:fraud:mark")
    with ctx.store.write() as conn:
        assert delivery.plan(conn, ctx.now()) == 2
        conn.execute(schema.alert_deliveries.delete().where(  # out of sight of a plan that reads only what is new
            schema.alert_deliveries.c.notification_id == old))
    clock.advance(delivery.LOOK_BACK.total_seconds() + 60)
    newest = notify(ctx, fraud, "drift:fraud:new")
    with ctx.store.write() as conn:
        conn.execute(n.update().where(n.c.id == newest).values(id=old + 100))
        assert delivery.plan(conn, ctx.now()) == 1  # only the new one …
    assert pairs(ctx) == {("drift:fraud:mark", "everyone"), ("drift:fraud:new", "everyone")}
    with ctx.store.write() as conn:  # … and a notification committed late, with an id below the mark (old + 100)
        conn.execute(n.insert().values(id=old + 50, kind="drift", model_id=fraud, dedupe_key="drift:fraud:late",
                                       created_at=ctx.now(), title="Late", body="{}", link=""))
        assert delivery.plan(conn, ctx.now()) == 1
    assert pairs(ctx) == {("drift:fraud:mark", "everyone"), ("drift:fraud:new", "everyone"),
                          ("drift:fraud:late", "everyone")}


def test_a_receiver_failing_twice_gets_it_on_the_third_attempt_with_backoff(ctx, admin, clock):
    fraud = add_model(ctx, "Fraud", "Analytics")
    with WebhookReceiver(script=[500, 500]) as hook:
        webhook(ctx, admin, "flaky", hook.url)
        notify(ctx, fraud, "drift:fraud:1", link="?page=drift&model=Fraud")
        first = alerts.run_deliveries(ctx)
        assert (first.planned, first.sent, first.retrying) == (1, 0, 1)
        [row] = alerts.delivery_log(ctx, admin)
        assert (row.state, row.attempts) == ("retrying", 1)
        assert "HTTP 500" in row.error and "distinctive-hook-token" not in row.error
        assert row.next_attempt_at == clock.now + delivery.backoff(1)
        assert alerts.run_deliveries(ctx).sent == 0  # not due yet: nothing is sent early
        clock.advance(minutes=1)
        assert alerts.run_deliveries(ctx).retrying == 1
        [row] = alerts.delivery_log(ctx, admin)
        assert row.next_attempt_at == clock.now + delivery.timedelta(minutes=2)
        clock.advance(minutes=2)
        assert alerts.run_deliveries(ctx).sent == 1
    [row] = alerts.delivery_log(ctx, admin)
    assert (row.state, row.attempts, row.error, row.sent_at) == ("sent", 3, "", clock.now)
    assert hook.statuses == [500, 500, 200]
    assert hook.received[0]["json"]["text"].endswith("Open in Vision AI: http://127.0.0.1:8866/?page=drift&model=Fraud")


def test_after_the_last_attempt_it_is_failed_and_an_admin_retry_sends_it(ctx, clock):
    admin = sessions.operator("cli:test")  # hours pass: a browser session would expire
    fraud = add_model(ctx, "Fraud", "Analytics")
    with WebhookReceiver(script=[503] * delivery.MAX_ATTEMPTS) as hook:
        webhook(ctx, admin, "down", hook.url)
        notify(ctx, fraud, "drift:fraud:1")
        for _ in range(delivery.MAX_ATTEMPTS):
            alerts.run_deliveries(ctx)
            clock.advance(hours=1)
        [row] = alerts.delivery_log(ctx, admin, state="failed")
        assert row.attempts == delivery.MAX_ATTEMPTS and "HTTP 503" in row.error and row.next_attempt_at is None
        assert alerts.run_deliveries(ctx).sent == 0  # failed stays failed
        retried = alerts.retry(ctx, admin, row.id)
        assert retried.state == "retrying"
        assert alerts.run_deliveries(ctx).sent == 1
    assert alerts.delivery_log(ctx, admin, state="sent")[0].id == row.id


def test_a_receiver_that_never_answers_is_bounded_and_others_are_still_delivered(ctx, admin):
    fraud = add_model(ctx, "Fraud", "Analytics")
    with silent_port() as port, WebhookReceiver() as good:
        webhook(ctx, admin, "hangs", f"http://127.0.0.1:{port}/hooks/distinctive-hook-token", timeout=1)
        webhook(ctx, admin, "works", good.url)
        for i in range(3):
            notify(ctx, fraud, f"drift:fraud:{i}", title=f"Drift {i}")
        done = alerts.run_deliveries(ctx, parallel=2)  # returns: each hung send is cut at its timeout
    assert (done.sent, done.retrying) == (3, 3)
    assert sorted(r["json"]["text"].split("\n")[0] for r in good.received) == ["Drift 0", "Drift 1", "Drift 2"]
    hung = alerts.delivery_log(ctx, admin, channel="hangs")
    assert {r.state for r in hung} == {"retrying"}
    assert all(r.error.startswith("The webhook did not answer") for r in hung)


def test_a_run_starts_nothing_after_its_deadline(ctx, admin):
    fraud = add_model(ctx, "Fraud", "Analytics")
    with WebhookReceiver() as hook:
        webhook(ctx, admin, "works", hook.url)
        notify(ctx, fraud, "drift:fraud:1")
        done = alerts.run_deliveries(ctx, deadline=0)
    assert (done.planned, done.sent, done.skipped) == (1, 0, 1)
    assert alerts.delivery_log(ctx, admin)[0].state == "queued"  # still there, not lost


def test_a_claimed_delivery_is_not_taken_twice(ctx, admin):
    fraud = add_model(ctx, "Fraud", "Analytics")
    webhook(ctx, admin, "x", "https://hooks.example.com/x")
    notify(ctx, fraud, "drift:fraud:1")
    with ctx.store.write() as conn:
        delivery.plan(conn, ctx.now())
        [item] = delivery.due(conn, ctx.now(), 10)
        assert delivery.claim(conn, item, ctx.now())
        assert not delivery.claim(conn, item, ctx.now())
        assert delivery.due(conn, ctx.now(), 10) == []  # held until HOLD has passed
        assert delivery.due(conn, ctx.now() + delivery.HOLD, 10)[0].id == item.id  # a dead worker's row comes back


def test_the_worker_delivers_alerts_every_minute(ctx, admin):
    from datetime import datetime

    from vision_widgets import worker

    class Recorder:
        def __init__(self):
            self.tasks = {}

        def periodic(self, name, when, fn):
            assert name not in self.tasks, f"{name} is scheduled twice"
            self.tasks[name] = (when, fn)

    queue = Recorder()
    worker.schedule(queue, ctx)
    when, fn = queue.tasks["vision.deliver_alerts"]
    assert all(when(datetime(2024, 5, 1, 12, m)) for m in range(60))
    fraud = add_model(ctx, "Fraud", "Analytics")
    with WebhookReceiver() as hook:
        webhook(ctx, admin, "works", hook.url)
        notify(ctx, fraud, "drift:fraud:1")
        assert fn() == 1
    assert len(hook.received) == 1
