"""Notifications for the acting account: list, unread count, mark read, and the performance rule's setting.

A user receives the notifications of the models they own; an admin receives every notification,
the platform's (failed health checks) included. Read state is per account. Marking a
notification the account does not receive is refused (``PermissionDenied``), as is an unknown one
(the same answer: nobody learns what others are notified of).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from vision_widgets.core import audit
from vision_widgets.core.catalog import records
from vision_widgets.core.context import Context
from vision_widgets.core.errors import InvalidInput, PermissionDenied
from vision_widgets.core.identity import sessions as session_records
from vision_widgets.core.identity.principal import Principal
from vision_widgets.core.identity.rbac import Permission, can_view_model, has
from vision_widgets.core.notify import KINDS, store
from vision_widgets.core.notify.rules import DEFAULT_PERFORMANCE_DROP
from vision_widgets.core.notify.store import PERFORMANCE_DROP_KEY, Stored
from vision_widgets.services.sessions import acting

__all__ = ["Stored", "Notifications", "list_notifications", "unread_count", "mark_read", "mark_all_read",
           "performance_drop", "set_performance_drop", "stored_performance_drop", "ALL", "UNREAD", "READ"]

#: The read filter's values.
ALL, UNREAD, READ = "all", "unread", "read"


@dataclass(frozen=True)
class Notifications:
    """What the Notifications page lists: the items (newest first, at most the limit asked for), how
    many match the filters in all, and the account's unread count."""

    items: tuple[Stored, ...]
    unread: int
    #: Every notification matching the filters, however many ``items`` holds.
    total: int = 0


def _owner(me: Principal) -> str | None:
    """Whose models' notifications ``me`` receives: None (all, platform ones too) for an admin."""
    return None if has(me, Permission.VIEW_ALL_MODELS) else me.username


def list_notifications(ctx: Context, principal: Principal, *, model: str = "", kind: str = "",
                       state: str = ALL, limit: int = store.LIST_LIMIT) -> Notifications:
    """The account's notifications, newest first, filtered by model name, kind and read state."""
    me = acting(ctx, principal, Permission.VIEW_OWN_MODELS)
    if kind and kind not in KINDS:
        raise InvalidInput(f"Unknown kind of notification {kind!r}; choose one of {', '.join(KINDS)}.", field="kind")
    if state not in (ALL, UNREAD, READ):
        raise InvalidInput("Show all, unread or read notifications.", field="state")
    with ctx.store.read() as conn:
        model_id = None
        if model:
            record = records.find(conn, model)
            if record is None or not can_view_model(me, record.owner):
                raise InvalidInput(f"No model named {model!r} is open to you.", field="model")
            model_id = record.id
        read = None if state == ALL else state == READ
        items = store.list_for(conn, me.username, _owner(me), model_id=model_id, kind=kind, read=read,
                               limit=max(1, min(int(limit), store.LIST_LIMIT)))
        total = store.count_for(conn, me.username, _owner(me), model_id=model_id, kind=kind, read=read)
        unread = store.unread_count(conn, me.username, _owner(me))
    return Notifications(tuple(items), unread, total)


def unread_count(ctx: Context, principal: Principal) -> int:
    """How many notifications the account has not read (the header's bell).

    Checked without renewing the session: the bell asks every half-minute while a tab is open,
    and that must not keep an idle tab's session alive past ``VISION_TOKEN_TTL``.
    """
    me = principal
    if not principal.is_operator:
        me = session_records.peek(ctx, principal)
    if not has(me, Permission.VIEW_OWN_MODELS):
        raise PermissionDenied(f"Your role ({me.role}) may not {Permission.VIEW_OWN_MODELS.value}.")
    with ctx.store.read() as conn:
        return store.unread_count(conn, me.username, _owner(me))


def mark_read(ctx: Context, principal: Principal, ids: Sequence[int]) -> int:
    """Mark notifications read for this account; returns how many were unread.

    ``PermissionDenied`` (nothing marked) if one of them is not the account's to read. One whose
    model is deleted meanwhile (by its owner or an admin, in another tab) is skipped: there is
    nothing left to mark (``store.mark_read`` holds the models first, so this never fails on the
    deletion).
    """
    me = acting(ctx, principal, Permission.VIEW_OWN_MODELS)
    wanted = sorted({int(i) for i in ids})
    if not wanted:
        return 0
    owner = _owner(me)
    now = ctx.now()
    with ctx.store.write() as conn:
        owners = store.owners_of(conn, wanted)
        refused = [i for i in wanted if i not in owners or (owner is not None and owners[i] != owner)]
        if refused:
            raise PermissionDenied("That notification is not yours to mark: you receive the notifications of "
                                   "your own models only.")
        return store.mark_read(conn, wanted, me.username, now)


def mark_all_read(ctx: Context, principal: Principal) -> int:
    """Mark every notification the account receives as read; returns how many were unread."""
    me = acting(ctx, principal, Permission.VIEW_OWN_MODELS)
    now = ctx.now()
    with ctx.store.write() as conn:
        return store.mark_all_read(conn, me.username, _owner(me), now)


# --------------------------------------------------------------------------------------------
# The performance rule's setting
# --------------------------------------------------------------------------------------------
def performance_drop(ctx: Context, principal: Principal) -> float:
    """The drop below the training performance that raises a notification (anyone may read it)."""
    acting(ctx, principal, Permission.VIEW_OWN_MODELS)
    with ctx.store.read() as conn:
        return stored_performance_drop(conn)


def stored_performance_drop(conn) -> float:
    """The setting as stored, or the default (for the rules' runner, which acts for no one)."""
    value = store.get_setting(conn, PERFORMANCE_DROP_KEY)
    try:
        value = float(value)
    except (TypeError, ValueError):
        return DEFAULT_PERFORMANCE_DROP
    return value if 0 < value < 1 else DEFAULT_PERFORMANCE_DROP


def set_performance_drop(ctx: Context, principal: Principal, value: float | str) -> float:
    """Set the performance drop (an admin; ``0 < value < 1``, absolute: 0.05 is five points of accuracy)."""
    me = acting(ctx, principal, Permission.MANAGE_ALERTS)
    try:
        drop = float(str(value).strip())
    except (TypeError, ValueError):
        raise InvalidInput("The performance drop must be a number between 0 and 1, e.g. 0.05.",
                           field="performance_drop") from None
    if not math.isfinite(drop) or not 0 < drop < 1:
        raise InvalidInput("The performance drop must be more than 0 and less than 1, e.g. 0.05 (five points of "
                           "accuracy).", field="performance_drop")
    now = ctx.now()
    with ctx.store.write() as conn:
        store.set_setting(conn, PERFORMANCE_DROP_KEY, drop, me.username, now)
        audit.record(conn, now, me.username, "set performance drop", PERFORMANCE_DROP_KEY, f"{drop:g}")
    return drop

