"""Delivery of notifications through alert channels: planning, claiming, retrying, the log.

**Planning** (``plan``) writes one ``alert_deliveries`` row per enabled channel and matching
notification created at or after the channel: the notification's model is in the channel's line
of business, or the channel's ``lob`` is "" (every one); a platform notification (no model) goes
only to "" channels. The unique index on (notification, channel) makes planning idempotent, and a
row exists from then on: nothing is lost, whatever happens to a send.

**Sending** happens in the worker. A due row (``pending`` with ``next_attempt_at`` ≤ now) is
*claimed* by a compare-and-set that counts the attempt and pushes ``next_attempt_at`` past the
longest send (``HOLD``): two workers never send it twice at once, and a worker that dies mid-send
leaves a row that is due again once the hold has passed. A failed attempt is retried after
``backoff(attempts)`` (1, 2, 4, 8 … minutes); after ``MAX_ATTEMPTS`` it is ``failed`` with the
reason, until an admin retries it (one more attempt, now).

States stored: ``pending`` (shown "queued" before any attempt, "retrying" after one), ``sent``,
``failed``. This module reads ``notifications`` and never changes them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from vision_widgets.core.notify.channel_store import ChannelRow
from vision_widgets.core.notify.channel_store import _row as _channel_row
from vision_widgets.core.storage import schema

PENDING, SENT, FAILED = "pending", "sent", "failed"
STATES = (PENDING, SENT, FAILED)
#: Attempts before a delivery is ``failed`` (the first one and four retries: 1, 2, 4, 8 min apart).
MAX_ATTEMPTS = 5
FIRST_BACKOFF = timedelta(minutes=1)
MAX_BACKOFF = timedelta(hours=1)
#: How long a claimed row is held: past the longest send, so a dead worker's row is due again after it.
HOLD = timedelta(minutes=2)
#: Planning looks again at notifications this recent, past the high-water mark (see ``plan``).
LOOK_BACK = timedelta(minutes=10)

d, n, c, m = schema.alert_deliveries, schema.notifications, schema.alert_channels, schema.models


def backoff(attempts: int) -> timedelta:
    """Wait after the ``attempts``-th failed attempt: 1 min, 2, 4 … at most an hour."""
    return min(FIRST_BACKOFF * (2 ** max(0, attempts - 1)), MAX_BACKOFF)


def shown_state(state: str, attempts: int) -> str:
    """The state as the log says it: queued, retrying, sent, failed."""
    if state == PENDING:
        return "retrying" if attempts else "queued"
    return state


def plan(conn: Connection, now: datetime) -> int:
    """Add the missing delivery rows (see the module's docstring); how many were added.

    Each channel looks only at notifications past its high-water mark — the largest notification id
    already planned for it (before its first: those created at or after the channel) — plus those
    raised in the last ``LOOK_BACK``: ids are handed out at insert and committed in any order on
    PostgreSQL, so a notification whose transaction committed after a larger id was planned is still
    found. The per-minute run no longer reads the whole history; the unique index on (notification,
    channel) keeps it idempotent. Two workers planning at once may collide on that index: the loser adds
    nothing this time (its transaction is the caller's; ``IntegrityError`` is left to the caller, who
    runs it again)."""
    marks = dict(conn.execute(select(d.c.channel_id, func.max(d.c.notification_id)).group_by(d.c.channel_id)).all())
    channels = conn.execute(select(c.c.id, c.c.lob, c.c.created_at).where(c.c.enabled.is_(True))).all()
    pairs: list[tuple[int, int]] = []
    for channel_id, lob, created_at in channels:
        query = (select(n.c.id).select_from(n.outerjoin(m, m.c.id == n.c.model_id))
                 .where(n.c.created_at >= created_at)
                 .where(~select(d.c.id).where(d.c.notification_id == n.c.id, d.c.channel_id == channel_id).exists()))
        if lob:
            query = query.where(n.c.model_id.is_not(None), m.c.lob == lob)
        mark = marks.get(channel_id)
        if mark is not None:
            query = query.where(or_(n.c.id > mark, n.c.created_at >= now - LOOK_BACK))
        pairs += [(nid, channel_id) for nid in conn.execute(query.order_by(n.c.id)).scalars()]
    if pairs:
        conn.execute(d.insert(), [{"notification_id": nid, "channel_id": cid, "state": PENDING, "attempts": 0,
                                       "created_at": now, "next_attempt_at": now, "error": ""} for nid, cid in pairs])
    return len(pairs)


def plan_safely(store, now: datetime) -> int:
    """``plan`` in its own transaction; a collision with another worker's plan adds nothing now."""
    try:
        with store.write() as conn:
            return plan(conn, now)
    except IntegrityError:
        return 0


@dataclass(frozen=True)
class Due:
    """A delivery due now, as the claim needs it."""

    id: int
    next_attempt_at: datetime


def due(conn: Connection, now: datetime, limit: int) -> list[Due]:
    """Pending deliveries of enabled channels due at ``now``, the longest waiting first."""
    rows = conn.execute(
        select(d.c.id, d.c.next_attempt_at).select_from(d.join(c, c.c.id == d.c.channel_id))
        .where(d.c.state == PENDING, d.c.next_attempt_at <= now, c.c.enabled.is_(True))
        .order_by(d.c.next_attempt_at, d.c.id).limit(limit))
    return [Due(r[0], r[1]) for r in rows]


def claim(conn: Connection, item: Due, now: datetime) -> bool:
    """Take ``item`` for one attempt (counted now); False if another worker took it first."""
    done = conn.execute(update(d).where(d.c.id == item.id, d.c.state == PENDING,
                                        d.c.next_attempt_at == item.next_attempt_at)
                        .values(attempts=d.c.attempts + 1, last_attempt_at=now, next_attempt_at=now + HOLD))
    return bool(done.rowcount)


@dataclass(frozen=True)
class Work:
    """What one attempt sends: the delivery, its channel and its notification."""

    delivery_id: int
    attempts: int
    channel: ChannelRow
    kind: str
    title: str
    body: str
    link: str
    created_at: datetime
    model: str


def work(conn: Connection, delivery_id: int) -> Work | None:
    """The channel and notification of a claimed delivery (None if either is gone)."""
    r = conn.execute(
        select(d.c.id, d.c.attempts, n.c.kind, n.c.title, n.c.body, n.c.link, n.c.created_at,
               m.c.name.label("model"), *[col.label(f"c_{col.name}") for col in c.c])
        .select_from(d.join(n, n.c.id == d.c.notification_id).join(c, c.c.id == d.c.channel_id)
                     .outerjoin(m, m.c.id == n.c.model_id))
        .where(d.c.id == delivery_id)).mappings().first()
    if r is None:
        return None
    channel = _channel_row({col.name: r[f"c_{col.name}"] for col in c.c})
    return Work(r["id"], r["attempts"], channel, r["kind"], r["title"], r["body"] or "{}", r["link"] or "",
                r["created_at"], r["model"] or "")


def record_sent(conn: Connection, delivery_id: int, now: datetime) -> None:
    conn.execute(update(d).where(d.c.id == delivery_id).values(
        state=SENT, sent_at=now, next_attempt_at=None, error=""))


def record_failure(conn: Connection, delivery_id: int, now: datetime, reason: str,
                   max_attempts: int = MAX_ATTEMPTS) -> str:
    """Keep why the attempt failed; retry later (``pending``) or give up (``failed``). The new state."""
    attempts = conn.execute(select(d.c.attempts).where(d.c.id == delivery_id)).scalar_one_or_none()
    if attempts is None:
        return FAILED
    if attempts >= max_attempts:
        conn.execute(update(d).where(d.c.id == delivery_id).values(state=FAILED, next_attempt_at=None,
                                                                   error=reason[:2000]))
        return FAILED
    conn.execute(update(d).where(d.c.id == delivery_id).values(
        state=PENDING, next_attempt_at=now + backoff(attempts), error=reason[:2000]))
    return PENDING


def retry(conn: Connection, delivery_id: int, now: datetime) -> bool:
    """A ``failed`` delivery due again now (one more attempt); False if it is not failed."""
    done = conn.execute(update(d).where(d.c.id == delivery_id, d.c.state == FAILED)
                        .values(state=PENDING, next_attempt_at=now))
    return bool(done.rowcount)


def retry_all(conn: Connection, now: datetime, channel_id: int | None = None) -> int:
    """Every ``failed`` delivery (of one channel) due again now; how many."""
    where = d.c.state == FAILED
    if channel_id is not None:
        where = where & (d.c.channel_id == channel_id)
    return int(conn.execute(update(d).where(where).values(state=PENDING, next_attempt_at=now)).rowcount or 0)


@dataclass(frozen=True)
class LogRow:
    """One line of the delivery log."""

    id: int
    channel: str
    notification_id: int
    title: str
    model: str
    state: str          # pending, sent, failed (stored)
    attempts: int
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    sent_at: datetime | None
    error: str

    @property
    def shown_state(self) -> str:
        return shown_state(self.state, self.attempts)


def log(conn: Connection, *, state: str | None = None, channel_id: int | None = None,
        limit: int = 200, delivery_id: int | None = None) -> list[LogRow]:
    """The newest ``limit`` deliveries, newest first; ``state`` is a stored state or ``retrying``/``queued``."""
    query = (select(d, c.c.name.label("channel"), n.c.title, m.c.name.label("model"))
             .select_from(d.join(c, c.c.id == d.c.channel_id).join(n, n.c.id == d.c.notification_id)
                          .outerjoin(m, m.c.id == n.c.model_id)))
    if state == "retrying":
        query = query.where(d.c.state == PENDING, d.c.attempts > 0)
    elif state == "queued":
        query = query.where(d.c.state == PENDING, d.c.attempts == 0)
    elif state:
        query = query.where(d.c.state == state)
    if channel_id is not None:
        query = query.where(d.c.channel_id == channel_id)
    if delivery_id is not None:
        query = query.where(d.c.id == delivery_id)
    rows = conn.execute(query.order_by(d.c.created_at.desc(), d.c.id.desc()).limit(limit)).mappings()
    return [LogRow(r["id"], r["channel"], r["notification_id"], r["title"], r["model"] or "", r["state"],
                   r["attempts"], r["created_at"], r["last_attempt_at"], r["next_attempt_at"], r["sent_at"],
                   r["error"] or "") for r in rows]


def counts(conn: Connection) -> dict[int, dict[str, int]]:
    """Per channel id: how many deliveries are in each stored state."""
    found: dict[int, dict[str, int]] = {}
    for channel_id, state, count in conn.execute(
            select(d.c.channel_id, d.c.state, func.count()).group_by(d.c.channel_id, d.c.state)):
        found.setdefault(channel_id, {})[state] = int(count)
    return found


def one(conn: Connection, delivery_id: int) -> LogRow | None:
    """The log line of delivery ``delivery_id``, or None."""
    found = log(conn, delivery_id=delivery_id, limit=1)
    return found[0] if found else None
