"""The checks themselves: each function looks at one part of the platform and returns ``Check``s.

They read; none of them writes or connects to a data source with its secrets (a connector's health
is its last *test*, made by an admin or the CLI). A check that cannot look says so as its own
failure rather than raising, so one broken part never hides the others.

Critical (their failure is the health endpoint's 503): the database (nothing works without it)
and the worker (registrations, recomputes, scheduled pulls and these checks stop without it). The
rest — the LLM endpoint, connectors, disk, kernels, models — is shown, and warns or fails, but a
monitor paging someone at night is for the two that stop the platform.
"""
from __future__ import annotations

import shutil
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable, Sequence

from sqlalchemy import func, make_url, select, text

from vision_widgets.core.cadence import parse_cadence
from vision_widgets.core.clock import as_utc
from vision_widgets.core.config import Settings
from vision_widgets.core.errors import InvalidInput
from vision_widgets.core.jobs import records as job_records
from vision_widgets.core.jobs import workers
from vision_widgets.core.monitoring import (
    CONNECTOR, DATABASE, DATABASE_SIZE, DISK, FAIL, KERNELS, LLM, MODEL_DRIFT, MODEL_FRESHNESS, OK, QUEUE, UPTIME,
    WARN, WORKER, Check,
)
from vision_widgets.core.storage import schema
from vision_widgets.core.storage.engine import Store

#: Disk free under $VISION_HOME: warn below this share, fail below the second.
DISK_WARN_SHARE, DISK_FAIL_SHARE = 0.10, 0.02
#: A database round trip slower than this (ms) is a warning.
DATABASE_SLOW_MS = 500.0
#: Queued jobs waiting: more than this is a warning (the worker is behind).
QUEUE_WARN = 50
#: The LLM endpoint's timeout (connect and answer), seconds.
LLM_TIMEOUT = 3.0
#: A connector's last successful test older than this is a warning ("test it again").
CONNECTOR_TEST_MAX_AGE = timedelta(days=7)


# --------------------------------------------------------------------------------------------
# Database
# --------------------------------------------------------------------------------------------
def database(store: Store) -> list[Check]:
    """Reachable, its round-trip latency, and its size (SQLite: file + WAL; PostgreSQL: pg_database_size)."""
    start = time.perf_counter()
    try:
        with store.read() as conn:
            conn.execute(text("SELECT 1")).scalar_one()
            latency = (time.perf_counter() - start) * 1000
            size = _database_size(store, conn)
    except Exception as exc:  # noqa: BLE001 - the check reports it
        return [Check(DATABASE, "", FAIL, True, None, "ms",
                      f"The database cannot be reached ({type(exc).__name__}); nothing can be read or saved.")]
    status = WARN if latency > DATABASE_SLOW_MS else OK
    found = [Check(DATABASE, "", status, True, round(latency, 2), "ms",
                   f"Reachable; a round trip took {latency:.1f} ms" + (" (slow)." if status == WARN else "."))]
    if size is not None:
        found.append(Check(DATABASE_SIZE, "", OK, False, float(size), "bytes", f"The database holds {_bytes(size)}."))
    return found


def _database_size(store: Store, conn) -> int | None:
    if store.is_sqlite:
        path = make_url(store.url).database
        if not path or path == ":memory:":
            return None
        return sum(p.stat().st_size for p in (Path(path), Path(path + "-wal")) if p.exists())
    if conn.dialect.name == "postgresql":
        return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())
    return None


# --------------------------------------------------------------------------------------------
# Worker and queue
# --------------------------------------------------------------------------------------------
def worker(conn, now: datetime, lease: timedelta) -> list[Check]:
    """A worker beat within a lease (critical), and how many jobs wait in the queue."""
    return worker_checks(conn, workers.status(conn, now, lease))


def worker_checks(conn, found: workers.WorkerStatus) -> list[Check]:
    """``worker``'s checks from a status already read (the health endpoint also answers it as is)."""
    if found.state == workers.OK:
        check = Check(WORKER, "", OK, True, found.seconds_since, "s", found.message)
    else:
        check = Check(WORKER, "", FAIL, True, found.seconds_since, "s",
                      found.message[:1].upper() + found.message[1:])
    t = schema.jobs
    queued = conn.execute(select(func.count()).select_from(t).where(t.c.state == job_records.QUEUED)).scalar_one()
    status = WARN if queued > QUEUE_WARN else OK
    queue = Check(QUEUE, "", status, False, float(queued), "jobs",
                  f"{queued} job(s) waiting for a worker." + (" The worker is behind." if status == WARN else ""))
    return [check, queue]


# --------------------------------------------------------------------------------------------
# LLM endpoint
# --------------------------------------------------------------------------------------------
class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a place to follow: the key must never reach another host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # urllib's hook
        return None  # urllib then raises HTTPError(3xx), reported as a failure


def llm(settings: Settings, timeout: float = LLM_TIMEOUT) -> Check:
    """``GET {OPENAI_BASE_URL}/models``: reachable and its latency; never critical.

    ``timeout`` bounds the whole check, not each socket operation: an endpoint that trickles its
    answer a byte a second fails after ``timeout`` like one that never answers (the call is left
    to end in a daemon thread). The API key goes in the request's header only, never on a
    redirect (a 3xx is a failure); no message names it, nor the URL's userinfo. The environment's
    proxy settings (``HTTPS_PROXY``, ``NO_PROXY``) apply, as for the LLM calls themselves.
    """
    from vision_widgets.core.llm.client import endpoint_of

    # The endpoint LLM Chat uses (``services.llm_chat.status``): OPENAI_BASE_URL, else OpenAI's API
    # when only OPENAI_API_KEY is set.
    endpoint = endpoint_of(settings)
    if endpoint is None:
        return Check(LLM, "", OK, False, None, "ms", "No LLM endpoint is configured (OPENAI_BASE_URL); nothing to check.")
    base = endpoint.base_url
    url = base.rstrip("/") + "/models"
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    if settings.openai_api_key:
        request.add_unredirected_header("Authorization", f"Bearer {settings.openai_api_key}")
    where = _public_host(base)
    box: dict = {}

    def call() -> None:
        start = time.perf_counter()
        try:
            opener = urllib.request.build_opener(_NoRedirect())
            with opener.open(request, timeout=timeout) as resp:  # noqa: S310 - an admin-configured URL
                resp.read(65536)
            box["check"] = _llm_answered(where, (time.perf_counter() - start) * 1000)
        except BaseException as exc:  # noqa: BLE001 - reported as the check's failure
            box["check"] = _llm_failed(where, exc, (time.perf_counter() - start) * 1000, timeout)

    thread = threading.Thread(target=call, name="vision-llm-check", daemon=True)
    thread.start()
    thread.join(timeout)
    found = box.get("check")
    if found is None:  # still waiting: the socket timeout is per operation, this is the whole check's
        return Check(LLM, "", FAIL, False, None, "ms", f"The LLM endpoint at {where} did not answer within {timeout:g} s.")
    return found


def _llm_answered(where: str, latency: float) -> Check:
    return Check(LLM, "", OK, False, round(latency, 2), "ms", f"The LLM endpoint at {where} answered in {latency:.0f} ms.")


def _llm_failed(where: str, exc: BaseException, latency: float, timeout: float) -> Check:
    if isinstance(exc, urllib.error.HTTPError):
        why = ("refused the API key (check OPENAI_API_KEY)" if exc.code in (401, 403)
               else f"redirected elsewhere (HTTP {exc.code}); set OPENAI_BASE_URL to the final address"
               if 300 <= exc.code < 400 else f"answered HTTP {exc.code}")
        return Check(LLM, "", FAIL, False, round(latency, 2), "ms", f"The LLM endpoint at {where} {why}.")
    reason = getattr(exc, "reason", exc)
    timed_out = isinstance(reason, TimeoutError) or "timed out" in type(reason).__name__.lower() \
        or isinstance(exc, TimeoutError)
    why = f"did not answer within {timeout:g} s" if timed_out else f"cannot be reached ({type(reason).__name__})"
    return Check(LLM, "", FAIL, False, None, "ms", f"The LLM endpoint at {where} {why}.")


def _public_host(url: str) -> str:
    """``host:port`` of a URL: never its userinfo, path or query (they may carry a key)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        return f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return "the configured address"


# --------------------------------------------------------------------------------------------
# Connectors
# --------------------------------------------------------------------------------------------
def connectors(conn, now: datetime) -> list[Check]:
    """Each stored connector's last test (made by an admin or the CLI) and its age; none is tested here."""
    t = schema.connectors
    rows = conn.execute(select(t.c.name, t.c.type, t.c.last_test_at, t.c.last_test_ok, t.c.last_test_ms,
                               t.c.last_test_message).order_by(t.c.name_key)).mappings().all()
    found = []
    for row in rows:
        at = as_utc(row["last_test_at"])
        if at is None:
            if row["type"] == "local":
                found.append(Check(CONNECTOR, row["name"], OK, False, None, "ms",
                                   "The local file system (never needs a test)."))
            else:
                found.append(Check(CONNECTOR, row["name"], WARN, False, None, "ms",
                                   "Never tested: test it on the Connectors page."))
            continue
        age = (now - at).total_seconds()
        ago = _ago(age)
        if row["last_test_ok"]:
            stale = now - at > CONNECTOR_TEST_MAX_AGE
            found.append(Check(CONNECTOR, row["name"], WARN if stale else OK, False, row["last_test_ms"], "ms",
                               f"Last test passed {ago} ago" + (f" in {row['last_test_ms']:.0f} ms" if row["last_test_ms"]
                                                              is not None else "")
                               + ("; test it again." if stale else ".")))
        else:
            said = (row["last_test_message"] or "").strip()
            found.append(Check(CONNECTOR, row["name"], FAIL, False, row["last_test_ms"], "ms",
                               f"Last test failed {ago} ago" + (f": {said}" if said else ".")))
    return found


# --------------------------------------------------------------------------------------------
# Disk
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DiskUsage:
    total: int
    free: int


def disk_usage(path: Path) -> DiskUsage:
    usage = shutil.disk_usage(path)
    return DiskUsage(usage.total, usage.free)


def disk(home: Path, usage: Callable[[Path], DiskUsage] = disk_usage) -> Check:
    """Free space under ``$VISION_HOME``: warn below 10%, fail below 2%."""
    try:
        found = usage(home)
    except OSError as exc:
        return Check(DISK, "", FAIL, False, None, "%", f"The free space under VISION_HOME cannot be read ({exc.strerror}).")
    share = found.free / found.total if found.total else 0.0
    status = FAIL if share < DISK_FAIL_SHARE else WARN if share < DISK_WARN_SHARE else OK
    advice = {OK: ".", WARN: "; free some space soon.", FAIL: "; the database may soon fail to save."}[status]
    return Check(DISK, "", status, False, round(share * 100, 2), "%",
                 f"{_bytes(found.free)} free of {_bytes(found.total)} ({share:.1%}) under VISION_HOME{advice}")


# --------------------------------------------------------------------------------------------
# Server (only the server process knows these)
# --------------------------------------------------------------------------------------------
def server(uptime_seconds: float, kernels: int, kernel_memory: int | None, pool_size: int = 0) -> list[Check]:
    """The server's uptime and its open kernels with their memory (no kernel id)."""
    memory = f", {_bytes(kernel_memory)} of memory" if kernel_memory is not None else ""
    return [
        Check(UPTIME, "", OK, False, round(uptime_seconds, 1), "s", f"The server has been up for {_ago(uptime_seconds)}."),
        Check(KERNELS, "", OK, False, float(kernel_memory) if kernel_memory is not None else None, "bytes",
              f"{kernels} kernel(s) open ({pool_size} kept ready for new tabs){memory}."),
    ]


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------
FRESH, LATE, STALE, NO_CADENCE, AWAITING, NO_DATA = "fresh", "late", "stale", "no cadence set", \
    "awaiting client metrics", "no production data"

UNREADABLE_CADENCE = "cadence unreadable"


def stored_cadence(value: str | None) -> tuple[timedelta | None, str | None]:
    """A model's stored cadence read with the product's one parser (``core.cadence``): (span, problem).

    ``(None, None)`` when none is set; ``(None, why)`` when it cannot be read — a warning on the page,
    never silently "no cadence set" (a model expected monthly as ``1M`` must not pass as fresh)."""
    if value is None or not str(value).strip():
        return None, None
    try:
        return parse_cadence(value), None
    except InvalidInput as exc:
        return None, str(exc)


@dataclass(frozen=True)
class ModelHealth:
    """One model as the Monitoring page's table shows it."""

    name: str
    freshness: str                  # fresh | late | stale | no cadence set | no production data | awaiting client metrics
    status: str                     # ok | warn | fail
    cadence: str | None
    last_data_at: datetime | None
    age_seconds: float | None
    dataset_drift: bool | None
    drift_share: float | None
    awaiting_metrics: bool
    #: Why the stored cadence cannot be read (``freshness`` is then "cadence unreadable").
    cadence_problem: str | None = None


def freshness(age: timedelta | None, cadence: timedelta | None) -> tuple[str, str]:
    """(freshness, status): fresh ≤ cadence, late ≤ 2 × cadence, stale beyond."""
    if cadence is None:
        return (NO_CADENCE, OK) if age is not None else (NO_DATA, OK)
    if age is None:
        return NO_DATA, WARN
    if age <= cadence:
        return FRESH, OK
    if age <= 2 * cadence:
        return LATE, WARN
    return STALE, FAIL


def models(conn, now: datetime) -> list[ModelHealth]:
    """Every model: its newest production data against its cadence, its last drift verdict, and
    whether it still awaits its client's first metrics (restricted, no reference profile)."""
    m, p, d = schema.models, schema.profiles, schema.drift_reports
    newest = (select(p.c.model_id, func.max(p.c.created_at).label("at"))
              .where(p.c.kind == "production").group_by(p.c.model_id).subquery())
    refs = select(p.c.model_id).where(p.c.kind == "reference").distinct().subquery()
    last_report = select(d.c.model_id, func.max(d.c.id).label("rid")).group_by(d.c.model_id).subquery()
    query = (select(m.c.name, m.c.cadence, m.c.restricted, newest.c.at, refs.c.model_id.label("has_ref"),
                    d.c.dataset_drift, d.c.drift_share)
             .select_from(m.outerjoin(newest, newest.c.model_id == m.c.id)
                          .outerjoin(refs, refs.c.model_id == m.c.id)
                          .outerjoin(last_report, last_report.c.model_id == m.c.id)
                          .outerjoin(d, d.c.id == last_report.c.rid))
             .order_by(m.c.name_key))
    found = []
    for row in conn.execute(query).mappings():
        at = as_utc(row["at"])
        age = (now - at) if at is not None else None
        awaiting = bool(row["restricted"]) and row["has_ref"] is None
        cadence, problem = stored_cadence(row["cadence"])
        state, status = freshness(age, cadence)
        if problem is not None:
            state, status = UNREADABLE_CADENCE, WARN
        if awaiting:
            state, status = AWAITING, WARN
        found.append(ModelHealth(
            name=row["name"], freshness=state, status=status, cadence=row["cadence"], last_data_at=at,
            age_seconds=None if age is None else max(0.0, age.total_seconds()),
            dataset_drift=None if row["dataset_drift"] is None else bool(row["dataset_drift"]),
            drift_share=row["drift_share"], awaiting_metrics=awaiting, cadence_problem=problem))
    return found


def model_checks(found: Sequence[ModelHealth]) -> list[Check]:
    """The per-model rows of the history: freshness (value: age in hours) and the drift verdict."""
    checks = []
    for mh in found:
        age = "" if mh.age_seconds is None else f"; last production data {_ago(mh.age_seconds)} ago"
        cadence = f" (expected every {mh.cadence})" if mh.cadence and mh.freshness in (FRESH, LATE, STALE) else ""
        if mh.freshness == UNREADABLE_CADENCE:
            cadence = f": {mh.cadence_problem.rstrip('.')}"
        checks.append(Check(MODEL_FRESHNESS, mh.name, mh.status, False,
                            None if mh.age_seconds is None else round(mh.age_seconds / 3600, 4), "h",
                            f"{mh.freshness.capitalize()}{cadence}{age}."))
        if mh.dataset_drift is not None:
            checks.append(Check(MODEL_DRIFT, mh.name, WARN if mh.dataset_drift else OK, False,
                                round(float(mh.drift_share or 0.0), 4), "share",
                                f"{'Drift' if mh.dataset_drift else 'No drift'} in the last report: "
                                f"{(mh.drift_share or 0.0):.0%} of features drifted."))
    return checks


# --------------------------------------------------------------------------------------------
# All of them
# --------------------------------------------------------------------------------------------
def platform(settings: Settings, store: Store, now: datetime, *,
             usage: Callable[[Path], DiskUsage] = disk_usage, llm_timeout: float = LLM_TIMEOUT) -> list[Check]:
    """Every check but the server-only ones (uptime, kernels): what the worker's periodic job records."""
    return look(settings, store, now, usage=usage, llm_timeout=llm_timeout)[0]


def look(settings: Settings, store: Store, now: datetime, *, usage: Callable[[Path], DiskUsage] = disk_usage,
         llm_timeout: float = LLM_TIMEOUT) -> tuple[list[Check], list[ModelHealth]]:
    """``platform``'s checks and the models they were made from (read once, for the page's table too)."""
    found = database(store)
    found_models: list[ModelHealth] = []
    if found[0].status != FAIL:
        try:
            with store.read() as conn:
                found += worker(conn, now, timedelta(seconds=settings.job_lease_seconds))
                found += connectors(conn, now)
                found_models = models(conn, now)
                found += model_checks(found_models)
        except Exception as exc:  # noqa: BLE001 - the database went away between two reads
            found.append(Check(WORKER, "", FAIL, True, None, "s",
                               f"The workers' heartbeats cannot be read ({type(exc).__name__})."))
    else:
        found.append(Check(WORKER, "", FAIL, True, None, "s", "Unknown: the database cannot be reached."))
    found.append(llm(settings, llm_timeout))
    found.append(disk(settings.home, usage))
    return found, found_models


def _ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _bytes(n: int | float) -> str:
    n = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"

