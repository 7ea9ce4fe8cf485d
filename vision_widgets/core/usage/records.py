"""Usage records: one validated shape, parsed from CSV or JSON, stored idempotently.

A usage record says how much a model was used at one moment and what it ran on:
``timestamp`` (ISO 8601; a naive one is UTC), ``predictions`` (a non-negative
integer), ``compute_hours`` (≥ 0, finite) and optionally ``cpu_share``,
``memory_share`` and ``gpu_share`` (0..1). Nothing else is accepted, so a typo in
a field name is an error rather than a silently dropped number.

The API, the CSV upload on the Business Metrics page, the CLI and the demo all
go through ``validate`` and ``store`` (via ``services/usage.py``). A batch is
checked whole before anything is written: ``InvalidRecords`` lists every bad
line (its number and column), and a rejected batch stores nothing.

Re-sending a record is harmless: ``store`` keeps the record first stored for a
(model, timestamp) and counts a re-send as *unchanged* — also when its values
differ, which it counts separately as *conflicting* so the caller can say so
(docs/decisions.md, "Usage records").
"""
from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, select
from sqlalchemy.exc import IntegrityError

from vision_widgets.core.errors import Conflict, InvalidInput, MalformedJSON
from vision_widgets.core.storage import schema

REQUIRED = ("timestamp", "predictions", "compute_hours")
SHARES = ("cpu_share", "memory_share", "gpu_share")
COLUMNS = REQUIRED + SHARES
#: The most predictions one record may count (the column is a 32-bit integer on PostgreSQL).
MAX_PREDICTIONS = 2**31 - 1
#: The most records one batch (a file, one API request) may carry.
MAX_RECORDS = 100_000
#: How many problems a message spells out; the line numbers of the rest are still all named.
SPELLED_OUT = 50
SOURCES = ("api", "csv", "cli", "demo")
#: The window a usage timestamp must fall in (UTC, ``EARLIEST`` included, ``LATEST`` not): usage
#: older than 2000 or from the next century is a typo (``2611`` for ``2026``), and every day in it
#: is one the page and pandas' nanosecond times can hold (docs/decisions.md, "Usage records").
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class UsageRecord:
    """One validated record; ``at`` is timezone-aware UTC, shares are None when not given."""

    at: datetime
    predictions: int
    compute_hours: float
    cpu_share: float | None = None
    memory_share: float | None = None
    gpu_share: float | None = None

    def values(self) -> tuple:
        """What makes two records with the same timestamp the same record."""
        return (self.predictions, self.compute_hours, self.cpu_share, self.memory_share, self.gpu_share)


@dataclass(frozen=True)
class Stored:
    """What ``store`` did: new rows, re-sends already present, and re-sends whose values differed."""

    stored: int
    unchanged: int
    conflicting: int = 0


class InvalidRecords(InvalidInput):
    """A batch with bad records: ``problems`` lists every one as "line N, column C: what is wrong".

    The message spells out the first ``SPELLED_OUT`` problems and names the line of every
    other one, so a person fixing a file sees each line to fix. ``lines`` are the bad lines.
    """

    def __init__(self, problems: list[tuple[int | None, str]], what: str = "records", field: str = "records") -> None:
        problems = sorted(problems, key=lambda p: p[0] or 0)
        self.problems = tuple(text for _, text in problems)
        self.lines = tuple(sorted({line for line, _ in problems if line is not None}))
        shown = "; ".join(self.problems[:SPELLED_OUT])
        rest = problems[SPELLED_OUT:]
        if rest:
            rest_lines = sorted({line for line, _ in rest if line is not None})
            shown += (f"; and {len(rest)} more problem(s)"
                      + (f" on line(s) {', '.join(map(str, rest_lines))}" if rest_lines else ""))
        bad = len(self.lines)
        head = (f"{bad} line(s) of the {what} are not valid usage records" if bad
                else f"The {what} are not valid usage records")
        super().__init__(f"{head}; nothing was stored. {shown}.", field=field)


# --- one record -------------------------------------------------------------------------------

_NOT_A_TIME = "is not an ISO 8601 date and time (e.g. 2026-09-01T00:00:00Z)"


def _timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    else:
        if not isinstance(value, str):
            raise TypeError(f"{_show(value)} {_NOT_A_TIME}")
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{_show(value)} {_NOT_A_TIME}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # naive = UTC
    elif not EARLIEST.replace(tzinfo=None) <= parsed.replace(tzinfo=None) < LATEST.replace(tzinfo=None):
        parsed = None  # far out: converting the zone could overflow (0001-01-01T00:00+01:00)
    else:
        parsed = parsed.astimezone(UTC)
    if parsed is None or not EARLIEST <= parsed < LATEST:
        raise ValueError(f"{_show(value)} is outside {EARLIEST.year}-01-01 .. {LATEST.year - 1}-12-31 "
                         "(UTC); check the year")
    return parsed


def _predictions(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{_show(value)} is not a whole number")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        number = int(value.strip())
    else:
        raise ValueError(f"{_show(value)} is not a whole number")
    if number < 0:
        raise ValueError(f"{_show(number)} is negative; count the predictions made (0 or more)")
    if number > MAX_PREDICTIONS:
        raise ValueError(f"{_show(number)} is over {MAX_PREDICTIONS:,} for one record; send shorter periods")
    return number


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(f"{_show(value)} is not a number")
    try:
        number = float(value)
    except OverflowError:  # an integer of hundreds of digits
        raise ValueError(f"{_show(value)} is too large") from None
    except ValueError:
        raise ValueError(f"{_show(value)} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{_show(value)} is not a finite number")
    return number


def _compute_hours(value: Any) -> float:
    number = _number(value)
    if number < 0:
        raise ValueError(f"{_show(value)} is negative; give the hours used (0 or more)")
    return number


def _share(value: Any) -> float:
    number = _number(value)
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{_show(value)} is outside 0..1 (a share: 0.35 means 35%)")
    return number


_PARSERS = {"timestamp": _timestamp, "predictions": _predictions, "compute_hours": _compute_hours,
            "cpu_share": _share, "memory_share": _share, "gpu_share": _share}


def _show(value: Any) -> str:
    text = repr(value.strip() if isinstance(value, str) else value)
    return text if len(text) <= 40 else text[:37] + "…"


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def check(fields: Mapping[str, Any], typed: bool = True) -> tuple[UsageRecord | None, list[tuple[str, str]]]:
    """Validate one record given as a mapping; returns (record, []) or (None, [(column, problem)…]).

    Every field is checked, so one pass names all that is wrong with a record. ``typed`` (JSON,
    Python): numbers must be numbers, not text; a CSV's cells are all text (``typed=False``).
    """
    problems: list[tuple[str, str]] = []
    for key in fields:
        if key not in COLUMNS:
            problems.append((_show(str(key)), f"not a usage field (the fields are {', '.join(COLUMNS)})"))
    values: dict[str, Any] = dict.fromkeys(SHARES)
    for name, parse in _PARSERS.items():
        value = fields.get(name)
        if _blank(value):
            if name in REQUIRED:
                problems.append((name, "missing"))
            continue  # an optional share not given
        if typed and name != "timestamp" and isinstance(value, str):
            problems.append((name, f"{_show(value)} is text; send a JSON number"))
            continue
        try:
            values[name] = parse(value)
        except (ValueError, TypeError, OverflowError) as exc:  # the parsers' messages name the value
            problems.append((name, str(exc)))
    if problems:
        return None, problems
    return UsageRecord(at=values["timestamp"], predictions=values["predictions"],
                       compute_hours=values["compute_hours"], cpu_share=values["cpu_share"],
                       memory_share=values["memory_share"], gpu_share=values["gpu_share"]), []


def validate(fields: Mapping[str, Any]) -> UsageRecord:
    """One record, or ``InvalidInput`` naming the field and value at fault."""
    record, problems = check(fields)
    if record is None:
        raise InvalidInput("Not a valid usage record: " + "; ".join(f"{c}: {p}" for c, p in problems) + ".",
                           field=problems[0][0])
    return record


def _batch(items: Iterable[tuple[int, Any]], unit: str,
           typed: bool = True) -> tuple[list[UsageRecord], list[tuple[int, str]]]:
    """Check numbered records; (good records, [(number, "unit N, column C: problem")…])."""
    problems: list[tuple[int, str]] = []
    good: list[UsageRecord] = []
    first: dict[datetime, int] = {}
    for count, (number, fields) in enumerate(items, start=1):
        if count > MAX_RECORDS:
            raise InvalidInput(f"More than {MAX_RECORDS:,} records at once; send at most {MAX_RECORDS:,} "
                               "per file or request (nothing was stored).", field="records")
        if not isinstance(fields, Mapping):
            problems.append((number, f"{unit} {number}: not a JSON object with the usage fields"))
            continue
        record, found = check(fields, typed)
        if record is None:
            problems.extend((number, f"{unit} {number}, column {c}: {p}") for c, p in found)
        elif record.at in first:
            problems.append((number, (f"{unit} {number}, column timestamp: {record.at.isoformat()} repeats "
                                      f"{unit} {first[record.at]}; send one record per timestamp")))
        else:
            first[record.at] = number
            good.append(record)
    return good, problems


def validate_batch(items: Iterable[tuple[int, Any]], what: str = "records", unit: str = "record") -> list[UsageRecord]:
    """Validate numbered records (number, mapping); ``InvalidRecords`` lists every bad one.

    Two records with the same timestamp in one batch are refused too (which one is meant?),
    naming both.
    """
    good, problems = _batch(items, unit)
    if problems:
        raise InvalidRecords(problems, what)
    return good


# --- CSV and JSON -----------------------------------------------------------------------------

def _limit(data: bytes, limit: int, what: str, field: str) -> None:
    if len(data) > limit:
        raise InvalidInput(f"The {what} is {len(data):,} bytes; the limit is {limit:,} bytes. "
                           "Split it into smaller parts (nothing was stored).", field=field)


def _text(data: bytes, what: str, field: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(f"The {what} is not UTF-8 text (nothing was stored).", field=field) from None


def _bytes(data: bytes | str) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


def parse_csv(data: bytes | str, limit: int) -> list[UsageRecord]:
    """The records of a usage CSV: header ``timestamp,predictions,compute_hours`` plus any of
    ``cpu_share,memory_share,gpu_share`` (any order; an empty share cell means not given).

    A wrong header is one message listing the expected and the found columns; otherwise every bad
    line is named with its line number (the header is line 1) and column. Over ``limit`` bytes the
    file is refused before it is read.
    """
    raw = _bytes(data)
    _limit(raw, limit, "file", "file")
    rows = csv.reader(io.StringIO(_text(raw, "file", "file"), newline=""))
    try:
        header = next(rows, None)
    except csv.Error as exc:
        raise InvalidInput(f"Line 1 is not CSV ({exc}); nothing was stored.", field="header") from None
    if header is None:
        raise InvalidInput(f"The file is empty; its first line must be the header {','.join(COLUMNS)} "
                           "(the three shares optional).", field="header")
    found = [h.strip() for h in header]
    unknown = [h for h in found if h not in COLUMNS]
    missing = [c for c in REQUIRED if c not in found]
    repeated = sorted({h for h in found if found.count(h) > 1})
    if unknown or missing or repeated:
        raise InvalidInput(
            f"Wrong columns: expected {','.join(REQUIRED)} and optionally {','.join(SHARES)}; "
            f"found {','.join(_show(h) for h in found) or '(nothing)'}"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; not usage columns: {', '.join(_show(h) for h in unknown)}" if unknown else "")
            + (f"; repeated: {', '.join(repeated)}" if repeated else "")
            + ". Nothing was stored.", field="header")
    items: list[tuple[int, dict]] = []
    problems: list[tuple[int, str]] = []
    line = 1
    try:
        for row in rows:
            line = rows.line_num
            if not row or all(not cell.strip() for cell in row):
                continue  # blank lines are allowed (a trailing newline, spacing)
            if len(row) != len(found):
                problems.append((line, f"line {line}: {len(row)} cell(s) where the header has {len(found)}"))
                continue
            items.append((line, dict(zip(found, row))))
    except csv.Error as exc:
        problems.append((line + 1, f"line {line + 1}: not CSV ({exc}); the lines after it were not read"))
    good, bad = _batch(items, "line", typed=False)
    if problems or bad:
        raise InvalidRecords(problems + bad, "file", field="file")
    if not good:
        raise InvalidInput("The file has a header but no records.", field="file")
    return good


def parse_json_lines(data: bytes | str, limit: int) -> list[UsageRecord]:
    """The records of a JSON-lines body: one JSON object per line (blank lines skipped).

    A line that is not JSON is ``MalformedJSON`` naming every such line; records that are JSON
    but not valid usage are ``InvalidRecords`` (line numbers count from 1).
    """
    raw = _bytes(data)
    _limit(raw, limit, "body", "records")
    items: list[tuple[int, Any]] = []
    broken: list[int] = []
    for number, line in enumerate(_text(raw, "body", "records").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append((number, json.loads(line)))
        except (ValueError, RecursionError):
            broken.append(number)
    if broken:
        shown = ", ".join(map(str, broken[:200])) + (f" and {len(broken) - 200} more" if len(broken) > 200 else "")
        raise MalformedJSON(f"Line(s) {shown} of the body are not JSON; send one JSON object per line "
                            "(nothing was stored).")
    if not items:
        raise InvalidInput("The body holds no records; send one JSON object per line.", field="records")
    return validate_batch(items, "body", unit="line")


def parse_json_list(data: bytes | str, limit: int) -> list[UsageRecord]:
    """The records of a JSON array body (``application/json``); "record N" counts from 1."""
    raw = _bytes(data)
    _limit(raw, limit, "body", "records")
    try:
        value = json.loads(_text(raw, "body", "records"))
    except (ValueError, RecursionError):
        raise MalformedJSON("The body is not valid JSON; send an array of usage records, "
                            "or one JSON object per line as application/x-ndjson (nothing was stored).") from None
    if not isinstance(value, list):
        raise InvalidInput("The body must be a JSON array of usage records (or send JSON lines as "
                           "application/x-ndjson).", field="records")
    if not value:
        raise InvalidInput("The body holds no records; send at least one.", field="records")
    return validate_batch(enumerate(value, start=1), "body", unit="record")


# --- storage ----------------------------------------------------------------------------------

def _existing(conn: Connection, model_id: int, first: datetime, last: datetime) -> dict[datetime, tuple]:
    """The values of a model's records stored between ``first`` and ``last``, by timestamp."""
    t = schema.usage_records
    return {
        row.at: (row.predictions, row.compute_hours, row.cpu_share, row.memory_share, row.gpu_share)
        for row in conn.execute(
            select(t.c.at, t.c.predictions, t.c.compute_hours, t.c.cpu_share, t.c.memory_share, t.c.gpu_share)
            .where(and_(t.c.model_id == model_id, t.c.at >= first, t.c.at <= last)))
    }


def store(conn: Connection, model_id: int, batch: list[UsageRecord], source: str, now: datetime) -> Stored:
    """Insert the records not stored yet for ``model_id``, inside the caller's transaction.

    A record whose (model, timestamp) is already stored is kept as first stored and counted
    ``unchanged``; ``conflicting`` counts those among them whose values differ. On PostgreSQL two
    requests may race for the same timestamps (SQLite's write transactions never overlap): the
    insert runs in a savepoint, and when the unique index refuses it because the other request
    committed first, the stored records are read again and only the rest is inserted.
    """
    if source not in SOURCES:
        raise InvalidInput(f"Unknown usage source {source!r}; one of {', '.join(SOURCES)}.", field="source")
    if not batch:
        return Stored(0, 0)
    first, last = min(r.at for r in batch), max(r.at for r in batch)
    for attempt in range(3):
        existing = _existing(conn, model_id, first, last)
        # in time order: two requests inserting the same timestamps in opposite orders would each wait on
        # the other's unique-index entries (PostgreSQL aborts one as a deadlock)
        new = sorted((r for r in batch if r.at not in existing), key=lambda r: r.at)
        if not new:
            break
        try:
            with conn.begin_nested():
                conn.execute(schema.usage_records.insert(), [
                    {"model_id": model_id, "at": r.at, "predictions": r.predictions,
                     "compute_hours": r.compute_hours, "cpu_share": r.cpu_share, "memory_share": r.memory_share,
                     "gpu_share": r.gpu_share, "source": source, "received_at": now}
                    for r in new
                ])
            break
        except IntegrityError:
            if attempt == 2:
                raise Conflict("Other requests kept storing usage for the same timestamps; send the records "
                               "again (those already stored count as unchanged).") from None
    conflicting = sum(1 for r in batch if r.at in existing and existing[r.at] != r.values())
    return Stored(stored=len(new), unchanged=len(batch) - len(new), conflicting=conflicting)


def delete(conn: Connection, model_id: int, first: datetime, before: datetime) -> tuple[int, int]:
    """Delete a model's records from ``first`` up to (not including) ``before``, inside the caller's
    transaction; returns (records deleted, the predictions they counted)."""
    t = schema.usage_records
    where = and_(t.c.model_id == model_id, t.c.at >= first, t.c.at < before)
    # what was deleted, not what a count before the delete saw (a record stored in between is deleted too)
    gone = conn.execute(t.delete().where(where).returning(t.c.predictions)).scalars().all()
    return len(gone), int(sum(gone))


def count(conn: Connection, model_id: int) -> int:
    """How many usage records a model has (tests, the demo's check)."""
    from sqlalchemy import func

    return int(conn.execute(select(func.count()).select_from(schema.usage_records)
                            .where(schema.usage_records.c.model_id == model_id)).scalar_one())
