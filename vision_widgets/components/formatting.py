"""How numbers and times read on every page."""
from __future__ import annotations

from datetime import datetime


def when(value: datetime | None, suffix: str = "") -> str:
    """``2026-11-27 14:05`` (UTC) or ``never``."""
    return f"{value:%Y-%m-%d %H:%M}{suffix}" if value else "never"


def number(x: float | None, pattern: str = "{:.3g}") -> str:
    return "–" if x is None else pattern.format(x)


def percent(x: float | None) -> str:
    return "–" if x is None else f"{x:.1%}"
