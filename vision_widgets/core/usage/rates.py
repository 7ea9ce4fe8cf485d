"""Cost rates per platform, with history.

A rate applies from its ``effective_from`` day until the next rate of the same platform; setting a
rate adds a row and never rewrites one, so the cost of a past day stays what it was (a rate for a day
that already has one is refused: correcting it is a new rate from the next day, visible in the history).
Effective dates are whole days (UTC midnight): costs are computed per day.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import numpy as np
import pandas as pd
from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from vision_widgets.core.errors import Conflict, InvalidInput
from vision_widgets.core.storage import schema

__all__ = ["RATE_COLUMNS", "CostRate", "check_rate", "insert", "list_rates", "rates_frame"]

_CURRENCY = re.compile(r"^[A-Z]{3}$")
#: The columns of ``rates_frame`` (what ``core.usage.metrics`` reads).
RATE_COLUMNS = ("platform", "currency", "per_1k", "per_hour", "effective_from")


@dataclass(frozen=True)
class CostRate:
    """One rate: what a platform costs from ``effective_from`` (a day) until its next rate."""

    platform: str
    currency: str
    per_1k_predictions: float
    per_compute_hour: float
    effective_from: date
    created_by: str
    created_at: datetime


#: A comma is read only as a thousands separator in this strict form (``1,234`` or ``12,345.678``):
#: ``0,40`` is a decimal comma, which read as a separator would store 40 (a hundred times the rate).
_THOUSANDS = re.compile(r"^[1-9]\d{0,2}(,\d{3})+(\.\d+)?$")
#: The days a rate may start on: before 2000 or after 2099 is a typo (``0226`` for ``2026``), and every
#: day in between is one the page's day arithmetic holds (``rates_frame``).
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)


def _amount(value: object, field: str, what: str) -> float:
    if isinstance(value, str) and "," in value:
        text = value.strip()
        if not _THOUSANDS.match(text):
            raise InvalidInput(f"The {what} must be a number with a point for decimals, e.g. 0.40 "
                               f"(got {text[:40]!r}; a comma only separates thousands, as in 1,250.50).",
                               field=field)
        value = text.replace(",", "")
    try:
        x = float(str(value).strip()) if isinstance(value, str) else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(f"The {what} must be a number (got {str(value)[:40]!r}).", field=field) from None
    if not math.isfinite(x):
        raise InvalidInput(f"The {what} must be a finite number, not {x}.", field=field)
    if x < 0:
        raise InvalidInput(f"The {what} cannot be negative (got {x:g}).", field=field)
    return x


def check_rate(platform: object, currency: object, per_1k: object, per_hour: object,
               effective_from: object) -> tuple[str, str, float, float, date]:
    """The rate's fields, cleaned; ``InvalidInput`` naming the field at fault otherwise."""
    name = str(platform or "").strip()
    if not name or len(name) > 64:
        raise InvalidInput("Name the platform (1 to 64 characters), as the models name it.", field="platform")
    cur = str(currency or "").strip().upper()
    if not _CURRENCY.match(cur):
        raise InvalidInput(f"The currency must be an ISO 4217 code of three letters, e.g. EUR or USD "
                           f"(got {str(currency)[:20]!r}).", field="currency")
    if isinstance(effective_from, datetime):
        day = effective_from.astimezone(UTC).date() if effective_from.tzinfo else effective_from.date()
    elif isinstance(effective_from, date):
        day = effective_from
    else:
        try:
            day = date.fromisoformat(str(effective_from or "").strip())
        except ValueError:
            raise InvalidInput(f"The effective date must be a day as YYYY-MM-DD (got {str(effective_from)[:30]!r}).",
                               field="effective_from") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidInput(f"The effective date {day.isoformat()} is outside {FIRST_DAY.isoformat()} .. "
                           f"{LAST_DAY.isoformat()}; check the year.", field="effective_from")
    return (name, cur, _amount(per_1k, "per_1k_predictions", "cost per 1,000 predictions"),
            _amount(per_hour, "per_compute_hour", "cost per compute hour"), day)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def insert(conn: Connection, platform: str, currency: str, per_1k: float, per_hour: float, effective_from: date,
           actor: str, now: datetime) -> CostRate:
    """Add a checked rate (``check_rate``); ``Conflict`` if the platform already has one from that day."""
    t = schema.cost_rates
    at = _midnight(effective_from)
    same = conn.execute(select(t.c.id).where((t.c.platform == platform) & (t.c.effective_from == at))).first()
    if same is not None:
        raise Conflict(f"{platform} already has a rate from {effective_from.isoformat()}; the past is never "
                       "rewritten: set the corrected rate from a later day.")
    try:
        with conn.begin_nested():  # on PostgreSQL another request may insert the same day in between
            conn.execute(t.insert().values(platform=platform, currency=currency, per_1k_predictions=per_1k,
                                           per_compute_hour=per_hour, effective_from=at, created_by=actor,
                                           created_at=now))
    except IntegrityError:
        raise Conflict(f"{platform} already has a rate from {effective_from.isoformat()} (set a moment ago); "
                       "the past is never rewritten: set the corrected rate from a later day.") from None
    return CostRate(platform, currency, per_1k, per_hour, effective_from, actor, now)


def list_rates(conn: Connection) -> list[CostRate]:
    """Every rate, by platform then effective date (the history)."""
    t = schema.cost_rates
    rows = conn.execute(select(t).order_by(t.c.platform, t.c.effective_from)).mappings()
    return [CostRate(r["platform"], r["currency"], r["per_1k_predictions"], r["per_compute_hour"],
                     r["effective_from"].date(), r["created_by"], r["created_at"]) for r in rows]


def rates_frame(rates: list[CostRate]) -> pd.DataFrame:
    """The rates as a frame for ``core.usage.metrics`` (``effective_from`` as a naive UTC day).

    A rate stored before effective days were bounded may start outside what ``datetime64[ns]``
    holds: one from before 1678 is in force from the first day that type holds (the same for every
    day the page can show), one from after 2262 is never in force and is left out.
    """
    days = np.array([r.effective_from for r in rates], dtype="datetime64[D]")
    first, last = np.datetime64("1678-01-01", "D"), np.datetime64("2262-04-10", "D")
    keep = days <= last
    rates = [r for r, k in zip(rates, keep) if k]
    days = np.maximum(days[keep], first)
    return pd.DataFrame({
        "platform": [r.platform for r in rates], "currency": [r.currency for r in rates],
        "per_1k": [float(r.per_1k_predictions) for r in rates], "per_hour": [float(r.per_compute_hour) for r in rates],
        "effective_from": days.astype("datetime64[ns]"),
    }, columns=list(RATE_COLUMNS))
