"""A one-line status message (error, success, info) shown under a form.

It is a ``Label``, so the text — often an error naming user input — is shown
as text, never as HTML.
"""
from __future__ import annotations

import ipywidgets as w

_KINDS = ("error", "success", "info")


class StatusMessage(w.Label):
    """Say what happened; ``kind`` picks the colour via a CSS class."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_class("vision-status")
        self.kind = "info"

    def show(self, text: str, kind: str = "info") -> None:
        for k in _KINDS:
            self.remove_class(f"vision-status-{k}")
        self.kind = kind if kind in _KINDS else "info"
        self.add_class(f"vision-status-{self.kind}")
        self.value = text

    def error(self, text: str) -> None:
        self.show(text, "error")

    def success(self, text: str) -> None:
        self.show(text, "success")

    def clear(self) -> None:
        self.show("", "info")
