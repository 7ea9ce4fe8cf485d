"""Scheduled pulls: a model reads its new production data through its connector on a cadence.

An owner or an admin sets a cadence (``1h``, ``1D``, ``7D``) and what to pull
(``core.catalog.pulls``). Every minute the worker's periodic task queues a
``pull production`` job for each model whose pull is due — never a second one
while one is queued or running — acting as the model's owner. The job reads
through the model's stored connector, profiles what is new and stores it as the
"add production data" path does (profile, drift report, audit), with the model's
``pulled_at`` and what was read, in ONE transaction. Nothing new still ends the
job ("no new data") and sets ``pulled_at``.

Everything slow (connecting, reading, profiling) happens before that
transaction; in it the pull checks that the model still reads through the same
connector, that the connector still exists and that the plan did not change:
otherwise it fails with a clear message and nothing is stored.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any, Callable, Iterator

from sqlalchemy import Connection

from vision_widgets.client import Profile
from vision_widgets.core import audit
from vision_widgets.core.catalog import pulls, records
from vision_widgets.core.catalog.pulls import NEW_FILES, QUERY, PullPlan, Schedule
from vision_widgets.core.catalog.records import ACTIVE
from vision_widgets.core.context import Context
from vision_widgets.core.errors import Conflict, ConnectorError, InvalidInput, NotFound
from vision_widgets.core.identity.principal import Principal
from vision_widgets.core.identity.rbac import Permission
from vision_widgets.core.jobs import queue
from vision_widgets.core.jobs import records as job_records
from vision_widgets.core.jobs.records import Job
from vision_widgets.core.stats.drift import drift
from vision_widgets.services import connectors as stored_connectors
from vision_widgets.services.jobs import PULL_PRODUCTION
from vision_widgets.services.profiling import (
    Progress,
    drift_settings_of,
    profile_production,
    published,
    record_for,
    step,
    store_batch,
)
from vision_widgets.services.sessions import acting

__all__ = ["NEW_FILES", "QUERY", "NO_NEW_DATA", "PullSettings", "PullResult", "get_pull", "set_pull", "pull_now",
           "queue_due_pulls", "run_pull"]

#: Files listed under a folder or prefix per pull (a pull reads what it lists; the rest comes next time).
LIST_LIMIT = 1000
NO_NEW_DATA = "no new data"


@dataclass(frozen=True)
class PullSettings:
    """A model's cadence and scheduled pull, as its Manage panel shows them (never a secret)."""

    model: str
    connector: str
    cadence: str
    reference: str
    mode: str
    watermark: str
    pulled_at: datetime | None
    files_pulled: int
    active_job: int | None  # a pull queued or running now
    #: How the latest finished pull ended: its result in words, or why it failed ("" if none ended).
    last_outcome: str = ""

    @property
    def scheduled(self) -> bool:
        return bool(self.cadence and self.reference)


@dataclass(frozen=True)
class PullResult:
    """What one pull did."""

    model: str
    batches: int
    rows: int
    what: tuple[str, ...]  # the files read, or the table/query

    @property
    def message(self) -> str:
        if not self.batches:
            return NO_NEW_DATA
        return f"{self.batches} new batch(es), {self.rows:,} rows"

    def summary(self) -> dict[str, Any]:
        """The job's result."""
        return {"model": self.model, "batches": self.batches, "rows": self.rows, "read": list(self.what),
                "message": self.message}


# --------------------------------------------------------------------------------------------
# Settings (owner or admin)
# --------------------------------------------------------------------------------------------
def _active_pulls(conn: Connection) -> dict[str, int]:
    """Model name (lower case) → id of its pull job queued or running now."""
    found = job_records.find(conn, kind=PULL_PRODUCTION, states=list(job_records.ACTIVE), limit=500)
    return {str(j.params.get("model", "")).lower(): j.id for j in reversed(found)}


def _last_outcome(conn: Connection, model: str) -> str:
    """How the latest finished pull of ``model`` ended, in words."""
    for job in job_records.find(conn, kind=PULL_PRODUCTION, states=[job_records.DONE, job_records.FAILED],
                                limit=200):
        if str(job.params.get("model", "")).lower() == model.lower():
            if job.state == job_records.FAILED:
                return f"The last pull failed: {job.error}"
            return f"The last pull: {(job.result or {}).get('message', 'done')}."
    return ""


def _settings_of(conn: Connection, record, schedule: Schedule, active: int | None) -> PullSettings:
    plan = schedule.plan
    return PullSettings(
        model=record.name, connector=record.connector, cadence=schedule.cadence or "",
        reference=plan.reference if plan else "", mode=plan.mode if plan else NEW_FILES,
        watermark=plan.watermark if plan else "", pulled_at=schedule.pulled_at,
        files_pulled=len(plan.pulled) if plan else 0, active_job=active,
        last_outcome=_last_outcome(conn, record.name),
    )


def get_pull(ctx: Context, principal: Principal, name: str) -> PullSettings:
    """Model ``name``'s cadence and scheduled pull (owner or admin)."""
    me = acting(ctx, principal, Permission.REGISTER_MODEL)
    with ctx.store.read() as conn:
        record = record_for(conn, me, name, manage=True)
        return _settings_of(conn, record, pulls.get(conn, record.id), _active_pulls(conn).get(record.name.lower()))


def set_pull(ctx: Context, principal: Principal, name: str, cadence: str, reference: str = "",
             mode: str = NEW_FILES, watermark: str = "") -> PullSettings:
    """Set how often model ``name`` expects production data and, with a ``reference``, pull it then.

    An empty ``cadence`` and ``reference`` stop the schedule. A reference needs a
    cadence and an unrestricted model (a restricted model's data never reaches
    this server). Changing what is read starts afresh (every file is new again);
    keeping it keeps what was read.
    """
    me = acting(ctx, principal, Permission.REGISTER_MODEL)
    cadence = pulls.parse_cadence(cadence) if (cadence or "").strip() else ""
    plan = pulls.validate_plan(reference, mode, watermark) if (reference or "").strip() else None
    if plan is not None and not cadence:
        raise InvalidInput("Give a cadence (like 1h, 1D or 7D) for the scheduled pull.", field="cadence")
    now = ctx.now()
    with ctx.store.write() as conn:
        record = record_for(conn, me, name, manage=True)
        if plan is not None and record.restricted:
            raise InvalidInput("This model's data is restricted: it never reaches this server, so it cannot be "
                               "pulled. Set only the cadence its client notebook sends data at.", field="reference")
        before = pulls.get(conn, record.id).plan
        if plan is not None and plan.same_source(before):
            plan = replace(before, tried_at="")  # same source: what was read stays read
        pulls.save(conn, record.id, cadence, plan, now)
        detail = (f"cadence={cadence or 'none'}; " +
                  (f"pull {plan.mode} {plan.reference}" + (f" after {plan.watermark}" if plan.watermark else "")
                   if plan else "no scheduled pull"))
        audit.record(conn, now, me.username, "set scheduled pull", record.name, detail)
        return _settings_of(conn, record, pulls.get(conn, record.id), _active_pulls(conn).get(record.name.lower()))


def pull_now(ctx: Context, principal: Principal, name: str) -> Job:
    """Queue a pull of model ``name`` now (owner or admin); refused while one is queued or running."""
    me = acting(ctx, principal, Permission.REGISTER_MODEL)
    with ctx.store.write() as conn:
        record = record_for(conn, me, name, manage=True)
        if pulls.get(conn, record.id).plan is None:
            raise InvalidInput("This model has no scheduled pull; say what to pull first.", field="reference")
        if record.name.lower() in _active_pulls(conn):
            raise InvalidInput(f"A pull of {record.name} is already queued or running; wait for it to end.")
        job = job_records.insert(conn, kind=PULL_PRODUCTION, actor=me.username, title=f"Pull: {record.name}",
                                 params={"model": record.name}, now=ctx.now(),
                                 max_attempts=ctx.settings.job_max_attempts)
    queue.notify(ctx.settings, job.id)
    return job


# --------------------------------------------------------------------------------------------
# The periodic task (acts for no one: it queues jobs that act as each model's owner)
# --------------------------------------------------------------------------------------------
def queue_due_pulls(ctx: Context) -> list[Job]:
    """Queue a pull job for every model whose pull is due and has none queued or running.

    Each job acts as the model's owner. The model remembers when its pull was
    queued, so a pull that keeps failing is tried once a cadence, not every minute;
    that mark is a compare-and-set, so two workers running this at once queue one job.
    """
    now = ctx.now()
    queued: list[Job] = []
    with ctx.store.write() as conn:
        active = _active_pulls(conn)
        for schedule in pulls.scheduled(conn):
            if not schedule.due(now) or schedule.model.lower() in active:
                continue
            if not pulls.mark_tried(conn, schedule, now):  # another worker queued it meanwhile
                continue
            queued.append(job_records.insert(
                conn, kind=PULL_PRODUCTION, actor=schedule.owner, title=f"Scheduled pull: {schedule.model}",
                params={"model": schedule.model, "scheduled": True}, now=now,
                max_attempts=ctx.settings.job_max_attempts))
    for job in queued:
        queue.notify(ctx.settings, job.id)
    return queued


# --------------------------------------------------------------------------------------------
# One pull (the job's body, and `vision models pull`)
# --------------------------------------------------------------------------------------------
def run_pull(ctx: Context, principal: Principal, name: str, progress: Progress | None = None,
             in_transaction: Callable[[Connection, PullResult], None] | None = None) -> PullResult:
    """Read model ``name``'s new production data through its connector and add it as batches.

    ``in_transaction(conn, result)`` runs inside the storing transaction (a job
    marks itself done there). ``ConnectorError`` when the connector is gone or
    cannot be read — nothing is stored then.
    """
    me = acting(ctx, principal, Permission.REGISTER_MODEL)
    with ctx.store.read() as conn:
        record = record_for(conn, me, name, manage=True)
        schedule = pulls.get(conn, record.id)
        refs = records.profiles_of(conn, record.id, records.REFERENCE)
    plan = schedule.plan
    if plan is None:
        raise InvalidInput(f"{record.name} has no scheduled pull; set what to pull in its Manage panel.")
    if record.restricted:
        raise InvalidInput("This model's data is restricted: it cannot be pulled to this server.")
    if not refs:
        raise InvalidInput("This model has no training profile yet.")
    reference = Profile.from_json(refs[-1].body)
    timestamp = record.roles.get("timestamp")

    try:
        connection = stored_connectors.connect(ctx, me, record.connector)
    except NotFound:
        raise ConnectorError(f"The connector {record.connector!r} of {record.name} no longer exists; "
                             "choose another one for the model, then pull again. Nothing was stored.") from None
    batches: list[tuple[str, Profile]] = []
    try:
        if plan.mode == NEW_FILES:
            seen = set(plan.pulled)
            new = [e for e in connection.browse(plan.reference, limit=LIST_LIMIT)
                   if e.kind in ("file", "delta") and e.path not in seen]
            new.sort(key=lambda e: e.path)
            for i, entry in enumerate(new):
                start, end = i / len(new), (i + 1) / len(new)
                data = connection.open(entry.path)
                profile = profile_production(ctx, data, reference, timestamp,
                                             _part(progress, start, end, f"Profiling {entry.name}"), 0.0)
                batches.append((entry.path, profile))
            after = replace(plan, pulled=plan.pulled + tuple(path for path, _ in batches))
        else:
            rows = connection.open(plan.reference)
            last = {"value": plan.last}
            stream = _past_watermark(rows, plan.watermark, plan.last, last) if plan.watermark else _batches(rows)
            first = next(stream, None)
            if first is not None and first.num_rows:
                profile = profile_production(ctx, itertools.chain([first], stream), reference, timestamp,
                                             _part(progress, 0.0, 1.0, "Profiling new rows"), 0.0)
                batches.append((plan.reference, profile))
            after = replace(plan, last=last["value"])
    finally:
        connection.close()

    if progress:
        progress(0.97, "Saving")
    settings = drift_settings_of(record)
    reports = [(what, profile, drift(reference, published(profile), settings)) for what, profile in batches]
    now = ctx.now()
    result = PullResult(model=record.name, batches=len(reports), rows=sum(p.rows for _, p, _ in reports),
                        what=tuple(what for what, _, _ in reports))
    with ctx.store.write() as conn:
        current = records.get_by_id(conn, record.id)  # NotFound if the model was deleted meanwhile
        if current.connector != record.connector or not pulls.connector_exists(conn, record.connector):
            raise ConnectorError(f"The connector {record.connector!r} was removed or replaced while {record.name} "
                                 "was being pulled; nothing was stored. Pull again.")
        now_stored = pulls.get(conn, record.id)
        stored = now_stored.plan
        if not plan.same_source(stored):
            raise InvalidInput(f"What {record.name} pulls was changed while it was being pulled; nothing was "
                               "stored. Pull again.")
        if (now_stored.pulled_at, stored.pulled, stored.last) != (schedule.pulled_at, plan.pulled, plan.last):
            # e.g. `vision models pull` beside the worker's job
            raise Conflict(f"Another pull of {record.name} stored its data while this one ran; nothing more was "
                           "stored (the same data would have been added twice).")
        for what, profile, report in reports:
            store_batch(conn, current, profile, report, _label(what, plan, now), "server", now, explicit_label=False)
        if reports:
            records.set_status(conn, current.id, ACTIVE, now)
        pulls.mark_pulled(conn, current.id, replace(after, tried_at=stored.tried_at), now)
        audit.record(conn, now, me.username, "pull production data", current.name,
                     f"{record.connector}: {result.message}")
        if in_transaction is not None:
            in_transaction(conn, result)
    if progress:
        progress(1.0, "Done")
    return result


def _part(progress: Progress | None, start: float, end: float, what: str) -> Progress | None:
    """``progress`` for one part of a pull, spread over 0..0.95."""
    if progress is None:
        return None
    fraction = step(progress, 0.95 * start, 0.95 * end, what)
    return lambda value, _what=None: fraction(value)


def _label(what: str, plan: PullPlan, now: datetime) -> str:
    """A pulled batch's label: the file's name, or the pull's time for a table or query."""
    if plan.mode == NEW_FILES:
        return PurePosixPath(what.replace("\\", "/")).name[:120] or what[:120]
    return f"pulled {now:%Y-%m-%d %H:%M} UTC"


def _batches(data) -> Iterator:
    """The record batches of what a connection opened (a reader, a table, or batches)."""
    if hasattr(data, "to_batches"):  # a pyarrow.Table
        return iter(data.to_batches())
    if isinstance(data, (str, bytes)) or hasattr(data, "__fspath__"):
        import pyarrow.dataset as ds

        return iter(ds.dataset(str(data) if not isinstance(data, str) else data,
                               format="csv" if str(data).lower().endswith(".csv") else "parquet").to_batches())
    return iter(data)


def _past_watermark(data, column: str, last: Any, seen: dict[str, Any]) -> Iterator:
    """Only the rows whose ``column`` is past ``last``; ``seen["value"]`` ends as the largest value read.

    Rows with no value in the column are skipped (they cannot be placed before or after).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    bound = None
    for batch in _batches(data):
        if column not in batch.schema.names:
            raise InvalidInput(f"The watermark column {column!r} is not in the data; its columns are "
                               f"{', '.join(batch.schema.names[:20])}.", field="watermark")
        values = batch.column(column)
        if last is not None:
            if bound is None:
                bound = pa.array([last]).cast(values.type)[0]
            batch = batch.filter(pc.fill_null(pc.greater(values, bound), False))
        else:
            batch = batch.filter(pc.is_valid(values))
        if not batch.num_rows:
            continue
        top = pc.max(batch.column(column)).as_py()
        if top is not None:
            top = top.isoformat() if hasattr(top, "isoformat") else top
            if seen["value"] is None or _after(top, seen["value"]):
                seen["value"] = top
        yield batch


def _after(a: Any, b: Any) -> bool:
    try:
        return a > b
    except TypeError:
        return str(a) > str(b)
