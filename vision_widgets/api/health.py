"""``GET /vision/api/health``: is the server up (no kernel is touched, no kernel id is listed)."""
from __future__ import annotations

from vision_widgets.api.base import JSONHandler


class HealthHandler(JSONHandler):
    """Reads counters only; monitors and the test fixtures poll it."""

    def get(self) -> None:
        from vision_widgets import __version__

        stats = self.server.kernel_stats() if hasattr(self.server, "kernel_stats") else {}
        self.write_json({"status": "ok", "version": __version__, "kernels": stats})
