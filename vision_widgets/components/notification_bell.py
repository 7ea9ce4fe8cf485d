"""The header's bell: an icon with the unread count, which opens the Notifications page.

It knows nothing of services: the shell gives it ``count`` (a cheap query; ``None`` when it could
not be read, and the last count stays) and ``open``. It counts again when asked (``refresh``: the
shell asks when the page changes and after notifications are marked read) and on its own timer
while started — every ``every`` seconds, never more often than ``MIN_EVERY`` — until ``stop``
(logout, the app closed). The count is a number, never user text.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

import ipywidgets as w

log = logging.getLogger(__name__)

#: The shortest interval between two counts on the timer (seconds).
MIN_EVERY = 30.0


class NotificationBell(w.Button):
    """A ``<button>`` with a bell icon and the unread count (``unread``), its title saying it in words."""

    def __init__(self, count: Callable[[], "int | None"], open: Callable[[], None], every: float = MIN_EVERY,
                 **kwargs) -> None:
        super().__init__(icon="bell", description="", layout=w.Layout(width="auto"), **kwargs)
        self.add_class("vision-bell")
        self._count = count
        self._open = open
        self.every = max(MIN_EVERY, float(every))
        self.unread = 0
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None
        self._lock = threading.Lock()
        self._show(0)
        self.on_click(lambda _b: self._open())

    def _show(self, n: int) -> None:
        self.unread = n
        with self.hold_sync():
            self.description = f"{n:,}" if n else ""
            self.tooltip = (f"{n:,} unread notification{'s' if n != 1 else ''}: open Notifications" if n
                            else "No unread notifications: open Notifications")
        if n:
            self.add_class("vision-bell-unread")
        else:
            self.remove_class("vision-bell-unread")

    def refresh(self) -> None:
        """Count again now (a failure keeps the last count; the log has why)."""
        try:
            n = self._count()
        except Exception:  # noqa: BLE001 - the header must stay usable
            log.exception("counting unread notifications failed")
            return
        if n is not None and self.comm is not None:
            self._show(int(n))

    def start(self) -> None:
        """Count now, then on the timer until ``stop``."""
        with self._lock:
            self.stop()
            self._stop = threading.Event()
            self._timer = threading.Thread(target=self._tick, args=(self._stop,), name="vision-bell", daemon=True)
            self._timer.start()
        self.refresh()

    def _tick(self, stop: threading.Event) -> None:
        while not stop.wait(self.every):
            if self.comm is None:
                return
            self.refresh()

    def stop(self) -> None:
        """Stop the timer and show no count (logout: nothing of the account stays)."""
        self._stop.set()
        self._timer = None
        if self.comm is not None:
            self._show(0)

    @property
    def running(self) -> bool:
        """Whether the timer is counting."""
        return self._timer is not None and self._timer.is_alive() and not self._stop.is_set()

    def close(self) -> None:
        self._stop.set()
        super().close()
