"""Platform health: each check is a small result a person reads and a monitor counts.

A check says what it looked at (``check``, ``subject``), how it went (``status``: ``ok`` / ``warn``
/ ``fail`` — green, amber, red), whether a failure makes the platform unhealthy (``critical``:
the database and the worker; the health endpoint answers 503 when one fails), a number when there is
one (``value`` in ``unit``) and a sentence (``message``). Messages never hold a secret, a URL with
credentials or a kernel id: they are shown to admins, stored in ``health_checks`` and, for the
platform checks, served by the unauthenticated health endpoint.

``checks`` computes them (pure: a connection, the settings, the time); ``history`` stores each run
and reads it back for the Monitoring page.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterable

OK, WARN, FAIL = "ok", "warn", "fail"
STATUSES = (OK, WARN, FAIL)
#: How a status reads next to its colour (never colour alone).
WORDS = {OK: "OK", WARN: "Warning", FAIL: "Failing"}

# Check names (``health_checks.check``).
DATABASE = "database"
DATABASE_SIZE = "database_size"
WORKER = "worker"
QUEUE = "queue"
LLM = "llm"
CONNECTOR = "connector"
DISK = "disk"
UPTIME = "uptime"
KERNELS = "kernels"
MODEL_FRESHNESS = "model_freshness"
MODEL_DRIFT = "model_drift"
#: Checks only the server process can make (it holds the kernels); recorded by the server.
SERVER_CHECKS = (UPTIME, KERNELS)
#: Checks about one model each (the unauthenticated endpoint gives them as counts only).
MODEL_CHECKS = (MODEL_FRESHNESS, MODEL_DRIFT)


@dataclass(frozen=True)
class Check:
    """The result of one check (one row of ``health_checks``)."""

    check: str
    subject: str
    status: str
    critical: bool
    value: float | None
    unit: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def worst(statuses: Iterable[str]) -> str:
    """The worst of ``statuses`` (``ok`` when there are none)."""
    found = set(statuses)
    return FAIL if FAIL in found else WARN if WARN in found else OK


def healthy(checks: Iterable[Check]) -> bool:
    """Whether every critical check passed (the health endpoint's 200)."""
    return not any(c.critical and c.status == FAIL for c in checks)
