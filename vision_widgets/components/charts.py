"""bqplot chart builders: each figure is built once; ``update(...)`` only feeds its marks.

Axis tick labels, legends and tooltips are rendered by bqplot as SVG/DOM text (``textContent``),
so labels taken from data are shown as text, not HTML.

Two rules keep bqplot 0.13 quiet and honest:

- **Never draw at zero width.** A figure laid out while its tab is hidden has a width of 0, and
  every bar then gets ``width = bandwidth - padding < 0`` ("<rect> attribute width: A negative
  value is not valid", one per bar per redraw). The page feeds a chart only while it is shown
  (see ``views/model360.py``), and bars are never fed an empty domain.
- **Leave room for the title.** The y scale is pinned to ``[0, 1.15 × max]`` so the tallest bar
  stays clear of the title, and the x scale of a value axis gets a margin so no bar is clipped.
"""
from __future__ import annotations

from typing import Sequence

import bqplot as bq
import ipywidgets as w
import numpy as np

from vision_widgets.components.safe_html import SafeTable

TRAINING_COLOUR = "#2f6fdf"
PRODUCTION_COLOUR = "#e8710a"
DRIFT_COLOUR = "#c62828"
INTERVAL_COLOUR = "#37474f"
HEADROOM = 1.15
LEGEND_HEADROOM = 1.35  # the legend sits top right, inside the plot: keep the data below it


def _figure(marks, axes, title: str, height: str = "320px", left: int = 60, bottom: int = 60,
            legend: bool = False) -> bq.Figure:
    fig = bq.Figure(
        marks=marks, axes=axes, title=title, animation_duration=0,
        fig_margin={"top": 50, "bottom": bottom, "left": left, "right": 30},
        layout=w.Layout(width="100%", min_width="420px", height=height),
        title_style={"font-size": "15px"},
    )
    if legend:
        fig.legend_location = "top-right"
        fig.legend_style = {"stroke-width": 0, "fill": "white", "fill-opacity": 0.85}
    return fig


def close_figure(figure: w.Widget) -> None:
    """Close a figure and every widget it holds (marks, scales, axes, tooltips, layouts).

    ``views.base.close_tree`` follows a box's ``children`` only; a figure holds its parts in other
    traits, which stay open in the kernel unless closed here.
    """
    seen: set[int] = set()

    def walk(x: object) -> None:
        if not isinstance(x, w.Widget) or id(x) in seen:
            return
        seen.add(id(x))
        for name in x.keys:
            v = getattr(x, name, None)
            items = v.values() if isinstance(v, dict) else v if isinstance(v, (list, tuple)) else (v,)
            for item in items:
                walk(item)
        x.close()

    walk(figure)


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def step_outline(edges: Sequence[float], shares: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """The outline of a histogram drawn over bin ``edges`` (one more than ``shares``), from 0 to 0."""
    e = np.asarray(edges, dtype=float)
    s = np.asarray(shares, dtype=float)
    x = np.repeat(e, 2)
    y = np.concatenate([[0.0], np.repeat(s, 2), [0.0]])
    return x, y


def drawn_edges(edges: Sequence[float]) -> np.ndarray:
    """Where to draw the bins of a profile whose outer bins are open (``< e0`` and ``≥ eN``).

    The ``n`` inner edges become ``n + 2``: each open bin is drawn as wide as its inner
    neighbour (one grid step), so its share reads on the same footing as the others; with a
    single edge the bins are drawn one unit (or 10 % of the value) wide.
    """
    e = np.asarray(edges, dtype=float)
    if e.size == 0:
        return np.array([0.0, 1.0])
    if e.size == 1:
        width = max(abs(e[0]) * 0.1, 1.0)
        return np.array([e[0] - width, e[0], e[0] + width])
    return np.concatenate([[e[0] - (e[1] - e[0])], e, [e[-1] + (e[-1] - e[-2])]])


class DistributionChart:
    """Training vs production on the feature's own axis.

    Numeric features: the two histograms as translucent areas over the real bin edges (value
    axis), with a dot on each bin whose tooltip gives the bin and its exact share. Categorical
    features: grouped bars, categories sorted by share (the largest first), categories seen on
    one side only and the pooled "(other)" included.
    """

    def __init__(self, title: str = "Distribution") -> None:
        self.y = bq.LinearScale(min=0.0, max=1.0)
        # -- numeric: value axis --
        self.value = bq.LinearScale()
        self.areas = {}
        self.points = {}
        for key, colour, name in (("training", TRAINING_COLOUR, "Training"),
                                  ("production", PRODUCTION_COLOUR, "Production")):
            self.areas[key] = bq.Lines(
                x=[0.0, 1.0], y=[0.0, 0.0], scales={"x": self.value, "y": self.y}, colors=[colour],
                fill="bottom", fill_colors=[colour], fill_opacities=[0.22], stroke_width=2, labels=[name],
                display_legend=True)
            self.points[key] = bq.Scatter(
                x=[0.5], y=[0.0], scales={"x": self.value, "y": self.y}, colors=[colour], default_size=28,
                names=[""], display_names=False,
                tooltip=bq.Tooltip(fields=["name"], labels=[name]))
        self.value_axis = bq.Axis(scale=self.value, label="value", tick_format=".3~g", label_offset="36px")
        # -- categorical: grouped bars --
        self.category = bq.OrdinalScale()
        self.bars = bq.Bars(x=["–"], y=[[0.0], [0.0]], scales={"x": self.category, "y": self.y}, type="grouped",
                            colors=[TRAINING_COLOUR, PRODUCTION_COLOUR], labels=["Training", "Production"],
                            padding=0.25, display_legend=True,
                            tooltip=bq.Tooltip(fields=["x", "y"], formats=["", ".2%"], labels=["category", "share"]))
        self.category_axis = bq.Axis(scale=self.category, tick_rotate=-25, tick_style={"font-size": "12px"},
                                     label="category", label_offset="60px")
        self.share_axis = bq.Axis(scale=self.y, orientation="vertical", tick_format=".0%", label="share of rows",
                                  label_offset="45px")
        # Its own axis, not share_axis with another tick_format: bqplot 0.13 keeps drawing an axis's
        # first format after the trait changes (densities of 0.014 came out as "1%").
        self.density_axis = bq.Axis(scale=self.y, orientation="vertical", tick_format=".2~g",
                                    label="share of rows per unit", label_offset="45px")
        self.kind = "numeric"
        self.figure = _figure(self._numeric_marks(), [self.value_axis, self.density_axis], title, height="360px",
                              bottom=70, left=70, legend=True)

    def close(self) -> None:
        """Close the figure and the marks and axes of the other kind, which it does not hold now."""
        for part in (self.figure, self.bars, self.category_axis, self.share_axis, self.density_axis,
                     self.value_axis, *self.areas.values(), *self.points.values()):
            close_figure(part)

    def _numeric_marks(self) -> list:
        return [self.areas["training"], self.areas["production"], self.points["training"], self.points["production"]]

    def update(self, title: str, labels: Sequence[str], training: Sequence[float], production: Sequence[float],
               edges: Sequence[float] | None = None, unit: str = "value") -> None:
        """Show one feature.

        ``edges`` (inner bin edges, one fewer than the shares) makes it numeric: drawn on the value
        axis, labelled ``unit``. Without it the shares are per category in ``labels``.
        """
        training = np.asarray(list(training), dtype=float)
        production = np.asarray(list(production), dtype=float)
        top = float(np.nanmax(np.concatenate([training, production, [0.0]])))
        numeric = edges is not None and training.size == len(edges) + 1 and training.size > 0
        with self.figure.hold_sync():
            # An all-zero chart keeps [0, 1]: an empty domain hangs bqplot 0.13.
            self.y.min, self.y.max = 0.0, (min(1.0, top * LEGEND_HEADROOM) if top > 0 else 1.0)
            self.figure.title = title
            if numeric:
                self._numeric(list(labels), training, production, np.asarray(edges, dtype=float), unit)
            else:
                self._categorical(list(labels), training, production)

    def _numeric(self, labels, training, production, edges, unit) -> None:
        drawn = drawn_edges(edges)
        widths = np.diff(drawn)
        centres = (drawn[:-1] + drawn[1:]) / 2
        span = drawn[-1] - drawn[0]
        self.value.min, self.value.max = float(drawn[0] - 0.02 * span), float(drawn[-1] + 0.02 * span)
        # Profiles' bins are quantile-like (narrow where values are dense): heights are densities,
        # so each bin's *area* is its share of rows and a wide bin does not look like a peak.
        dens = {key: shares / widths for key, shares in (("training", training), ("production", production))}
        top = float(max(np.max(dens["training"]), np.max(dens["production"]), 0.0))
        self.y.min, self.y.max = 0.0, (top * LEGEND_HEADROOM if top > 0 else 1.0)
        for key, shares in (("training", training), ("production", production)):
            x, y = step_outline(drawn, dens[key])
            self.areas[key].x, self.areas[key].y = x, y
            self.points[key].x, self.points[key].y = centres, dens[key]
            self.points[key].names = [f"{label}: {share:.2%} of rows" for label, share in zip(labels, shares)]
        self.value_axis.label = unit
        if self.kind != "numeric":
            self.figure.marks = self._numeric_marks()
            self.figure.axes = [self.value_axis, self.density_axis]
            self.kind = "numeric"

    def _categorical(self, labels, training, production) -> None:
        if not labels or training.size != len(labels):
            labels, training, production = ["–"], np.zeros(1), np.zeros(1)
        if production.size != training.size:
            production = np.zeros_like(training)
        pooled = [i for i, label in enumerate(labels) if label == "(other)"]
        order = sorted((i for i in range(len(labels)) if i not in pooled),
                       key=lambda i: (-max(training[i], production[i]), labels[i])) + pooled
        self.bars.x = [labels[i] for i in order]
        self.bars.y = np.vstack([training[order], production[order]])
        if self.kind != "categorical":
            self.figure.marks = [self.bars]
            self.figure.axes = [self.category_axis, self.share_axis]
            self.kind = "categorical"


class CoefficientChart:
    """Surrogate coefficients as horizontal bars sorted by size, with their 95% intervals,
    and the numbers (coefficient, standard error, interval) in a table with the chart."""

    ROW_PX = 30

    def __init__(self, title: str = "Coefficients and 95% intervals") -> None:
        self.terms_scale = bq.OrdinalScale(reverse=True)
        self.value = bq.LinearScale()
        self.bars = bq.Bars(
            x=["–"], y=[0.0], scales={"x": self.terms_scale, "y": self.value}, orientation="horizontal",
            colors=[TRAINING_COLOUR], padding=0.35,
            tooltip=bq.Tooltip(fields=["x", "y"], formats=["", ".4g"], labels=["term", "coefficient"]))
        self.errors = bq.Lines(
            x=[[0.0, 0.0]], y=[["–", "–"]], scales={"x": self.value, "y": self.terms_scale},
            colors=[INTERVAL_COLOUR], stroke_width=2)
        self.zero = bq.Lines(x=[0.0, 0.0], y=[0.0, 1.0], scales={"x": self.value, "y": bq.LinearScale(min=0, max=1)},
                             colors=["#90a4ae"], line_style="dashed", stroke_width=1)
        ax_terms = bq.Axis(scale=self.terms_scale, orientation="vertical", tick_style={"font-size": "12px"})
        ax_value = bq.Axis(scale=self.value, label="change in the response per 1 SD of the feature",
                           tick_format=".2~g", num_ticks=6, label_offset="36px")
        self.figure = _figure([self.zero, self.bars, self.errors], [ax_terms, ax_value], title, height="300px",
                              left=170, bottom=70)
        self.table = SafeTable(("Term", "Coefficient", "Std. error", "95% interval"),
                               empty="No coefficients.")
        self.table.layout.max_width = "820px"
        # Under the chart, not squeezed beside it: the page is ~1,100 px wide and term names are
        # long, so side by side left both unreadable (decisions.md, "Model 360 charts").
        self.widget = w.VBox([self.figure, self.table], layout=w.Layout(width="100%", grid_gap="12px"))
        self.order: tuple[str, ...] = ()

    def close(self) -> None:
        close_figure(self.widget)

    def update(self, terms: Sequence[str], coefficients: Sequence[float], variances: Sequence[float]) -> None:
        coef = np.asarray(list(coefficients), dtype=float)
        se = np.sqrt(np.maximum(np.asarray(list(variances), dtype=float), 0.0))
        terms = list(terms)
        order = sorted(range(len(terms)), key=lambda i: -abs(coef[i]))
        self.order = tuple(terms[i] for i in order)
        if not terms:
            names, c, h = ["–"], np.zeros(1), np.zeros(1)
        else:
            names, c, h = list(self.order), coef[order], 1.96 * se[order]
        lo, hi = c - h, c + h
        extent = float(max(np.max(np.abs(lo)), np.max(np.abs(hi)), 1e-9))
        with self.figure.hold_sync():
            self.value.min, self.value.max = -extent * 1.1, extent * 1.1
            self.figure.layout.height = f"{max(220, 110 + self.ROW_PX * len(names))}px"
            longest = max(len(str(t)) for t in names)
            self.figure.fig_margin = {**self.figure.fig_margin, "left": int(min(360, 24 + 7.2 * longest))}
            self.bars.x = names
            self.bars.y = c
            self.bars.colors = [TRAINING_COLOUR if v >= 0 else PRODUCTION_COLOUR for v in c]
            self.errors.x = np.column_stack([lo, hi])
            self.errors.y = [[t, t] for t in names]
        self.table.update(
            (terms[i], _fmt(coef[i]), _fmt(se[i]), f"{_fmt(coef[i] - 1.96 * se[i])} to {_fmt(coef[i] + 1.96 * se[i])}")
            for i in order)


class DriftHistoryChart:
    """Share of drifted features per production window, with the dataset threshold."""

    def __init__(self, title: str = "Drift over time (share of drifted features)") -> None:
        self.x = bq.OrdinalScale()
        self.y = bq.LinearScale(min=0.0, max=1.0)
        self.line = bq.Lines(x=["–"], y=[0.0], scales={"x": self.x, "y": self.y}, colors=[PRODUCTION_COLOUR],
                             marker="circle", stroke_width=2, labels=["drifted share"], display_legend=True,
                             tooltip=bq.Tooltip(fields=["x", "y"], formats=["", ".0%"],
                                                labels=["window", "drifted share"]))
        self.threshold = bq.Lines(x=["–"], y=[0.5], scales={"x": self.x, "y": self.y}, colors=[DRIFT_COLOUR],
                                  line_style="dashed", labels=["dataset-drift threshold"], display_legend=True)
        ax_x = bq.Axis(scale=self.x, tick_rotate=-30, tick_style={"font-size": "11px"}, label="production window",
                       label_offset="55px")
        ax_y = bq.Axis(scale=self.y, orientation="vertical", tick_format=".0%", label="features drifted",
                       label_offset="45px")
        self.figure = _figure([self.line, self.threshold], [ax_x, ax_y], title, height="300px", bottom=80, left=70,
                              legend=True)

    def close(self) -> None:
        close_figure(self.figure)

    def update(self, labels: Sequence[str], shares: Sequence[float], threshold: float) -> None:
        labels = list(labels) or ["–"]
        shares = list(shares) or [0.0]
        with self.figure.hold_sync():
            self.line.x = labels
            self.line.y = np.asarray(shares, dtype=float)
            self.threshold.x = labels
            self.threshold.y = np.full(len(labels), float(threshold))


def legend_html(entries: Sequence[tuple[str, str, str]]) -> str:
    """A legend row under a chart: ``(name, colour, kind)`` with kind ``line``, ``dashed`` or ``ring``.

    Under the figure, not inside it: bqplot's legend sits over the plot and hid the points it
    names once there were more than three series. Names come from data: escaped.
    """
    from vision_widgets.components.safe_html import escape

    marks = {
        "line": "display:inline-block;width:18px;height:0;border-top:3px solid {c};vertical-align:middle",
        "dashed": "display:inline-block;width:18px;height:0;border-top:2px dashed {c};vertical-align:middle",
        "ring": "display:inline-block;width:9px;height:9px;border:2px solid {c};border-radius:50%;"
                "vertical-align:middle",
    }
    items = "".join(f'<span class="vision-legend-item" style="margin-right:16px;white-space:nowrap">'
                    f'<span style="{marks[kind].format(c=escape(colour))}"></span> {escape(name)}</span> '
                    for name, colour, kind in entries)
    return f'<div class="vision-legend" style="line-height:1.8;padding-left:70px">{items}</div>'


#: Line colours for several series: distinguishable, and none of them the threshold's red.
SERIES_COLOURS = ("#2f6fdf", "#e8710a", "#2e7d32", "#8e24aa", "#00838f", "#6d4c41", "#f9a825", "#5c6bc0")


def _marks_of(labels: Sequence[str], values: np.ndarray, flags: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The points of ``values`` (rows: series) where ``flags`` is set, as (x labels, y values)."""
    rows, cols = np.nonzero(flags & np.isfinite(values))
    return [labels[c] for c in cols], values[rows, cols]


class MultiLineChart:
    """Several series over the same ordinal x (windows), a threshold line, and flagged points marked.

    One line per series (a feature's drift score per window, say), the threshold dashed in red,
    and a red ring on every point that is flagged (a window where that feature drifted). A
    missing value (``None``) leaves a gap. ``cap``: values above it are drawn at it (one huge
    value would flatten every other line); the tooltip still says the true value.
    """

    def __init__(self, title: str = "", y_label: str = "", x_label: str = "production window",
                 y_format: str = ".2~g", cap: float | None = None) -> None:
        self.cap = cap
        self.x = bq.OrdinalScale()
        self.y = bq.LinearScale(min=0.0, max=1.0)
        self.lines = bq.Lines(x=["–"], y=[0.0], scales={"x": self.x, "y": self.y}, colors=list(SERIES_COLOURS),
                              stroke_width=2, marker="circle", marker_size=24, labels=["–"])
        self.threshold = bq.Lines(x=["–"], y=[1.0], scales={"x": self.x, "y": self.y}, colors=[DRIFT_COLOUR],
                                  line_style="dashed", stroke_width=1.5, labels=["threshold"])
        self.flagged = bq.Scatter(x=["–"], y=[0.0], scales={"x": self.x, "y": self.y}, colors=[DRIFT_COLOUR],
                                  fill=False, stroke=DRIFT_COLOUR, stroke_width=2.5, default_size=110,
                                  names=[""], display_names=False, labels=["drifted"],
                                  tooltip=bq.Tooltip(fields=["name"], labels=["drifted"]))
        self.x_axis = bq.Axis(scale=self.x, tick_rotate=-30, tick_style={"font-size": "11px"}, label=x_label,
                              label_offset="55px")
        self.y_axis = bq.Axis(scale=self.y, orientation="vertical", tick_format=y_format, label=y_label,
                              label_offset="45px")
        self.figure = _figure([self.threshold, self.lines, self.flagged], [self.x_axis, self.y_axis], title,
                              height="340px", bottom=80, left=70)
        self.legend = w.HTML("")
        self.widget = w.VBox([self.figure, self.legend], layout=w.Layout(width="100%"))
        #: what was drawn last: {series name: values (uncapped)}; the x labels
        self.series: dict[str, tuple[float | None, ...]] = {}
        self.labels: tuple[str, ...] = ()

    def update(self, labels: Sequence[str], series: dict[str, Sequence[float | None]],
               flags: dict[str, Sequence[bool]] | None = None, threshold: float = 1.0,
               title: str | None = None) -> None:
        """Draw ``series`` (name -> one value per label); ``flags`` (name -> one bool per label) are ringed."""
        self.labels = tuple(labels)
        self.series = {name: tuple(values) for name, values in series.items()}
        labels = list(labels) or ["–"]
        names = list(series) or ["–"]
        values = np.array([[np.nan if v is None else float(v) for v in series[n]] for n in series], dtype=float) \
            if series else np.zeros((1, len(labels)))
        if values.shape[1] != len(labels):
            values = np.full((len(names), len(labels)), np.nan)
        shown = np.minimum(values, self.cap) if self.cap is not None else values
        flag_array = np.array([[bool(b) for b in (flags or {}).get(n, ())] or [False] * len(labels) for n in names])
        if flag_array.shape != shown.shape:
            flag_array = np.zeros(shown.shape, dtype=bool)
        fx, fy = _marks_of(labels, shown, flag_array)
        fnames = [f"{names[r]} in {labels[c]}: {values[r, c]:.3g}"
                  for r, c in zip(*np.nonzero(flag_array & np.isfinite(shown)))]
        finite = shown[np.isfinite(shown)]
        top = max(float(finite.max()) if finite.size else 0.0, float(threshold)) * HEADROOM
        with self.figure.hold_sync():
            if title is not None:
                self.figure.title = title
            self.y.min, self.y.max = 0.0, max(top, 1e-9)
            # bqplot squeezes a (series, 1) array into one line of several points: with a single
            # window there is no line to draw (the threshold and the rings still show).
            self.lines.visible = len(labels) > 1
            self.lines.x = labels
            self.lines.y = shown if len(labels) > 1 else np.zeros(1)
            self.lines.labels = names
            self.lines.colors = [SERIES_COLOURS[i % len(SERIES_COLOURS)] for i in range(len(names))]
            self.threshold.x = labels
            self.threshold.y = np.full(len(labels), float(threshold))
            # An empty scatter hangs bqplot 0.13's ordinal domain: keep one point, hidden.
            self.flagged.x, self.flagged.y = (fx, fy) if fx else ([labels[0]], [0.0])
            self.flagged.names = fnames or [""]
            self.flagged.visible = bool(fx)
        self.legend.value = legend_html(
            [(n, SERIES_COLOURS[i % len(SERIES_COLOURS)], "line") for i, n in enumerate(series)]
            + [("threshold", DRIFT_COLOUR, "dashed"), ("drifted", DRIFT_COLOUR, "ring")])


class ShareChart(DriftHistoryChart):
    """The share of drifted features per window against the dataset threshold, drifted windows ringed."""

    def __init__(self, title: str = "Share of drifted features per window") -> None:
        super().__init__(title)
        self.flagged = bq.Scatter(x=["–"], y=[0.0], scales={"x": self.x, "y": self.y}, colors=[DRIFT_COLOUR],
                                  fill=False, stroke=DRIFT_COLOUR, stroke_width=2.5, default_size=110,
                                  labels=["dataset drift"], visible=False)
        self.figure.marks = [self.threshold, self.line, self.flagged]
        for mark in self.figure.marks:
            mark.display_legend = False
        self.legend = w.HTML(legend_html([("share of features drifted", PRODUCTION_COLOUR, "line"),
                                          ("dataset-drift threshold", DRIFT_COLOUR, "dashed"),
                                          ("dataset drift", DRIFT_COLOUR, "ring")]))
        self.widget = w.VBox([self.figure, self.legend], layout=w.Layout(width="100%"))

    def update(self, labels: Sequence[str], shares: Sequence[float], threshold: float,
               drifted: Sequence[bool] = ()) -> None:
        super().update(labels, shares, threshold)
        marked = [(x, s) for x, s, d in zip(labels, shares, drifted) if d]
        top = max([float(s) for s in shares] + [float(threshold), 0.0])
        with self.figure.hold_sync():
            self.y.max = 1.0 if top <= 0.9 else HEADROOM
            if marked:
                self.flagged.x, self.flagged.y = [m[0] for m in marked], [float(m[1]) for m in marked]
            else:
                self.flagged.x, self.flagged.y = [self.line.x[0]], [0.0]
            self.flagged.visible = bool(marked)


ESTIMATE_COLOUR = "#2f6fdf"
REALISED_COLOUR = "#2e7d32"
BAND_COLOUR = "#90a4ae"


class PerformanceChart:
    """Estimated vs realised performance per window, the reference band, and alerts ringed.

    The band (from the reference's chunk-to-chunk spread) is a grey area; the estimate a blue
    line, the realised value (where labels exist) a green one; a window whose estimate leaves
    the band gets a red ring.
    """

    def __init__(self, title: str = "Estimated vs realised performance") -> None:
        self.x = bq.OrdinalScale()
        self.y = bq.LinearScale(min=0.0, max=1.0)
        scales = {"x": self.x, "y": self.y}
        self.band = bq.Lines(x=["–"], y=[[0.0], [1.0]], scales=scales, colors=[BAND_COLOUR, BAND_COLOUR],
                             fill="between", fill_colors=[BAND_COLOUR], fill_opacities=[0.18], stroke_width=1)
        self.estimated = bq.Lines(x=["–"], y=[0.0], scales=scales, colors=[ESTIMATE_COLOUR], stroke_width=2,
                                  marker="circle", marker_size=24,
                                  tooltip=bq.Tooltip(fields=["x", "y"], formats=["", ".3f"], labels=["window", "estimated"]))
        self.realised = bq.Lines(x=["–"], y=[0.0], scales=scales, colors=[REALISED_COLOUR], stroke_width=2,
                                 marker="square", marker_size=24,
                                 tooltip=bq.Tooltip(fields=["x", "y"], formats=["", ".3f"], labels=["window", "realised"]))
        self.alerts = bq.Scatter(x=["–"], y=[0.0], scales=scales, colors=[DRIFT_COLOUR], fill=False,
                                 stroke=DRIFT_COLOUR, stroke_width=2.5, default_size=110, visible=False)
        self.y_axis = bq.Axis(scale=self.y, orientation="vertical", tick_format=".2f", label="metric",
                              label_offset="45px")
        x_axis = bq.Axis(scale=self.x, tick_rotate=-30, tick_style={"font-size": "11px"}, label="production window",
                         label_offset="55px")
        self.figure = _figure([self.band, self.estimated, self.realised, self.alerts], [x_axis, self.y_axis], title,
                              height="320px", bottom=80, left=70)
        self.legend = w.HTML(legend_html([("estimated (before labels)", ESTIMATE_COLOUR, "line"),
                                          ("realised (labels)", REALISED_COLOUR, "line"),
                                          ("reference band", BAND_COLOUR, "dashed"),
                                          ("estimate outside the band", DRIFT_COLOUR, "ring")]))
        self.widget = w.VBox([self.figure, self.legend], layout=w.Layout(width="100%"))

    def update(self, labels: Sequence[str], estimated: Sequence[float | None], realised: Sequence[float | None],
               band: tuple[float, float] | None, alerts: Sequence[bool], metric: str) -> None:
        labels = list(labels) or ["–"]
        n = len(labels)

        def arr(values: Sequence[float | None]) -> np.ndarray:
            out = np.array([np.nan if v is None else float(v) for v in values], dtype=float)
            return out if out.size == n else np.full(n, np.nan)

        est, real = arr(estimated), arr(realised)
        seen = np.concatenate([est[np.isfinite(est)], real[np.isfinite(real)],
                               np.asarray(band if band else (), dtype=float)])
        lo = float(seen.min()) if seen.size else 0.0
        hi = float(seen.max()) if seen.size else 1.0
        pad = max(0.02, (hi - lo) * 0.15)
        marked = [(labels[i], est[i]) for i, a in enumerate(alerts) if a and i < n and np.isfinite(est[i])]
        with self.figure.hold_sync():
            self.figure.title = f"{metric}: estimated vs realised per window"
            self.y_axis.label = metric
            self.y.min, self.y.max = max(0.0, lo - pad), min(1.0, hi + pad)
            self.band.visible = band is not None and n > 1
            self.band.x = labels
            self.band.y = np.vstack([np.full(n, band[0] if band else 0.0), np.full(n, band[1] if band else 0.0)]) \
                if n > 1 else np.zeros(1)
            # bqplot squeezes a one-point line away (charts: MultiLineChart): lines need two windows
            for line, values in ((self.estimated, est), (self.realised, real)):
                line.visible = n > 1 and bool(np.isfinite(values).any())
                line.x = labels
                line.y = values if n > 1 else np.zeros(1)
            self.alerts.x, self.alerts.y = ([m[0] for m in marked], [m[1] for m in marked]) if marked \
                else ([labels[0]], [0.0])
            self.alerts.visible = bool(marked)
