"""A local fsspec filesystem whose reads of one file wait for the test's word: a worker can then be
killed while it is inside a task, deterministically (no sleep race).

Reading ``gated`` while ``<gate>/armed`` exists and ``<gate>/go`` does not writes the reading process's
pid to ``<gate>/started`` and blocks until ``go`` appears. The class lives here (not in the test module)
so that Dask's worker processes, started with the test process's ``sys.path``, can import it.
"""
from __future__ import annotations

import os
import time

from fsspec.implementations.local import LocalFileSystem

WAIT_SECONDS = 120.0


class GatedFileSystem(LocalFileSystem):
    def __init__(self, gate: str, gated: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.gate, self.gated = gate, gated

    def _open(self, path, mode="rb", **kwargs):
        armed, go = os.path.join(self.gate, "armed"), os.path.join(self.gate, "go")
        if os.path.abspath(path) == os.path.abspath(self.gated) and os.path.exists(armed) and not os.path.exists(go):
            tmp = os.path.join(self.gate, f".started.{os.getpid()}")
            with open(tmp, "w") as fh:
                fh.write(str(os.getpid()))
            os.replace(tmp, os.path.join(self.gate, "started"))
            deadline = time.monotonic() + WAIT_SECONDS
            while not os.path.exists(go) and time.monotonic() < deadline:
                time.sleep(0.02)  # waits for the test's file, not for time to pass
        return super()._open(path, mode, **kwargs)
