"""``python -m tests.support.job_worker``: the real worker, plus what the worker tests need to steer it.

* a test-only job kind, ``test effect``: records that it started (one line per start in the file named by
  ``VISION_TEST_RUNS``), then applies its effect — an audit entry — in the transaction that finishes the job;
* a gate (``VISION_TEST_GATE_DIR`` and ``VISION_TEST_GATE_AT``): a registration job stops at a chosen
  point, touches ``reached-<pid>`` in the gate folder and waits until a file ``open`` appears there. The
  test kills the worker while it waits, so the kill lands mid-job every time, without sleeping:
  ``profiling`` stops after the training data was profiled (nothing stored yet), ``storing`` stops
  inside the storing transaction (the model row written, not committed).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from vision_widgets import worker
from vision_widgets.core import audit

EFFECT = "test effect"
_GATE_TIMEOUT = 300.0


def effect(run) -> None:
    """The test kind: note the start, then apply the effect and finish in one transaction."""
    with open(os.environ["VISION_TEST_RUNS"], "a", encoding="utf-8") as runs:
        runs.write(f"{run.job.id} {os.getpid()}\n")
    with run.ctx.store.write() as conn:
        audit.record(conn, run.ctx.now(), run.job.actor, EFFECT, str(run.job.id))
        run.finish(conn, {"job": run.job.id, "pid": os.getpid()})


def _wait_at_gate() -> None:
    gate = Path(os.environ["VISION_TEST_GATE_DIR"])
    (gate / f"reached-{os.getpid()}").touch()
    deadline = time.monotonic() + _GATE_TIMEOUT
    while not (gate / "open").exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the test never opened the gate")
        time.sleep(0.02)


def install_gate(at: str) -> None:
    """Make registration jobs wait at ``at`` ("profiling" or "storing")."""
    from vision_widgets.services import registration

    name = {"profiling": "profile_production", "storing": "store_batch"}[at]
    real = getattr(registration, name)

    def gated(*args, **kwargs):
        _wait_at_gate()
        return real(*args, **kwargs)

    setattr(registration, name, gated)


if __name__ == "__main__":
    if os.environ.get("VISION_TEST_GATE_AT"):
        install_gate(os.environ["VISION_TEST_GATE_AT"])
    raise SystemExit(worker.main(handlers={**worker.HANDLERS, EFFECT: effect}))
