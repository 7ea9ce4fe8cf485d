"""A call in a daemon thread of its own, waited for at most a deadline.

Some work cannot be interrupted from outside once started (a driver blocked on a socket, a health
check on a database that stopped answering), yet its caller must not wait past a deadline: the
worker's two job threads are needed by registrations and pulls, a connection test has promised
an answer within its timeout. So the work runs in a daemon thread; the caller waits at most the
deadline and goes on, and the work ends on its own later (its own timeouts end it). What it
returned, or raised, is handed to the caller when it ended in time.

``worker.BoundedRun`` (a periodic job's body, one run at a time), ``connectors.failures.within``
(a connector's call) and ``notify.channels._bounded`` (an alert's send) are built on it.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class BoundedCall(Generic[T]):
    """``fn()`` started at once in a daemon thread called ``name``; ``wait`` for it, then read it."""

    def __init__(self, fn: Callable[[], T], name: str) -> None:
        self.value: T | None = None
        self.error: BaseException | None = None  # what ``fn`` raised, once it ended
        self._thread = threading.Thread(target=self._run, args=(fn,), name=name, daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[[], T]) -> None:
        try:
            self.value = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            self.error = exc

    def wait(self, timeout: float | None) -> bool:
        """Wait at most ``timeout`` seconds (None: until it ends); whether it has ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        """Whether the call is still going."""
        return self._thread.is_alive()

    def result(self) -> T:
        """What the call returned, or what it raised raised again (call once it has ended)."""
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]
