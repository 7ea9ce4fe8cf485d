"""A KPI card: a caption and a big value (both plain text)."""
from __future__ import annotations

import ipywidgets as w


class KPICard(w.VBox):
    def __init__(self, caption: str, value: str = "–", **kwargs) -> None:
        self.caption = w.Label(caption)
        self.caption.add_class("vision-kpi-caption")
        self.value_label = w.Label(value)
        self.value_label.add_class("vision-kpi-value")
        super().__init__([self.caption, self.value_label], **kwargs)
        self.add_class("vision-kpi")

    def set(self, value: str, alert: bool = False) -> None:
        self.value_label.value = value
        if alert:
            self.add_class("vision-kpi-alert")
        else:
            self.remove_class("vision-kpi-alert")
