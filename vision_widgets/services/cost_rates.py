"""Cost rates per platform, with their history: listed for everyone who may view metrics, set by admins.

A rate applies from its effective day until the next rate of the same platform (``core/usage/rates.py``);
setting one adds to the history and never rewrites a past day's cost. Every change is audited.
"""
from __future__ import annotations

from datetime import date

from vision_widgets.core import audit
from vision_widgets.core.context import Context
from vision_widgets.core.identity.principal import Principal
from vision_widgets.core.identity.rbac import Permission
from vision_widgets.core.usage import rates
from vision_widgets.core.usage.rates import CostRate
from vision_widgets.services.sessions import acting

__all__ = ["CostRate", "list_rates", "set_rate"]


def list_rates(ctx: Context, principal: Principal) -> list[CostRate]:
    """Every rate, by platform then effective day (whoever may view models: rates are not secret)."""
    acting(ctx, principal, Permission.VIEW_OWN_MODELS)
    with ctx.store.read() as conn:
        return rates.list_rates(conn)


def set_rate(ctx: Context, principal: Principal, platform: str, currency: str, per_1k_predictions: object,
             per_compute_hour: object, effective_from: date | str) -> CostRate:
    """Add a rate for ``platform`` from ``effective_from`` (admins: ``MANAGE_COST_RATES``).

    ``InvalidInput`` (naming the field) for a negative, non-numeric or infinite amount, a currency that
    is not three letters, or a date that is not YYYY-MM-DD; ``Conflict`` if that platform already has a
    rate from that day.
    """
    me = acting(ctx, principal, Permission.MANAGE_COST_RATES)
    platform, currency, per_1k, per_hour, day = rates.check_rate(platform, currency, per_1k_predictions,
                                                                 per_compute_hour, effective_from)
    now = ctx.now()
    with ctx.store.write() as conn:
        rate = rates.insert(conn, platform, currency, per_1k, per_hour, day, me.username, now)
        audit.record(conn, now, me.username, "set cost rate", platform,
                     f"{currency} {per_1k:g} per 1,000 predictions, {per_hour:g} per compute hour, "
                     f"from {day.isoformat()}")
    return rate
