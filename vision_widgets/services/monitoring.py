"""The platform's health, for admins (the Monitoring page) and for the system (the worker's periodic
job, the server's own checks, and the unauthenticated ``GET /vision/api/health``).

Admins (``VIEW_MONITORING``) see every check with names: models and connectors by name. The health
endpoint needs no login, so it gives models and connectors as counts by status only (ok/warning/
failing), each check's status and value — never a name, a host, a connector's settings, a kernel id or
a secret; it makes only the critical checks live and repeats the rest from the last recorded run.

The checks a person sees are made *live* when asked (the page, every minute while it is open, and
"Check now"); the worker records them every minute whether or not anyone looks, so the history has
no holes. Uptime and kernels are known only to the server process, which records them itself; the
page shows their last recorded values.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Sequence

from vision_widgets.core.clock import utcnow
from vision_widgets.core.context import Context
from vision_widgets.core.identity.principal import Principal
from vision_widgets.core.identity.rbac import Permission
from vision_widgets.core.jobs import workers
from vision_widgets.core.monitoring import (
    CONNECTOR, DATABASE, DISK, FAIL, LLM, MODEL_FRESHNESS, OK, SERVER_CHECKS, WARN, WORKER, Check, checks, healthy,
)
from vision_widgets.core.monitoring import history as recorded
from vision_widgets.core.monitoring.checks import ModelHealth
from vision_widgets.services.sessions import acting

#: What ``history`` returns by default: the last day.
DEFAULT_SINCE = timedelta(hours=24)


@dataclass(frozen=True)
class Health:
    """One look at the platform: the checks, the models, and whether the critical checks pass."""

    checked_at: datetime
    checks: tuple[Check, ...]
    models: tuple[ModelHealth, ...]
    #: When the server last recorded its own checks (uptime, kernels); ``None`` if it never did.
    server_recorded_at: datetime | None = None
    healthy: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "healthy", healthy(self.checks))

    def of(self, check: str) -> tuple[Check, ...]:
        """The checks named ``check`` (several for connectors and models)."""
        return tuple(c for c in self.checks if c.check == check)


def _look(ctx: Context, *, usage: Callable | None = None) -> Health:
    now = ctx.now()
    kwargs = {"usage": usage} if usage is not None else {}
    found, model_rows = checks.look(ctx.settings, ctx.store, now, **kwargs)
    server_at = None
    if not any(c.check == DATABASE and c.status == FAIL for c in found):
        try:
            with ctx.store.read() as conn:
                server = recorded.latest(conn, SERVER_CHECKS)
            found += [r.result for r in server]
            server_at = max((r.checked_at for r in server), default=None)
        except Exception:  # noqa: BLE001 - the database check already says why
            pass
    return Health(now, tuple(found), tuple(model_rows), server_at)


# --------------------------------------------------------------------------------------------
# For admins
# --------------------------------------------------------------------------------------------
def health(ctx: Context, principal: Principal) -> Health:
    """Every check, made now (the server's own, as it last recorded them). ``VIEW_MONITORING``."""
    acting(ctx, principal, Permission.VIEW_MONITORING)
    return _look(ctx)


def run_checks_now(ctx: Context, principal: Principal) -> Health:
    """Make every check now and record it in the history ("Check now"). ``VIEW_MONITORING``."""
    acting(ctx, principal, Permission.VIEW_MONITORING)
    return record_platform_checks(ctx)


def history(ctx: Context, principal: Principal, check: str | Sequence[str] | None = None,
            since: datetime | None = None, limit: int = 5000) -> list[recorded.Recorded]:
    """Recorded checks since ``since`` (default: the last 24 h), newest first. ``VIEW_MONITORING``."""
    acting(ctx, principal, Permission.VIEW_MONITORING)
    names = [check] if isinstance(check, str) else list(check) if check else None
    with ctx.store.read() as conn:
        return recorded.read(conn, since=since or ctx.now() - DEFAULT_SINCE, checks=names, limit=limit)


# --------------------------------------------------------------------------------------------
# For the system: the worker's periodic job, the server, the unauthenticated endpoint
# --------------------------------------------------------------------------------------------
def record_platform_checks(ctx: Context) -> Health:
    """Make the platform checks, record them and prune the history past ``recorded.KEEP``.

    The worker's periodic job (every minute); no principal: it acts for no one and returns
    nothing anyone asked for.
    """
    found = _look(ctx)
    platform = tuple(c for c in found.checks if c.check not in SERVER_CHECKS)
    try:
        with ctx.store.write() as conn:
            recorded.record(conn, platform, found.checked_at)
            recorded.prune(conn, found.checked_at - recorded.KEEP)
    except Exception:  # noqa: BLE001 - a database that is down is what the checks report
        if found.healthy:
            raise
    return found


def record_server_checks(ctx: Context, server_checks: Sequence[Check]) -> None:
    """Record the server-only checks (uptime, kernels), as the server process made them, and prune
    their history past ``recorded.KEEP`` (under ``vision serve --no-worker`` no worker job does)."""
    now = ctx.now()
    with ctx.store.write() as conn:
        recorded.record(conn, server_checks, now)
        recorded.prune(conn, now - recorded.KEEP, SERVER_CHECKS)


#: A recorded run older than this is left out of the health endpoint (the worker records every minute).
PUBLIC_RECORDED_MAX_AGE = timedelta(minutes=10)
#: The recorded checks the health endpoint repeats (status and value only).
PUBLIC_RECORDED = (LLM, DISK)


def _public(check: Check) -> dict[str, Any]:
    """A check as the unauthenticated endpoint gives it: status and value; the sentence only for the
    critical checks (they name no host), so no host, port, byte count or name is disclosed."""
    out = {"check": check.check, "status": check.status, "critical": check.critical, "value": check.value,
           "unit": check.unit}
    if check.critical:
        out["message"] = check.message
    return out


def public_report(ctx: Context | None, server_checks: Sequence[Check] = ()) -> tuple[dict[str, Any], dict[str, Any]]:
    """What ``GET /vision/api/health`` answers (without the version and kernel counts the handler adds),
    and the workers' status (its ``worker`` key).

    Made live: the database round trip and the worker's heartbeat with the queue — the two critical
    checks, a read or two each. Everything else (the LLM endpoint, disk, connectors, models) is
    repeated from the last *recorded* run (the worker's, every minute), with its time: an anonymous
    request never calls the LLM provider nor waits for it. Models and connectors are counted by
    status, not named: the endpoint needs no login. ``status`` is ``ok`` when every critical check
    passes (HTTP 200), ``fail`` otherwise (503).
    """
    if ctx is None:
        db = Check(DATABASE, "", FAIL, True, None, "ms", "This server has no database.")
        status = workers.WorkerStatus(workers.UNKNOWN, 0, None, None, "This server has no database.")
        return _public_body(utcnow(), [db, *server_checks], None, []), status.to_dict()
    now = ctx.now()
    live = [c for c in checks.database(ctx.store) if c.check == DATABASE]
    run: list[recorded.Recorded] = []
    if live[0].status == FAIL:
        status = workers.WorkerStatus(workers.UNKNOWN, 0, None, None, "Unknown: the database cannot be reached.")
        live.append(Check(WORKER, "", FAIL, True, None, "s", status.message))
    else:
        try:
            with ctx.store.read() as conn:
                status = workers.status(conn, now, timedelta(seconds=ctx.settings.job_lease_seconds))
                live += checks.worker_checks(conn, status)
                run = [r for r in recorded.last_run(conn, DATABASE) if r.result.check not in SERVER_CHECKS]
        except Exception as exc:  # noqa: BLE001 - health must answer even when the database does not
            status = workers.WorkerStatus(workers.UNKNOWN, 0, None, None,
                                          f"The database cannot be read ({type(exc).__name__}).")
            live.append(Check(WORKER, "", FAIL, True, None, "s", status.message))
    if run and now - run[0].checked_at > PUBLIC_RECORDED_MAX_AGE:
        run = []
    return _public_body(now, [*live, *server_checks], run[0].checked_at if run else None,
                        [r.result for r in run]), status.to_dict()


def _public_body(now: datetime, live: Sequence[Check], recorded_at: datetime | None,
                 run: Sequence[Check]) -> dict[str, Any]:
    listed = list(live) + [c for c in run if c.check in PUBLIC_RECORDED]
    connectors = Counter(c.status for c in run if c.check == CONNECTOR)
    models = Counter(c.status for c in run if c.check == MODEL_FRESHNESS)
    return {
        "status": OK if healthy(live) else FAIL,
        "checked_at": now.isoformat(),
        "recorded_at": recorded_at.isoformat() if recorded_at else None,
        "checks": [_public(c) for c in listed],
        "models": {s: models.get(s, 0) for s in (OK, WARN, FAIL)},
        "connectors": {s: connectors.get(s, 0) for s in (OK, WARN, FAIL)},
    }
