"""What every page shares: the context, the app state, and a safe way to run an action."""
from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

import ipywidgets as w

from vision_widgets.components.feedback import StatusMessage
from vision_widgets.components.progress import ProgressBar
from vision_widgets.core.context import Context
from vision_widgets.core.errors import SessionExpired, VisionError
from vision_widgets.state import AppState

log = logging.getLogger(__name__)

#: Background lanes of a page (``PageView.run_in_background``): its own requests, and listings of a
#: connector's folders and tables, which may be slow and must never hold the requests up.
ACTIONS, BROWSE = "actions", "browse"
T = TypeVar("T")

UNEXPECTED = (
    "Something went wrong on the server and nothing was changed. "
    "Try again; if it keeps happening, tell an administrator."
)


def run_action(state: AppState, status: StatusMessage, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T | None:
    """Call a service; turn its errors into a message (or a return to login) instead of a traceback.

    Returns the service's result, or ``None`` when it failed (the message is shown).
    """
    try:
        return fn(*args, **kwargs)
    except SessionExpired as exc:
        state.end_session(str(exc), kind="error")
    except VisionError as exc:
        status.error(str(exc))
    except Exception:  # noqa: BLE001 - the page must stay usable; the log keeps the details
        log.exception("unexpected error in %s", getattr(fn, "__name__", fn))
        status.error(UNEXPECTED)
    return None


def succeeded(fn: Callable[..., Any], *args: Any) -> bool:
    """Run a service that returns nothing; ``True`` tells ``run_action``'s caller it worked."""
    fn(*args)
    return True


class PageView(w.VBox):
    """A page: built from services for the logged-in principal; ``refresh()`` reloads it.

    Its title and the line saying what it is for are declared on its ``app.Page`` entry and
    shown by the shell above it. A view with ``keep_alive`` is hidden rather than closed when
    another page is opened, and ``resume()`` is called when it is shown again.
    """

    keep_alive = False

    def __init__(self, ctx: Context, state: AppState, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ctx = ctx
        self.state = state
        #: The background job of each lane (``run_in_background``), and the call queued after it.
        self._jobs: dict[str, threading.Thread] = {}
        self._job_lock = threading.Lock()
        self._queued: dict[str, Callable[[], None]] = {}
        self.add_class("vision-page")

    @property
    def principal(self):
        return self.state.principal

    def run(self, status: StatusMessage, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T | None:
        """``run_action`` bound to this page's state."""
        return run_action(self.state, status, fn, *args, **kwargs)

    def run_in_background(self, status: StatusMessage, fn: Callable[..., T], /, *args: Any,
                          on_done: Callable[[T], None] | None = None, bar: ProgressBar | None = None,
                          when_busy: str = "refuse", lane: str = ACTIONS, **kwargs: Any) -> bool:
        """Run a long service call in a thread so the page stays responsive; ``True`` if it started.

        Widget updates from the thread (progress) reach the browser as they
        happen; ``bar`` is hidden when the call ends, whatever happens;
        ``on_done`` gets the result when the call succeeded and the page is
        still open with someone logged in (not after close or logout). One job
        at a time per page and ``lane``; while one runs, ``when_busy`` says what
        to do with another: ``"refuse"`` (say so), ``"queue"`` (run it next; a
        later queued call replaces it) or ``"skip"`` (nothing: a timer's refresh).
        Lanes keep unrelated work apart: listing a slow connector (lane
        ``"browse"``) never makes "Register" wait or be refused. ``wait()``
        joins every lane's job and any queued after it (tests, shutdown).
        """
        def work() -> None:
            try:
                result = self.run(status, fn, *args, **kwargs)
            finally:
                if bar is not None:
                    bar.done()
            try:
                if result is not None and on_done is not None and self._still_shown():
                    try:
                        on_done(result)
                    except Exception:  # noqa: BLE001 - keep the page alive
                        log.exception("updating the page after %s failed", getattr(fn, "__name__", fn))
                        status.error(UNEXPECTED)
            finally:
                self._next_job(lane)

        with self._job_lock:
            if self.busy(lane):
                if when_busy == "queue":
                    self._queued[lane] = work
                elif when_busy == "refuse":
                    status.error("Still working on the previous request; wait for it to finish.")
                return False
            self._start_job(work, lane)
        return True

    @property
    def _job(self) -> threading.Thread | None:
        """The actions lane's job (the page's own requests)."""
        return self._jobs.get(ACTIONS)

    def busy(self, lane: str = ACTIONS) -> bool:
        """Whether ``lane`` has a job running."""
        job = self._jobs.get(lane)
        return job is not None and job.is_alive()

    def _start_job(self, work: Callable[[], None], lane: str) -> None:
        job = self._jobs[lane] = threading.Thread(target=work, name=f"vision-{type(self).__name__}-{lane}",
                                                  daemon=True)
        job.start()

    def _next_job(self, lane: str) -> None:
        """At the end of a job: start the lane's queued one, if any (the lock makes it the lane's next job)."""
        with self._job_lock:
            queued = self._queued.pop(lane, None)
            if queued is not None and self._still_shown():
                self._start_job(queued, lane)

    def _still_shown(self) -> bool:
        """Open (not closed) and someone logged in: a result may still be shown."""
        return self.comm is not None and self.state.principal is not None

    def wait(self, timeout: float | None = 120, lanes: tuple[str, ...] | None = None) -> None:
        """Wait for the background job of every lane (or of ``lanes``), and any queued after it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            jobs = [j for lane, j in list(self._jobs.items())
                    if (lanes is None or lane in lanes) and j is not threading.current_thread() and j.is_alive()]
            if not jobs or (deadline is not None and time.monotonic() >= deadline):
                return
            for job in jobs:
                job.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def refresh(self) -> None:
        """Reload what the page shows from the services."""

    def resume(self) -> None:
        """Shown again after another page (``keep_alive`` views only): bring it up to date."""
        self.refresh()

    def close(self) -> None:
        """Close this page and every widget inside it, so the kernel keeps nothing of it."""
        for child in self.children:
            close_tree(child)
        super().close()


def close_tree(widget: w.Widget) -> None:
    """Close ``widget`` and, for boxes, everything inside it (``Box.close`` does not)."""
    for child in getattr(widget, "children", ()):
        close_tree(child)
    widget.close()


@contextmanager
def unobserved(widget: w.Widget, handler: Callable[..., Any], name: str = "value") -> Iterator[w.Widget]:
    """Change ``widget`` without calling ``handler`` (options replaced, a value set by the page itself).

    ipywidgets picks a transient value while a control's options are replaced; the page's own
    handler must not act on it. Detaching the handler says so where it happens, without a flag.
    The changes reach the browser as one message: options and the index into them arriving
    apart made the browser select an option it did not have yet ("Cannot set properties of
    undefined (setting 'selected')").
    """
    widget.unobserve(handler, name)
    try:
        with widget.hold_sync():
            yield widget
    finally:
        widget.observe(handler, name)
