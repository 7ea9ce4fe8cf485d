"""Line charts as inline SVG text, for files that must draw without a script or an outside request.

Only numbers and escaped text go into the markup: every label passes through ``esc``
(``html.escape`` with quotes), so a feature named ``<img src=x onerror=…>`` is drawn as
those characters. Charts keep to what a drift report needs: one or more lines over a
sequence of windows, a dashed threshold line, marked points, a linear or log10 value axis.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Sequence

__all__ = ["esc", "Line", "line_chart"]

INK, MUTED, GRID, THRESHOLD, ALERT = "#101828", "#5b6577", "#dde3ea", "#8a4b00", "#b42318"
PALETTE = ("#1a56b8", "#e8710a", "#067647", "#7a2e9e", "#00707a", "#b42318")


def esc(text: object) -> str:
    """Text as it may appear in HTML or SVG markup (``<``, ``>``, ``&`` and both quotes escaped)."""
    return html.escape(str(text), quote=True)


@dataclass(frozen=True)
class Line:
    """One series: a value per window (None: no value there), and which points to mark."""

    name: str
    values: Sequence[float | None]
    marked: Sequence[bool] = field(default_factory=tuple)
    colour: str = PALETTE[0]


def label_of(window: str) -> str:
    """A window label as an axis shows it: the date of a window starting at midnight, else the label (cut)."""
    text = str(window)
    return text[:10] if text.endswith("T00:00:00") else text[:16]


def _fmt(x: float) -> str:
    if x == 0:
        return "0"
    if abs(x) >= 1000 or abs(x) < 0.01:
        return f"{x:.0e}".replace("e-0", "e-").replace("e+0", "e")
    return f"{x:.3g}"


def _ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step) * step
    return [round(start + i * step, 12) for i in range(int((hi - start) / step + 1e-9) + 1)]


def line_chart(title: str, x_labels: Sequence[str], lines: Sequence[Line], *, threshold: float | None = None,
               threshold_label: str = "threshold", y_label: str = "", log: bool = False, percent: bool = False,
               width: int = 760, height: int = 240) -> str:
    """An SVG line chart over ``x_labels`` (one per window) with an optional dashed threshold line.

    ``log`` draws the values on a log10 axis (p-values); ``percent`` labels the axis as shares.
    Marked points are drawn as larger red dots (a drifted window); the chart has a ``<title>``
    and an ``aria-label`` for screen readers.
    """
    left, right, top, bottom = 64, 34, 34, 52  # the right margin holds half of the last window's label
    pw, ph = width - left - right, height - top - bottom
    n = len(x_labels)

    def tr(v: float) -> float:
        return math.log10(max(v, 1e-300)) if log else v

    values = [tr(v) for line in lines for v in line.values if v is not None and math.isfinite(v)]
    if threshold is not None:
        values.append(tr(threshold))
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    if not log:
        lo = min(lo, 0.0)
    if percent:
        lo, hi = 0.0, max(hi, 1.0)
    if hi - lo < 1e-12:
        hi = lo + (1.0 if not log else 1.0)
    pad = (hi - lo) * 0.06
    lo, hi = (lo - pad if log else lo), hi + pad

    def x(i: int) -> float:
        return left + (pw * (i + 0.5) / n if n else pw / 2)

    def y(v: float) -> float:
        return top + ph * (1 - (tr(v) - lo) / (hi - lo))

    out = [f'<svg role="img" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" aria-label="{esc(title)}">', f"<title>{esc(title)}</title>",
           f'<text x="{left}" y="20" font-size="14" font-weight="600" fill="{INK}">{esc(title)}</text>']
    # value axis: grid lines and tick labels
    if log:
        ticks = [float(10 ** e) for e in range(math.ceil(lo), math.floor(hi) + 1)]
        step = max(1, math.ceil(len(ticks) / 5))
        ticks = ticks[::-1][::step][::-1]
    else:
        ticks = _ticks(lo, hi)
    for t in ticks:
        yy = y(t)
        label = f"{t:.0%}" if percent else _fmt(t)
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="{GRID}"/>')
        out.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" font-size="11" text-anchor="end" fill="{MUTED}">{esc(label)}</text>')
    if y_label:
        out.append(f'<text x="14" y="{top + ph / 2:.1f}" font-size="11" fill="{MUTED}" text-anchor="middle" '
                   f'transform="rotate(-90 14 {top + ph / 2:.1f})">{esc(y_label)}</text>')
    # window axis: as many labels as fit (~80 px each), the last one always
    every = max(1, math.ceil(n / max(2, pw // 80)))
    shown = [i for i in range(n) if i % every == 0 and (n - 1 - i >= every or i == n - 1)]
    if n and shown[-1] != n - 1:
        shown[-1] = n - 1
    for i in shown:
        out.append(f'<text x="{x(i):.1f}" y="{top + ph + 18}" font-size="11" text-anchor="middle" '
                   f'fill="{MUTED}">{esc(label_of(x_labels[i]))}</text>')
    out.append(f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" stroke="{MUTED}"/>')
    if threshold is not None:
        yy = y(threshold)
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="{THRESHOLD}" '
                   f'stroke-width="1.5" stroke-dasharray="6 4"/>')
        out.append(f'<text x="{left + pw - 4}" y="{yy - 5:.1f}" font-size="11" text-anchor="end" '
                   f'fill="{THRESHOLD}" stroke="#ffffff" stroke-width="3" paint-order="stroke">{esc(threshold_label)}</text>')
    # the lines, then their points (smaller when the windows are many)
    big, small = (4.5, 2.5) if n <= 40 else (3.0, 1.2)
    for line in lines:
        segments, current = [], []
        for i, v in enumerate(line.values):
            if v is None or not math.isfinite(v):
                if current:
                    segments.append(current)
                current = []
                continue
            current.append(f"{x(i):.1f},{y(v):.1f}")
        if current:
            segments.append(current)
        for seg in segments:
            out.append(f'<polyline fill="none" stroke="{line.colour}" stroke-width="2" points="{" ".join(seg)}"/>')
        for i, v in enumerate(line.values):
            if v is None or not math.isfinite(v):
                continue
            marked = i < len(line.marked) and line.marked[i]
            colour, r = (ALERT, big) if marked else (line.colour, small)
            out.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="{r}" fill="{colour}"><title>'
                       f'{esc(line.name)} · {esc(x_labels[i])}: {esc(_fmt(v) if not percent else f"{v:.0%}")}'
                       f'{" (drift)" if marked else ""}</title></circle>')
    # legend (several lines) and what a red dot means
    lx = left
    legend = [(line.name, line.colour) for line in lines] if len(lines) > 1 else []
    if any(any(line.marked) for line in lines):
        legend.append(("drift", ALERT))
    for name, colour in legend:
        out.append(f'<circle cx="{lx + 5}" cy="{height - 12}" r="4" fill="{colour}"/>')
        out.append(f'<text x="{lx + 13}" y="{height - 8}" font-size="11" fill="{INK}">{esc(name)}</text>')
        lx += 22 + 7 * min(len(name), 28)
    out.append("</svg>")
    return "".join(out)
