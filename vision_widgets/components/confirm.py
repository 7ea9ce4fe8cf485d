"""A two-step confirmation: "Remove…" asks, "Confirm" acts — on the thing it asked about only.

The browser can click a hidden button, so the step remembers *what* it asked about (``ask(key)``)
and calls back with that key only when Confirm is clicked while the question stands; a click with
no question pending, or after the selection moved on (``cancel()``), does nothing.
"""
from __future__ import annotations

from typing import Callable

import ipywidgets as w


class ConfirmStep(w.VBox):
    """Hidden until ``ask``; ``on_confirm(callback)`` gets the key asked about.

    Parameters
    ----------
    confirm
        The confirm button's words ("Confirm removal").
    extra
        Controls shown with the question (e.g. where to move what depends on the thing removed).
    """

    def __init__(self, confirm: str = "Confirm", extra: tuple[w.Widget, ...] = (), **kwargs) -> None:
        self.question = w.Label("")
        self.confirm = w.Button(description=confirm, button_style="danger", layout=w.Layout(width="auto"))
        self.cancel_button = w.Button(description="Cancel", layout=w.Layout(width="auto"))
        self.extra = w.HBox(list(extra))
        buttons = w.HBox([self.extra, self.confirm, self.cancel_button], layout=w.Layout(align_items="center"))
        super().__init__([self.question, buttons], layout=w.Layout(display="none"), **kwargs)
        self.add_class("vision-confirm")
        self.pending: str | None = None
        self._callbacks: list[Callable[[str], None]] = []
        self.confirm.on_click(self._on_confirm)
        self.cancel_button.on_click(lambda _b: self.cancel())

    def ask(self, key: str, question: str, show_extra: bool = True) -> None:
        """Show ``question`` about ``key`` (with the extra controls when ``show_extra``)."""
        self.pending = key
        self.question.value = question
        self.extra.layout.display = "" if show_extra else "none"
        self.layout.display = "flex"

    def cancel(self) -> None:
        """Withdraw the question: a later Confirm click does nothing."""
        self.pending = None
        self.question.value = ""
        self.layout.display = "none"

    def on_confirm(self, callback: Callable[[str], None]) -> None:
        self._callbacks.append(callback)

    def _on_confirm(self, _button=None) -> None:
        key = self.pending
        self.cancel()
        if key is None:
            return
        for callback in self._callbacks:
            callback(key)
