"""A per-day time series chart: a few named lines over a date axis, each point with a hover tooltip.

Built once (``TimeSeriesChart(title, y_label, slots=n)``); ``update({name: (days, values)})`` feeds the
first lines and hides the rest. Each line gets only its finite points, so a day without a value is
skipped rather than drawn at 0 (weekly performance windows still join up). The legend is a line of
escaped text under the figure (``charts.legend_html``), never over the data; the y scale gets headroom
so the highest point stays clear of the title. Lines have no bars, so a figure laid out at zero width
logs nothing.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import bqplot as bq
import ipywidgets as w
import numpy as np

from vision_widgets.components.charts import HEADROOM, SERIES_COLOURS, _figure, close_figure, legend_html


class TimeSeriesChart:
    """Up to ``slots`` lines over days; ``y_format`` is a d3 format for the axis and the tooltips."""

    def __init__(self, title: str, y_label: str, slots: int = 2, y_format: str = ",.3~s",
                 colours: Sequence[str] = SERIES_COLOURS, zero_based: bool = True, unit_max: float | None = None,
                 dashed: Sequence[int] = ()) -> None:
        self.zero_based = zero_based
        self.unit_max = unit_max
        self.colours = tuple(colours)
        self.x = bq.DateScale()
        self.y = bq.LinearScale(min=0.0, max=1.0)
        self.lines: list[bq.Lines] = []
        for i in range(slots):
            self.lines.append(bq.Lines(
                x=np.array([np.datetime64("2026-01-01", "ms")]), y=[0.0], scales={"x": self.x, "y": self.y},
                colors=[self.colours[i % len(self.colours)]], stroke_width=2, marker="circle", marker_size=20,
                line_style="dashed" if i in dashed else "solid", visible=False,
                tooltip=bq.Tooltip(fields=["x", "y"], formats=["%Y-%m-%d", y_format], labels=["day", y_label])))
        self.dashed = set(dashed)
        self.x_axis = bq.Axis(scale=self.x, tick_format="%b %d", label="day (UTC)", label_offset="36px",
                              tick_style={"font-size": "11px"})
        self.y_axis = bq.Axis(scale=self.y, orientation="vertical", tick_format=y_format, label=y_label,
                              label_offset="52px")
        self.figure = _figure(self.lines, [self.x_axis, self.y_axis], title, height="300px", bottom=56, left=76)
        self.legend = w.HTML("")
        self.widget = w.VBox([self.figure, self.legend], layout=w.Layout(width="100%", min_width="0"))
        #: what was drawn last: {name: (days, values)} (finite points only)
        self.drawn: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def close(self) -> None:
        close_figure(self.widget)

    def update(self, series: Mapping[str, tuple[np.ndarray, np.ndarray]], start: np.datetime64, end: np.datetime64,
               title: str | None = None, y_label: str | None = None) -> None:
        """Draw ``series`` (name -> (days as datetime64, values)) over ``start``..``end``."""
        drawn: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name, (days, values) in list(series.items())[:len(self.lines)]:
            v = np.asarray(values, dtype=float)
            ok = np.isfinite(v)
            drawn[name] = (np.asarray(days).astype("datetime64[ms]")[ok], v[ok])
        every = np.concatenate([v for _, v in drawn.values()] + [np.zeros(0)])
        top = float(every.max()) if every.size else 0.0
        low = float(every.min()) if every.size else 0.0
        if self.unit_max is not None:
            lo, hi = (0.0 if self.zero_based else max(0.0, low - 0.05)), min(self.unit_max, max(top, 1e-9) * HEADROOM)
            if not self.zero_based:
                hi = min(self.unit_max, top + max(0.02, (top - lo) * 0.15))
        else:
            lo, hi = 0.0, (top * HEADROOM if top > 0 else 1.0)
        if not every.size:  # nothing to draw: a plain 0..1 (or 0..max) frame, not a squeezed one
            lo, hi = 0.0, self.unit_max or 1.0
        if hi <= lo:
            hi = lo + 1.0
        with self.figure.hold_sync():
            if title is not None:
                self.figure.title = title
            if y_label is not None:
                self.y_axis.label = y_label
            self.x.min = np.datetime64(start, "ms")
            self.x.max = np.datetime64(end, "ms") + np.timedelta64(12, "h")
            self.y.min, self.y.max = lo, hi
            for i, line in enumerate(self.lines):
                if i < len(drawn):
                    name, (days, values) = list(drawn.items())[i]
                    line.x, line.y = (days, values) if days.size else (np.array([np.datetime64(start, "ms")]), [0.0])
                    line.labels = [name]
                    line.visible = bool(days.size)
                    if y_label is not None:
                        line.tooltip.labels = ["day", y_label]
                else:
                    line.visible = False
        self.drawn = drawn
        self.legend.value = legend_html([(name, self.colours[i % len(self.colours)],
                                          "dashed" if i in self.dashed else "line")
                                         for i, name in enumerate(drawn) if drawn[name][0].size])
