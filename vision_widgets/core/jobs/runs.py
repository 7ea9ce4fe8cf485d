"""One attempt at a job, as its handler sees it: report progress, and finish inside the effect's transaction.

A handler is ``Callable[[JobRun], Mapping | None]``. It must be idempotent in
the only sense that matters here: its effect is ONE transaction that also calls
``run.finish(conn, result)``. Then a retry after a crash either finds nothing
applied and redoes it, or never runs because the job is done. A handler with
no database effect of its own may just return its result.
"""
from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any, Callable, Mapping

from sqlalchemy import Connection

from vision_widgets.core.context import Context
from vision_widgets.core.jobs import lease
from vision_widgets.core.jobs.records import Job

#: Progress is written at most this often (seconds), except the first and last report.
PROGRESS_EVERY = 0.5


class JobRun:
    """The job being run by ``worker``, with the means to report on it."""

    def __init__(self, ctx: Context, job: Job, worker: str, lease_length: timedelta,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.ctx = ctx
        self.job = job
        self.worker = worker
        self.lease_length = lease_length
        self.finished = False
        self._monotonic = monotonic
        self._last_report: float | None = None
        self._lock = threading.Lock()

    @property
    def params(self) -> Mapping[str, Any]:
        return self.job.params

    def progress(self, fraction: float, message: str) -> None:
        """Record progress (0..1 and what is happening), throttled; ``LeaseLost`` stops the work.

        A handler passes this as its progress callback: when another worker has
        taken the job over, the next report raises and this attempt ends early.
        """
        if self.finished:  # a last "Done" after the job was marked done in its effect's transaction
            return
        now = self._monotonic()
        with self._lock:
            due = self._last_report is None or fraction >= 1.0 or now - self._last_report >= PROGRESS_EVERY
            if not due:
                return
            self._last_report = now
        with self.ctx.store.write() as conn:
            lease.report(conn, self.job.id, self.worker, fraction, message, self.ctx.now())

    def finish(self, conn: Connection, result: Mapping[str, Any]) -> None:
        """Mark the job done with ``result`` inside ``conn``'s transaction, the one that applies its effect.

        Raises ``LeaseLost`` (so the transaction rolls back, effect included)
        when this worker no longer holds the job.
        """
        lease.finish(conn, self.job.id, self.worker, result, self.ctx.now())
        self.finished = True
