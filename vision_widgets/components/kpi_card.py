"""A KPI card: a caption, a big value and an optional line saying what it means (all plain text).

One escaped ``HTML`` widget rather than a box of three labels: the browser creates a model (and a
view) per widget, so a card as a box took eleven (box, three labels, their layouts and styles) and
five cards delayed the first view of a page by tens of milliseconds; as one widget it takes three.
Every text goes through ``safe_html.escape``.
"""
from __future__ import annotations

import ipywidgets as w

from vision_widgets.components.safe_html import escape


class KPICard(w.HTML):
    """``caption``, ``figure`` (the big value) and ``note`` are the texts shown, readable as attributes."""

    def __init__(self, caption: str, value: str = "–", **kwargs) -> None:
        super().__init__(**kwargs)
        self.caption, self.figure, self.note = caption, value, ""
        self.add_class("vision-kpi")
        self._render()

    def set(self, value: str, alert: bool = False, note: str = "") -> None:
        """Show ``value`` (red when ``alert``) and, under it, ``note`` in words (or nothing)."""
        with self.hold_sync():
            self.figure, self.note = value, note
            if alert:
                self.add_class("vision-kpi-alert")
            else:
                self.remove_class("vision-kpi-alert")
            self._render()

    def set_caption(self, caption: str) -> None:
        self.caption = caption
        self._render()

    def _render(self) -> None:
        note = f'<div class="vision-kpi-note">{escape(self.note)}</div>' if self.note else ""
        self.value = (f'<div class="vision-kpi-caption">{escape(self.caption)}</div>'
                      f'<div class="vision-kpi-value">{escape(self.figure)}</div>{note}')
