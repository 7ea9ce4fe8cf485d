"""``GET /vision/api/health``: the platform's checks as JSON, for an external monitor and the test fixtures.

200 when every critical check passes (the database, the worker), 503 otherwise — with the same
body, so a monitor (and the fixtures waiting for the kernel pool) can read why. No login is
needed, so the body names no model or connector (they are counted), holds no kernel id, no secret
and no URL with credentials (``services.monitoring.public_report``). ``kernels`` and ``worker`` keep
the shape they had before the checks were added; no kernel is touched to answer.
"""
from __future__ import annotations

from datetime import timedelta

import tornado.ioloop

from vision_widgets.api.base import JSONHandler


class HealthHandler(JSONHandler):
    """Reads counters and runs the read-only checks in a thread; monitors and the test fixtures poll it."""

    async def get(self) -> None:
        from vision_widgets import __version__

        stats = self.server.kernel_stats() if hasattr(self.server, "kernel_stats") else {}
        server_checks = self.server.server_checks() if hasattr(self.server, "server_checks") else []
        report, worker = await tornado.ioloop.IOLoop.current().run_in_executor(None, self._report, server_checks)
        self.write_json({"status": report["status"], "version": __version__, "kernels": stats, "worker": worker,
                         **{k: v for k, v in report.items() if k != "status"}},
                        200 if report["status"] == "ok" else 503)

    def _report(self, server_checks) -> tuple[dict, dict]:
        """The checks and the workers' last heartbeat, read in a thread (a slow database must not stall the server)."""
        from vision_widgets.core.jobs import workers
        from vision_widgets.services import monitoring

        report = monitoring.public_report(self.ctx, server_checks)
        if self.ctx is None:
            return report, workers.WorkerStatus(workers.UNKNOWN, 0, None, None, "This server has no database.").to_dict()
        try:
            with self.ctx.store.read() as conn:
                found = workers.status(conn, self.ctx.now(), timedelta(seconds=self.ctx.settings.job_lease_seconds))
        except Exception as exc:  # noqa: BLE001 - health must answer even when the database does not
            found = workers.WorkerStatus(workers.UNKNOWN, 0, None, None,
                                         f"The database cannot be read ({type(exc).__name__}).")
        return report, found.to_dict()
