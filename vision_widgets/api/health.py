"""``GET /vision/api/health``: is the server up (no kernel is touched, no kernel id is listed).

``worker`` says whether a ``vision worker`` beat recently (``core.jobs.workers``): when none did, the
server still answers ``ok`` — it is up — and ``worker.message`` says "worker not seen for N s".
"""
from __future__ import annotations

from datetime import timedelta

import tornado.ioloop

from vision_widgets.api.base import JSONHandler


class HealthHandler(JSONHandler):
    """Reads counters only; monitors and the test fixtures poll it."""

    async def get(self) -> None:
        from vision_widgets import __version__

        stats = self.server.kernel_stats() if hasattr(self.server, "kernel_stats") else {}
        worker = await tornado.ioloop.IOLoop.current().run_in_executor(None, self._worker_status)
        self.write_json({"status": "ok", "version": __version__, "kernels": stats, "worker": worker})

    def _worker_status(self) -> dict:
        """The workers' last heartbeat, read in a thread (a slow database must not stall the server)."""
        from vision_widgets.core.jobs import workers

        if self.ctx is None:
            return workers.WorkerStatus(workers.UNKNOWN, 0, None, None, "This server has no database.").to_dict()
        try:
            with self.ctx.store.read() as conn:
                found = workers.status(conn, self.ctx.now(), timedelta(seconds=self.ctx.settings.job_lease_seconds))
        except Exception as exc:  # noqa: BLE001 - health must answer even when the database does not
            found = workers.WorkerStatus(workers.UNKNOWN, 0, None, None,
                                         f"The database cannot be read ({type(exc).__name__}).")
        return found.to_dict()
