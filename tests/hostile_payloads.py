"""Submission bodies that once made the server fail (500) instead of refusing them (400/422).

Shared by the unit tests (tests/test_submission.py) and the HTTP tests (tests/test_api.py): each
case is ``(id, make_body, error type, field or None, words of the message)``. Every one must be
refused with a message naming the field, store nothing and leave the upload token unspent.
"""
from __future__ import annotations

import json
from typing import Any, Callable

from helpers import submission_body

from vision_widgets.core.errors import InvalidInput, MalformedJSON

NAME = "Secret model"
INT64_MAX = (1 << 63) - 1


def _data() -> dict[str, Any]:
    return json.loads(submission_body(NAME))


def _dumped(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()  # allow_nan: NaN and Infinity are written as such


def top(**fields: Any) -> Callable[[], bytes]:
    def make() -> bytes:
        data = _data()
        data.update(fields)
        return _dumped(data)
    return make


def production(edit: Callable[[dict], Any]) -> Callable[[], bytes]:
    def make() -> bytes:
        data = _data()
        edit(data["production"])
        return _dumped(data)
    return make


def nested(depth: int) -> bytes:
    """A submission whose production profile is ``depth`` nested arrays."""
    return (b'{"schema": "vision.submission", "model": "' + NAME.encode() + b'", "production": '
            + b"[" * depth + b"]" * depth + b"}")


def _amount(p: dict) -> dict:
    return p["columns"]["amount"]


def _set_count(value: int) -> Callable[[dict], None]:
    def edit(p: dict) -> None:
        _amount(p)["histogram"]["counts"][0] = value
    return edit


def _counts_past_int64(p: dict) -> None:
    counts = _amount(p)["histogram"]["counts"]
    counts[:] = [INT64_MAX // 2 + 1] * 2 + [0] * (len(counts) - 2)  # each fits int64, the sum does not


AMOUNT = "production.columns['amount']"

HOSTILE: list[tuple[str, Callable[[], bytes], type[InvalidInput], str | None, str]] = [
    ("production is a number", top(production=5), InvalidInput, "production", 'Field "production" must be an object'),
    ("production is a string", top(production="profile"), InvalidInput, "production", "must be an object"),
    ("production is NaN", top(production=float("nan")), InvalidInput, "production", "must be finite"),
    ("production is -Infinity", top(production=float("-inf")), InvalidInput, "production", "must be finite"),
    ("200,000 nested [", lambda: nested(200_000), MalformedJSON, None, "200,001 levels deep"),
    ("200,000 unclosed [", lambda: b"[" * 200_000, MalformedJSON, None, "levels deep"),
    ("rows = 10**30", production(lambda p: p.update(rows=10**30)), InvalidInput, "production.rows",
     "whole number from 0 to 9,223,372,036,854,775,807"),
    ("rows = 2**63", production(lambda p: p.update(rows=INT64_MAX + 1)), InvalidInput, "production.rows",
     "from 0 to"),
    ("rows is negative", production(lambda p: p.update(rows=-1)), InvalidInput, "production.rows", "from 0 to"),
    ("a histogram count of 2**70", production(_set_count(2**70)), InvalidInput,
     f"{AMOUNT}.histogram.counts[0]", "whole number from 0 to"),
    ("a negative histogram count", production(_set_count(-5)), InvalidInput, f"{AMOUNT}.histogram.counts[0]",
     "whole number from 0 to"),
    ("histogram counts adding up past int64", production(_counts_past_int64), InvalidInput,
     f"{AMOUNT}.histogram.counts", "adds up to more than"),
    ("a category count of 2**64", production(lambda p: p["columns"]["merchant_category"]["counts"].update(x=2**64)),
     InvalidInput, "production.columns['merchant_category'].counts['x']", "whole number from 0 to"),
    ("a NaN mean", production(lambda p: _amount(p).update(mean=float("nan"))), InvalidInput,
     "production.columns.amount.mean", "must be finite"),
    ("an infinite variance", production(lambda p: _amount(p).update(variance=float("inf"))), InvalidInput,
     "production.columns.amount.variance", "must be finite"),
    ("1e999 as a mean", lambda: top()().replace(b'"mean": 66.93258', b'"mean": 1e999'), InvalidInput,
     "production.columns.amount.mean", "must be finite"),
    ("a mean given as text", production(lambda p: _amount(p).update(mean="66.9")), InvalidInput,
     f"{AMOUNT}.mean", "finite number"),
    ("a count given as a float", production(lambda p: _amount(p).update(count=2000.0)), InvalidInput,
     f"{AMOUNT}.count", "whole number"),
    ("a grid of 2**62 cells", production(lambda p: _amount(p)["histogram"].update(cells=2**62)), InvalidInput,
     f"{AMOUNT}.histogram.cells", "at most 4096"),
    ("edges that overflow a float", production(lambda p: _amount(p)["histogram"].update(step=1e306)), InvalidInput,
     f"{AMOUNT}.histogram", "overflows"),
    ("the target role is a number", production(lambda p: p["roles"].update(target=7)), InvalidInput,
     "production.roles.target", "text or null"),
    ("notes that are not text", production(lambda p: p.update(notes=[{"a": 1}])), InvalidInput,
     "production.notes", "list of text"),
    ("score histograms that are a list", production(lambda p: p["model"].update(score_histograms=[1])),
     InvalidInput, "production.model.score_histograms", "must be an object"),
    ("a confusion matrix that is a list", production(lambda p: p["model"].update(confusion=[[1]])),
     InvalidInput, "production.model.confusion", "must be an object"),
    ("a label that is a number", top(label=5), InvalidInput, "label", 'Field "label"'),
]
