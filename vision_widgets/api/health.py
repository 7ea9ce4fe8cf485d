"""``GET /vision/api/health``: the platform's checks as JSON, for an external monitor and the test fixtures.

200 when every critical check passes (the database, the worker), 503 otherwise — with the same
body, so a monitor (and the fixtures waiting for the kernel pool) can read why. No login is
needed, so the body names no model, connector or host, holds no kernel id, no secret and no byte
count (``services.monitoring.public_report``). ``kernels`` and ``worker`` keep the shape they had
before the checks were added; no kernel is touched to answer.

Anyone can call it, as often as they like, so what it does is bounded: the two critical checks
(a database round trip, the worker's heartbeat) run live in a small executor of its own — never
the server's default one, which logins, logouts and uploads share — under ``DEADLINE`` seconds;
the rest is the worker's last recorded run. Not finished in time, or too many still running: 503,
"did not finish".
"""
from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from vision_widgets.api.base import JSONHandler

#: Seconds the live checks may take before the endpoint answers 503 "did not finish".
DEADLINE = 2.0
#: Threads of the endpoint's own executor.
THREADS = 2
#: Live checks allowed at once (running or waiting for a thread); beyond, a request is answered 503 at once.
IN_FLIGHT = 4

_executor = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="vision-health")
_slots = threading.BoundedSemaphore(IN_FLIGHT)


class HealthHandler(JSONHandler):
    """The live critical checks (bounded) and the last recorded run; monitors and the test fixtures poll it."""

    async def get(self) -> None:
        from vision_widgets import __version__
        from vision_widgets.core.jobs import workers

        stats = self.server.kernel_stats() if hasattr(self.server, "kernel_stats") else {}
        server_checks = self.server.server_checks() if hasattr(self.server, "server_checks") else []
        unfinished = None
        if not _slots.acquire(blocking=False):
            unfinished = "The previous health checks have not finished yet (the database is slow or unreachable)."
        else:
            future = asyncio.get_running_loop().run_in_executor(_executor, self._report, server_checks)
            try:
                report, worker = await asyncio.wait_for(asyncio.shield(future), DEADLINE)
            except TimeoutError:
                unfinished = f"The health checks did not finish within {DEADLINE:g} s (the database is slow or unreachable)."
        if unfinished is not None:
            report = {"status": "fail", "checks": [{"check": "database", "status": "fail", "critical": True,
                                                    "value": None, "unit": "ms", "message": unfinished}]}
            worker = workers.WorkerStatus(workers.UNKNOWN, 0, None, None, unfinished).to_dict()
        self.write_json({"status": report["status"], "version": __version__, "kernels": stats, "worker": worker,
                         **{k: v for k, v in report.items() if k != "status"}},
                        200 if report["status"] == "ok" else 503)

    def _report(self, server_checks):
        """In the endpoint's executor; frees its slot when done, however long that takes."""
        from vision_widgets.services import monitoring

        try:
            return monitoring.public_report(self.ctx, server_checks)
        finally:
            _slots.release()
