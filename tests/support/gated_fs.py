"""A local fsspec filesystem whose reads of one file wait for the test's word: a worker can then be
killed while it is inside a task, deterministically (no sleep race).

The word goes through the Dask scheduler, under names made from ``gate``: once the test sets the
event ``<gate>-armed``, a read of ``gated`` puts the reading process's pid in the variable
``<gate>-pid`` (``Variable.get`` waits for it in the test) and blocks until the test sets the event
``<gate>-go``. The class lives here (not in the test module) so that Dask's worker processes, started
with the test process's ``sys.path``, can import it.
"""
from __future__ import annotations

import os

from distributed import Event, Variable
from fsspec.implementations.local import LocalFileSystem

WAIT_SECONDS = 120.0


def gate_primitives(gate: str, client=None) -> tuple[Event, Event, Variable]:
    """The gate's ``armed`` and ``go`` events and the variable a gated reader puts its pid in."""
    return Event(f"{gate}-armed", client), Event(f"{gate}-go", client), Variable(f"{gate}-pid", client)


class GatedFileSystem(LocalFileSystem):
    def __init__(self, gate: str, gated: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.gate, self.gated = gate, gated

    def _open(self, path, mode="rb", **kwargs):
        if os.path.abspath(path) == os.path.abspath(self.gated):
            armed, go, reader_pid = gate_primitives(self.gate)
            if armed.is_set() and not go.is_set():
                reader_pid.set(os.getpid())
                if not go.wait(WAIT_SECONDS):
                    raise TimeoutError(f"the test did not open the gate {self.gate!r} within {WAIT_SECONDS:.0f} s")
        return super()._open(path, mode, **kwargs)
