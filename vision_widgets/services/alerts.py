"""Alert delivery (admins, ``MANAGE_ALERTS``): channels per line of business, their test, the
delivery log, retries — and the worker's periodic run that plans and sends deliveries.

Secrets follow ``services/connectors.py``: sealed at rest (``core/secrets.py``), never returned
(``ChannelInfo.secrets_set`` names the fields holding a value), never audited (entries name the
fields changed), scrubbed from every reason a send hands back. A channel whose secrets cannot be
opened (the key changed or was lost) is still listed with ``readable=False``; its deliveries fail
with "re-enter"; re-entering them in an update makes it readable again.

Sending happens only in ``run_deliveries`` (the worker) and ``test_channel`` (an admin's explicit
test, run off the page's thread by the view). ``run_deliveries`` is bounded: at most ``BATCH``
deliveries, ``PARALLEL`` at a time, each within its channel's timeout, none started after
``deadline`` seconds — a receiver that never answers holds one thread for its timeout, not the run.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vision_widgets.core import audit, stored_secrets
from vision_widgets.core.config import public_url
from vision_widgets.core.context import Context
from vision_widgets.core.errors import Conflict, InvalidInput, NotFound
from vision_widgets.core.identity.principal import Principal
from vision_widgets.core.identity.rbac import Permission
from vision_widgets.core.notify import channel_store as store
from vision_widgets.core.notify import channels, delivery
from vision_widgets.core.notify.channel_store import ChannelRow
from vision_widgets.core.notify.channels import DeliveryFailed, Message, Outcome
from vision_widgets.core.secrets import SecretBox, SecretsUnreadable
from vision_widgets.services.sessions import acting

log = logging.getLogger(__name__)

__all__ = [
    "ChannelInfo",
    "DeliveryInfo",
    "RunSummary",
    "add_channel",
    "app_address",
    "delivery_log",
    "get_channel",
    "lines_of_business",
    "list_channels",
    "message_for",
    "remove_channel",
    "reseal",
    "retry",
    "retry_failed",
    "run_deliveries",
    "test_channel",
    "update_channel",
]

#: Deliveries one periodic run sends at most, how many at once, and after how long it starts no more.
BATCH = 50
PARALLEL = 4
DEADLINE = 40.0
UNREADABLE = stored_secrets.unreadable_text("channel")


@dataclass(frozen=True)
class ChannelInfo:
    """A channel as an admin sees it (no secret value, ever)."""

    name: str
    kind: str
    lob: str                       # "" = every line of business
    enabled: bool
    config: dict                   # settings without secrets
    secrets_set: tuple[str, ...]   # secret fields holding a value; never values
    readable: bool                 # False: its secrets cannot be decrypted; re-enter them
    sends_to: str                  # a few words, no secret
    created_at: datetime
    updated_at: datetime
    sent: int
    failed: int
    pending: int


@dataclass(frozen=True)
class DeliveryInfo:
    """One line of the delivery log."""

    id: int
    channel: str
    title: str
    model: str
    state: str                     # queued, retrying, sent, failed
    attempts: int
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    sent_at: datetime | None
    error: str


@dataclass(frozen=True)
class RunSummary:
    """What one periodic run did."""

    planned: int
    sent: int
    retrying: int
    failed: int
    skipped: int                   # due but not started (the run's deadline)


# -- helpers -------------------------------------------------------------------------------------------

def _info(ctx: Context, row: ChannelRow, counts: Mapping[str, int], box: SecretBox | None) -> ChannelInfo:
    readable, secrets_set = stored_secrets.readable_names(ctx.settings, row, box)
    return ChannelInfo(name=row.name, kind=row.kind, lob=row.lob, enabled=row.enabled, config=dict(row.config),
                       secrets_set=secrets_set, readable=readable, sends_to=channels.summary(row.kind, row.config),
                       created_at=row.created_at, updated_at=row.updated_at, sent=counts.get(delivery.SENT, 0),
                       failed=counts.get(delivery.FAILED, 0), pending=counts.get(delivery.PENDING, 0))


def _check_lob(conn, lob: str | None) -> str:
    lob = (lob or "").strip()
    if lob and lob not in store.lines_of_business(conn):
        known = store.lines_of_business(conn)
        raise InvalidInput(f"{lob!r} is not a line of business of any model or account; choose one of: "
                           f"{', '.join(known) or 'none yet'} (or leave it empty for all).", field="lob")
    return lob


def _changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


def _split(kind: str, values: Mapping[str, Any] | None) -> tuple[dict, dict]:
    """Values split into (config, secrets): a secret given among the settings is still a secret."""
    names = set(channels.SECRET_FIELDS.get(kind, ()))
    config, secrets = {}, {}
    for key, value in (values or {}).items():
        (secrets if key in names else config)[key] = value
    return config, secrets


def _delivery_info(r: delivery.LogRow) -> DeliveryInfo:
    return DeliveryInfo(r.id, r.channel, r.title, r.model, r.shown_state, r.attempts, r.created_at,
                        r.last_attempt_at, r.next_attempt_at, r.sent_at, r.error)


def _base_url(ctx: Context) -> str:
    # The worker has no browser: VISION_PUBLIC_URL, else the address `vision serve` binds.
    return public_url(ctx.settings, env={})


def message_for(ctx: Context, item: delivery.Work) -> Message:
    """The message about ``item``'s notification: title, model, its numbers, the link to the app."""
    return Message(title=item.title, model=item.model, kind=item.kind, lines=channels.describe(item.body),
                   link=channels.app_link(_base_url(ctx), item.link), at=item.created_at.isoformat())


# -- reading -------------------------------------------------------------------------------------------

def lines_of_business(ctx: Context, principal: Principal) -> list[str]:
    """The lines of business a channel may be for (of models and accounts), sorted."""
    acting(ctx, principal, Permission.MANAGE_ALERTS)
    with ctx.store.read() as conn:
        return store.lines_of_business(conn)


def app_address(ctx: Context, principal: Principal) -> tuple[str, bool]:
    """The address alerts link to, and whether it was configured (``VISION_PUBLIC_URL``): without it
    the links name the address ``vision serve`` binds, which other machines may not reach."""
    acting(ctx, principal, Permission.MANAGE_ALERTS)
    return _base_url(ctx), bool(ctx.settings.public_url)


def list_channels(ctx: Context, principal: Principal) -> list[ChannelInfo]:
    """Every channel with its delivery counts."""
    acting(ctx, principal, Permission.MANAGE_ALERTS)
    with ctx.store.read() as conn:
        rows = store.list_all(conn)
        counts = delivery.counts(conn)
    box = stored_secrets.reading_box(ctx.settings, rows)
    return [_info(ctx, r, counts.get(r.id, {}), box) for r in rows]


def get_channel(ctx: Context, principal: Principal, name: str) -> ChannelInfo:
    """One channel (as ``list_channels`` shows it); ``NotFound`` if there is none."""
    acting(ctx, principal, Permission.MANAGE_ALERTS)
    with ctx.store.read() as conn:
        row = store.get(conn, name)
        counts = delivery.counts(conn).get(row.id, {})
    return _info(ctx, row, counts, stored_secrets.reading_box(ctx.settings, [row]))


def delivery_log(ctx: Context, principal: Principal, state: str = "", channel: str = "",
                 limit: int = 200) -> list[DeliveryInfo]:
    """The newest deliveries, newest first; ``state`` one of queued, retrying, sent, failed, pending
    ("" all), ``channel`` a channel's name ("" all)."""
    acting(ctx, principal, Permission.MANAGE_ALERTS)
    state = (state or "").strip().lower()
    if state and state not in (*delivery.STATES, "queued", "retrying"):
        raise InvalidInput("state is queued, retrying, sent or failed.", field="state")
    with ctx.store.read() as conn:
        channel_id = store.get(conn, channel).id if channel else None
        rows = delivery.log(conn, state=state or None, channel_id=channel_id, limit=max(1, min(limit, 5000)))
    return [_delivery_info(r) for r in rows]


# -- changing ------------------------------------------------------------------------------------------

def add_channel(ctx: Context, principal: Principal, name: str, kind: str, lob: str = "",
                config: Mapping[str, Any] | None = None, secrets: Mapping[str, str] | None = None,
                enabled: bool = True) -> ChannelInfo:
    """Store a new channel (admins): its settings checked, its secrets sealed, audited by field names.
    It receives the notifications raised from now on (not the ones before it)."""
    me = acting(ctx, principal, Permission.MANAGE_ALERTS)
    name = store.check_name(name)
    kind = (kind or "").strip().lower()
    extra_config, extra_secrets = _split(kind, config)
    checked, sealed_values = channels.check(kind, extra_config, {**extra_secrets, **dict(secrets or {})})
    sealed = stored_secrets.seal(ctx.settings, sealed_values)
    now = ctx.now()
    with ctx.store.write() as conn:
        row = store.insert(conn, name, kind, _check_lob(conn, lob), checked, sealed, me.username, now, enabled)
        detail = f"kind={kind}; lob={row.lob or 'all'}; settings: {', '.join(sorted(checked))}"
        if sealed_values:
            detail += f"; secrets: {', '.join(sorted(sealed_values))}"
        audit.record(conn, now, me.username, "add alert channel", row.name, detail)
    return _info(ctx, row, {}, stored_secrets.reading_box(ctx.settings, [row]))


def update_channel(ctx: Context, principal: Principal, name: str, config: Mapping[str, Any] | None = None,
                   secrets: Mapping[str, str] | None = None, lob: str | None = None,
                   enabled: bool | None = None) -> ChannelInfo:
    """Change a channel (admins). ``config`` replaces its settings (None: keep); ``secrets`` replaces
    the fields given with a value (empty: keep); when the stored secrets cannot be decrypted, the
    ones given replace them all. ``lob``/``enabled`` None: keep."""
    me = acting(ctx, principal, Permission.MANAGE_ALERTS)
    with ctx.store.read() as conn:
        row = store.get(conn, name)
    given_config, given_secrets = _split(row.kind, config) if config is not None else (None, {})
    given_secrets = stored_secrets.given(given_secrets, secrets)
    old_secrets, readable = stored_secrets.kept(ctx.settings, row)
    if not readable and not given_secrets:
        needed = ", ".join(channels.SECRET_FIELDS[row.kind])
        if given_config is not None and _changed(row.config, given_config):
            raise InvalidInput(f"{row.name}'s secrets cannot be decrypted (the secret key changed): re-enter "
                               f"them ({needed}) with the change.", field=channels.SECRET_FIELDS[row.kind][0])
    new_config = dict(row.config) if given_config is None else {**dict(given_config)}
    sealed: str | None = None
    if readable or given_secrets:
        new_config, sealed = stored_secrets.merge(ctx.settings, new_config, old_secrets, readable, given_secrets,
                                                  lambda c, s: channels.check(row.kind, c, s))
    changed_config = _changed(row.config, new_config)
    now = ctx.now()
    with ctx.store.write() as conn:
        new_lob = None if lob is None else _check_lob(conn, lob)
        if new_lob == row.lob:
            new_lob = None
        if enabled is not None and bool(enabled) == row.enabled:
            enabled = None
        updated = store.update_row(conn, row.name, now, config=new_config if changed_config else None,
                                   secrets=sealed, lob=new_lob, enabled=enabled, version=row.updated_at)
        parts = []
        if changed_config:
            parts.append(f"settings: {', '.join(changed_config)}")
        if sealed is not None:
            parts.append(f"secrets: {', '.join(sorted(given_secrets)) or 'resealed'}")
        if new_lob is not None:
            parts.append("lob")
        if enabled is not None:
            parts.append("enabled" if enabled else "disabled")
        audit.record(conn, now, me.username, "update alert channel", row.name, "; ".join(parts) or "no change")
        counts = delivery.counts(conn).get(updated.id, {})
    return _info(ctx, updated, counts, stored_secrets.reading_box(ctx.settings, [updated]))


def remove_channel(ctx: Context, principal: Principal, name: str) -> None:
    """Remove a channel and its delivery log (admins)."""
    me = acting(ctx, principal, Permission.MANAGE_ALERTS)
    now = ctx.now()
    with ctx.store.write() as conn:
        row = store.get(conn, name)
        store.remove(conn, row.name)
        audit.record(conn, now, me.username, "remove alert channel", row.name, f"kind={row.kind}")


def retry(ctx: Context, principal: Principal, delivery_id: int) -> DeliveryInfo:
    """Make a failed delivery due now (one more attempt by the worker); ``Conflict`` if it is not failed."""
    me = acting(ctx, principal, Permission.MANAGE_ALERTS)
    now = ctx.now()
    with ctx.store.write() as conn:
        if not delivery.retry(conn, int(delivery_id), now):
            found = delivery.one(conn, int(delivery_id))
            if found is None:
                raise NotFound(f"There is no delivery {delivery_id}; the log lists them.")
            raise Conflict(f"Delivery {delivery_id} is {found.shown_state}, not failed: nothing to retry.")
        audit.record(conn, now, me.username, "retry alert delivery", str(delivery_id))
        row = delivery.one(conn, int(delivery_id))
    return _delivery_info(row)


def retry_failed(ctx: Context, principal: Principal, channel: str = "") -> int:
    """Make every failed delivery (of ``channel``) due now; how many."""
    me = acting(ctx, principal, Permission.MANAGE_ALERTS)
    now = ctx.now()
    with ctx.store.write() as conn:
        channel_id = store.get(conn, channel).id if channel else None
        count = delivery.retry_all(conn, now, channel_id)
        audit.record(conn, now, me.username, "retry alert deliveries", channel or "all channels", f"{count} failed")
    return count


def reseal(ctx: Context, principal: Principal) -> tuple[list[str], list[str]]:
    """Seal every channel's secrets again with the first key of ``VISION_SECRET_KEY`` (a key rotation's
    middle step, as ``connectors.reseal``); (names sealed again, names no key opens)."""
    me = acting(ctx, principal, Permission.MANAGE_ALERTS)
    now = ctx.now()
    with ctx.store.write() as conn:
        done, unreadable, detail = stored_secrets.reseal_rows(
            ctx.settings, store.list_all(conn), lambda name, token: store.replace_token(conn, name, token))
        if done or unreadable:  # none has secrets: nothing to audit
            audit.record(conn, now, me.username, "reseal alert channels", "", detail)
    return done, unreadable


# -- sending -------------------------------------------------------------------------------------------

def test_channel(ctx: Context, principal: Principal, name: str) -> Outcome:
    """Send a test message through ``name`` now (admins); ok with its latency, or the reason. Audited."""
    me = acting(ctx, principal, Permission.MANAGE_ALERTS)
    with ctx.store.read() as conn:
        row = store.get(conn, name)
    message = Message(title=f"Vision AI test message for channel {row.name}", model="", kind="test",
                      lines=(f"Sent by: {me.username}", f"Line of business: {row.lob or 'all'}",
                             "If you read this, alerts reach you here."),
                      link=channels.app_link(_base_url(ctx), "?page=alerts"))
    try:
        secrets = stored_secrets.open_row(ctx.settings, row)
        latency = channels.send(row.kind, row.config, secrets, message)
        outcome = Outcome(True, f"sent in {latency:.0f} ms", latency)
    except SecretsUnreadable as exc:
        outcome = Outcome(False, stored_secrets.unreadable_reason("channel", row, exc))
    except DeliveryFailed as exc:
        outcome = Outcome(False, str(exc))
    except Exception as exc:  # noqa: BLE001 - a library's text may hold a secret: its class only
        log.warning("test of alert channel %s failed unexpectedly: %s", row.name, type(exc).__name__)
        outcome = Outcome(False, f"Sending failed unexpectedly ({type(exc).__name__}).")
    with ctx.store.write() as conn:
        audit.record(conn, ctx.now(), me.username, "test alert channel", row.name,
                     "sent" if outcome.ok else "failed")
    return outcome


def _attempt(ctx: Context, item: delivery.Due, deadline: float, boxes: dict) -> str:
    """Claim and send one due delivery; its new state ("" when not attempted)."""
    if time.monotonic() >= deadline:
        return ""
    now = ctx.now()
    with ctx.store.write() as conn:
        if not delivery.claim(conn, item, now):
            return ""
        found = delivery.work(conn, item.id)
    if found is None:
        return ""
    try:
        secrets = stored_secrets.open_row(ctx.settings, found.channel, boxes.get("box"))
        channels.send(found.channel.kind, found.channel.config, secrets, message_for(ctx, found))
        reason = ""
    except SecretsUnreadable as exc:
        reason = stored_secrets.unreadable_reason("channel", found.channel, exc)
    except DeliveryFailed as exc:
        reason = str(exc)
    except Exception as exc:  # noqa: BLE001 - one delivery's bug must not stop the others
        log.warning("alert delivery %s failed unexpectedly: %s", item.id, type(exc).__name__)
        reason = f"Sending failed unexpectedly ({type(exc).__name__})."
    with ctx.store.write() as conn:
        if not reason:
            delivery.record_sent(conn, item.id, ctx.now())
            return delivery.SENT
        state = delivery.record_failure(conn, item.id, ctx.now(), reason)
    log.info("alert delivery %s via %s: %s (%s)", item.id, found.channel.name,
             "retrying" if state == delivery.PENDING else "failed", reason)
    return "retrying" if state == delivery.PENDING else state


def run_deliveries(ctx: Context, *, batch: int = BATCH, parallel: int = PARALLEL,
                   deadline: float = DEADLINE) -> RunSummary:
    """The worker's periodic task: plan the missing deliveries, then send the due ones (bounded; see
    the module's docstring). Acts for no one: channels are the platform's, set by admins."""
    planned = delivery.plan_safely(ctx.store, ctx.now())
    with ctx.store.read() as conn:
        due = delivery.due(conn, ctx.now(), batch)
    if not due:
        return RunSummary(planned, 0, 0, 0, 0)
    try:
        boxes = {"box": SecretBox.for_settings(ctx.settings)}
    except SecretsUnreadable:
        boxes = {}
    until = time.monotonic() + deadline
    pool = ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="vision-alerts")
    try:
        states = list(pool.map(lambda item: _attempt(ctx, item, until, boxes), due))
    finally:
        pool.shutdown(wait=False)
    summary = RunSummary(planned, states.count(delivery.SENT), states.count("retrying"),
                         states.count(delivery.FAILED), states.count(""))
    if summary.sent or summary.retrying or summary.failed:
        log.info("alerts: %d sent, %d to retry, %d failed", summary.sent, summary.retrying, summary.failed)
    return summary
