"""Bounded calls: work in a thread of its own, waited for at most a deadline (core/bounded.py, worker.BoundedRun)."""
from __future__ import annotations

import threading
import time

import pytest

from vision_widgets import worker
from vision_widgets.core.bounded import BoundedCall
from vision_widgets.services import notification_runs


def test_a_call_that_ends_in_time_hands_back_its_value_or_its_error():
    assert BoundedCall(lambda: 42, "t").wait(5)
    done = BoundedCall(lambda: 42, "t")
    done.wait(5)
    assert done.result() == 42

    def fails():
        raise ValueError("no")

    failed = BoundedCall(fails, "t")
    assert failed.wait(5)
    with pytest.raises(ValueError, match="no"):
        failed.result()


def test_a_call_past_its_deadline_is_left_running_and_the_caller_goes_on():
    release = threading.Event()
    call = BoundedCall(lambda: release.wait(20), "t")
    start = time.monotonic()
    assert not call.wait(0.2) and call.running
    assert time.monotonic() - start < 1.5
    release.set()
    assert call.wait(5) and call.result() is True


def test_the_notification_run_gives_its_job_thread_back_and_skips_while_the_last_one_runs(ctx, monkeypatch, caplog):
    started, release = threading.Event(), threading.Event()

    def hang(_ctx):
        started.set()
        release.wait(20)

    monkeypatch.setattr(notification_runs, "run_rules", hang)
    try:
        answers = [worker.run_notification_rules(ctx, deadline=0.3) for _ in range(2)]  # the 2nd while the 1st runs
        assert started.is_set()
    finally:
        release.set()
        worker._notifying.join(5)
    assert answers == [0, 0]
    assert "did not finish within 0.3 s" in caplog.text and "still going" in caplog.text
