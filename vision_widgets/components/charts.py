"""bqplot chart builders: each figure is built once; ``update(...)`` only feeds its marks.

Axis tick labels and legends are rendered by bqplot as SVG text nodes
(``textContent``), so labels taken from data are shown as text, not HTML.
"""
from __future__ import annotations

from typing import Sequence

import bqplot as bq
import ipywidgets as w
import numpy as np

TRAINING_COLOUR = "#5b8def"
PRODUCTION_COLOUR = "#f28e2b"
DRIFT_COLOUR = "#d62728"


def _figure(marks, axes, title: str, height: str = "320px", left: int = 60, bottom: int = 60) -> bq.Figure:
    return bq.Figure(
        marks=marks, axes=axes, title=title, animation_duration=0,
        fig_margin={"top": 40, "bottom": bottom, "left": left, "right": 20},
        layout=w.Layout(width="100%", height=height),
    )


class DistributionChart:
    """Training vs production shares per bin or category, side by side.

    Two 1-D ``Bars`` marks aligned left and right of each category: bqplot
    0.13 draws nothing for a ``grouped`` mark fed a 2-D array, and a scale
    with only ``min`` set stays empty, so neither is used here.
    """

    def __init__(self, title: str = "Distribution") -> None:
        self.x = bq.OrdinalScale()
        self.y = bq.LinearScale()
        common = {"scales": {"x": self.x, "y": self.y}, "padding": 0.2, "display_legend": True}
        self.training = bq.Bars(x=["–"], y=[0.0], colors=[TRAINING_COLOUR], align="left", labels=["Training"], **common)
        self.production = bq.Bars(x=["–"], y=[0.0], colors=[PRODUCTION_COLOUR], align="right",
                                  labels=["Production"], **common)
        ax_x = bq.Axis(scale=self.x, tick_rotate=-30, tick_style={"font-size": "10px"})
        ax_y = bq.Axis(scale=self.y, orientation="vertical", tick_format=".0%", label="share of rows")
        self.figure = _figure([self.training, self.production], [ax_x, ax_y], title, bottom=80)

    def update(self, title: str, labels: Sequence[str], training: Sequence[float], production: Sequence[float]) -> None:
        labels = list(labels) or ["–"]
        training = np.asarray(list(training) or [0.0], dtype=float)
        production = np.asarray(list(production) or [0.0], dtype=float)
        empty = not (np.nanmax(np.concatenate([training, production])) > 0)
        with self.figure.hold_sync():
            # All-zero bars give the scale an empty domain, on which bqplot 0.13 hangs the
            # page; pin it to [0, 1] then, and let it follow the data otherwise.
            self.y.min, self.y.max = (0.0, 1.0) if empty else (None, None)
            self.figure.title = title
            self.training.x = labels
            self.training.y = training
            self.production.x = labels
            self.production.y = production


class CoefficientChart:
    """Surrogate coefficients as bars, with ±1.96 standard-error bars from their variance."""

    def __init__(self, title: str = "Linear surrogate coefficients (±95% interval)") -> None:
        self.x = bq.OrdinalScale()
        self.y = bq.LinearScale()
        self.bars = bq.Bars(x=["–"], y=[0.0], scales={"x": self.x, "y": self.y}, colors=[TRAINING_COLOUR], padding=0.3)
        self.errors = bq.Lines(
            x=[["–", "–"]], y=[[0.0, 0.0]], scales={"x": self.x, "y": self.y}, colors=["#333333"], stroke_width=2,
        )
        ax_x = bq.Axis(scale=self.x, tick_rotate=-35, tick_style={"font-size": "10px"})
        ax_y = bq.Axis(scale=self.y, orientation="vertical", label="coefficient (standardised)")
        self.figure = _figure([self.bars, self.errors], [ax_x, ax_y], title, height="360px", bottom=110)

    def update(self, terms: Sequence[str], coefficients: Sequence[float], variances: Sequence[float]) -> None:
        coef = np.asarray(coefficients, dtype=float)
        half = 1.96 * np.sqrt(np.maximum(np.asarray(variances, dtype=float), 0.0))
        terms = list(terms) or ["–"]
        if coef.size == 0:
            coef, half = np.zeros(1), np.zeros(1)
        with self.figure.hold_sync():
            self.bars.x = terms
            self.bars.y = coef
            self.errors.x = [[t, t] for t in terms]
            self.errors.y = np.column_stack([coef - half, coef + half])


class DriftHistoryChart:
    """Share of drifted features per production window, with the dataset threshold."""

    def __init__(self, title: str = "Drift over time (share of drifted features)") -> None:
        self.x = bq.OrdinalScale()
        self.y = bq.LinearScale(min=0.0, max=1.0)
        self.line = bq.Lines(x=["–"], y=[0.0], scales={"x": self.x, "y": self.y}, colors=[PRODUCTION_COLOUR],
                             marker="circle", stroke_width=2, labels=["drift share"])
        self.threshold = bq.Lines(x=["–"], y=[0.5], scales={"x": self.x, "y": self.y}, colors=[DRIFT_COLOUR],
                                  line_style="dashed", labels=["threshold"])
        ax_x = bq.Axis(scale=self.x, tick_rotate=-30, tick_style={"font-size": "10px"})
        ax_y = bq.Axis(scale=self.y, orientation="vertical", tick_format=".0%")
        self.figure = _figure([self.line, self.threshold], [ax_x, ax_y], title, height="280px", bottom=70)

    def update(self, labels: Sequence[str], shares: Sequence[float], threshold: float) -> None:
        labels = list(labels) or ["–"]
        shares = list(shares) or [0.0]
        with self.figure.hold_sync():
            self.line.x = labels
            self.line.y = np.asarray(shares, dtype=float)
            self.threshold.x = labels
            self.threshold.y = np.full(len(labels), float(threshold))
