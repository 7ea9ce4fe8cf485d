"""A status tile: a caption, a badge saying the status in a word, a value and a note (all plain text).

The status is said in words ("OK", "Warning", "Failing", or a neutral word such as "Not configured")
and shown in colour as well (green, amber, red; a grey badge for neutral) — never colour alone.
"""
from __future__ import annotations

import ipywidgets as w

#: Status → the CSS suffix of its colour.
_KINDS = ("ok", "warn", "fail", "neutral")


class StatusTile(w.VBox):
    """``set(status, word, value, note)``: ``status`` is ok / warn / fail / neutral."""

    def __init__(self, caption: str, **kwargs) -> None:
        self.caption = w.Label(caption)
        self.caption.add_class("vision-kpi-caption")
        self.badge = w.Label("…")
        self.badge.add_class("vision-badge")
        self.value_label = w.Label("–")
        self.value_label.add_class("vision-kpi-value")
        self.note = w.Label("")
        self.note.add_class("vision-kpi-note")
        super().__init__([self.caption, self.badge, self.value_label, self.note], **kwargs)
        self.add_class("vision-tile")
        self.status = ""

    def set(self, status: str, word: str, value: str, note: str = "") -> None:
        """Show ``word`` in the badge coloured for ``status``, ``value`` big, and ``note`` under it."""
        status = status if status in _KINDS else "neutral"
        for kind in _KINDS:
            self.remove_class(f"vision-tile-{kind}")
            self.badge.remove_class(f"vision-badge-{kind}")
        self.add_class(f"vision-tile-{status}")
        self.badge.add_class(f"vision-badge-{status}")
        self.status = status
        self.badge.value = word
        self.value_label.value = value
        self.note.value = note
