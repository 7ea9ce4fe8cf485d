"""Time, in one place, always timezone-aware UTC.

Code that needs "now" receives a clock (``Context.clock``) instead of calling
``datetime.now`` itself, so tests can move time forward to expire sessions and
lockouts without sleeping.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


def as_utc(value: datetime | None) -> datetime | None:
    """Attach UTC to a naive datetime read back from a database that drops zones."""
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
