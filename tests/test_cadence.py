"""The product's one cadence parser (``core.cadence``): models' freshness and scheduled pulls read it alike."""
from __future__ import annotations

from datetime import timedelta

import pytest

from vision_widgets.core.cadence import parse_cadence
from vision_widgets.core.errors import InvalidInput


@pytest.mark.parametrize("text, span", [
    ("1D", timedelta(days=1)), ("1d", timedelta(days=1)), ("12h", timedelta(hours=12)), ("12H", timedelta(hours=12)),
    ("30min", timedelta(minutes=30)), ("1W", timedelta(weeks=1)), ("daily", timedelta(days=1)),
    ("Hourly", timedelta(hours=1)), ("weekly", timedelta(weeks=1)), ("2 days", timedelta(days=2)),
    ("1 hour", timedelta(hours=1)), (" 3 weeks ", timedelta(weeks=3)), ("45 minutes", timedelta(minutes=45)),
    ("30D", timedelta(days=30)),
])
def test_accepted_forms(text, span):
    assert parse_cadence(text) == span


@pytest.mark.parametrize("text", ["1M", "1m", "M", "monthly", "1 month", "2 months", "1Y", "yearly", "1MS", "1Q"])
def test_months_and_a_lone_m_are_refused_with_a_suggestion(text):
    # pandas reads 1M as a month; the old parser read it as one minute (review 11, finding 9)
    with pytest.raises(InvalidInput) as err:
        parse_cadence(text)
    assert "30D" in str(err.value) and err.value.field == "cadence"


@pytest.mark.parametrize("text, says", [
    ("", "Give a cadence"), ("   ", "Give a cadence"), ("soon", "cannot be read"), ("0D", "at least one day"),
    ("5s", "not known"), ("1.5h", "cannot be read"), ("400D", "longer than a year"),
    ("99999999999W", "longer than a year"), ("9" * 17 + "W", "at most 16 characters"),
    ("999999999W", "longer than a year"),
])
def test_unreadable_cadences_say_why(text, says):
    with pytest.raises(InvalidInput) as err:
        parse_cadence(text)
    assert says in str(err.value)
