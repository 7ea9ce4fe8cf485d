"""The platform's health, for admins (the Monitoring page) and for the system (the worker's periodic
job, the server's own checks, and the unauthenticated ``GET /vision/api/health``).

Admins (``VIEW_MONITORING``) see every check with names: models and connectors by name. The health
endpoint needs no login, so it gives models and connectors as counts only (fresh/late/stale; ok/
warning/failing) — never a name, a connector's settings, a kernel id or a secret.

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
from vision_widgets.core.monitoring import (
    CONNECTOR, FAIL, MODEL_CHECKS, OK, SERVER_CHECKS, WARN, Check, checks, healthy,
)
from vision_widgets.core.monitoring import history as recorded
from vision_widgets.core.monitoring.checks import DiskUsage, ModelHealth
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
    found = checks.platform(ctx.settings, ctx.store, now, **kwargs)
    model_rows: list[ModelHealth] = []
    server_at = None
    if not any(c.check == "database" and c.status == FAIL for c in found):
        try:
            with ctx.store.read() as conn:
                model_rows = checks.models(conn, now)
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
    """Record the server-only checks (uptime, kernels), as the server process made them."""
    with ctx.store.write() as conn:
        recorded.record(conn, server_checks, ctx.now())


def public_report(ctx: Context | None, server_checks: Sequence[Check] = (), *,
                  usage: Callable[[Any], DiskUsage] | None = None) -> dict[str, Any]:
    """What ``GET /vision/api/health`` answers (without the version and kernel counts the handler adds).

    ``status`` is ``ok`` when every critical check passes (HTTP 200), ``fail`` otherwise (503).
    Models and connectors are counted, not named: the endpoint needs no login.
    """
    if ctx is None:
        found = Health(utcnow(), (
            Check("database", "", FAIL, True, None, "ms", "This server has no database."),), ())
    else:
        found = _look(ctx, usage=usage)
    listed = [c for c in found.checks if c.check not in MODEL_CHECKS and c.check != CONNECTOR
              and c.check not in SERVER_CHECKS]
    listed += list(server_checks)
    connectors = Counter(c.status for c in found.of(CONNECTOR))
    is_healthy = healthy(listed)
    return {
        "status": OK if is_healthy else FAIL,
        "checked_at": found.checked_at.isoformat(),
        "checks": [c.to_dict() for c in listed],
        "models": dict(Counter(m.freshness for m in found.models)),
        "connectors": {s: connectors.get(s, 0) for s in (OK, WARN, FAIL)},
    }
