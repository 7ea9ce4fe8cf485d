"""A KPI card: a caption, a big value and an optional line saying what it means (all plain text)."""
from __future__ import annotations

import ipywidgets as w


class KPICard(w.VBox):
    def __init__(self, caption: str, value: str = "–", **kwargs) -> None:
        self.caption = w.Label(caption)
        self.caption.add_class("vision-kpi-caption")
        self.value_label = w.Label(value)
        self.value_label.add_class("vision-kpi-value")
        self.note = w.Label("")
        self.note.add_class("vision-kpi-note")
        self.note.layout.display = "none"
        super().__init__([self.caption, self.value_label, self.note], **kwargs)
        self.add_class("vision-kpi")

    def set(self, value: str, alert: bool = False, note: str = "") -> None:
        """Show ``value`` (red when ``alert``) and, under it, ``note`` in words (or nothing)."""
        self.value_label.value = value
        self.note.value = note
        self.note.layout.display = "" if note else "none"
        if alert:
            self.add_class("vision-kpi-alert")
        else:
            self.remove_class("vision-kpi-alert")
