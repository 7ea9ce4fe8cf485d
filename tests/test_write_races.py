"""Two writers at a chosen point on PostgreSQL, where (unlike SQLite) write transactions overlap.

Each test holds the first writer's transaction open at the point that matters, starts the second,
waits until PostgreSQL says the second is waiting on a lock, then lets the first commit; what comes
out is what a person would see. Found by the review of issue 14 (docs/decisions.md, "PostgreSQL for
real"): a deletion deadlocking with an upload-token issue, a model registered through a connector
removed meanwhile, a drift-settings save undoing another, usage sent in two orders deadlocking, and
two `vision init` at once; and, later, a notification marked read while its model was deleted.
"""
from __future__ import annotations

import threading

import pytest
from helpers import ADMIN, USER, USERS_JSON, all_at_once, demo_frames, demo_spec, write_demo_files
from sqlalchemy import func, select

from tests.support.postgres import PATIENCE, in_thread, postgres_settings_env, until, waiting_on_a_lock
from vision_widgets.core.catalog import drift_store, records, upload_tokens
from vision_widgets.core.config import load_settings
from vision_widgets.core.context import Context
from vision_widgets.core.errors import Conflict
from vision_widgets.core.notify import store as notification_store
from vision_widgets.core.notify.rules import Due
from vision_widgets.core.secrets import SecretBox
from vision_widgets.core.storage import schema
from vision_widgets.demo import sample_accounts
from vision_widgets.services import catalog, connectors, drift_settings, notifications, registration, submissions, usage


@pytest.fixture
def settings(tmp_path, request):  # overrides conftest's: these interleavings exist only on PostgreSQL
    return load_settings({"VISION_HOME": str(tmp_path / "home"), "VISION_USERS_FILE": str(USERS_JSON),
                          **postgres_settings_env(request)})


class _Pause:
    """The pause of the first thread that calls a patched function: ``hold`` waits until another
    transaction waits on a lock; ``reached`` is set once the pause began."""

    def __init__(self, ctx) -> None:
        self.ctx, self.reached, self.owner = ctx, threading.Event(), None

    def first(self) -> bool:
        """Whether the calling thread is the first that called (the one that pauses)."""
        if self.owner is None:
            self.owner = threading.current_thread()
        return self.owner is threading.current_thread()

    def hold(self) -> None:
        self.reached.set()
        until(lambda: waiting_on_a_lock(self.ctx), threading.Event())


def _hold_before(monkeypatch, module, name: str, ctx) -> threading.Event:
    """Make ``module.name`` pause before it runs (in the first thread that calls it) until another
    transaction waits on a lock; returns an event that is set once the pause began."""
    real, pause = getattr(module, name), _Pause(ctx)

    def paused(*args, **kwargs):
        if pause.first():
            pause.hold()
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, paused)
    return pause.reached


def _hold_after(monkeypatch, module, name: str, ctx) -> threading.Event:
    """Make ``module.name`` pause once it ran (in the first thread that calls it: what it wrote is not
    committed yet) until another transaction waits on a lock; returns an event set once the pause began."""
    real, pause = getattr(module, name), _Pause(ctx)

    def paused(*args, **kwargs):
        first = pause.first()
        result = real(*args, **kwargs)
        if first:
            pause.hold()
        return result

    monkeypatch.setattr(module, name, paused)
    return pause.reached


def _second_while_first_holds(first, second, reached):
    """Run ``first`` until it reaches its pause, then ``second``; both outcomes once both ended."""
    t1, out1, _ = in_thread(first)
    assert reached.wait(PATIENCE)
    t2, out2, _ = in_thread(second)
    t1.join(PATIENCE)
    t2.join(PATIENCE)
    return out1, out2


def test_deleting_a_model_while_its_upload_token_is_issued_waits_and_does_not_deadlock(ctx, login, monkeypatch):
    admin = login(ADMIN)
    registration.register_model(ctx, admin, demo_spec("Secret model", restricted=True))
    reached = _hold_before(monkeypatch, upload_tokens, "revoke_unused", ctx)  # inside the issue, model row held
    issued, deleted = _second_while_first_holds(lambda: submissions.issue_upload_token(ctx, admin, "Secret model"),
                                                lambda: catalog.delete_model(ctx, admin, "Secret model"), reached)
    assert "value" in issued and "error" not in deleted, (issued, deleted)
    with ctx.store.read() as conn:
        assert records.find(conn, "Secret model") is None
        assert conn.execute(select(func.count()).select_from(schema.upload_tokens)).scalar_one() == 0


def test_a_connector_removed_while_a_model_registers_through_it_is_refused(ctx, login, monkeypatch, tmp_path):
    import sqlite3

    admin = login(ADMIN)
    train, prod = demo_frames("Fraud detection")
    db = tmp_path / "warehouse.db"
    with sqlite3.connect(db) as con:
        train.to_sql("training", con, index=False)
        prod.to_sql("events", con, index=False)
    connectors.add_connector(ctx, admin, "shared", "sql", {}, {"url": f"sqlite:///{db}"})
    reached = _hold_before(monkeypatch, records, "insert", ctx)  # after the registration found the connector
    spec = demo_spec("Through shared", "training", "events", connector="shared")
    registered, removed = _second_while_first_holds(lambda: registration.register_model(ctx, login(USER), spec),
                                                    lambda: connectors.remove_connector(ctx, admin, "shared"),
                                                    reached)
    assert "value" in registered, registered
    assert isinstance(removed.get("error"), Conflict) and "Through shared" in str(removed["error"])
    names = [c.name for c in connectors.list_connectors(ctx, admin)]
    assert "shared" in names  # the model never points at a connector that is gone


def test_two_drift_settings_saves_at_once_never_undo_each_other(ctx, login, monkeypatch):
    files = write_demo_files(ctx.settings.home / "data")
    registration.register_model(ctx, login(USER), demo_spec("Fraud", *files))
    reached = _hold_before(monkeypatch, drift_store, "set_settings", ctx)
    first, second = _second_while_first_holds(
        lambda: drift_settings.save_settings(ctx, login(USER), "Fraud", {"drift_share": 0.7}),
        lambda: drift_settings.save_settings(ctx, login(ADMIN), "Fraud", {"small_sample": 77}), reached)
    assert "value" in first, first
    assert isinstance(second.get("error"), Conflict) and "changed meanwhile" in str(second["error"])
    with ctx.store.read() as conn:
        saved = records.get(conn, "Fraud").drift_settings
    assert saved["drift_share"] == 0.7 and saved.get("small_sample") != 77


def test_a_connector_save_built_on_what_another_admin_changed_meanwhile_is_refused(ctx, login, monkeypatch,
                                                                                    tmp_path):
    from vision_widgets.core.catalog import connector_store

    admin = login(ADMIN)
    connectors.add_connector(ctx, admin, "vault", "sql", {}, {"url": f"sqlite:///{tmp_path / 'a.db'}"})
    reached = _hold_after(monkeypatch, connector_store, "update_row", ctx)  # its UPDATE done, not committed
    first, second = _second_while_first_holds(
        lambda: connectors.update_connector(ctx, admin, "vault", secrets={"url": f"sqlite:///{tmp_path / 'b.db'}"}),
        lambda: connectors.update_connector(ctx, admin, "vault", description="the team's warehouse"), reached)
    assert "value" in first, first
    # the second was built on the row before the first's change (merging secrets it read then, it could
    # put an old secret back): refused, the person reloads and sees the first's change
    assert isinstance(second.get("error"), Conflict) and "changed meanwhile" in str(second["error"])
    with ctx.store.read() as conn:
        row = connector_store.get(conn, "vault")
    assert SecretBox.for_settings(ctx.settings).open(row.secrets)["url"].endswith("b.db")


def test_the_same_usage_sent_in_opposite_orders_at_once_is_stored_once(ctx, login):
    from datetime import timedelta

    registration.register_model(ctx, login(ADMIN), demo_spec("Served", restricted=True))
    start = ctx.now().replace(microsecond=0)
    records_ = [{"timestamp": (start + timedelta(seconds=i)).isoformat(), "predictions": i, "compute_hours": 0.1}
                for i in range(3000)]
    orders = iter([records_, records_[::-1]])
    outcomes = all_at_once(lambda: usage.ingest(ctx, login(ADMIN), "Served", next(orders), "api"), 2)
    assert sorted(o.stored for o in outcomes) == [0, 3000]
    with ctx.store.read() as conn:
        assert conn.execute(select(func.count()).select_from(schema.usage_records)).scalar_one() == 3000


def test_two_inits_loading_the_sample_accounts_at_once_add_them_once(settings):
    Context.open(settings, upgrade=True).store.dispose()

    def load():
        context = Context.open(settings)
        try:
            return len(sample_accounts.load_users(context))
        finally:
            context.store.dispose()

    assert sorted(all_at_once(load, 2)) == [0, 10]


# -- a notification marked read while its model is deleted -------------------------------------------
def _a_model_with_a_notification(ctx, me) -> int:
    """A model of ``me`` ("Fading") with one unread drift notification; returns the notification's id."""
    model = registration.register_model(ctx, me, demo_spec("Fading", restricted=True)).model
    with ctx.store.write() as conn:
        notification_store.add(conn, [Due(kind="drift", model_id=model.id, dedupe_key="drift:fading:1",
                                          title="Fading drifted", body={}, link="?page=drift&model=Fading")],
                               ctx.now())
        return conn.execute(select(schema.notifications.c.id)
                            .where(schema.notifications.c.dedupe_key == "drift:fading:1")).scalar_one()


def _reads(ctx) -> int:
    with ctx.store.read() as conn:
        return conn.execute(select(func.count()).select_from(schema.notification_reads)).scalar_one()


@pytest.mark.parametrize("how", ["this one", "all"])
def test_marking_read_while_the_model_is_being_deleted_waits_and_marks_nothing(ctx, login, monkeypatch, how):
    me = login(USER)
    ident = _a_model_with_a_notification(ctx, me)
    # the model and (by cascade) its notification deleted, not yet committed; the click comes now
    reached = _hold_after(monkeypatch, records, "remove", ctx)
    mark = ((lambda: notifications.mark_read(ctx, me, [ident])) if how == "this one"
            else (lambda: notifications.mark_all_read(ctx, me)))
    deleted, marked = _second_while_first_holds(lambda: catalog.delete_model(ctx, me, "Fading"), mark, reached)
    assert "error" not in deleted, deleted
    # it was: IntegrityError (notification_reads' foreign key), once the deletion committed
    assert marked == {"value": 0}, marked
    assert _reads(ctx) == 0 and notifications.unread_count(ctx, me) == 0
    assert notifications.list_notifications(ctx, me).items == ()


def test_deleting_a_model_while_its_notification_is_marked_read_waits_and_takes_the_read_with_it(ctx, login,
                                                                                                   monkeypatch):
    me = login(USER)
    ident = _a_model_with_a_notification(ctx, me)
    reached = _hold_after(monkeypatch, notification_store, "_insert_ignoring", ctx)  # marked, not committed
    marked, deleted = _second_while_first_holds(lambda: notifications.mark_read(ctx, me, [ident]),
                                                lambda: catalog.delete_model(ctx, me, "Fading"), reached)
    assert marked == {"value": 1} and "error" not in deleted, (marked, deleted)
    assert _reads(ctx) == 0
    with ctx.store.read() as conn:
        assert records.find(conn, "Fading") is None
