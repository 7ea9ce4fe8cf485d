"""How often something is expected: a model's production data, a connector's scheduled pull.

One parser for the whole product (``models.cadence``, monitoring's freshness, scheduled pulls), so
a cadence that one part reads as a day is never read as something else by another.

Accepted (a whole number ``n`` ≥ 1, spaces allowed between the number and the unit):

* ``<n>min``, ``<n> minute(s)``          — minutes
* ``<n>h`` / ``<n>H``, ``<n> hour(s)``   — hours
* ``<n>D`` / ``<n>d``, ``<n> day(s)``    — days
* ``<n>W`` / ``<n>w``, ``<n> week(s)``   — weeks
* ``hourly``, ``daily``, ``weekly``

Refused, with a message saying what to write instead:

* ``M`` / ``m`` alone: pandas reads ``1M`` as a month, many people as a minute — neither is guessed.
* months and years (``monthly``, ``1 month``, ``Y``…): they differ in length, and freshness needs a
  fixed span; ``30D`` (or ``4W``) says it exactly.
* anything shorter than a minute or longer than a year, and zero.
"""
from __future__ import annotations

import re
from datetime import timedelta

from vision_widgets.core.errors import InvalidInput

#: The longest text a cadence may be (``models.cadence`` is ``String(16)``).
MAX_LENGTH = 16
#: The longest cadence accepted.
LONGEST = timedelta(days=366)

_WORDS = {"hourly": (1, "hours"), "daily": (1, "days"), "weekly": (1, "weeks")}
_UNITS = {
    "min": "minutes", "mins": "minutes", "minute": "minutes", "minutes": "minutes",
    "h": "hours", "hour": "hours", "hours": "hours",
    "d": "days", "day": "days", "days": "days",
    "w": "weeks", "week": "weeks", "weeks": "weeks",
}
#: Units refused because a month or a year has no fixed length, or ``m`` could mean a minute or a month.
_AMBIGUOUS = {"m", "month", "months", "monthly", "ms", "me", "y", "year", "years", "yearly", "annually", "a",
              "q", "quarter", "quarterly"}
_FORM = re.compile(r"^(\d+)\s*([A-Za-z]+)$")
EXAMPLES = "for example 30min, 12h, 1D, 1W or daily"


def parse_cadence(text: str) -> timedelta:
    """``text`` as a span of time; ``InvalidInput`` (field ``cadence``) saying what to write otherwise."""
    n, name = _read(text)
    return timedelta(**{name: n})


def normalise(text: str) -> str:
    """``text`` as it is stored: the number and one unit symbol (``30min``, ``12h``, ``7D``, ``1W``);
    ``daily`` is ``1D``. ``InvalidInput`` like ``parse_cadence``."""
    n, name = _read(text)
    return f"{n}{_SYMBOLS[name]}"


_SYMBOLS = {"minutes": "min", "hours": "h", "days": "D", "weeks": "W"}


def _read(text: str) -> tuple[int, str]:
    """``(n, unit)`` of a cadence, the unit one of ``_SYMBOLS``' keys, checked against the bounds."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(f"Give a cadence ({EXAMPLES}).", "cadence")
    value = text.strip()
    if len(value) > MAX_LENGTH:
        raise InvalidInput(f"A cadence is at most {MAX_LENGTH} characters ({EXAMPLES}).", "cadence")
    word = value.lower()
    if word in _WORDS:
        return _WORDS[word]
    if word in _AMBIGUOUS:
        raise _ambiguous(value)
    match = _FORM.match(value)
    if not match:
        raise InvalidInput(f"The cadence {value!r} cannot be read: write a number and a unit ({EXAMPLES}).",
                           "cadence")
    n, unit = int(match.group(1)), match.group(2)
    if unit.lower() in _AMBIGUOUS:
        raise _ambiguous(value)
    name = _UNITS.get(unit.lower())
    if name is None:
        raise InvalidInput(f"The cadence {value!r} has a unit that is not known ({unit!r}); use min, h, D or W "
                           f"({EXAMPLES}).", "cadence")
    if n <= 0:
        raise InvalidInput(f"The cadence {value!r} must be at least one {name[:-1]}.", "cadence")
    try:
        span = timedelta(**{name: n})
    except OverflowError:
        span = LONGEST + timedelta(days=1)
    if span > LONGEST:
        raise InvalidInput(f"The cadence {value!r} is longer than a year; use at most 366D.", "cadence")
    return n, name


def _ambiguous(value: str) -> InvalidInput:
    return InvalidInput(
        f"The cadence {value!r} is ambiguous: 'M' means a month to pandas and a minute to many people, and "
        "months differ in length. Write 30D (or 4W) for about a month, or 30min for minutes.", "cadence")
