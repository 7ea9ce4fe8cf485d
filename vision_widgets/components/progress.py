"""A progress bar with a caption, for long work (profiling, registration)."""
from __future__ import annotations

import ipywidgets as w


class ProgressBar(w.HBox):
    """Hidden until ``start()``; ``update(fraction, what)`` is a service's progress callback."""

    def __init__(self) -> None:
        self.bar = w.FloatProgress(min=0.0, max=1.0, value=0.0, layout=w.Layout(width="360px"))
        self.caption = w.Label("")
        super().__init__([self.bar, self.caption])
        self.layout.visibility = "hidden"

    @property
    def value(self) -> float:
        """The fraction done (0..1)."""
        return self.bar.value

    def start(self, what: str = "Starting") -> None:
        self.layout.visibility = "visible"
        self.update(0.0, what)

    def update(self, fraction: float, what: str) -> None:
        self.bar.value = max(0.0, min(1.0, float(fraction)))
        self.caption.value = what

    def done(self) -> None:
        self.layout.visibility = "hidden"
        self.caption.value = ""
