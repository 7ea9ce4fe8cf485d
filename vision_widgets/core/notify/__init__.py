"""Notifications: which causes are due (``rules``, pure), and storing them once each (``store``).

A notification is stored once per cause: its ``dedupe_key`` (kind, model, window…) is unique in the
``notifications`` table, so rules may run as often as they like, from the worker's periodic task and
after each new production batch, and two runs that race store one row. Read state is per account
(``notification_reads``). Alert delivery (``channels``, ``channel_store``, ``delivery``) reads the
stored rows and sends them to people; nothing in the rules calls it.
"""
from __future__ import annotations

#: The kinds of notification (``notifications.kind``).
DRIFT, PERFORMANCE, STALE, AWAITING_METRICS, HEALTH = "drift", "performance", "stale", "awaiting_metrics", "health"
KINDS: tuple[str, ...] = (DRIFT, PERFORMANCE, STALE, AWAITING_METRICS, HEALTH)
#: How each kind reads on the page.
KIND_TITLES: dict[str, str] = {
    DRIFT: "Dataset drift", PERFORMANCE: "Performance drop", STALE: "Stale data",
    AWAITING_METRICS: "Awaiting client metrics", HEALTH: "Failed health check",
}
