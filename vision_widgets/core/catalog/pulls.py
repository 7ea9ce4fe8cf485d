"""A model's scheduled pull: its cadence, what it reads, and how far it got (inside the caller's transaction).

``models.cadence`` says how often production data is expected ("1h", "1D", "7D");
``models.pull`` (JSON, never a secret) says what a scheduled pull reads through the
model's connector and remembers what it has read already:

* ``{"reference": "data/incoming", "mode": "new-files", "pulled": [...], "failed": {...}}`` — each
  file under the folder or prefix not pulled before becomes one batch; ``pulled`` lists the files
  read (or empty), ``failed`` counts the failed reads of a file (it is skipped after ``MAX_FILE_TRIES``).
* ``{"reference": "sales", "mode": "query", "watermark": "ts", "last": ..., "at_last": {...}}`` —
  the table's or query's result is one batch per pull; with a watermark column only the rows not
  read before are: ``>= last``, less the rows already read at ``last`` (``at_last``: row key → count).

``models.pulled_at`` is when the last pull ended (stored with its batches, in one transaction).
No permission checks here: ``services.scheduled_pulls`` checks who acts.
"""
from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from vision_widgets.core import cadence
from vision_widgets.core.errors import InvalidInput
from vision_widgets.core.storage import schema

NEW_FILES = "new-files"
QUERY = "query"
MODES = (NEW_FILES, QUERY)

#: Files remembered per model. A pull forgets the files no longer in the folder (when it could list
#: the whole folder), so this bounds a folder's size, not its history; it equals the most files a
#: pull lists (``services.scheduled_pulls.SCAN_LIMIT``) so a file listed is never forgotten.
MAX_REMEMBERED = 50_000
#: Tries of a file that fails to read before the pulls stop trying it (it stays in ``failed``).
MAX_FILE_TRIES = 3
#: Distinct rows remembered at the last watermark value (rows arriving later at that value are new).
MAX_AT_LAST = 10_000


@dataclass(frozen=True)
class PullPlan:
    """What a scheduled pull reads, and what it has read already."""

    reference: str
    mode: str = NEW_FILES
    watermark: str = ""
    #: Files already pulled (``new-files``), in the connector's own references.
    pulled: tuple[str, ...] = field(default=(), repr=False)
    #: The last watermark value seen (``query`` with a watermark), as JSON (a date-time as ISO text).
    last: Any = None
    #: When the periodic task last queued a pull (a failing pull waits a cadence before the next try).
    tried_at: str = ""
    #: ``new-files``: a file that failed to read → how many times (``MAX_FILE_TRIES`` → not tried again).
    failed: dict = field(default_factory=dict, repr=False, compare=False)
    #: ``query`` with a watermark: the rows already read AT the last value (row key → count); a later
    #: pull reads rows ``>= last`` and drops these, so rows arriving later at that same value still count.
    at_last: dict = field(default_factory=dict, repr=False, compare=False)

    def to_json(self) -> str:
        return json.dumps({"reference": self.reference, "mode": self.mode, "watermark": self.watermark,
                           "pulled": list(self.pulled[-MAX_REMEMBERED:]), "last": self.last,
                           "tried_at": self.tried_at, "failed": self.failed,
                           "at_last": dict(itertools.islice(self.at_last.items(), MAX_AT_LAST))},
                          allow_nan=False, default=str)

    @classmethod
    def from_json(cls, text: str | None) -> "PullPlan | None":
        if not text:
            return None
        data = json.loads(text)
        return cls(reference=str(data.get("reference") or ""), mode=str(data.get("mode") or NEW_FILES),
                   watermark=str(data.get("watermark") or ""), pulled=tuple(data.get("pulled") or ()),
                   last=data.get("last"), tried_at=str(data.get("tried_at") or ""),
                   failed=dict(data.get("failed") or {}), at_last=dict(data.get("at_last") or {}))

    def same_source(self, other: "PullPlan | None") -> bool:
        """Whether ``other`` reads the same thing the same way (what was read so far still counts)."""
        return other is not None and (self.reference, self.mode, self.watermark) == (
            other.reference, other.mode, other.watermark)


def validate_plan(reference: str, mode: str, watermark: str = "") -> PullPlan:
    """A new plan from what a person typed (nothing read yet)."""
    reference = (reference or "").strip()
    if not reference or "\x00" in reference:
        raise InvalidInput("Say what to pull: a folder or prefix of files, or a table or query.", field="reference")
    if mode not in MODES:
        raise InvalidInput(f"The pull mode is one of: {', '.join(MODES)}.", field="mode")
    watermark = (watermark or "").strip()
    if watermark and mode != QUERY:
        raise InvalidInput("A watermark column applies to a table or query (mode 'query'), not to new files.",
                           field="watermark")
    return PullPlan(reference=reference, mode=mode, watermark=watermark)


@dataclass(frozen=True)
class Schedule:
    """A model's cadence and scheduled pull as stored."""

    model_id: int
    model: str
    owner: str
    connector: str
    cadence: str | None
    plan: PullPlan | None
    pulled_at: datetime | None
    #: ``models.pull`` as read (``mark_tried`` changes it only if nobody else has meanwhile).
    raw: str | None = field(default=None, repr=False)

    def due(self, now: datetime) -> bool:
        """A pull is due when the cadence has passed since the last pull (and since the last try)."""
        if self.plan is None or not self.cadence:
            return False
        last = [t for t in (self.pulled_at, _parse_time(self.plan.tried_at)) if t is not None]
        return not last or max(last) + cadence.parse_cadence(self.cadence) <= now


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def _schedule(row) -> Schedule:
    return Schedule(model_id=row["id"], model=row["name"], owner=row["owner"], connector=row["connector"],
                    cadence=row["cadence"], plan=PullPlan.from_json(row["pull"]), pulled_at=row["pulled_at"],
                    raw=row["pull"])


_COLUMNS = (schema.models.c.id, schema.models.c.name, schema.models.c.owner, schema.models.c.connector,
            schema.models.c.cadence, schema.models.c.pull, schema.models.c.pulled_at)


def get(conn: Connection, model_id: int) -> Schedule:
    """Model ``model_id``'s schedule (the model exists: the caller read it)."""
    row = conn.execute(select(*_COLUMNS).where(schema.models.c.id == model_id)).mappings().first()
    if row is None:
        from vision_widgets.core.errors import NotFound

        raise NotFound("The model was deleted meanwhile; nothing was pulled.")
    return _schedule(row)


def scheduled(conn: Connection) -> list[Schedule]:
    """Every model with a scheduled pull (due or not)."""
    rows = conn.execute(select(*_COLUMNS).where(schema.models.c.pull.is_not(None)).order_by(schema.models.c.id))
    return [_schedule(r) for r in rows.mappings()]


def save(conn: Connection, model_id: int, cadence: str | None, plan: PullPlan | None, now: datetime) -> None:
    """Store a model's cadence and pull plan (``None``: none)."""
    conn.execute(update(schema.models).where(schema.models.c.id == model_id).values(
        cadence=cadence or None, pull=plan.to_json() if plan else None, updated_at=now))


def mark_tried(conn: Connection, schedule: Schedule, now: datetime) -> bool:
    """Remember that a pull was queued now — only if ``models.pull`` is still as ``schedule`` read it.

    ``False``: another worker's periodic task got there first (it queued the pull); on PostgreSQL the
    row lock makes the second update wait for the first and then match nothing.
    """
    t = schema.models
    done = conn.execute(update(t).where((t.c.id == schedule.model_id) & (t.c.pull == schedule.raw)).values(
        pull=replace(schedule.plan, tried_at=now.isoformat()).to_json()))
    return done.rowcount == 1


def mark_pulled(conn: Connection, model_id: int, plan: PullPlan, now: datetime) -> None:
    """Store how far the pull got (``plan``) and when it ended, in the transaction that stores its batches."""
    conn.execute(update(schema.models).where(schema.models.c.id == model_id).values(
        pull=plan.to_json(), pulled_at=now))


def connector_type(conn: Connection, name: str) -> str | None:
    """The stored connector ``name``'s type, or ``None`` if there is none by that name."""
    t = schema.connectors
    return conn.execute(select(t.c.type).where(t.c.name_key == (name or "").lower())).scalar()


def connector_exists(conn: Connection, name: str) -> bool:
    """Whether the stored connector ``name`` is still there, and then stays so until the write transaction
    ends (``FOR SHARE``: a removal waits), so a model never points at a connector removed meanwhile.
    A registration or a pull checks it before it stores."""
    t = schema.connectors
    query = select(t.c.id).where(t.c.name_key == (name or "").lower()).with_for_update(read=True)
    return conn.execute(query).first() is not None
