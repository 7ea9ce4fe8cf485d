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

import hashlib
import itertools
import json
import os
import time
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any, Callable, Iterator

from sqlalchemy import Connection

from vision_widgets.client import Profile
from vision_widgets.core import audit, connectors
from vision_widgets.core import cadence as cadence_rules
from vision_widgets.core.catalog import pulls, records
from vision_widgets.core.catalog.pulls import NEW_FILES, QUERY, PullPlan, Schedule
from vision_widgets.core.catalog.records import ACTIVE
from vision_widgets.core.context import Context
from vision_widgets.core.connectors.object_store import guard
from vision_widgets.core.errors import Conflict, ConnectorError, InvalidInput, NotFound, VisionError
from vision_widgets.core.identity.principal import Principal
from vision_widgets.core.identity.rbac import Permission
from vision_widgets.core.jobs import queue
from vision_widgets.core.jobs import records as job_records
from vision_widgets.core.jobs.records import Job
from vision_widgets.core.stats.drift import drift
from vision_widgets.services import connectors as stored_connectors
from vision_widgets.services import notification_runs
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

#: New files read per pull (the rest come next time, oldest names first).
LIST_LIMIT = 1000
#: Files a pull lists under its folder or prefix to find the new ones (already-pulled ones are
#: filtered out BEFORE ``LIST_LIMIT`` applies, so files past the first thousand are still seen).
SCAN_LIMIT = pulls.MAX_REMEMBERED
#: A local file changed less than this many seconds ago may still be being written: a pull leaves it
#: for the next one (object stores show an object only once it is complete).
MIN_FILE_AGE = 60.0
NO_NEW_DATA = "no new data"
#: Connector types that list tables, not files: they pull a table or query, never "new files".
TABLE_TYPES = ("sql", "databricks_sql")


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
    #: Files that could not be read this time, each "reference: why" (the others were still pulled).
    problems: tuple[str, ...] = ()

    @property
    def message(self) -> str:
        said = NO_NEW_DATA if not self.batches else f"{self.batches} new batch(es), {self.rows:,} rows"
        if self.problems:
            said += (f"; {len(self.problems)} file(s) could not be read (after {pulls.MAX_FILE_TRIES} tries a "
                     f"file is skipped): " + "; ".join(self.problems[:3]))
        return said

    def summary(self) -> dict[str, Any]:
        """The job's result."""
        return {"model": self.model, "batches": self.batches, "rows": self.rows, "read": list(self.what),
                "problems": list(self.problems), "message": self.message}


# --------------------------------------------------------------------------------------------
# Settings (owner or admin)
# --------------------------------------------------------------------------------------------
def _pull_jobs(conn: Connection, states, model: str | None = None, limit: int | None = None) -> list[Job]:
    """Pull jobs in ``states``, newest first; only model ``model``'s when given (filtered in SQL: a
    pull job's params start with its model's name, as both ``pull_now`` and ``queue_due_pulls`` write them)."""
    from sqlalchemy import select

    from vision_widgets.core.storage import schema

    t = schema.jobs
    query = (select(t).where((t.c.kind == PULL_PRODUCTION) & t.c.state.in_(list(states)))
             .order_by(t.c.created_at.desc(), t.c.id.desc()))
    if model is not None:
        query = query.where(t.c.params.startswith(json.dumps({"model": model})[:-1], autoescape=True))
    if limit is not None:
        query = query.limit(limit)
    return [job_records.from_row(r) for r in conn.execute(query).mappings()]


def _active_pulls(conn: Connection, model: str | None = None) -> dict[str, int]:
    """Model name (lower case) → id of its pull job queued or running now (every model's, or ``model``'s)."""
    found = _pull_jobs(conn, job_records.ACTIVE, model)
    return {str(j.params.get("model", "")).lower(): j.id for j in reversed(found)}


def _last_outcome(conn: Connection, model: str) -> str:
    """How the latest finished pull of ``model`` ended, in words."""
    for job in _pull_jobs(conn, [job_records.DONE, job_records.FAILED], model, limit=1):
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
        return _settings_of(conn, record, pulls.get(conn, record.id),
                            _active_pulls(conn, record.name).get(record.name.lower()))


def set_pull(ctx: Context, principal: Principal, name: str, cadence: str, reference: str = "",
             mode: str = NEW_FILES, watermark: str = "") -> PullSettings:
    """Set how often model ``name`` expects production data and, with a ``reference``, pull it then.

    An empty ``cadence`` and ``reference`` stop the schedule. A reference needs a
    cadence and an unrestricted model (a restricted model's data never reaches
    this server). Changing what is read starts afresh (every file is new again);
    keeping it keeps what was read.
    """
    me = acting(ctx, principal, Permission.REGISTER_MODEL)
    cadence = cadence_rules.normalise(cadence) if (cadence or "").strip() else ""
    plan = pulls.validate_plan(reference, mode, watermark) if (reference or "").strip() else None
    if plan is not None and not cadence:
        raise InvalidInput("Give a cadence (like 1h, 1D or 7D) for the scheduled pull.", field="cadence")
    now = ctx.now()
    with ctx.store.write() as conn:
        record = record_for(conn, me, name, manage=True)
        record = records.lock(conn, record.id)  # a pull storing meanwhile must not write back the old plan
        if plan is not None and record.restricted:
            raise InvalidInput("This model's data is restricted: it never reaches this server, so it cannot be "
                               "pulled. Set only the cadence its client notebook sends data at.", field="reference")
        if plan is not None and plan.mode == NEW_FILES and \
                pulls.connector_type(conn, record.connector) in TABLE_TYPES:
            raise InvalidInput(f"The connector {record.connector!r} reads tables, not files: pull a table or "
                               "query (mode 'query'), optionally with a watermark column.", field="mode")
        before = pulls.get(conn, record.id).plan
        if plan is not None and plan.same_source(before):
            plan = replace(before, tried_at="")  # same source: what was read stays read
        pulls.save(conn, record.id, cadence, plan, now)
        detail = (f"cadence={cadence or 'none'}; " +
                  (f"pull {plan.mode} {plan.reference}" + (f" after {plan.watermark}" if plan.watermark else "")
                   if plan else "no scheduled pull"))
        audit.record(conn, now, me.username, "set scheduled pull", record.name, detail)
        return _settings_of(conn, record, pulls.get(conn, record.id),
                            _active_pulls(conn, record.name).get(record.name.lower()))


def pull_now(ctx: Context, principal: Principal, name: str) -> Job:
    """Queue a pull of model ``name`` now (owner or admin); refused while one is queued or running."""
    me = acting(ctx, principal, Permission.REGISTER_MODEL)
    with ctx.store.write() as conn:
        record = record_for(conn, me, name, manage=True)
        schedule = pulls.get(conn, record.id)
        if schedule.plan is None:
            raise InvalidInput("This model has no scheduled pull; say what to pull first.", field="reference")
        busy = InvalidInput(f"A pull of {record.name} is already queued or running; wait for it to end.")
        if record.name.lower() in _active_pulls(conn, record.name):
            raise busy
        # the same compare-and-set as the periodic task's: of a pull queued now and one queued by
        # `queue_due_pulls` at the same moment (another process), only one gets the model's row
        if not pulls.mark_tried(conn, schedule, ctx.now()):
            raise busy
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
        with connectors.reworded(connection):  # messages name the user's reference, never a server path
            if plan.mode == NEW_FILES:
                after, batches, problems = _pull_files(ctx, connection, plan, reference, timestamp, progress)
            else:
                rows = connection.open(plan.reference)
                seen: dict[str, Any] = {}
                stream = (_past_watermark(rows, plan.watermark, plan, seen, plan.reference) if plan.watermark
                          else _batches(rows, plan.reference))
                first = next(stream, None)
                if first is not None and first.num_rows:
                    profile = profile_production(ctx, itertools.chain([first], stream), reference, timestamp,
                                                 _part(progress, 0.0, 1.0, "Profiling new rows"), 0.0)
                    batches.append((plan.reference, profile))
                after = _advanced(plan, seen) if plan.watermark else plan
                problems = []
    finally:
        connection.close()

    if progress:
        progress(0.97, "Saving")
    settings = drift_settings_of(record)
    reports = [(what, profile, drift(reference, published(profile), settings)) for what, profile in batches]
    now = ctx.now()
    result = PullResult(model=record.name, batches=len(reports), rows=sum(p.rows for _, p, _ in reports),
                        what=tuple(what for what, _, _ in reports), problems=tuple(problems))
    with ctx.store.write() as conn:
        # the connector's lock, then the model's (NotFound if deleted meanwhile): the order every write takes
        still_there = pulls.connector_exists(conn, record.connector)
        current = records.lock(conn, record.id)
        if current.connector != record.connector or not still_there:
            raise ConnectorError(f"The connector {record.connector!r} was removed or replaced while {record.name} "
                                 "was being pulled; nothing was stored. Pull again.")
        now_stored = pulls.get(conn, record.id)
        stored = now_stored.plan
        if not plan.same_source(stored):
            raise InvalidInput(f"What {record.name} pulls was changed while it was being pulled; nothing was "
                               "stored. Pull again.")
        if (now_stored.pulled_at, stored.pulled, stored.last, stored.at_last, stored.failed) != (
                schedule.pulled_at, plan.pulled, plan.last, plan.at_last, plan.failed):
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
    if reports:
        notification_runs.after_new_batch(ctx, record.id)  # after the commit; never fails the pull
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


def _pull_files(ctx: Context, connection, plan: PullPlan, reference: Profile, timestamp: str | None,
                progress: Progress | None) -> tuple[PullPlan, list[tuple[str, Profile]], list[str]]:
    """Read the files under the plan's folder not pulled before: (the plan advanced, the batches, problems).

    The whole folder is listed (up to ``SCAN_LIMIT``) and the files already pulled are dropped before
    ``LIST_LIMIT`` applies, so a folder of any size is worked through. A file with no rows is
    recorded as pulled with no batch; a file that fails to read is counted in ``plan.failed`` and the
    others are still pulled (after ``MAX_FILE_TRIES`` failures it is no longer tried); a local file
    changed in the last ``MIN_FILE_AGE`` seconds is left for the next pull (it may be half-written).
    """
    listed = [e for e in connection.browse(plan.reference, limit=SCAN_LIMIT) if e.kind in ("file", "delta")]
    done = set(plan.pulled)
    failed = dict(plan.failed)
    new = sorted((e for e in listed if e.path not in done and failed.get(e.path, 0) < pulls.MAX_FILE_TRIES),
                 key=lambda e: e.path)[:LIST_LIMIT]
    batches: list[tuple[str, Profile]] = []
    read: list[str] = []
    problems: list[str] = []
    for i, entry in enumerate(new):
        start, end = i / len(new), (i + 1) / len(new)
        data = None
        try:
            data = connection.open(entry.path)
            if _still_written(data):
                continue
            data = _unless_empty(data)
            if data is None:  # no rows: nothing to add, and nothing to read again
                read.append(entry.path)
                continue
            profile = profile_production(ctx, data, reference, timestamp,
                                         _part(progress, start, end, f"Profiling {entry.name}"), 0.0)
        except VisionError as exc:
            failed[entry.path] = failed.get(entry.path, 0) + 1
            problems.append(f"{entry.path}: {connectors.reword(str(exc), connection)}")
            continue
        batches.append((entry.path, profile))
        read.append(entry.path)
        failed.pop(entry.path, None)
    pulled = plan.pulled
    if len(listed) < SCAN_LIMIT:  # the whole folder was listed: forget the files no longer in it
        present = {e.path for e in listed}
        pulled = tuple(p for p in pulled if p in present)
        failed = {p: n for p, n in failed.items() if p in present}
    return replace(plan, pulled=pulled + tuple(read), failed=failed), batches, problems


def _still_written(data) -> bool:
    """Whether ``data`` is a local file changed less than ``MIN_FILE_AGE`` seconds ago."""
    if not isinstance(data, (str, os.PathLike)):
        return False
    try:
        return time.time() - os.stat(data).st_mtime < MIN_FILE_AGE
    except OSError:
        return False


def _unless_empty(data):
    """``data`` (a path or a stream), or ``None`` when it holds no rows."""
    import pyarrow as pa

    if isinstance(data, (str, os.PathLike)):
        text = str(data)
        if text.lower().endswith((".parquet", ".pq")):
            import pyarrow.parquet as pq

            try:
                return None if pq.ParquetFile(text).metadata.num_rows == 0 else data
            except Exception:
                return data  # not readable as Parquet: profiling says why
        if text.lower().endswith(".csv"):
            with open(text, "rb") as f:
                head = f.read(1 << 16)
            lines = [ln for ln in head.splitlines() if ln.strip()]
            return None if len(lines) <= 1 and len(head) < (1 << 16) else data
        return data
    batches = iter(data)
    for batch in batches:
        if batch.num_rows:
            return pa.RecordBatchReader.from_batches(batch.schema, itertools.chain([batch], batches))
    return None


def _batches(data, reference: str = "") -> Iterator:
    """The record batches of what a connection opened (a reader, a table, or batches).

    A local path reads as a bounded stream (``object_store.scan``), a CSV with the large blocks its
    column types are guessed from; a read error (a later value of another type, a broken file)
    arrives as ``InvalidInput`` naming ``reference``, never the server's path.
    """
    if hasattr(data, "to_batches"):  # a pyarrow.Table
        return iter(data.to_batches())
    if isinstance(data, (str, bytes)) or hasattr(data, "__fspath__"):
        import pyarrow.dataset as ds

        from vision_widgets.core.connectors.object_store import _csv_read_options, scan, translated

        path = os.fsdecode(data)
        name = reference or os.path.basename(path)

        def translate(exc: BaseException) -> BaseException:
            return InvalidInput(f"{name} could not be read: {str(exc).splitlines()[0].replace(path, name)}. "
                                "Check that every value in a column has the same type.")

        def reader():
            fmt = (ds.CsvFileFormat(read_options=_csv_read_options()) if path.lower().endswith(".csv")
                   else "parquet")
            return scan(ds.dataset(path, format=fmt))

        return iter(translated(guard(reader, translate), translate))
    return iter(data)


def _row_key(row: dict) -> str:
    return hashlib.sha1(json.dumps(list(row.values()), default=str).encode()).hexdigest()[:20]


def _json_value(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _past_watermark(data, column: str, plan: PullPlan, seen: dict[str, Any], reference: str = "") -> Iterator:
    """Only the rows not read before: ``column >= plan.last`` less the rows already read at ``plan.last``.

    Rows equal to the last value can arrive after a pull (a later commit, a late event), so the pull
    reads ``>=`` and drops the rows it remembers at that value (``plan.at_last``, a count per row so
    two identical rows stay two). The largest value is kept as a typed Arrow scalar across batches
    (time zones, numbers compare as values, never as text); ``seen`` ends with it (``"top"``) and the
    rows at it (``"rows"``). Rows with no value in the column are skipped.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    bound = None
    remembered = dict(plan.at_last)
    top = None
    top_rows: dict[str, int] = {}
    for batch in _batches(data, reference):
        if column not in batch.schema.names:
            raise InvalidInput(f"The watermark column {column!r} is not in the data; its columns are "
                               f"{', '.join(batch.schema.names[:20])}.", field="watermark")
        values = batch.column(column)
        if plan.last is not None:
            if bound is None:
                bound = pa.array([plan.last]).cast(values.type)[0]
                seen["bound"] = bound
            batch = batch.filter(pc.fill_null(pc.greater_equal(values, bound), False))
            if remembered and batch.num_rows:
                at = pc.fill_null(pc.equal(batch.column(column), bound), False).to_numpy(zero_copy_only=False)
                where = np.flatnonzero(at)
                if len(where):
                    keep = np.ones(batch.num_rows, dtype=bool)
                    for i, row in zip(where, batch.take(pa.array(where)).to_pylist()):
                        key = _row_key(row)
                        if remembered.get(key, 0) > 0:
                            remembered[key] -= 1
                            keep[i] = False
                    batch = batch.filter(pa.array(keep))
        else:
            batch = batch.filter(pc.is_valid(values))
        if not batch.num_rows:
            continue
        most = pc.max(batch.column(column))
        if most.is_valid and (top is None or pc.greater(most, top).as_py()):
            top, top_rows = most, {}
        if top is not None:
            at_top = batch.filter(pc.fill_null(pc.equal(batch.column(column), top), False))
            if len(top_rows) < pulls.MAX_AT_LAST:
                for row in at_top.to_pylist():
                    key = _row_key(row)
                    top_rows[key] = top_rows.get(key, 0) + 1
        seen["top"], seen["rows"] = top, top_rows
        yield batch


def _advanced(plan: PullPlan, seen: dict[str, Any]) -> PullPlan:
    """The plan after a watermark pull: the new last value (as JSON) and the rows read at it."""
    import pyarrow.compute as pc

    top = seen.get("top")
    if top is None:
        return plan
    bound = seen.get("bound")
    if bound is not None and pc.equal(top, bound).as_py():  # still at the last value: add the rows
        rows = dict(plan.at_last)
        for key, n in seen["rows"].items():
            rows[key] = rows.get(key, 0) + n
        return replace(plan, at_last=rows)
    return replace(plan, last=_json_value(top.as_py()), at_last=dict(seen["rows"]))
