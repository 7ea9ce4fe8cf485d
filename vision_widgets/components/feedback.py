"""A status message (error, success, info), placed right under the control that caused it.

It is a ``Label``, so the text — often an error naming user input — is shown as text, never as
HTML. It wraps (theme.py lifts ipywidgets' one-line clipping inside the app), so a long message —
a lockout with its unlock time, a folder or column name — is read in full; an empty message takes
no room.
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
