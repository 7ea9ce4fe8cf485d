"""``PageView.run_in_background``: one job at a time under a lock, a queued call run next rather than
dropped, a timer's call skipped quietly, and no result shown on a page closed or logged out of
(review 11, finding 14)."""
from __future__ import annotations

import threading
import time

import pytest
from helpers import ADMIN

from vision_widgets.components.feedback import StatusMessage
from vision_widgets.state import AppState
from vision_widgets.views.base import PageView


@pytest.fixture
def page(ctx, login):
    state = AppState()
    state.sign_in(login(ADMIN))
    view = PageView(ctx, state)
    yield view
    view.close()


class Gate:
    """A service call that waits to be let through, counting how many run at once."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.started = threading.Event()
        self.running = self.most = self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, value="done"):
        with self.lock:
            self.calls += 1
            self.running += 1
            self.most = max(self.most, self.running)
        self.started.set()
        self.open.wait(10)
        with self.lock:
            self.running -= 1
        return value


def test_calls_from_several_threads_never_run_two_jobs_at_once(page):
    gate, status = Gate(), StatusMessage()
    barrier = threading.Barrier(8)

    def click():
        barrier.wait()
        page.run_in_background(status, gate)  # the default (refuse): the old check-and-set raced

    threads = [threading.Thread(target=click) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    gate.started.wait(5)
    time.sleep(0.2)
    gate.open.set()
    page.wait()
    assert gate.calls == 1 and gate.most == 1


def test_a_queued_call_runs_after_the_one_under_way_and_a_refused_one_says_so(page):
    gate, status, shown = Gate(), StatusMessage(), []
    assert page.run_in_background(status, gate, "first", on_done=shown.append)
    gate.started.wait(5)
    assert not page.run_in_background(status, gate, "skipped", on_done=shown.append, when_busy="skip")
    assert status.value == ""
    assert not page.run_in_background(status, gate, "replaced", on_done=shown.append, when_busy="queue")
    assert not page.run_in_background(status, gate, "queued", on_done=shown.append, when_busy="queue")
    assert not page.run_in_background(status, gate, "refused", on_done=shown.append)
    assert status.value.startswith("Still working")
    gate.open.set()
    page.wait()
    assert shown == ["first", "queued"]


@pytest.mark.parametrize("leave", ["close", "logout"])
def test_no_result_is_shown_on_a_page_closed_or_logged_out_of(page, leave, caplog):
    gate, status, shown = Gate(), StatusMessage(), []
    page.run_in_background(status, gate, on_done=lambda r: shown.append(page.state.principal.username))
    page.run_in_background(status, gate, "next", on_done=shown.append, when_busy="queue")
    gate.started.wait(5)
    job = page._job
    if leave == "close":
        page.close()
    else:
        page.state.principal = None
    gate.open.set()
    job.join(5)
    page.wait()
    assert shown == [] and gate.calls == 1  # neither on_done nor the queued call ran
    assert "failed" not in caplog.text and status.value == ""
