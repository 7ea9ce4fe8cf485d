"""The Monitoring page's history chart: the database's latency and the job queue's length over time.

Built once; ``update(...)`` feeds its two lines (time on x, each series on its own y axis: ms on
the left, jobs on the right). With fewer than two points there is no line to draw: the figure is
hidden and a sentence says so.
"""
from __future__ import annotations

from datetime import datetime
from typing import Sequence

import bqplot as bq
import ipywidgets as w
import numpy as np

from vision_widgets.components.charts import SERIES_COLOURS, close_figure, legend_html

LATENCY_COLOUR, QUEUE_COLOUR = SERIES_COLOURS[0], SERIES_COLOURS[1]


class HealthHistoryChart:
    """Database latency (ms) and queued jobs over time; ``widget`` is what a page displays.

    The figure is built on the first update with two points or more, while the page shows it:
    a bqplot figure laid out hidden (display none, zero width) stays blank when shown.
    """

    def __init__(self, title: str = "Database latency and job queue, last 24 hours") -> None:
        self.title = title
        self.figure: bq.Figure | None = None
        self.legend = w.HTML(legend_html([("database latency (ms)", LATENCY_COLOUR, "line"),
                                          ("queued jobs", QUEUE_COLOUR, "dashed")]))
        self.empty = w.Label("Not enough history yet: the worker records the checks every minute.")
        self.empty.add_class("vision-muted")
        self.widget = w.VBox([self.empty], layout=w.Layout(width="100%"))
        self.points = (0, 0)

    def _build(self) -> bq.Figure:
        self.x = bq.DateScale()
        self.y_ms = bq.LinearScale(min=0.0)
        self.y_jobs = bq.LinearScale(min=0.0)
        self.latency = bq.Lines(scales={"x": self.x, "y": self.y_ms}, colors=[LATENCY_COLOUR], stroke_width=2,
                                labels=["database latency (ms)"])
        self.queue = bq.Lines(scales={"x": self.x, "y": self.y_jobs}, colors=[QUEUE_COLOUR], stroke_width=2,
                              line_style="dashed", labels=["queued jobs"])
        self.x_axis = bq.Axis(scale=self.x, label="time (UTC)", tick_format="%H:%M", tick_style={"font-size": "11px"},
                              num_ticks=6)
        axes = [
            self.x_axis,
            bq.Axis(scale=self.y_ms, orientation="vertical", label="latency (ms)", label_offset="45px",
                    tick_format=".2~f"),
            bq.Axis(scale=self.y_jobs, orientation="vertical", side="right", label="queued jobs",
                    label_offset="40px", tick_format="d", num_ticks=5),
        ]
        return bq.Figure(marks=[self.latency, self.queue], axes=axes, title=self.title, animation_duration=0,
                         fig_margin={"top": 50, "bottom": 50, "left": 70, "right": 70},
                         layout=w.Layout(width="100%", min_width="420px", height="300px"),
                         title_style={"font-size": "15px"})

    def update(self, latency_at: Sequence[datetime], latency_ms: Sequence[float],
               queue_at: Sequence[datetime], queued: Sequence[float]) -> None:
        """Draw both series (each its own times, oldest first)."""
        self.points = (len(latency_at), len(queue_at))
        if len(latency_at) < 2 and len(queue_at) < 2:
            self.widget.children = (self.empty,)
            return

        def times(values: Sequence[datetime]) -> np.ndarray:
            return np.array([np.datetime64(v.replace(tzinfo=None), "ms") for v in values])

        if self.figure is None:
            self.figure = self._build()
        every = [*latency_at, *queue_at]
        span = (max(every) - min(every)).total_seconds()
        with self.figure.hold_sync():
            self.x_axis.tick_format = "%H:%M:%S" if span < 600 else "%H:%M" if span < 2 * 86400 else "%b %d %H:%M"
            for line, scale, at, values in ((self.latency, self.y_ms, latency_at, latency_ms),
                                            (self.queue, self.y_jobs, queue_at, queued)):
                line.visible = len(at) >= 2
                if len(at) >= 2:
                    ys = np.array([float(v) for v in values])
                    top = float(ys.max()) * 1.15
                    # whole jobs: at least 0..4 so the integer ticks do not repeat
                    scale.max = max(float(np.ceil(top)), 4.0) if scale is self.y_jobs else max(top, 1.0)
                    line.x, line.y = times(at), ys
        if self.widget.children != (self.figure, self.legend):
            self.widget.children = (self.figure, self.legend)

    def close(self) -> None:
        if self.figure is not None:
            close_figure(self.figure)
        for widget in (self.legend, self.empty, self.widget):
            widget.close()
