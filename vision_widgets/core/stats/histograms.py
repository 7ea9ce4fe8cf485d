"""Training-vs-production distributions of one feature on bins both profiles share.

Each profile pools its sparse bins separately (privacy guard), so the two may
keep different edges; they are compared on the edges both kept, exactly as the
drift tests do (``drift.align``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vision_widgets.client import CategoryStats, NumericStats
from vision_widgets.core.stats.drift import _pair as align


@dataclass(frozen=True)
class Overlay:
    feature: str
    kind: str
    labels: tuple[str, ...]
    reference_share: tuple[float, ...]
    current_share: tuple[float, ...]
    #: numeric features: the inner bin edges (one fewer than the shares; the outer bins are open)
    edges: tuple[float, ...] | None = None


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def bin_labels(edges: np.ndarray) -> tuple[str, ...]:
    """Readable labels for open-ended bins: ``< e0``, ``e0–e1``, …, ``≥ eN``."""
    if edges.size == 0:
        return ("all values",)
    inner = [f"{_fmt(a)}–{_fmt(b)}" for a, b in zip(edges[:-1], edges[1:])]
    return (f"< {_fmt(edges[0])}", *inner, f"≥ {_fmt(edges[-1])}")


def _shares(counts: np.ndarray) -> tuple[float, ...]:
    total = counts.sum()
    return tuple(float(c) / total if total else 0.0 for c in counts)


def coarsen(edges: np.ndarray, *counts: np.ndarray, max_bins: int) -> tuple[np.ndarray, ...]:
    """Merge runs of adjacent bins so at most ``max_bins`` remain (a chart, not a test, reads them).

    ``edges`` has one fewer entry than each ``counts`` (the outer bins are open).
    """
    n = counts[0].size
    if n <= max_bins:
        return (edges, *counts)
    group = -(-n // max_bins)  # ceil
    starts = np.arange(0, n, group)
    kept_edges = edges[starts[1:] - 1]
    return (kept_edges, *(np.add.reduceat(c, starts) for c in counts))


def overlay(feature: str, reference: NumericStats | CategoryStats,
            current: NumericStats | CategoryStats | None, max_bins: int = 20) -> Overlay:
    """Shares per bin (numeric, at most ``max_bins``) or per category of the reference and the current profile."""
    pair = align(feature, reference, current if current is not None else reference)
    ref, cur = np.asarray(pair.ref), np.asarray(pair.cur)
    if pair.edges is not None and isinstance(reference, NumericStats):
        edges, ref, cur = coarsen(np.asarray(pair.edges), ref, cur, max_bins=max_bins)
        labels = bin_labels(edges)
        kept = tuple(float(e) for e in edges)
    else:
        labels, kept = tuple(pair.labels), None
    cur_shares = _shares(cur) if current is not None else tuple(0.0 for _ in labels)
    return Overlay(feature, reference.kind, labels, _shares(ref), cur_shares, kept)
