"""Vision AI client: profile a dataset where it lives and send only aggregates.

This is ONE self-contained file. Its only dependencies are the standard
library, numpy and pandas (pyarrow optional, for Parquet), so a security
team can audit exactly what leaves a client's machine. The server imports
this same file, so a profile computed on a client's machine and one computed
on the server are identical by construction.

What a profile holds (see ``privacy_report`` and ``docs/statistics.md``):
per column its type, row count, missing count, mean and variance, a
histogram over fixed bin edges (numeric) or a count per frequent value
(categorical); class balance, confusion counts and score histograms for the
target and prediction; the coefficients of a linear surrogate model. Never a
raw row, an exact minimum or maximum, or any value, bin, class or window
backed by fewer than ``k`` rows: those are pooled when the profile is
serialised with ``to_json``.

Public API: ``Roles``, ``profile``, ``Profile`` (``to_json``/``from_json``),
``merge``, ``privacy_report``, ``Surrogate``, ``VisionError``, ``InvalidInput``.
"""
from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import os
import queue
import re
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "VisionError",
    "InvalidInput",
    "MalformedJSON",
    "load_json",
    "Roles",
    "Profile",
    "NumericStats",
    "CategoryStats",
    "ModelStats",
    "Surrogate",
    "profile",
    "merge",
    "privacy_report",
    "Noise",
    "clip_bounds",
    "rebin",
    "coarsen",
    "SCHEMA_VERSION",
    "DISCRETE_MAX_VALUES",
]


try:  # inside the package: one error hierarchy with the server (stdlib-only module)
    from vision_widgets.core.errors import InvalidInput, MalformedJSON, VisionError
except ImportError:  # this file alone on a client's machine
    class VisionError(Exception):  # type: ignore[no-redef]
        """Root of every error Vision AI raises on purpose."""

    class InvalidInput(VisionError, ValueError):  # type: ignore[no-redef]
        """The data or request is not usable; the message says what to change."""

        def __init__(self, message: str, field: str | None = None) -> None:
            super().__init__(message)
            self.field = field

    class MalformedJSON(InvalidInput):  # type: ignore[no-redef]
        """The text is not JSON at all (or nests too deep): nothing in it could be read."""


# --------------------------------------------------------------------------------------
# Constants (each one is recorded in docs/statistics.md with the reason for its value)
# --------------------------------------------------------------------------------------

SCHEMA = "vision.profile"
#: Bumped whenever the JSON layout changes; ``from_json`` refuses other versions.
SCHEMA_VERSION = 1
DEFAULT_K = 10
#: Quantile bins a reference derives for each numeric column (before pooling small bins).
DEFAULT_BINS = 100
#: Reference edges are snapped to a grid of this many cells between the outer edges: bin
#: lookup becomes one multiply and a ``bincount`` (no binary search), and no edge is an
#: exact data value.
GRID_CELLS = 1 << 12
#: An integer-valued reference column with at most this many distinct values (in the edge
#: sample) gets a discrete grid: one bin per value, so counts per value are exact and drift
#: compares point masses (spreading them uniformly inside quantile bins was 10-48 % off).
DISCRETE_MAX_VALUES = 100
#: A discrete grid's origin and extent are rounded out to blocks of this many values, so
#: they do not give away the reference's exact minimum and maximum.
DISCRETE_ALIGN = 64
#: Values are winsorised (clipped) this many grid extents beyond the grid (``clip_bounds``),
#: so no published sum, tail mean, mean or variance moves with one extreme value.
CLIP_EXTENTS = 4.0
#: Values per column sampled (evenly spaced) to place the reference's quantile edges.
EDGE_SAMPLE = 50_000
#: Reference edges come from the first rows of the data, at most this many ...
EDGE_ROWS = 1 << 20
#: ... and at most this many cells (rows x profiled columns) held in memory meanwhile.
EDGE_CELLS = 1 << 24
#: The surrogate is fitted on the first rows of the reference, at most this many.
SURROGATE_ROWS = 200_000
#: One-hot levels per categorical column in the surrogate (the most frequent first).
SURROGATE_LEVELS = 10
#: What a surrogate's variances are: model-based (inverse Fisher information, OLS) or sandwich (HC0).
VARIANCE_KINDS = ("model", "HC0")
#: A categorical column with more distinct values than this is an identifier or free text.
MAX_CATEGORIES = 10_000
DEFAULT_CHUNK_ROWS = 1 << 18
#: Score histograms (prediction scores in [0, 1]) use this many equal-width bins.
SCORE_BINS = 100
#: Integer-valued targets with at most this many classes are treated as classification.
MAX_CLASSES = 20
OTHER = "__other__"
#: The largest count (rows, histogram or category count) a profile may hold: the server
#: stores counts as signed 64-bit integers and numpy sums them as int64.
MAX_COUNT = (1 << 63) - 1
#: Arrays and objects nested deeper than this are refused before the JSON is parsed: a
#: profile nests about 8 levels (a submission 9), and the standard parser recurses once
#: per level, so 200,000 ``[`` would end in a RecursionError instead of a clear message.
MAX_JSON_DEPTH = 64

NUMERIC, CATEGORICAL, BINARY = "numeric", "categorical", "binary"
FEATURE_TYPES = (NUMERIC, CATEGORICAL, BINARY)
CLASSIFICATION, REGRESSION = "classification", "regression"

ProgressCallback = Callable[[float], Any]


# --------------------------------------------------------------------------------------
# Roles
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Roles:
    """Which column plays which part; everything not named as a feature is ignored.

    Parameters
    ----------
    features
        Feature columns. ``None`` means every column not named below.
    target, prediction
        The label and the model's output (class label, score in [0, 1], or value).
    timestamp
        A date/time column; with ``window=`` it splits the profile into time windows.
    exclude
        Columns never profiled (identifiers, free text, personal data).
    types
        Override the inferred feature type: ``{"zip": "categorical"}``; one of
        ``"numeric"``, ``"categorical"``, ``"binary"``.
    task
        ``"classification"`` or ``"regression"``; inferred from the target when omitted.
    """

    features: tuple[str, ...] | None = None
    target: str | None = None
    prediction: str | None = None
    timestamp: str | None = None
    exclude: tuple[str, ...] = ()
    types: Mapping[str, str] = field(default_factory=dict)
    task: str | None = None

    def __post_init__(self) -> None:
        if self.features is not None:
            object.__setattr__(self, "features", tuple(str(c) for c in self.features))
        object.__setattr__(self, "exclude", tuple(str(c) for c in self.exclude))
        object.__setattr__(self, "types", dict(self.types))
        for col, kind in self.types.items():
            if kind not in FEATURE_TYPES:
                raise InvalidInput(
                    f"column {col!r}: type {kind!r} is not one of {', '.join(FEATURE_TYPES)}; "
                    "fix the types mapping."
                )
        if self.task not in (None, CLASSIFICATION, REGRESSION):
            raise InvalidInput(f"task {self.task!r} must be 'classification' or 'regression' (or omitted).")

    @property
    def special(self) -> tuple[str, ...]:
        """The target, prediction and timestamp columns that are named."""
        return tuple(c for c in (self.target, self.prediction, self.timestamp) if c)

    def feature_columns(self, header: Sequence[str]) -> list[str]:
        """The feature columns for data with this header (explicit list or all the rest)."""
        if self.features is not None:
            return [c for c in self.features if c not in self.exclude]
        skip = set(self.exclude) | set(self.special)
        return [c for c in header if c not in skip]

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features) if self.features is not None else None,
            "target": self.target,
            "prediction": self.prediction,
            "timestamp": self.timestamp,
            "exclude": list(self.exclude),
            "types": dict(self.types),
            "task": self.task,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Roles":
        for key in ("target", "prediction", "timestamp", "task"):
            _optional_text(d.get(key), f"profile.roles.{key}")
        for key in ("features", "exclude"):
            v = d.get(key)
            if v is not None and not (isinstance(v, list) and all(isinstance(c, str) for c in v)):
                raise InvalidInput(f"profile.roles.{key} must be a list of column names.", field=f"profile.roles.{key}")
        types = d.get("types")
        if types is not None and not (isinstance(types, Mapping) and all(isinstance(t, str) for t in types.values())):
            raise InvalidInput("profile.roles.types must map column names to types.", field="profile.roles.types")
        return cls(
            features=d.get("features"),
            target=d.get("target"),
            prediction=d.get("prediction"),
            timestamp=d.get("timestamp"),
            exclude=tuple(d.get("exclude") or ()),
            types=dict(d.get("types") or {}),
            task=d.get("task"),
        )


# --------------------------------------------------------------------------------------
# Column statistics (mutable accumulators while profiling; values once returned)
# --------------------------------------------------------------------------------------


@dataclass
class Grid:
    """Histogram edges on a fine regular grid: edge ``j`` sits at ``origin + index[j] * step``.

    A value ``x`` falls in fine cell ``floor((x - origin) / step) + 1`` (clipped to
    ``[0, cells + 1]``) and a cell belongs to the bin left of the first edge above
    it. Both profiles of a comparison use the same grid, so their bins line up
    exactly; the bins are open-ended at both outer edges.

    A *discrete* grid (``support`` is not None) is made for an integer-valued column
    with few distinct values: ``step`` is the values' common spacing and there is one
    edge half a step above every value but the largest, so each bin holds one value
    and drift can treat it as a point mass there. ``support`` lists the values known
    to be alone in their bin (after pooling: only those a bin of >= k rows holds).
    """

    origin: float
    step: float
    index: np.ndarray  # sorted unique int64 positions in [0, cells]
    cells: int = GRID_CELLS
    support: np.ndarray | None = None  # discrete grids only: values each alone in its bin

    def __post_init__(self) -> None:
        self.index = np.asarray(self.index, dtype=np.int64)
        if self.support is not None:
            self.support = np.asarray(self.support, dtype=np.float64)
        self._lut: np.ndarray | None = None

    @property
    def discrete(self) -> bool:
        return self.support is not None

    def atoms(self) -> np.ndarray:
        """Per bin, the one value it holds (discrete grids), else NaN."""
        out = np.full(self.nbins, np.nan)
        if self.support is None or self.support.size == 0:
            return out
        where = np.searchsorted(self.edges, self.support)
        alone = np.bincount(where, minlength=self.nbins) == 1
        out[where[alone[where]]] = self.support[alone[where]]
        return out

    def coarsened(self, keep_index: np.ndarray) -> "Grid":
        """This grid with only the edges ``keep_index`` (a subset of ``index``).

        A value stays in ``support`` only while its bin is unchanged (both its edges
        kept): a bin that absorbed a neighbour holds more than one value.
        """
        keep_index = np.asarray(keep_index, dtype=np.int64)
        support = self.support
        if support is not None and support.size and self.index.size:
            b = np.searchsorted(self.edges, support)
            kept = np.isin(self.index, keep_index)
            left_ok = np.where(b > 0, kept[np.maximum(b - 1, 0)], True)
            right_ok = np.where(b < self.index.size, kept[np.minimum(b, self.index.size - 1)], True)
            support = support[left_ok & right_ok]
        return Grid(self.origin, self.step, keep_index, self.cells, support)

    @property
    def edges(self) -> np.ndarray:
        return self.origin + self.index.astype(np.float64) * self.step

    @property
    def nbins(self) -> int:
        return int(self.index.size) + 1

    @property
    def lut(self) -> np.ndarray:
        if self._lut is None:
            cells = np.arange(self.cells + 2, dtype=np.int64) - 1
            self._lut = np.searchsorted(self.index, cells, side="right").astype(np.intp)
        return self._lut

    def same(self, other: "Grid") -> bool:
        return (
            self.origin == other.origin
            and self.step == other.step
            and self.cells == other.cells
            and np.array_equal(self.index, other.index)
        )

    def subset(self, keep: np.ndarray) -> "Grid":
        return self.coarsened(self.index[keep])

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "origin": self.origin,
            "step": self.step,
            "cells": self.cells,
            "grid": [int(i) for i in self.index],
            "edges": [float(e) for e in self.edges],
        }
        if self.support is not None:  # absent: a continuous grid (profiles written before it read so)
            out["discrete"] = True
            out["support"] = [int(v) if float(v).is_integer() and abs(v) < 2**53 else float(v) for v in self.support]
        return out

    @staticmethod
    def discrete_from(values: np.ndarray) -> "Grid | None":
        """One bin per value of ``values`` (sorted, unique, integer-valued), or None.

        The step is the values' greatest common spacing, the edges sit half a step above
        each value but the largest (when at most ``DISCRETE_MAX_VALUES`` steps separate the
        smallest and the largest, every step between them gets a bin, so a value the sample
        missed is still counted as itself); origin and extent are rounded out to blocks of
        ``DISCRETE_ALIGN`` steps. None when the grid would need more than ``GRID_CELLS``
        cells (few values spread very widely) or the values are too large for exact
        integer arithmetic in a float.
        """
        if values.size < 2 or float(np.max(np.abs(values))) >= 2.0**52:
            return None
        v = values.astype(np.int64)
        g = int(np.gcd.reduce(np.diff(v)))
        if (int(v[-1]) - int(v[0])) // g < DISCRETE_MAX_VALUES:  # fill the gaps: a value the sample
            v = np.arange(int(v[0]), int(v[-1]) + 1, g, dtype=np.int64)  # missed still gets its own bin
        r = int(v[0] % g)
        first = (int(v[0]) - r) // g
        base_pos = (first // DISCRETE_ALIGN) * DISCRETE_ALIGN
        pos = (v - r) // g - base_pos  # position of each value on the grid, >= 0
        cells = -(-(int(pos[-1]) + 1) // DISCRETE_ALIGN) * DISCRETE_ALIGN
        if cells > GRID_CELLS:
            return None
        origin = float(r + base_pos * g) + 0.5 * g
        return Grid(origin, float(g), pos[:-1], cells, v.astype(np.float64))

    @staticmethod
    def from_sample(sample: np.ndarray, bins: int) -> "Grid":
        """Quantile edges of ``sample`` (interior quantiles only), snapped to the grid.

        An integer-valued sample with 2..``DISCRETE_MAX_VALUES`` distinct values gets a
        discrete grid instead (``discrete_from``): one bin per value.
        """
        if sample.size == 0:
            return Grid(0.0, 1.0, np.zeros(0, dtype=np.int64))
        # Sorted once: counting distinct values is then one comparison, and the quantiles
        # (order statistics, whatever the input order) no longer partition for 99 positions.
        ordered = np.sort(sample)
        if 1 + np.count_nonzero(ordered[1:] != ordered[:-1]) <= DISCRETE_MAX_VALUES:
            values = np.unique(ordered)
            if np.all(values == np.round(values)):
                discrete = Grid.discrete_from(values)
                if discrete is not None:
                    return discrete
        q = np.quantile(ordered, np.linspace(0.0, 1.0, bins + 1)[1:-1])
        lo, hi = float(q[0]), float(q[-1])
        if not hi > lo:
            step = 10.0 ** math.floor(math.log10(abs(lo))) * 1e-6 if lo != 0 else 1e-6
            origin = math.floor(lo / step) * step
            return Grid(origin, step, np.array([int(round((lo - origin) / step))], dtype=np.int64))
        step = (hi - lo) / (GRID_CELLS - 1)
        origin = math.floor(lo / step) * step
        index = np.clip(np.round((q - origin) / step), 0, GRID_CELLS).astype(np.int64)
        return Grid(origin, step, np.unique(index))


def clip_bounds(origin: float, step: float, cells: int) -> tuple[float, float]:
    """The winsorising bounds of a grid: ``CLIP_EXTENTS`` grid extents (``cells * step``) beyond either end.

    Every value is clipped to them before it enters a sum or a moment, so one extreme row
    moves a published tail mean, mean or variance by at most what a row at the bound
    would: an attacker who knows every other row learns "beyond the bound", never the
    value. The bounds depend only on the reference's grid (origin, step, cells: published
    with every histogram and kept by pooling and merging), so every profile against one
    reference clips alike and its moments stay mergeable.
    """
    span = CLIP_EXTENTS * cells * step
    return origin - span, origin + cells * step + span


_LOCAL = threading.local()


def _scratch(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-thread work buffers (fresh 8 MB arrays cost page faults on every chunk)."""
    bufs = getattr(_LOCAL, "bufs", None)
    if bufs is None or bufs[0].size < n:
        size = max(n, 1 << 16)
        bufs = (np.empty(size), np.empty(size), np.empty(size, dtype=np.intp))
        _LOCAL.bufs = bufs
    return bufs[0][:n], bufs[1][:n], bufs[2][:n]


def _chan(n_a: int, mean_a: float, m2_a: float, n_b: int, mean_b: float, m2_b: float) -> tuple[int, float, float]:
    """Merge two (count, mean, sum of squared deviations) triples (Chan et al.)."""
    n = n_a + n_b
    if n_a == 0:
        return n_b, mean_b, m2_b
    if n_b == 0:
        return n_a, mean_a, m2_a
    delta = mean_b - mean_a
    mean = mean_a + delta * (n_b / n)
    m2 = m2_a + m2_b + delta * delta * (n_a * n_b / n)
    return n, mean, m2


@dataclass
class NumericStats:
    """A numeric column: count, missing, mean and variance (mergeable moments), histogram.

    ``counts[i]`` is the number of values in bin ``i`` of ``grid``; ``sums`` the sum of
    those values (only the outer bins' means are ever serialised, to place the open
    tails for the Wasserstein distance).
    """

    grid: Grid
    count: int = 0
    missing: int = 0
    mean: float = 0.0
    m2: float = 0.0
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    sums: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    kind: str = NUMERIC
    suppressed: bool = False  # pooled away: fewer than k values

    def __post_init__(self) -> None:
        if self.counts.size == 0:
            self.counts = np.zeros(self.grid.nbins, dtype=np.int64)
            self.sums = np.zeros(self.grid.nbins, dtype=np.float64)

    @property
    def variance(self) -> float:
        """Population variance (divide by n); ``n / (n - 1)`` times it is the sample variance."""
        return self.m2 / self.count if self.count else 0.0

    @property
    def std(self) -> float:
        return math.sqrt(max(self.variance, 0.0))

    def tail_means(self) -> tuple[float | None, float | None]:
        c, s = self.counts, self.sums
        lo = float(s[0] / c[0]) if c[0] else None
        hi = float(s[-1] / c[-1]) if c[-1] else None
        return lo, hi

    def add(self, x: np.ndarray) -> None:
        """Add the values ``x`` (float64; NaN and +-inf count as missing)."""
        n_all = int(x.size)
        if n_all == 0:
            return
        g = self.grid
        inv = 1.0 / g.step
        # u = (x - origin) / step + 1: the fine cell (after clamping), and a shifted,
        # scaled copy of x whose moments are cheap to turn back into x's.
        buf_u, buf_d, buf_c = _scratch(n_all)
        u = np.multiply(x, inv, out=buf_u)
        u += 1.0 - g.origin * inv
        s = float(u.sum())
        if not math.isfinite(s):
            ok = np.isfinite(x)
            x = x[ok]
            u = u[ok]
            s = float(u.sum())
        n = int(x.size)
        self.missing += n_all - n
        if n == 0:
            return
        lo, hi = clip_bounds(g.origin, g.step, g.cells)
        if float(x.min()) < lo or float(x.max()) > hi:  # winsorise (rare): recompute u on clipped values
            x = np.clip(x, lo, hi)
            u = np.multiply(x, inv, out=buf_u[:n])
            u += 1.0 - g.origin * inv
            s = float(u.sum())
        mean_u = s / n
        sq = float(np.einsum("i,i->", u, u))
        m2_u = sq - s * mean_u
        if m2_u < 1e-6 * sq:  # cancellation: the values sit far from the grid; subtract first
            d = np.subtract(u, mean_u, out=buf_d[:n])
            m2_u = float(np.einsum("i,i->", d, d))
        m2 = max(m2_u, 0.0) * g.step * g.step
        np.clip(u, 0.0, g.cells + 1.0, out=u)  # u is finite here: one pass instead of maximum + minimum
        cell = buf_c[:n]
        np.copyto(cell, u, casting="unsafe")  # truncation == floor, as u >= 0
        # ``add.at`` adds in row order like ``bincount`` (the same sums to the bit) but in one
        # pass over ``cell``: ``bincount`` first scans it for its minimum and maximum.
        fine = np.zeros(g.cells + 2, dtype=np.int64)
        np.add.at(fine, cell, 1)
        fine_sums = np.zeros(g.cells + 2, dtype=np.float64)
        np.add.at(fine_sums, cell, x)
        mean = g.origin + (mean_u - 1.0) * g.step
        lut = g.lut
        self.counts += np.bincount(lut, weights=fine, minlength=g.nbins).astype(np.int64)
        self.sums += np.bincount(lut, weights=fine_sums, minlength=g.nbins)
        self.count, self.mean, self.m2 = _chan(self.count, self.mean, self.m2, n, mean, m2)

    def merge(self, other: "NumericStats", name: str = "?") -> "NumericStats":
        """The statistics of both parts' values together.

        On the same grid the merge is exact. Pooled histograms (``pooled`` only removes
        edges) on one reference's fine grid are merged on the edges both kept — their
        coarsest common refinement, on which re-binning either side is exact. A side
        suppressed for having fewer than k values leaves only count and missing.
        """
        if self.suppressed or other.suppressed:
            return NumericStats(other.grid if self.suppressed else self.grid, count=self.count + other.count,
                                missing=self.missing + other.missing, kind=self.kind, suppressed=True)
        g, h = self.grid, other.grid
        if (g.origin, g.step, g.cells) != (h.origin, h.step, h.cells):
            raise InvalidInput(
                f"column {name!r}: the two profiles were made against different references (or with different "
                "bin edges), so their histograms cannot be combined; profile every part against the same "
                "reference (reference=... / --reference REF.json) and merge those profiles."
            )
        if g.same(h):
            grid, counts, sums = g, self.counts + other.counts, self.sums + other.sums
        else:
            common = np.intersect1d(g.index, h.index)
            grid = Grid(g.origin, g.step, common, g.cells)
            (ca, sa), (cb, sb) = rebin(self, common), rebin(other, common)
            counts, sums = ca + cb, sa + sb
        grid = _common_grid(g, h, grid.index)
        n, mean, m2 = _chan(self.count, self.mean, self.m2, other.count, other.mean, other.m2)
        return NumericStats(
            grid=grid,
            count=n,
            missing=self.missing + other.missing,
            mean=mean,
            m2=m2,
            counts=counts,
            sums=sums,
            kind=self.kind,
        )

    def pooled(self, k: int, cuts: np.ndarray | None = None) -> "NumericStats":
        """Merge every bin holding 1..k-1 values with its right (or, last, left) neighbour.

        ``cuts`` (edges of ``grid.index`` each side of which holds 0 or >= k values) are
        kept: bins are pooled only within the ranges between them.
        """
        if self.suppressed or self.count < k:  # once suppressed (e.g. by a merge), always suppressed
            return self.hidden(k)
        c = self.counts
        bounds = [0, c.size]
        if cuts is not None and cuts.size:
            bounds = [0] + [int(b) + 1 for b in np.searchsorted(self.grid.index, cuts)] + [c.size]
        groups: list[list[int]] = []  # bins per group
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            groups += _pool_groups(c, lo, hi, k, close_empty=not self.grid.discrete)
        # Edge j separates bin j and j+1: keep it when bin j ends a group.
        keep = np.array([g[-1] for g in groups[:-1]], dtype=np.int64)
        counts = np.array([int(c[g].sum()) for g in groups], dtype=np.int64)
        sums = np.array([float(self.sums[g].sum()) for g in groups], dtype=np.float64)
        return NumericStats(
            grid=self.grid.subset(keep),
            count=self.count,
            missing=self.missing,
            mean=self.mean,
            m2=self.m2,
            counts=counts,
            sums=sums,
            kind=self.kind,
        )

    def hidden(self, k: int) -> "NumericStats":
        """The column suppressed (no histogram or moments): 1..k-1 values are published as missing
        (count 0), since a count of them would be a group of fewer than k rows. (A suppressed merge
        of pooled profiles keeps its count: a sum of published counts.)"""
        small = self.count < k
        out = NumericStats(self.grid, count=0 if small else self.count,
                           missing=self.missing + (self.count if small else 0), kind=self.kind)
        out.suppressed = self.suppressed or self.count > 0
        return out

    def filled(self, m: int, value: float) -> "NumericStats":
        """A copy with ``m`` of the missing values counted as ``value`` (their bin, sum and moments)."""
        out = NumericStats(self.grid, self.count, self.missing, self.mean, self.m2, self.counts.copy(),
                           self.sums.copy(), self.kind)
        out.add(np.full(m, value, dtype=np.float64))
        out.missing -= m
        return out

    def without(self, part: "NumericStats") -> "NumericStats":
        """The statistics of these values minus ``part``'s (exact ones on the same grid; ``part`` a subset)."""
        n = self.count - part.count
        if n <= 0:
            return NumericStats(self.grid, missing=self.missing - part.missing, kind=self.kind)
        mean = (self.count * self.mean - part.count * part.mean) / n
        d = part.mean - mean
        m2 = self.m2 - part.m2 - d * d * n * part.count / self.count  # Chan's merge, solved for one side
        return NumericStats(self.grid, n, self.missing - part.missing, mean, max(m2, 0.0),
                            self.counts - part.counts, self.sums - part.sums, self.kind)

    def to_dict(self) -> dict[str, Any]:
        if self.suppressed:
            return {"type": self.kind, "count": self.count, "missing": self.missing, "suppressed": True}
        lo, hi = self.tail_means()
        hist = self.grid.to_dict()
        hist["counts"] = [int(c) for c in self.counts]
        hist["tail_means"] = [lo, hi]
        return {
            "type": self.kind,
            "count": self.count,
            "missing": self.missing,
            "mean": self.mean if self.count else None,
            "variance": self.variance if self.count else None,
            "histogram": hist,
        }

    @staticmethod
    def from_dict(d: Mapping[str, Any], where: str) -> "NumericStats":
        count = _int_field(d, "count", where)
        missing = _int_field(d, "missing", where)
        if d.get("suppressed"):
            out = NumericStats(Grid(0.0, 1.0, np.zeros(0, dtype=np.int64)), count=count, missing=missing)
            out.suppressed = True
            out.kind = str(d.get("type", NUMERIC))
            return out
        h = d.get("histogram")
        if not isinstance(h, Mapping):
            raise InvalidInput(f"{where}.histogram is missing; the profile JSON was edited or truncated.",
                               field=f"{where}.histogram")
        grid = _grid_from(h, f"{where}.histogram")
        counts = _int_list(h, "counts", f"{where}.histogram", grid.nbins)
        if int(counts.sum()) != count:
            raise InvalidInput(
                f"{where}: histogram counts add up to {int(counts.sum())} but count is {count}; "
                "the profile JSON was edited by hand — recompute it.", field=f"{where}.count"
            )
        tails = h.get("tail_means")
        if not (isinstance(tails, list) and len(tails) == 2):
            raise InvalidInput(f"{where}.histogram.tail_means must be a list of two numbers or nulls.",
                               field=f"{where}.histogram.tail_means")
        edges = grid.edges
        sums = counts.astype(np.float64)
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused below, by name
            if edges.size:
                mids = np.concatenate([[edges[0]], (edges[:-1] + edges[1:]) / 2, [edges[-1]]])
                atoms = grid.atoms()
                sums = sums * np.where(np.isnan(atoms), mids, atoms)
            for pos, t in ((0, tails[0]), (-1, tails[1])):
                if t is not None:
                    sums[pos] = _float(t, f"{where}.histogram.tail_means") * counts[pos]
        mean = _float(d.get("mean", 0.0) or 0.0, f"{where}.mean")
        var = _float(d.get("variance", 0.0) or 0.0, f"{where}.variance")
        if var < 0:
            raise InvalidInput(f"{where}.variance is negative; the profile JSON is invalid — recompute it.",
                               field=f"{where}.variance")
        if not (np.all(np.isfinite(sums)) and math.isfinite(var * count)):
            raise InvalidInput(f"{where}: its moments overflow a float; the profile JSON is invalid — recompute it.",
                               field=where)
        return NumericStats(
            grid=grid, count=count, missing=missing, mean=mean, m2=var * count,
            counts=counts, sums=sums, kind=str(d.get("type", NUMERIC)),
        )


def _pool_groups(c: np.ndarray, lo: int, hi: int, k: int, close_empty: bool) -> list[list[int]]:
    """Bins ``lo..hi-1`` of the counts ``c`` in consecutive groups of 0 or >= k (unless all hold fewer).

    ``c`` is one histogram's counts, or several histograms' (one row each, pooled *jointly*: a
    group closes when it holds 0 or >= k in every histogram). An empty bin of a discrete grid
    still names a value (the reference's): ``close_empty`` False pools it too.
    """
    joint = c.ndim == 2
    groups: list[list[int]] = []
    cur: list[int] = []
    tot = np.zeros(c.shape[0], dtype=np.int64) if joint else 0
    for i in range(lo, hi):
        cur.append(i)
        if joint:
            tot += c[:, i]
            empty, done = not tot.any(), bool(np.all((tot == 0) | (tot >= k)))
        else:
            tot += int(c[i])
            empty, done = tot == 0, tot >= k
        if (empty and close_empty) or (not empty and done):
            groups.append(cur)
            cur, tot = [], (np.zeros(c.shape[0], dtype=np.int64) if joint else 0)
    if cur:
        if groups:
            groups[-1].extend(cur)
        else:
            groups.append(cur)
    # The rest may have joined an empty group and still hold 1..k-1: join leftwards until it does not.
    while len(groups) > 1 and _short(c, groups[-1], k):
        last = groups.pop()
        groups[-1].extend(last)
    return groups


def _short(c: np.ndarray, group: list[int], k: int) -> bool:
    """Whether bins ``group`` hold 1..k-1 values (in any histogram, when ``c`` has one per row)."""
    total = c[:, group].sum(axis=1) if c.ndim == 2 else np.array([c[group].sum()])
    return bool(np.any((total > 0) & (total < k)))


@dataclass
class CategoryStats:
    """A categorical (or binary) column: a count per value, missing, and pooled ``other``."""

    counts: dict[str, int] = field(default_factory=dict)
    missing: int = 0
    other: int = 0
    kind: str = CATEGORICAL

    @property
    def count(self) -> int:
        return sum(self.counts.values()) + self.other

    def add_codes(self, codes: np.ndarray, labels: Sequence[str], name: str = "?") -> None:
        """Add factorised values (``codes`` index ``labels``; -1 is missing)."""
        bc = np.bincount(codes + 1, minlength=len(labels) + 1)
        self.add_counts(bc[1:], labels, int(bc[0]), name)

    def add_counts(self, per_label: np.ndarray, labels: Sequence[str], missing: int, name: str = "?") -> None:
        """Add ``per_label[i]`` rows of ``labels[i]`` (in that order) and ``missing`` missing rows."""
        self.missing += missing
        counts = self.counts
        for label, c in zip(labels, per_label.tolist()):
            if c:
                counts[label] = counts.get(label, 0) + c
        if len(counts) > MAX_CATEGORIES:
            raise InvalidInput(
                f"column {name!r} has more than {MAX_CATEGORIES} distinct values: it looks like an "
                "identifier or free text. Exclude it (exclude=[...] / --exclude "
                f"{name}), or declare it numeric if it holds numbers."
            )

    def merge(self, other: "CategoryStats", name: str = "?") -> "CategoryStats":
        counts = dict(self.counts)
        for key, c in other.counts.items():
            counts[key] = counts.get(key, 0) + c
        return CategoryStats(counts, self.missing + other.missing, self.other + other.other, self.kind)

    def pooled(self, k: int) -> "CategoryStats":
        """Values with 1..k-1 rows go to ``other``; then no published count is 1..k-1.

        Complementary pooling: ``other`` and ``missing`` are counts too, and ``count``
        and the profile's rows are published, so a small one would follow by
        subtraction. A missing count of 1..k-1 joins ``other`` (published as 0 missing);
        while ``other`` holds 1..k-1 rows the least frequent published value joins it;
        if none is left, the missing rows join it as well.
        """
        keep = {key: c for key, c in self.counts.items() if c >= k}
        other = self.other + sum(c for c in self.counts.values() if c < k)
        missing = self.missing
        if 0 < missing < k:
            other, missing = other + missing, 0
        while 0 < other < k and keep:
            smallest = min(keep, key=lambda key: (keep[key], key))
            other += keep.pop(smallest)
        if 0 < other < k:
            other, missing = other + missing, 0
        return CategoryStats(dict(sorted(keep.items())), missing, other, self.kind)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "count": self.count,
            "missing": self.missing,
            "counts": {k: int(v) for k, v in sorted(self.counts.items())},
            "other": int(self.other),
        }

    @staticmethod
    def from_dict(d: Mapping[str, Any], where: str) -> "CategoryStats":
        raw = _mapping(d.get("counts"), f"{where}.counts", "an object of value -> count")
        counts = {str(k): _nonneg_int(v, f"{where}.counts[{k!r}]") for k, v in raw.items()}
        out = CategoryStats(counts, _int_field(d, "missing", where), _int_field(d, "other", where),
                            str(d.get("type", CATEGORICAL)))
        if out.count > MAX_COUNT:
            raise InvalidInput(f"{where}: counts add up to more than {MAX_COUNT:,}; the profile JSON is invalid.",
                               field=f"{where}.counts")
        if "count" in d and _int_field(d, "count", where) != out.count:
            raise InvalidInput(f"{where}: counts do not add up to count; the profile JSON was edited — recompute it.",
                               field=f"{where}.count")
        return out


ColumnStats = "NumericStats | CategoryStats"


def _column_from_dict(d: Any, where: str) -> NumericStats | CategoryStats:
    _mapping(d, where)
    kind = d.get("type")
    if kind == NUMERIC:
        return NumericStats.from_dict(d, where)
    if kind in (CATEGORICAL, BINARY):
        return CategoryStats.from_dict(d, where)
    raise InvalidInput(f"{where}.type is {kind!r}; expected one of {', '.join(FEATURE_TYPES)}.", field=f"{where}.type")


# --------------------------------------------------------------------------------------
# Target / prediction statistics
# --------------------------------------------------------------------------------------


def _score_grid() -> Grid:
    return Grid(0.0, 1.0 / SCORE_BINS, np.arange(1, SCORE_BINS, dtype=np.int64), cells=SCORE_BINS)


@dataclass
class ModelStats:
    """Label and prediction statistics: class balance, confusion counts, score histograms.

    For classification ``target``/``prediction`` are ``CategoryStats`` (the class
    balance); a score prediction keeps ``prediction`` as a ``NumericStats`` over
    ``[0, 1]`` and ``score_hist`` holds one score histogram per true class, from
    which ROC AUC follows. For regression both are ``NumericStats`` and ``errors``
    holds the mergeable sums of the residuals.
    """

    task: str
    prediction_kind: str | None = None  # "class" | "score" | "value" | None
    positive_class: str | None = None
    target: NumericStats | CategoryStats | None = None
    prediction: NumericStats | CategoryStats | None = None
    confusion: dict[tuple[str, str], int] = field(default_factory=dict)
    score_hist: dict[str, NumericStats] = field(default_factory=dict)
    errors: dict[str, float] = field(default_factory=dict)  # n, sum, sum_abs, sum_sq
    confusion_suppressed: bool = False  # a cell held 1..k-1 rows: the matrix is not published

    def merge(self, other: "ModelStats") -> "ModelStats":
        out = ModelStats(self.task, self.prediction_kind, self.positive_class)
        out.confusion_suppressed = self.confusion_suppressed or other.confusion_suppressed
        out.target = _merge_col(self.target, other.target, "target")
        out.prediction = _merge_col(self.prediction, other.prediction, "prediction")
        out.confusion = dict(self.confusion)
        for key, c in other.confusion.items():
            out.confusion[key] = out.confusion.get(key, 0) + c
        if out.confusion_suppressed:  # one side's cells are unknown: a partial matrix would mislead
            out.confusion = {}
        out.score_hist = dict(self.score_hist)
        for key, h in other.score_hist.items():
            out.score_hist[key] = out.score_hist[key].merge(h, f"score[{key}]") if key in out.score_hist else h
        out.errors = {key: self.errors.get(key, 0.0) + other.errors.get(key, 0.0)
                      for key in set(self.errors) | set(other.errors)}
        return out

    def pooled(self, k: int) -> "ModelStats":
        out = ModelStats(self.task, self.prediction_kind, self.positive_class, errors=dict(self.errors))
        out.target = self.target.pooled(k) if self.target is not None else None
        out.prediction = self.prediction.pooled(k) if self.prediction is not None else None
        if isinstance(out.target, CategoryStats):
            kept_t = set(out.target.counts)
            kept_p = set(out.prediction.counts) if isinstance(out.prediction, CategoryStats) else None
            conf: dict[tuple[str, str], int] = {}
            for (t, p), c in self.confusion.items():
                t2 = t if t in kept_t else OTHER
                p2 = p if (kept_p is None or p in kept_p) else OTHER
                conf[(t2, p2)] = conf.get((t2, p2), 0) + c
            # Its margins (the class counts) are published, so one small cell would follow from
            # the others: a matrix with any cell of 1..k-1 rows is left out whole.
            out.confusion_suppressed = self.confusion_suppressed or any(0 < c < k for c in conf.values())
            out.confusion = {} if out.confusion_suppressed else conf
            for key, h in self.score_hist.items():
                key2 = key if key in kept_t else OTHER
                out.score_hist[key2] = out.score_hist[key2].merge(h) if key2 in out.score_hist else h
            out.score_hist = {key: h.pooled(k) for key, h in out.score_hist.items()}
        if self.errors.get("n", 0) < k:
            out.errors = {}
        return out

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "task": self.task,
            "prediction_kind": self.prediction_kind,
            "positive_class": self.positive_class,
            "target": self.target.to_dict() if self.target is not None else None,
            "prediction": self.prediction.to_dict() if self.prediction is not None else None,
        }
        if self.confusion:
            labels = sorted({t for t, _ in self.confusion} | {p for _, p in self.confusion})
            pos = {lab: i for i, lab in enumerate(labels)}
            matrix = [[0] * len(labels) for _ in labels]
            for (t, p), c in self.confusion.items():
                matrix[pos[t]][pos[p]] += int(c)
            d["confusion"] = {"labels": labels, "matrix": matrix, "rows": "target", "columns": "prediction"}
        if self.confusion_suppressed:
            d["confusion_suppressed"] = True
        if self.score_hist:
            d["score_histograms"] = {key: h.to_dict() for key, h in sorted(self.score_hist.items())}
        if self.errors:
            d["errors"] = {key: float(v) for key, v in sorted(self.errors.items())}
        return d

    @staticmethod
    def from_dict(d: Any, where: str) -> "ModelStats":
        _mapping(d, where)
        task = d.get("task")
        if task not in (CLASSIFICATION, REGRESSION):
            raise InvalidInput(f"{where}.task must be 'classification' or 'regression'.", field=f"{where}.task")
        kind = d.get("prediction_kind")
        if kind not in (None, "class", "score", "value"):
            raise InvalidInput(f"{where}.prediction_kind must be 'class', 'score', 'value' or null.",
                               field=f"{where}.prediction_kind")
        out = ModelStats(task, kind, _optional_text(d.get("positive_class"), f"{where}.positive_class"))
        if d.get("target") is not None:
            out.target = _column_from_dict(d["target"], f"{where}.target")
        if d.get("prediction") is not None:
            out.prediction = _column_from_dict(d["prediction"], f"{where}.prediction")
        out.confusion_suppressed = d.get("confusion_suppressed") is True
        conf = d.get("confusion")
        if conf is not None:
            conf = _mapping(conf, f"{where}.confusion")
            labels, matrix = conf.get("labels"), conf.get("matrix")
            if not (isinstance(labels, list) and isinstance(matrix, list) and len(matrix) == len(labels)
                    and all(isinstance(r, list) and len(r) == len(labels) for r in matrix)):
                raise InvalidInput(f"{where}.confusion must hold 'labels' and a square 'matrix'.",
                                   field=f"{where}.confusion")
            for i, t in enumerate(labels):
                for j, p in enumerate(labels):
                    c = _nonneg_int(matrix[i][j], f"{where}.confusion.matrix[{i}][{j}]")
                    if c:
                        out.confusion[(str(t), str(p))] = c
        hists = _mapping(d.get("score_histograms") or {}, f"{where}.score_histograms")
        for key, h in hists.items():
            out.score_hist[str(key)] = NumericStats.from_dict(
                _mapping(h, f"{where}.score_histograms[{key!r}]"), f"{where}.score_histograms[{key!r}]")
        for key, v in _mapping(d.get("errors") or {}, f"{where}.errors").items():
            out.errors[str(key)] = _float(v, f"{where}.errors.{key}")
        return out


def _merge_col(a: Any, b: Any, name: str) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    if type(a) is not type(b):
        raise InvalidInput(f"column {name!r} is numeric in one profile and categorical in the other.")
    return a.merge(b, name)


# --------------------------------------------------------------------------------------
# The linear surrogate
# --------------------------------------------------------------------------------------


@dataclass
class Surrogate:
    """Coefficients and their variances of a linear model fitted on the reference data.

    Numeric features enter standardised (mean 0, standard deviation 1 over the
    fitted rows, missing values set to 0); each frequent category enters as a
    one-hot term ``"column=value"`` against the column's most frequent value. The
    variance of each coefficient is the diagonal of the inverse Fisher information
    (logistic regression on a 0/1 response) or of ``sigma^2 (X'X)^-1`` (least
    squares): ``variance_kind == "model"``. With a score in [0, 1] as the response
    (a fractional logit) the Bernoulli variance does not hold, and the variances are
    the diagonal of the sandwich (HC0) covariance instead: ``variance_kind == "HC0"``.
    """

    kind: str  # "logistic" | "linear"
    response: str  # the column the surrogate explains
    terms: list[str]
    coefficients: list[float]
    variances: list[float]
    rows: int
    converged: bool = True
    iterations: int = 0
    positive_class: str | None = None
    note: str | None = None
    variance_kind: str = "model"  # "model" (inverse Fisher information / OLS) | "HC0" (sandwich)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "response": self.response,
            "positive_class": self.positive_class,
            "rows": self.rows,
            "converged": self.converged,
            "iterations": self.iterations,
            "note": self.note,
            "variance_kind": self.variance_kind,
            "terms": [
                {"term": t, "coefficient": c, "variance": v}
                for t, c, v in zip(self.terms, self.coefficients, self.variances)
            ],
        }

    @staticmethod
    def from_dict(d: Any, where: str) -> "Surrogate":
        if not isinstance(d, Mapping) or not isinstance(d.get("terms"), list):
            raise InvalidInput(f"{where} must be an object with a 'terms' list.", field=where)
        terms, coefs, variances = [], [], []
        for i, t in enumerate(d["terms"]):
            if not isinstance(t, Mapping):
                raise InvalidInput(f"{where}.terms[{i}] must be an object.", field=f"{where}.terms[{i}]")
            terms.append(str(t.get("term")))
            coefs.append(_float(t.get("coefficient"), f"{where}.terms[{i}].coefficient"))
            variances.append(_float(t.get("variance"), f"{where}.terms[{i}].variance"))
        # Optional: profiles written before it existed carry model-based variances.
        variance_kind = d.get("variance_kind", "model")
        if variance_kind not in VARIANCE_KINDS:
            raise InvalidInput(f"{where}.variance_kind must be one of {', '.join(VARIANCE_KINDS)} "
                               f"(got {variance_kind!r}); recompute the profile.", field=f"{where}.variance_kind")
        return Surrogate(
            kind=str(d.get("kind")), response=str(d.get("response")), terms=terms,
            coefficients=coefs, variances=variances, rows=_int_field(d, "rows", where),
            converged=bool(d.get("converged", True)),
            iterations=_nonneg_int(d.get("iterations") or 0, f"{where}.iterations"),
            positive_class=_optional_text(d.get("positive_class"), f"{where}.positive_class"),
            note=_optional_text(d.get("note"), f"{where}.note"),
            variance_kind=variance_kind,
        )

    def to_df(self) -> pd.DataFrame:
        v = np.asarray(self.variances, dtype=float)
        return pd.DataFrame({"term": self.terms, "coefficient": self.coefficients,
                             "variance": v, "std_error": np.sqrt(np.maximum(v, 0))})


def fit_logistic(X: np.ndarray, y: np.ndarray, max_iter: int = 100, tol: float = 1e-10,
                 robust: bool = False) -> tuple[np.ndarray, np.ndarray, bool, int]:
    """Logistic regression by iteratively reweighted least squares (Newton's method).

    Returns the coefficients, the diagonal of their covariance, whether it
    converged, and the number of iterations. The covariance is the inverse Fisher
    information ``(X'WX)^-1`` by default. With ``robust`` it is the sandwich (HC0)
    ``(X'WX)^-1 X' diag((y - p)^2) X (X'WX)^-1``: for a fractional response
    (y in [0, 1], Papke & Wooldridge 1996) the Bernoulli variance ``p(1 - p)``
    behind the Fisher information does not hold (a score varies far less around
    its mean than a 0/1 label), and only the sandwich stays consistent. HC0, without
    the ``n / (n - p)`` factor of HC1, as statsmodels' ``GLM(..., Binomial()).fit(
    cov_type="HC0")``; at the surrogate's sizes (n >= hundreds, p <= a few dozen) the
    two differ by well under 1 %.
    """
    beta = np.zeros(X.shape[1])
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        eta = X @ beta
        p = 1.0 / (1.0 + np.exp(-eta))
        w = p * (1.0 - p)
        info = (X * w[:, None]).T @ X
        grad = X.T @ (y - p)
        try:
            delta = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError:
            delta = np.linalg.lstsq(info, grad, rcond=None)[0]
        beta = beta + delta
        if not np.all(np.isfinite(beta)):
            break
        if float(np.max(np.abs(delta))) < tol * (1.0 + float(np.max(np.abs(beta)))):
            converged = True
            break
    p = 1.0 / (1.0 + np.exp(-(X @ beta)))
    info = (X * (p * (1.0 - p))[:, None]).T @ X
    cov = np.linalg.pinv(info)
    if robust:
        meat = (X * ((y - p) ** 2)[:, None]).T @ X
        cov = cov @ meat @ cov
    return beta, np.diag(cov).copy(), converged, it


def fit_linear(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ordinary least squares; returns the coefficients and ``diag(sigma^2 (X'X)^-1)``."""
    xtx = X.T @ X
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    resid = y - X @ beta
    dof = max(X.shape[0] - X.shape[1], 1)
    sigma2 = float(resid @ resid) / dof
    return beta, np.diag(np.linalg.pinv(xtx)).copy() * sigma2


def _design(frame: Mapping[str, Any], numeric: Sequence[str], categorical: Mapping[str, list[str]]) -> tuple[np.ndarray, list[str]]:
    cols, names = [np.ones(len(next(iter(frame.values()))) if frame else 0)], ["(intercept)"]
    for c in numeric:
        x = np.asarray(frame[c], dtype=np.float64)
        ok = np.isfinite(x)
        m = float(x[ok].mean()) if ok.any() else 0.0
        s = float(x[ok].std()) if ok.any() else 0.0
        if s == 0:
            continue
        cols.append(np.where(ok, (x - m) / s, 0.0))
        names.append(c)
    for c, levels in categorical.items():
        labels = frame[c]
        for lev in levels:
            cols.append((labels == lev).astype(np.float64))
            names.append(f"{c}={lev}")
    return np.column_stack(cols), names


# --------------------------------------------------------------------------------------
# The profile
# --------------------------------------------------------------------------------------


@dataclass
class Profile:
    """The aggregate summary of one dataset (and, with a timestamp, of each window).

    A profile computed by ``profile`` keeps exact counts, so ``merge`` is exact;
    ``to_json`` applies the privacy guard (pooling everything backed by fewer
    than ``k`` rows) to what leaves the machine. ``Profile.from_json`` returns
    such a pooled profile.
    """

    rows: int
    k: int
    roles: Roles
    columns: dict[str, NumericStats | CategoryStats]
    model: ModelStats | None = None
    surrogate: Surrogate | None = None
    windows: dict[str, "Profile"] = field(default_factory=dict)
    window: str | None = None
    reference_id: str | None = None  # fingerprint of the reference whose edges were used
    pooled: bool = False
    notes: list[str] = field(default_factory=list)
    schema_version: int = SCHEMA_VERSION
    noise: "Noise | None" = None  # differential privacy for what leaves the machine (exact profiles)
    dp: dict[str, Any] | None = None  # what a noisy release spent (published profiles: see Noise)
    _release: "Profile | None" = field(default=None, repr=False, compare=False)
    _like: "Profile | None" = field(default=None, repr=False, compare=False)  # a noisy release's reference

    # -- identity ------------------------------------------------------------------
    @property
    def is_reference(self) -> bool:
        return self.reference_id is None

    def fingerprint(self) -> str:
        """A short hash of the column types and bin grids (what a current profile must share)."""
        h = hashlib.sha256()
        for name in sorted(self.columns):
            col = self.columns[name]
            h.update(f"{name}\0{col.kind}\0".encode())
            if isinstance(col, NumericStats) and not col.suppressed:
                h.update(repr((col.grid.origin, col.grid.step, col.grid.cells)).encode())
        return h.hexdigest()[:16]

    def types(self) -> dict[str, str]:
        return {name: col.kind for name, col in self.columns.items()}

    # -- privacy -------------------------------------------------------------------
    def private(self) -> "Profile":
        """A copy with the privacy guard applied (every bin, value, class, window >= k rows)."""
        k = self.k
        if self.noise is not None and not self.pooled:  # one release per profile: noise drawn again would average out
            if self._release is None:
                self._release = _noisy_release(self)
            return self._release
        out = copy.copy(self)
        if self.pooled:  # every number is a sum of published ones (from_json, merge): nothing more to hide
            out.columns = {name: col.pooled(k) for name, col in self.columns.items()}
            out.model = self.model.pooled(k) if self.model is not None else None
            out.windows = {label: w.private() for label, w in self.windows.items()}
            out.notes = list(self.notes)
            return out
        if 0 < self.rows < k:  # its row count alone would be a group of fewer than k rows
            raise InvalidInput(
                f"the data has {self.rows} row(s), fewer than the privacy threshold k={k}: nothing of it may "
                f"leave this machine. Profile at least {k} rows (more data, or a longer window), or, if the "
                "data is not restricted, ask an admin about a smaller k.", field="rows")
        # A window of 1..k-1 rows is merged with the next (the last with the one before), never
        # dropped: dropped, it would be the whole profile minus the published windows.
        groups: list[list[str]] = []
        cur: list[str] = []
        tot = 0
        for label, w in self.windows.items():
            cur.append(label)
            tot += w.rows
            if tot >= k:
                groups.append(cur)
                cur, tot = [], 0
        if cur and groups:
            groups[-1].extend(cur)
        out.windows = {}
        merged = 0
        bodies: dict[str, Profile] = {}
        for group in groups:  # windows adding up to fewer than k rows (a profile that small) are left out
            body = self.windows[group[0]]
            for label in group[1:]:
                body = _merge_body(body, self.windows[label])
            merged += len(group) - 1
            bodies[group[0] if len(group) == 1 else f"{group[0]} … {group[-1]}"] = body
        # The whole is published as the sum of its published windows (see _publish_parts); without
        # windows it is its own one part (score histograms and the prediction's share their edges).
        parts = list(bodies.values()) if sum(b.rows for b in bodies.values()) == self.rows else []
        out.columns, out.model, pub = _publish_parts(self, parts or [self], k)
        if parts:
            for label, body, (cols, model) in zip(bodies, bodies.values(), pub):
                w = copy.copy(body)
                w.columns, w.model, w.windows, w.notes, w.pooled = cols, model, {}, [], True
                out.windows[label] = w
        elif bodies:  # windows that do not add up to the whole (a merge of pooled profiles): each on its own
            out.windows = {label: body.private() for label, body in bodies.items()}
        out.notes = list(self.notes)
        if merged:
            out.notes.append(f"{merged} window(s) merged with a neighbour to hold at least {k} rows (privacy guard); "
                             "a merged window is labelled 'first … last'.")
        if cur and not groups:
            out.notes.append(f"Windows left out: together they hold fewer than {k} rows (privacy guard).")
        out.pooled = True
        return out

    # -- serialisation -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dictionary of the *pooled* profile (see ``private``)."""
        p = self if self.pooled else self.private()
        return p._dict(top=True)

    def _dict(self, top: bool) -> dict[str, Any]:
        d: dict[str, Any] = {}
        if top:
            d.update({
                "schema": SCHEMA,
                "schema_version": SCHEMA_VERSION,
                "k": self.k,
                "reference_id": self.reference_id,
                "fingerprint": self.fingerprint(),
                "roles": self.roles.to_dict(),
                "window": self.window,
            })
        d["rows"] = self.rows
        d["columns"] = {name: col.to_dict() for name, col in self.columns.items()}
        d["model"] = self.model.to_dict() if self.model is not None else None
        if top:
            d["surrogate"] = self.surrogate.to_dict() if self.surrogate is not None else None
            d["windows"] = [dict(w._dict(top=False), window=label) for label, w in self.windows.items()]
            d["notes"] = list(self.notes)
            if self.dp is not None:
                d["privacy"] = dict(self.dp)
        return d

    def to_json(self, indent: int | None = None) -> str:
        """Serialise the pooled profile; every number is exact (floats round-trip)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes | Mapping[str, Any]) -> "Profile":
        """Read a profile written by ``to_json``; anything malformed raises ``InvalidInput``."""
        if isinstance(text, Mapping):
            d = text
        elif isinstance(text, (str, bytes, bytearray)):
            d = load_json(text, "the profile")
        else:
            raise InvalidInput(f"a profile is a JSON object, not {type(text).__name__}; "
                               "produce one with `vision profile` or client.profile(...).to_json().", field="profile")
        if not isinstance(d, Mapping) or d.get("schema") != SCHEMA:
            raise InvalidInput("this JSON is not a Vision profile (no \"schema\": \"vision.profile\"); "
                               "produce one with `vision profile` or client.profile(...).to_json().",
                               field="profile.schema")
        version = d.get("schema_version")
        if version != SCHEMA_VERSION:
            raise InvalidInput(
                f"the profile has schema version {version!r} but this client reads version {SCHEMA_VERSION}; "
                "recompute the profile with this version of vision_widgets.", field="profile.schema_version"
            )
        k = _int_field(d, "k", "profile")
        if k < 1:
            raise InvalidInput("profile.k must be at least 1.", field="profile.k")
        roles_d = _mapping(d.get("roles"), "profile.roles")
        try:
            roles = Roles.from_dict(roles_d)
        except InvalidInput as exc:
            if exc.field:
                raise
            raise InvalidInput(f"profile.roles: {exc}", field="profile.roles") from None
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"profile.roles is invalid ({exc}).", field="profile.roles") from None
        prof = cls._from(d, k, roles, "profile")
        prof.reference_id = _optional_text(d.get("reference_id"), "profile.reference_id")
        prof.window = _optional_text(d.get("window"), "profile.window")
        if d.get("surrogate") is not None:
            prof.surrogate = Surrogate.from_dict(d["surrogate"], "profile.surrogate")
        windows = d.get("windows") or []
        if not isinstance(windows, list):
            raise InvalidInput("profile.windows must be a list.", field="profile.windows")
        for i, w in enumerate(windows):
            if not isinstance(w, Mapping) or not isinstance(w.get("window"), str):
                raise InvalidInput(f"profile.windows[{i}] must be an object with a 'window' label.",
                                   field=f"profile.windows[{i}]")
            prof.windows[w["window"]] = cls._from(w, k, roles, f"profile.windows[{i}]")
        notes = d.get("notes") or []
        if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
            raise InvalidInput("profile.notes must be a list of text.", field="profile.notes")
        prof.notes = list(notes)
        if d.get("privacy") is not None:
            prof.dp = _dp_from(d["privacy"])
        fp = d.get("fingerprint")
        if fp is not None and fp != prof.fingerprint():
            raise InvalidInput("the profile's fingerprint does not match its columns and bin edges: "
                               "it was edited by hand; recompute it.", field="profile.fingerprint")
        return prof

    @classmethod
    def _from(cls, d: Mapping[str, Any], k: int, roles: Roles, where: str) -> "Profile":
        cols = _mapping(d.get("columns"), f"{where}.columns", "an object of column -> statistics")
        columns = {str(n): _column_from_dict(c, f"{where}.columns[{n!r}]") for n, c in cols.items()}
        model = ModelStats.from_dict(d["model"], f"{where}.model") if d.get("model") is not None else None
        for name, s in columns.items():
            if isinstance(s, CategoryStats) and any(v < k for v in s.counts.values()):
                raise InvalidInput(f"{where}: a category count is below k={k}; the JSON was edited — recompute it.",
                                   field=f"{where}.columns[{name!r}].counts")
        return cls(rows=_int_field(d, "rows", where), k=k, roles=roles, columns=columns, model=model, pooled=True)

    # -- views ---------------------------------------------------------------------
    def to_df(self) -> pd.DataFrame:
        """One row per feature: type, count, missing, mean, std (for tables and charts)."""
        rows = []
        for name, col in self.columns.items():
            num = isinstance(col, NumericStats)
            rows.append({
                "feature": name, "type": col.kind, "count": col.count, "missing": col.missing,
                "mean": col.mean if num and col.count else None,
                "std": col.std if num and col.count else None,
                "distinct_reported": len(col.counts) if not num else None,
            })
        return pd.DataFrame(rows)

    def roc_auc(self) -> float | None:
        """ROC AUC from the per-class score histograms (ties inside a bin count one half)."""
        m = self.model
        if m is None or not m.score_hist or m.positive_class is None:
            return None
        pos = m.score_hist.get(m.positive_class)
        negs = [h for key, h in m.score_hist.items() if key != m.positive_class]
        if pos is None or not negs:
            return None
        neg = negs[0]
        for h in negs[1:]:
            neg = _align_merge(neg, h)
        a, b = _common_bins(pos, neg)
        return binned_auc(a.astype(np.float64), b.astype(np.float64))


#: ROC AUC from score histograms counts a positive–negative pair tied inside a bin as one half, so it
#: can be off by up to half the share of tied pairs. Past this share it is not told: one or two bins
#: (the privacy guard's pooling of a sparse class) give 0.5 or so by construction, not a measurement.
MAX_TIED_PAIRS = 0.5


def binned_auc(pos: np.ndarray, neg: np.ndarray) -> float | None:
    """ROC AUC of positives ``pos`` and negatives ``neg`` counted per score bin (ordered by score);
    None without both classes, or when more than ``MAX_TIED_PAIRS`` of the pairs tie in a bin."""
    P, N = float(pos.sum()), float(neg.sum())
    if P <= 0 or N <= 0 or float((pos * neg).sum()) / (P * N) > MAX_TIED_PAIRS:
        return None
    below = np.concatenate([[0.0], np.cumsum(neg)[:-1]])
    return float((pos * (below + 0.5 * neg)).sum() / (P * N))


def coarsen(h: NumericStats, index: np.ndarray) -> NumericStats:
    """A (pooled, unsuppressed) histogram on the edges ``index``, a subset of its own."""
    counts, sums = rebin(h, index)
    return NumericStats(h.grid.coarsened(index), h.count, h.missing, h.mean, h.m2, counts, sums, h.kind)


def _common_edges(hists: Sequence[NumericStats], k: int, keep: int | None = None) -> np.ndarray | None:
    """Edges on which every histogram with values has bins of 0 or >= k (None: none has values).

    Pooled *jointly*: a group of bins closes when it holds 0 or >= k values in every
    histogram, so the shared bins are about as fine as the sparsest histogram's own.
    ``keep`` (an edge's grid index) is kept when each side of it can be pooled on its own
    under the same rule: the score histograms keep the decision threshold 0.5, without which
    accuracy, precision and recall cannot be told from them (core/stats/estimation.py).
    """
    full = [h for h in hists if h.count]
    if not full:
        return None
    index = full[0].grid.index
    for h in full[1:]:
        index = np.intersect1d(index, h.grid.index)
    c = np.array([rebin(h, index)[0] for h in full])
    close_empty = not full[0].grid.discrete
    if keep is not None and keep in index:
        j = int(np.searchsorted(index, keep))  # bin j ends at the kept edge
        left = _pool_groups(c, 0, j + 1, k, close_empty)
        right = _pool_groups(c, j + 1, c.shape[1], k, close_empty)
        if not _short(c, left[-1], k) and not _short(c, right[-1], k):
            return index[np.array([g[-1] for g in (left + right)[:-1]], dtype=np.int64)]
    groups = _pool_groups(c, 0, c.shape[1], k, close_empty)
    return index[np.array([g[-1] for g in groups[:-1]], dtype=np.int64)]


def _publish_numeric(total: NumericStats, parts: list[NumericStats], k: int) -> tuple[NumericStats, list[NumericStats]]:
    pub = [p.pooled(k) for p in parts]
    if any(p.suppressed for p in pub):  # the whole minus the other parts would be that part
        return NumericStats(total.grid, count=sum(p.count for p in pub), missing=sum(p.missing for p in pub),
                            kind=total.kind, suppressed=True), pub
    index = _common_edges(parts, k)
    if index is None:
        return total.pooled(k), pub
    # the whole is pooled within the parts' bins, so each of its bins lies inside one of theirs
    return total.pooled(k, np.intersect1d(index, total.grid.index)), [coarsen(p, index) for p in parts]


def _publish_categories(total: CategoryStats, parts: list[CategoryStats], k: int) -> tuple[CategoryStats, list[CategoryStats]]:
    pub = [p.pooled(k) for p in parts]
    # a value pooled in one part is pooled in all; a part with no values at all (a window whose
    # labels have not arrived: every target missing) pools nothing and names nothing
    full = [p for p in pub if p.count]
    keep = set.intersection(*(set(p.counts) for p in full)) if full else set()
    pub = [CategoryStats({v: p.counts[v] for v in sorted(keep) if v in p.counts}, p.missing,
                         p.other + sum(c for v, c in p.counts.items() if v not in keep), p.kind) for p in pub]
    # The whole: the common values (their sums), and out of the parts' "other" rows (0 or >= k in
    # each) the values with >= k rows; what is left is 0 or >= k, as pooling leaves it.
    missing = sum(p.missing for p in pub)
    named = {v: c for v, c in total.counts.items() if v not in keep and c >= k}
    rest = total.other + (total.missing - missing) + sum(c for v, c in total.counts.items() if v not in keep and c < k)
    while 0 < rest < k and named:
        rest += named.pop(min(named, key=lambda v: (named[v], v)))
    counts = {v: sum(p.counts.get(v, 0) for p in pub) for v in keep} | named
    return CategoryStats(dict(sorted(counts.items())), missing, rest, total.kind), pub


def _publish_col(total: Any, parts: list[Any], k: int) -> tuple[Any, list[Any]]:
    if total is None or any(p is None for p in parts):
        return (total.pooled(k) if total is not None else None), [p.pooled(k) if p is not None else None for p in parts]
    if isinstance(total, NumericStats):
        return _publish_numeric(total, parts, k)
    return _publish_categories(total, parts, k)


def _relabel(m: ModelStats, kept_t: set[str], kept_p: set[str] | None) -> tuple[dict[tuple[str, str], int], dict[str, NumericStats]]:
    """``m``'s exact confusion counts and score histograms with the classes not kept as ``other``."""
    conf: dict[tuple[str, str], int] = {}
    for (t, q), c in m.confusion.items():
        key = (t if t in kept_t else OTHER, q if (kept_p is None or q in kept_p) else OTHER)
        conf[key] = conf.get(key, 0) + c
    hists: dict[str, NumericStats] = {}
    for key, h in m.score_hist.items():
        key2 = key if key in kept_t else OTHER
        hists[key2] = hists[key2].merge(h) if key2 in hists else h
    return conf, hists


def _share_edges(hists: list[NumericStats], k: int) -> list[NumericStats]:
    """Pooled histograms that add up (per-class scores, the prediction) on the edges all kept."""
    pub = [h.pooled(k) for h in hists]
    if any(h.suppressed for h in pub):
        return [h.hidden(k) for h in hists]
    scores = all(h.grid.origin == 0.0 and h.grid.step == 1.0 / SCORE_BINS for h in hists)
    index = _common_edges(hists, k, keep=SCORE_BINS // 2 if scores else None)
    return pub if index is None else [coarsen(h, index) for h in hists]


def _publish_model(total: ModelStats, parts: list[ModelStats], k: int) -> tuple[ModelStats, list[ModelStats]]:
    """The model statistics of the whole and its parts, published so that no difference reveals a pooled cell."""
    whole = total.pooled(k)
    pub = [p.pooled(k) for p in parts]
    # residual sums: a part with 1..k-1 residuals publishes none, and the whole minus the other
    # parts would be its sums; more parts are hidden (smallest first) until the hidden hold >= k
    n = [p.errors.get("n", 0.0) for p in parts]
    hide = [0 < x < k for x in n]
    while 0 < sum(x for x, h in zip(n, hide) if h) < k:
        rest = [i for i, h in enumerate(hide) if not h and n[i] > 0]
        if not rest or len(parts) == 1:
            whole.errors = {}
            break
        hide[min(rest, key=lambda i: n[i])] = True
    for p, h in zip(pub, hide):
        if h:
            p.errors = {}
    whole.target, targets = _publish_col(total.target, [p.target for p in parts], k)
    whole.prediction, preds = _publish_col(total.prediction, [p.prediction for p in parts], k)
    for p, t, q in zip(pub, targets, preds):
        p.target, p.prediction = t, q
    if not isinstance(whole.target, CategoryStats) or not all(isinstance(t, CategoryStats) for t in targets):
        return whole, pub
    scored = isinstance(whole.prediction, NumericStats)
    # the whole: its own classes; the score histograms and the prediction's share their edges
    # the scores of unlabelled rows (the prediction minus the classes) are pooled with them: a
    # difference of bins is then 0 or >= k too (fewer than k such rows left the prediction in
    # _fill_model; what is left below k are missing scores filled in at the mean, which tell nothing)
    unlabelled = [d for d in ([_unlabelled_scores(total)] if scored else []) if d is not None and d.count >= k]
    hists = _share_edges(list(whole.score_hist.values()) + ([total.prediction] if scored else []) + unlabelled, k)
    del hists[len(hists) - len(unlabelled):]
    if scored:
        whole.prediction = hists.pop()
    whole.score_hist = dict(zip(whole.score_hist, hists))
    # the parts: the classes every part kept, and one set of edges for all their histograms
    # the classes every part with labels kept (a part without any, e.g. labels not in yet, keeps none)
    kept_t = set(next((t.counts for t in targets if t.count), {}))
    kept_p = set(next((q.counts for q in preds if q.count), {})) if isinstance(preds[0], CategoryStats) else None
    relabelled = [_relabel(p, kept_t, kept_p) for p in parts]
    flat = [h for _, hs in relabelled for h in hs.values()] + ([p.prediction for p in parts] if scored else [])
    unlabelled = [d for d in ([_unlabelled_scores(p) for p in parts] if scored else []) if d is not None and d.count >= k]
    flat = _share_edges(flat + unlabelled, k)
    del flat[len(flat) - len(unlabelled):]
    for p, (conf, hs) in zip(pub, relabelled):
        p.score_hist = {key: flat.pop(0) for key in hs}
    if scored:
        for p in pub:
            p.prediction = flat.pop(0)
    # confusion: a part with a cell of 1..k-1 is hidden; hidden parts are added to until together
    # they hold none, or the whole's matrix (the hidden parts' sum plus the published) is hidden too
    confs = [conf for conf, _ in relabelled]
    hidden = [any(0 < c < k for c in conf.values()) or total.confusion_suppressed for conf in confs]

    def small() -> bool:
        agg: dict[tuple[str, str], int] = {}
        for conf, h in zip(confs, hidden):
            for key, c in conf.items():
                agg[key] = agg.get(key, 0) + (c if h else 0)
        return any(0 < c < k for c in agg.values())

    while any(hidden) and small() and not all(hidden):
        hidden[min((i for i, h in enumerate(hidden) if not h), key=lambda i: sum(parts[i].confusion.values()))] = True
    if any(hidden) and small():
        whole.confusion, whole.confusion_suppressed = {}, True
    for p, conf, h in zip(pub, confs, hidden):
        p.confusion, p.confusion_suppressed = ({}, True) if h else (conf, False)
    return whole, pub


def _publish_parts(whole: Profile, parts: list[Profile], k: int) -> tuple[dict[str, Any], ModelStats | None, list[tuple[dict[str, Any], ModelStats | None]]]:
    """Publish a profile and its parts (windows, which add up to it) so that no difference of
    published numbers reveals what a part pooled (complementary suppression).

    The parts share one set of bin edges and of named values (those every part kept); a column
    or matrix hidden in one part is hidden in enough others (or in the whole) that the whole
    minus the published parts reveals nothing below k.
    """
    cols: dict[str, Any] = {}
    part_cols: list[dict[str, Any]] = [{} for _ in parts]
    for name, col in whole.columns.items():
        col, filled = _fill_missing(col, [p.columns[name] for p in parts], k)
        cols[name], pub = _publish_col(col, filled, k)
        for d, c in zip(part_cols, pub):
            d[name] = c
    if whole.model is None or any(p.model is None for p in parts):
        return cols, (whole.model.pooled(k) if whole.model is not None else None), [
            (c, p.model.pooled(k) if p.model is not None else None) for c, p in zip(part_cols, parts)]
    model, models = _publish_model(*_fill_model(whole.model, [p.model for p in parts], k), k)
    return cols, model, list(zip(part_cols, models))


def _fill_missing(total: Any, parts: list[Any], k: int) -> tuple[Any, list[Any]]:
    """Numeric columns whose parts miss 1..k-1 values, with those values filled in at the part's mean.

    ``count + missing`` is the row count, which is published, so a missing count of 1..k-1 is a
    group of fewer than k rows whatever else is hidden. Filled at the mean, the rows add nothing
    to the variance and leave the mean as it is; the same values are added to the whole (of which
    ``parts`` are disjoint pieces, or ``[total]`` itself), so no difference tells them apart.
    """
    if not isinstance(total, NumericStats) or any(not isinstance(p, NumericStats) for p in parts):
        return total, parts
    alone = len(parts) == 1 and parts[0] is total
    out = []
    for p in parts:
        if not p.suppressed and p.count >= k and 0 < p.missing < k:
            value = p.mean
            out.append(p.filled(p.missing, value))
            if not alone:
                total = total.filled(p.missing, value)
        else:
            out.append(p)
    return (out[0] if alone else total), out


def _fill_model(total: ModelStats, parts: list[ModelStats], k: int) -> tuple[ModelStats, list[ModelStats]]:
    """``_fill_missing`` for the model block, and the scores of unlabelled rows kept from being a
    difference: the prediction's histogram minus the per-class ones is the scores of rows without
    a label, so 1..k-1 of them are taken out of the prediction (published as missing scores) —
    labelled rows without a score are filled in at their class's mean score, in the class's
    histogram and the prediction's alike."""
    alone = len(parts) == 1 and parts[0] is total
    tot = copy.copy(total)
    tot.score_hist = dict(total.score_hist)
    ps = [tot] if alone else [copy.copy(p) for p in parts]
    for p in ps:
        p.score_hist = dict(p.score_hist)
    if total.prediction_kind == "score" and isinstance(total.prediction, NumericStats):
        for p in ps:
            for key, h in list(p.score_hist.items()):
                if not h.suppressed and h.count >= k and 0 < h.missing < k:
                    m, value = h.missing, h.mean
                    p.score_hist[key] = h.filled(m, value)
                    p.prediction = p.prediction.filled(m, value)
                    if not alone:
                        tot.score_hist[key] = tot.score_hist[key].filled(m, value)
                        tot.prediction = tot.prediction.filled(m, value)
            unlabelled = _unlabelled_scores(p)
            if unlabelled is not None and 0 < unlabelled.count < k:
                p.prediction = p.prediction.without(unlabelled)
                p.prediction.missing += unlabelled.count
                if not alone:
                    tot.prediction = tot.prediction.without(unlabelled)
                    tot.prediction.missing += unlabelled.count
    for attr in ("target", "prediction"):
        whole, filled = _fill_missing(getattr(tot, attr), [getattr(p, attr) for p in ps], k)
        setattr(tot, attr, whole)
        for p, col in zip(ps, filled):
            setattr(p, attr, col)
    return tot, ps


def _unlabelled_scores(m: ModelStats) -> NumericStats | None:
    """The scores of rows with a score and no label (the prediction minus the per-class histograms;
    exact statistics), their missing count 0; None when there are no such statistics."""
    if not isinstance(m.prediction, NumericStats) or m.prediction.suppressed or \
            any(h.suppressed for h in m.score_hist.values()):
        return None
    labelled = NumericStats(m.prediction.grid, kind=m.prediction.kind)
    for h in m.score_hist.values():
        labelled = labelled.merge(h)
    out = m.prediction.without(labelled)
    out.missing = 0
    return out


def _common_grid(g: Grid, h: Grid, index: np.ndarray) -> Grid:
    """``g`` on the edges ``index`` (a subset of both grids'), knowing the values both know alone in a bin."""
    a, b = g.coarsened(index), h.coarsened(index)
    support = None if (a.support is None or b.support is None) else np.intersect1d(a.support, b.support)
    return Grid(g.origin, g.step, index, g.cells, support)


def _common_bins(a: NumericStats, b: NumericStats) -> tuple[np.ndarray, np.ndarray]:
    """Counts of two histograms on the same grid, re-binned to the edges both kept."""
    common = np.intersect1d(a.grid.index, b.grid.index)
    return rebin(a, common)[0], rebin(b, common)[0]


def rebin(h: NumericStats, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``h``'s counts and sums added up into the bins of the edges ``index`` (a subset of ``h``'s)."""
    if not h.counts.size:
        return h.counts, h.sums
    pos = np.searchsorted(h.grid.index, index)
    bounds = np.concatenate([[0], pos + 1])
    bounds = bounds[bounds < h.counts.size]
    return np.add.reduceat(h.counts, bounds), np.add.reduceat(h.sums, bounds)


def _align_merge(a: NumericStats, b: NumericStats) -> NumericStats:
    common = np.intersect1d(a.grid.index, b.grid.index)
    grid = Grid(a.grid.origin, a.grid.step, common, a.grid.cells)
    return NumericStats(grid, a.count + b.count, a.missing + b.missing,
                        counts=rebin(a, common)[0] + rebin(b, common)[0], sums=np.zeros(common.size + 1))


# --------------------------------------------------------------------------------------
# Differential privacy (optional)
# --------------------------------------------------------------------------------------

#: The chance that a category (or class) held by a single row is named in a noisy release: the
#: naming threshold is set from it (the "delta" of (epsilon, delta)-differential privacy).
DP_DELTA = 1e-6
#: Where each dataset's spent epsilon is written when ``Noise.ledger`` is not given.
LEDGER_ENV = "VISION_PRIVACY_LEDGER"


@dataclass(frozen=True)
class Noise:
    """Differential privacy for a profile's release (Laplace noise on every published count).

    Each row adds one to exactly one count per histogram (a bin or "missing"), category list,
    confusion matrix and score-histogram set: with ``q`` of those in the profile, Laplace noise
    of scale ``q / epsilon`` on every count makes the release epsilon-differentially private for
    the counts (add or remove one row); a category or class is named only when its noisy count
    clears a threshold set from ``DP_DELTA`` (so names are (epsilon, delta)-private). Sums,
    means and variances are computed from the noisy histogram (bin mid-points; the mean is then
    within a bin width of the true one), windows hold disjoint rows (each costs epsilon once, in
    parallel), and the whole is the sum of its noisy windows. The k-guard pools the noisy counts
    afterwards. Left out of a noisy release: the surrogate and the regression error sums (their
    sensitivity is the whole value range). Not covered by epsilon: a *reference's* bin edges and
    discrete values (pooled quantiles of its data); a current profile uses its reference's.

    ``budget`` is the total epsilon the same data may spend; each release is written to a ledger
    file (``ledger``, or $VISION_PRIVACY_LEDGER, or ``~/.vision/privacy_ledger.json``) under a
    hash of the data's exact profile, and a release past the budget is refused. ``seed`` only
    makes tests reproducible.
    """

    epsilon: float
    budget: float | None = None
    ledger: str | None = None
    seed: int | None = None
    #: Numeric histograms are published on at most this many of the reference's bins (every
    #: m-th edge kept, so they stay about equally full): each bin carries its own noise, so
    #: fewer, fuller bins make every distance far more accurate (see docs/statistics.md).
    bins: int = 20

    def __post_init__(self) -> None:
        if not (isinstance(self.bins, int) and self.bins >= 2):
            raise InvalidInput(f"bins={self.bins!r} must be a whole number of at least 2.", field="bins")
        if not (isinstance(self.epsilon, (int, float)) and math.isfinite(self.epsilon) and self.epsilon > 0):
            raise InvalidInput(f"epsilon={self.epsilon!r} must be a positive number (1 is a common choice; "
                               "smaller hides more and costs more accuracy).", field="epsilon")
        if self.budget is not None and not (math.isfinite(self.budget) and self.budget >= self.epsilon):
            raise InvalidInput(f"budget={self.budget!r} must be at least epsilon={self.epsilon:g}.", field="budget")

    @property
    def total(self) -> float:
        return self.budget if self.budget is not None else self.epsilon

    def ledger_path(self) -> str:
        return self.ledger or os.environ.get(LEDGER_ENV) or os.path.join(os.path.expanduser("~"), ".vision",
                                                                           "privacy_ledger.json")


def _dp_queries(prof: Profile) -> int:
    """How many counts one row adds to (its L1 sensitivity): one per column and model part."""
    q = len(prof.columns)
    m = prof.model
    if m is not None:
        q += (m.target is not None) + (m.prediction is not None)
        if m.task == CLASSIFICATION and m.target is not None and m.prediction is not None:
            q += 1  # the confusion matrix
            q += m.prediction_kind == "score"  # the per-class score histograms
    return max(q, 1)


def _laplace(rng: np.random.Generator, x: np.ndarray | float, scale: float) -> np.ndarray:
    return np.maximum(np.rint(np.asarray(x, dtype=np.float64) + rng.laplace(0.0, scale, np.shape(x))), 0).astype(np.int64)


def _representatives(g: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Per bin, the value that stands for its rows in a noisy release, and the bin's width (0 for a point)."""
    edges = g.edges
    if edges.size == 0:
        return np.array([g.origin + g.step * g.cells / 2]), np.zeros(1)
    inner = np.diff(edges)
    w_lo = inner[0] if inner.size else g.step
    w_hi = inner[-1] if inner.size else g.step
    reps = np.concatenate([[edges[0] - w_lo / 2], (edges[:-1] + edges[1:]) / 2, [edges[-1] + w_hi / 2]])
    widths = np.concatenate([[w_lo], inner, [w_hi]])
    atoms = g.atoms()
    point = ~np.isnan(atoms)
    reps[point], widths[point] = atoms[point], 0.0
    return reps, widths


def _fewer_bins(h: NumericStats, bins: int) -> NumericStats:
    """``h`` on every m-th of its edges, so it has at most ``bins`` bins (its own data plays no part)."""
    if h.grid.nbins <= bins:
        return h
    step = math.ceil(h.grid.nbins / bins)
    return coarsen(h, h.grid.index[step - 1::step])


def _noisy_numeric(h: NumericStats, scale: float, k: int, rng: np.random.Generator, missing: bool = True,
                   bins: int | None = None, like: Any = None) -> NumericStats:
    if bins is not None:
        h = _fewer_bins(h, bins)
    counts = _laplace(rng, h.counts, scale)
    noisy_missing = int(_laplace(rng, float(h.missing), scale)) if missing else 0
    missing_n = noisy_missing if noisy_missing >= k else 0  # as for categories: below k it is noise
    n = int(counts.sum())
    reps, widths = _representatives(h.grid)
    if isinstance(like, NumericStats) and not like.suppressed and like.count and \
            np.isin(h.grid.index, like.grid.index).all():
        # a current profile: the reference's own mean value per bin (its tail means above all), which
        # the reader sees on the reference side too, so mid-points do not read as drift
        ref = coarsen(like, h.grid.index)
        full = ref.counts > 0
        reps[full] = ref.sums[full] / ref.counts[full]
    sums = counts * reps
    mean = float(sums.sum() / n) if n else 0.0
    # Sheppard: a bin's rows spread over its width add width^2/12 each to the variance
    m2 = float((counts * (reps - mean) ** 2).sum() + (counts * widths ** 2).sum() / 12) if n else 0.0
    return NumericStats(h.grid, n, missing_n, mean, m2, counts, sums.astype(np.float64), h.kind)


def _noisy_categories(c: CategoryStats, scale: float, tau: float, k: int, rng: np.random.Generator) -> CategoryStats:
    keys = sorted(c.counts)
    raw = np.array([c.counts[key] for key in keys], dtype=np.float64) + rng.laplace(0.0, scale, len(keys))
    named = {key: int(round(v)) for key, v in zip(keys, raw) if v >= tau}
    other = float(c.other) + rng.laplace(0.0, scale) + float(sum(v for key, v in zip(keys, raw) if key not in named))
    # a noisy "other" or missing below k is noise, not a group: read as 0 (post-processing), so the
    # k-guard does not pool a named value into it
    other_n, missing = max(int(round(other)), 0), int(_laplace(rng, float(c.missing), scale))
    return CategoryStats(named, missing if missing >= k else 0, other_n if other_n >= k else 0, c.kind)


def _noisy_col(col: Any, scale: float, tau: float, k: int, rng: np.random.Generator, bins: int | None = None,
               like: Any = None) -> Any:
    if col is None:
        return None
    if isinstance(col, NumericStats):
        return _noisy_numeric(col, scale, k, rng, bins=bins, like=like)
    return _noisy_categories(col, scale, tau, k, rng)


def _noisy_model(m: ModelStats, scale: float, tau: float, k: int, rng: np.random.Generator) -> ModelStats:
    out = ModelStats(m.task, m.prediction_kind, m.positive_class)
    out.target = _noisy_col(m.target, scale, tau, k, rng)
    out.prediction = _noisy_col(m.prediction, scale, tau, k, rng)
    if isinstance(out.target, CategoryStats):
        kept_t = set(out.target.counts)
        kept_p = set(out.prediction.counts) if isinstance(out.prediction, CategoryStats) else None
        conf, hists = _relabel(m, kept_t, kept_p)
        if kept_p is None:  # a score's predicted classes are target classes: named only if kept
            scored: dict[tuple[str, str], int] = {}
            for (t, q), c in conf.items():
                key = (t, q if q in kept_t else OTHER)
                scored[key] = scored.get(key, 0) + c
            conf = scored
        # every cell of the kept classes, empty ones too: which pairs occur is itself a count
        rows = sorted(kept_t | {OTHER})
        cols = sorted(kept_p | {OTHER}) if kept_p is not None else sorted({q for _, q in conf})
        if m.confusion:
            cells = [(t, q) for t in rows for q in cols]
            noisy = _laplace(rng, np.array([conf.get(cell, 0) for cell in cells], dtype=np.float64), scale)
            out.confusion = {cell: int(v) for cell, v in zip(cells, noisy) if v >= k}  # below k: noise
        out.score_hist = {key: _noisy_numeric(h, scale, k, rng, missing=False) for key, h in sorted(hists.items())}
        unlabelled = _unlabelled_scores(m)
        if unlabelled is not None and isinstance(out.prediction, NumericStats):
            # the prediction is the noisy classes plus the noisy unlabelled scores (one row, one of
            # them: one query), so the two agree and no difference of them is negative
            pred = _noisy_numeric(unlabelled, scale, k, rng, missing=False)
            for h in out.score_hist.values():
                pred = pred.merge(h)
            pred.missing = out.prediction.missing
            out.prediction = pred
    return out


def _noisy_body(prof: Profile, scale: float, tau: float, rng: np.random.Generator, bins: int,
                like: Profile | None = None) -> Profile:
    ref = like.columns if like is not None else {}
    cols = {name: _noisy_col(col, scale, tau, prof.k, rng, bins, ref.get(name)) for name, col in prof.columns.items()}
    model = _noisy_model(prof.model, scale, tau, prof.k, rng) if prof.model is not None else None
    rows = [c.count + c.missing for c in cols.values()]  # post-processing: each column's noisy total
    return Profile(rows=int(np.median(rows)) if rows else 0, k=prof.k, roles=prof.roles, columns=cols, model=model,
                   window=prof.window, reference_id=prof.reference_id)


def _data_key(prof: Profile) -> str:
    """A hash of the exact profile (this data, these settings): the ledger's key. Never published."""
    return hashlib.sha256(json.dumps(prof._dict(top=True), sort_keys=True, default=str).encode()).hexdigest()


def _read_ledger(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"the privacy ledger {path} cannot be read ({exc}); without it the budget already "
                           "spent is unknown — restore it, or point Noise(ledger=...) at the right file.",
                           field="ledger") from None
    return data if isinstance(data, dict) else {}


def _write_ledger(path: str, data: Mapping[str, Any]) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
    os.replace(tmp, path)  # all or nothing: a crash never leaves half a ledger


def _noisy_release(prof: Profile) -> Profile:
    """The published form of a profile with ``noise``: noisy counts, then the k-guard (see ``Noise``)."""
    n = prof.noise
    assert n is not None
    path, key = n.ledger_path(), _data_key(prof)
    ledger = _read_ledger(path)
    spent = float((ledger.get(key) or {}).get("spent", 0.0))
    if spent + n.epsilon > n.total * (1 + 1e-9):
        raise InvalidInput(
            f"the privacy budget of this data is spent: earlier releases used ε={spent:g} of its budget "
            f"ε={n.total:g} (ledger {path}), and this one would add ε={n.epsilon:g}. Send the profile you "
            "already published, or agree a larger budget with the data's owner.", field="privacy.budget")
    q = _dp_queries(prof)
    scale = q / n.epsilon
    tau = max(float(prof.k), 1.0 + scale * math.log(1.0 / (2.0 * DP_DELTA)))
    rng = np.random.default_rng(n.seed)
    noisy = copy.copy(prof)
    noisy.noise, noisy._release, noisy._like, noisy.surrogate = None, None, None, None
    bodies = {label: _noisy_body(w, scale, tau, rng, n.bins, prof._like) for label, w in prof.windows.items()}
    if bodies:  # the whole is the sum of its noisy windows (free: post-processing)
        whole = None
        for body in bodies.values():
            whole = body if whole is None else _merge_body(whole, body)
        assert whole is not None
    else:
        whole = _noisy_body(prof, scale, tau, rng, n.bins, prof._like)
    noisy.windows, noisy.rows, noisy.columns, noisy.model = bodies, whole.rows, whole.columns, whole.model
    if noisy.model is not None:
        noisy.model.errors = {}
    noisy.notes = list(prof.notes) + [
        f"Differentially private release: Laplace noise of scale {scale:g} on every count (ε={n.epsilon:g}, "
        f"δ={DP_DELTA:g} for naming categories, which need a noisy count of {tau:.0f}); means and variances "
        "come from the noisy histograms; no surrogate or error sums."]
    out = noisy.private()
    out.dp = {"mechanism": "laplace", "epsilon": float(n.epsilon), "delta": DP_DELTA, "queries": q,
              "scale": float(scale), "spent": spent + n.epsilon, "budget": float(n.total)}
    ledger[key] = {"spent": spent + n.epsilon, "releases": int((ledger.get(key) or {}).get("releases", 0)) + 1}
    _write_ledger(path, ledger)
    return out


def _dp_from(d: Any) -> dict[str, Any]:
    """The ``privacy`` block of a noisy profile, checked; one whose budget is overspent is refused."""
    d = _mapping(d, "profile.privacy")
    if d.get("mechanism") != "laplace":
        raise InvalidInput(f"profile.privacy.mechanism is {d.get('mechanism')!r}; this version knows 'laplace'.",
                           field="profile.privacy.mechanism")
    out: dict[str, Any] = {"mechanism": "laplace"}
    for key in ("epsilon", "delta", "scale", "spent", "budget"):
        v = _float(d.get(key), f"profile.privacy.{key}")
        if v < 0:
            raise InvalidInput(f"profile.privacy.{key} is negative; the profile JSON is invalid.", field=f"profile.privacy.{key}")
        out[key] = v
    out["queries"] = _int_field(d, "queries", "profile.privacy")
    if out["epsilon"] <= 0:
        raise InvalidInput("profile.privacy.epsilon must be positive.", field="profile.privacy.epsilon")
    if out["spent"] > out["budget"] * (1 + 1e-9):
        raise InvalidInput(
            f"this profile was released after its data's privacy budget was spent (ε={out['spent']:g} used of "
            f"{out['budget']:g}); it is refused — publish within the budget, or agree a larger one.",
            field="profile.privacy.spent")
    return out


# --------------------------------------------------------------------------------------
# merge
# --------------------------------------------------------------------------------------


def merge(a: Profile, b: Profile) -> Profile:
    """Combine the profiles of two disjoint parts of one dataset.

    Exact for counts, moments, histograms and category counts: ``merge(profile(A),
    profile(B))`` equals ``profile(A ∪ B)`` when both parts were profiled against
    the same reference (or, for reference profiles, with the same edges). Windows
    with the same label are merged. The surrogate of ``a`` is kept (else ``b``'s).

    Pooled profiles (read with ``from_json``) merge too, and so does a pooled with
    an in-memory one (which is pooled first): the result is pooled, every number in
    it is backed by at least k rows, and what stays suppressed is listed in
    docs/statistics.md ("Merging pooled profiles"): histograms merge on the edges
    both kept; a value pooled into ``other`` on one side stays there; a window
    published by one side only is carried over; a column suppressed on one side
    keeps only its count and missing count.
    """
    if a.reference_id is not None and b.reference_id is not None and a.reference_id != b.reference_id:
        raise InvalidInput(f"the two profiles were made against different references ({a.reference_id} and "
                           f"{b.reference_id}); profile every part against the same reference (reference=... / "
                           "--reference REF.json) and merge those.", field="reference_id")
    if a.pooled != b.pooled:  # never publish the in-memory side's exact small counts under the pooled flag
        a, b = a.private(), b.private()
    if a.k != b.k:
        raise InvalidInput(f"the profiles use different privacy thresholds (k={a.k} and k={b.k}); use the same k.")
    if a.schema_version != b.schema_version:
        raise InvalidInput(f"the profiles have different schema versions ({a.schema_version} and {b.schema_version}); "
                           "recompute the older one with this version of vision_widgets.", field="schema_version")
    if set(a.columns) != set(b.columns):
        missing = sorted(set(a.columns) ^ set(b.columns))
        raise InvalidInput(f"the profiles do not have the same columns (differ in {missing}); profile both parts with the same roles.")
    if (a.dp is None) != (b.dp is None):
        noisy = a if a.dp is not None else b
        raise InvalidInput(f"one profile is differentially private (ε={noisy.dp['epsilon']:g}) and the other is not: "
                           "their sum would publish the exact numbers beside the noisy ones; profile both parts with "
                           "the same noise settings.", field="privacy")
    out = _merge_body(a, b)
    if a.dp is not None and b.dp is not None:  # disjoint parts (merge's contract): parallel composition
        out.dp = {key: (a.dp[key] if a.dp[key] == b.dp[key] else max(a.dp[key], b.dp[key]))
                  for key in a.dp}
    out.surrogate = a.surrogate if a.surrogate is not None else b.surrogate
    out.windows = dict(a.windows)
    for label, w in b.windows.items():
        out.windows[label] = _merge_body(out.windows[label], w) if label in out.windows else w
    out.windows = dict(sorted(out.windows.items()))
    out.notes = list(dict.fromkeys(a.notes + b.notes))
    return out


def _merge_body(a: Profile, b: Profile) -> Profile:
    cols = {name: _merge_col(a.columns[name], b.columns[name], name) for name in a.columns}
    model = a.model.merge(b.model) if (a.model is not None and b.model is not None) else (a.model or b.model)
    return Profile(rows=a.rows + b.rows, k=a.k, roles=a.roles, columns=cols, model=model, window=a.window,
                   reference_id=a.reference_id, pooled=a.pooled or b.pooled)


# --------------------------------------------------------------------------------------
# Privacy report
# --------------------------------------------------------------------------------------


def privacy_report(prof: Profile) -> list[str]:
    """Everything the profile's JSON contains, in plain language, for whoever approves sending it."""
    p = prof if prof.pooled else prof.private()
    k = p.k
    lines = [
        f"This profile summarises {p.rows:,} rows. It contains no individual row, no exact minimum "
        f"or maximum, and nothing backed by fewer than {k} rows (smaller groups are pooled); no published "
        "number can be subtracted from others to reveal a pooled group (the whole is published as the sum of "
        "its windows, on the bins and values every window kept).",
        "Extreme values are clipped at bounds derived from the reference's bin grid before any sum, mean or "
        "variance is taken, so these reveal at most that a value lies beyond the bound, never the value.",
    ]
    if p.dp is not None:
        lines.insert(0, (
            f"Differentially private (ε={p.dp['epsilon']:g}, δ={p.dp['delta']:g}): every count carries Laplace noise "
            f"of scale {p.dp['scale']:g}, so whether any one row is in the data changes what is published by a "
            f"factor of at most e^ε; means and variances are computed from the noisy counts. This release brings "
            f"the data's spent budget to ε={p.dp['spent']:g} of {p.dp['budget']:g}. The bin edges of a reference "
            "profile are not covered by ε (they are pooled quantiles of its data)."))
    excluded = list(p.roles.exclude)
    if excluded:
        lines.append(f"Excluded columns, not read into the profile at all: {', '.join(excluded)}.")
    for name, col in p.columns.items():
        if isinstance(col, NumericStats):
            if col.suppressed:
                lines.append(f"'{name}' (numeric): only its row count and missing count — it has fewer than {k} values.")
            else:
                lines.append(
                    f"'{name}' (numeric): count, missing count, mean, variance, and the number of rows in each "
                    f"of {col.grid.nbins} ranges (every range holds 0 or at least {k} rows; the two outer ranges "
                    "are open-ended and only their average value is given)."
                )
        else:
            values = list(col.counts)
            shown = ", ".join(repr(v) for v in values[:10]) + (" …" if len(values) > 10 else "")
            lines.append(
                f"'{name}' ({col.kind}): the number of rows for each of {len(values)} values that appear in at least "
                f"{k} rows ({shown or 'none'}); {col.other:,} rows with rarer values are counted together as 'other', "
                f"without their values ('other' and the missing count are each 0 or at least {k}; fewer missing rows "
                "are counted in 'other')."
            )
    m = p.model
    if m is not None:
        if isinstance(m.target, CategoryStats):
            lines.append(f"Target '{p.roles.target}': the number of rows per class ({', '.join(map(repr, m.target.counts))}).")
        elif m.target is not None:
            lines.append(f"Target '{p.roles.target}': count, mean, variance and a histogram, as for numeric columns.")
        if m.confusion:
            lines.append("The confusion counts: how many rows have each (true class, predicted class) pair "
                         f"(every pair 0 or at least {k} rows).")
        elif m.confusion_suppressed:
            lines.append(f"No confusion counts: a (true class, predicted class) pair had fewer than {k} rows.")
        if m.score_hist:
            lines.append("Per true class, how many prediction scores fall in each range of [0, 1] (for ROC AUC).")
        if m.errors:
            lines.append("The sum, sum of absolute values and sum of squares of the prediction errors (for MAE and RMSE).")
    if p.surrogate is not None:
        lines.append(
            f"A linear surrogate model: one coefficient and its variance for each of {len(p.surrogate.terms)} terms "
            "(standardised numeric columns and frequent categories)."
        )
    if p.windows:
        lines.append(f"The same summaries for each of {len(p.windows)} time windows (a window with fewer than {k} rows "
                     "is merged with its neighbour and labelled with both).")
    lines.append("Column names, the roles above, the privacy threshold k and a fingerprint of the bin edges.")
    return lines


# --------------------------------------------------------------------------------------
# JSON validation helpers
# --------------------------------------------------------------------------------------


def _optional_text(v: Any, where: str) -> str | None:
    if v is not None and not isinstance(v, str):
        raise InvalidInput(f"{where} must be text or null.", field=where)
    return v


def _int_field(d: Mapping[str, Any], key: str, where: str) -> int:
    if key not in d:
        raise InvalidInput(f"{where}.{key} is missing; the profile JSON was edited or truncated — recompute it.",
                           field=f"{where}.{key}")
    return _nonneg_int(d[key], f"{where}.{key}")


def _nonneg_int(v: Any, where: str) -> int:
    """``v`` if it is a whole number that a count can hold: 0 to ``MAX_COUNT`` (int64)."""
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= MAX_COUNT:
        shown = repr(v) if len(repr(v)) <= 40 else repr(v)[:37] + "..."
        raise InvalidInput(f"{where} must be a whole number from 0 to {MAX_COUNT:,} (got {shown}); "
                           "the profile JSON is invalid — recompute it.", field=where)
    return v


def _float(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
        shown = repr(v) if len(repr(v)) <= 40 else repr(v)[:37] + "..."
        raise InvalidInput(f"{where} must be a finite number (got {shown}); the profile JSON is invalid — recompute it.",
                           field=where)
    return float(v)


def _int_list(d: Mapping[str, Any], key: str, where: str, length: int) -> np.ndarray:
    """A list of ``length`` counts whose total also fits a count (numpy sums them as int64)."""
    v = d.get(key)
    if not isinstance(v, list) or len(v) != length:
        raise InvalidInput(f"{where}.{key} must be a list of {length} whole numbers; the profile JSON is invalid.",
                           field=f"{where}.{key}")
    counts = [_nonneg_int(x, f"{where}.{key}[{i}]") for i, x in enumerate(v)]
    if sum(counts) > MAX_COUNT:
        raise InvalidInput(f"{where}.{key} adds up to more than {MAX_COUNT:,}; the profile JSON is invalid.",
                           field=f"{where}.{key}")
    return np.array(counts, dtype=np.int64)


def _mapping(v: Any, where: str, what: str = "an object") -> Mapping[str, Any]:
    if not isinstance(v, Mapping):
        raise InvalidInput(f"{where} must be {what}; the profile JSON is invalid.", field=where)
    return v


def _grid_from(h: Mapping[str, Any], where: str) -> Grid:
    origin = _float(h.get("origin"), f"{where}.origin")
    step = _float(h.get("step"), f"{where}.step")
    cells = _nonneg_int(h.get("cells"), f"{where}.cells")
    if cells > GRID_CELLS:
        raise InvalidInput(f"{where}.cells must be at most {GRID_CELLS}; the profile JSON was edited.",
                           field=f"{where}.cells")
    idx = h.get("grid")
    if not (step > 0 and isinstance(idx, list)):
        raise InvalidInput(f"{where}: step must be positive and grid a list; the profile JSON is invalid.",
                           field=f"{where}.step" if not step > 0 else f"{where}.grid")
    index = np.array([_nonneg_int(i, f"{where}.grid[{n}]") for n, i in enumerate(idx)], dtype=np.int64)
    if index.size and (np.any(np.diff(index) <= 0) or index[-1] > cells):
        raise InvalidInput(f"{where}.grid must be increasing and within [0, cells]; the profile JSON was edited.",
                           field=f"{where}.grid")
    support = None
    discrete = h.get("discrete", False)
    if not isinstance(discrete, bool):
        raise InvalidInput(f"{where}.discrete must be true or false; the profile JSON is invalid.",
                           field=f"{where}.discrete")
    raw = h.get("support")
    if raw is not None and not discrete:
        raise InvalidInput(f"{where}.support belongs to a discrete histogram only; the profile JSON was edited.",
                           field=f"{where}.support")
    if discrete:
        if not isinstance(raw, list):
            raise InvalidInput(f"{where}.support must be a list of numbers for a discrete histogram; "
                               "the profile JSON is invalid.", field=f"{where}.support")
        support = np.array([_float(v, f"{where}.support[{n}]") for n, v in enumerate(raw)], dtype=np.float64)
        if support.size and np.any(np.diff(support) <= 0):
            raise InvalidInput(f"{where}.support must be increasing; the profile JSON was edited.",
                               field=f"{where}.support")
    grid = Grid(origin, step, index, cells, support)
    with np.errstate(over="ignore", invalid="ignore"):
        finite = bool(np.all(np.isfinite(grid.edges))) and math.isfinite(origin + cells * step)
    if not finite:
        raise InvalidInput(f"{where}: origin + grid x step overflows; the profile JSON is invalid.", field=where)
    if support is not None and support.size and np.any(np.bincount(np.searchsorted(grid.edges, support)) > 1):
        raise InvalidInput(f"{where}.support lists two values in one bin; the profile JSON was edited.",
                           field=f"{where}.support")
    return grid


# -- reading JSON ------------------------------------------------------------------------

_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _json_depth(raw: bytes) -> int:
    """How deep arrays and objects nest in ``raw`` (brackets inside strings do not count).

    A linear scan without recursion: strings are cut out by one regular expression,
    everything but brackets is dropped, and the running depth is a cumulative sum,
    taken 1 MiB at a time so a 10 MB body never needs more than a few MB.
    """
    structure = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    depth = peak = 0
    block = 1 << 20
    for start in range(0, len(structure), block):
        b = np.frombuffer(structure, dtype=np.uint8, count=min(block, len(structure) - start), offset=start)
        run = depth + np.cumsum(np.where((b == 0x5B) | (b == 0x7B), 1, -1), dtype=np.int64)
        peak = max(peak, int(run.max()))
        depth = int(run[-1])
    return peak


def _check_finite(value: Any, path: str) -> None:
    """Refuse NaN and ±Infinity anywhere (Python's parser reads them; JSON has no such numbers)."""
    stack = [(value, path)]
    while stack:
        v, where = stack.pop()
        if isinstance(v, float):
            if not math.isfinite(v):
                raise InvalidInput(f'Field "{where}" is {v!r}: every number must be finite (JSON has no NaN '
                                   "or Infinity, nor numbers beyond ±1.8e308); recompute the profile.",
                                   field=where or None)
        elif isinstance(v, dict):
            for k, item in v.items():
                key = f"{where}.{k}" if k.isidentifier() else f"{where}[{k!r}]"
                stack.append((item, key.lstrip(".")))
        elif isinstance(v, list):
            stack.extend((item, f"{where}[{i}]") for i, item in enumerate(v))


def load_json(text: str | bytes | bytearray, what: str = "the document") -> Any:
    """Parse JSON that came from outside, refusing what would break the code reading it.

    * nesting deeper than ``MAX_JSON_DEPTH`` is refused *before* parsing
      (``MalformedJSON``), so no input can exhaust the parser's recursion;
    * text that is not JSON raises ``MalformedJSON``;
    * NaN, Infinity and numbers too large for a float (``1e999``) raise
      ``InvalidInput`` whose ``field`` is the path of the first one found.
    """
    if not isinstance(text, (str, bytes, bytearray)):
        raise InvalidInput(f"{what} must be JSON text, not {type(text).__name__}.")
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    depth = _json_depth(raw)
    if depth > MAX_JSON_DEPTH:
        raise MalformedJSON(f"{what} nests arrays/objects {depth:,} levels deep; at most {MAX_JSON_DEPTH} are "
                            "allowed (a profile needs about 8). Send the file the client wrote.")
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        detail = str(exc)[:200]
        raise MalformedJSON(f"{what} is not valid JSON ({detail}); send the file the client wrote.") from None
    _check_finite(data, "")
    return data


# --------------------------------------------------------------------------------------
# Reading data in chunks
# --------------------------------------------------------------------------------------


def _label_of(v: Any) -> str:
    """The canonical text of one value (1, 1.0 and True-as-1 agree across files)."""
    if isinstance(v, (bool, np.bool_)):
        return "True" if v else "False"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return str(int(f)) if f.is_integer() and abs(f) < 2**53 else repr(f)
    return str(v)


class _Chunk:
    """Column access over one chunk of rows, from pandas or Arrow, without copying much."""

    n: int
    offset: int  # index of the chunk's first row in the whole data

    def numeric(self, col: str) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def codes(self, col: str) -> tuple[np.ndarray, list[str]]:  # pragma: no cover
        raise NotImplementedError

    def value_counts(self, col: str) -> tuple[np.ndarray, list[str], int]:
        """Rows per label (one count per label, in the order of ``codes``' labels), labels, missing rows."""
        codes, labels = self.codes(col)
        bc = np.bincount(codes + 1, minlength=len(labels) + 1)
        return bc[1:], labels, int(bc[0])

    def series(self, col: str) -> pd.Series:  # pragma: no cover
        raise NotImplementedError

    def take(self, idx: np.ndarray) -> "_Chunk":  # pragma: no cover
        raise NotImplementedError

    def head(self, n: int) -> pd.DataFrame:  # pragma: no cover
        raise NotImplementedError


def _mixed(col: str, value: Any, row: int | None) -> InvalidInput:
    at = f" (row {row + 1})" if row is not None else ""
    return InvalidInput(
        f"column {col!r} mixes numbers and text: {str(value)[:40]!r}{at} is not a number. Clean the column, "
        f"or declare it categorical (types={{{col!r}: 'categorical'}} / treat it as text)."
    )


class _PandasChunk(_Chunk):
    def __init__(self, df: pd.DataFrame, offset: int) -> None:
        self.df, self.n, self.offset = df, len(df), offset

    def numeric(self, col: str) -> np.ndarray:
        s = self.df[col]
        if pd.api.types.is_bool_dtype(s.dtype):
            return s.astype("float64").to_numpy()
        if pd.api.types.is_numeric_dtype(s.dtype):
            return s.to_numpy(dtype=np.float64, na_value=np.nan)
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            raise InvalidInput(f"column {col!r} holds dates/times: name it as the timestamp (--timestamp {col}) or exclude it.")
        conv = pd.to_numeric(s, errors="coerce")
        bad = conv.isna().to_numpy() & s.notna().to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise _mixed(col, s.iloc[i], self.offset + i)
        return conv.to_numpy(dtype=np.float64, na_value=np.nan)

    def codes(self, col: str) -> tuple[np.ndarray, list[str]]:
        codes, uniques = pd.factorize(self.df[col], use_na_sentinel=True)
        return codes.astype(np.intp, copy=False), [_label_of(u) for u in np.asarray(uniques, dtype=object)]

    def series(self, col: str) -> pd.Series:
        return self.df[col]

    def take(self, idx: np.ndarray) -> "_Chunk":
        return _PandasChunk(self.df.iloc[idx], self.offset)

    def head(self, n: int) -> pd.DataFrame:
        return self.df.iloc[:n]


class _ArrowChunk(_Chunk):
    def __init__(self, batch: Any, offset: int) -> None:
        self.batch, self.n, self.offset = batch, batch.num_rows, offset

    def numeric(self, col: str) -> np.ndarray:
        import pyarrow as pa
        import pyarrow.compute as pc

        arr = self.batch.column(col)
        t = arr.type
        if pa.types.is_floating(t) or pa.types.is_integer(t) or pa.types.is_boolean(t) or pa.types.is_decimal(t):
            if not pa.types.is_float64(t):
                arr = pc.cast(arr, pa.float64())
            return arr.to_numpy(zero_copy_only=False)
        if pa.types.is_dictionary(t):
            arr = arr.dictionary_decode()
        return _PandasChunk(pd.DataFrame({col: arr.to_pandas()}), self.offset).numeric(col)

    def codes(self, col: str) -> tuple[np.ndarray, list[str]]:
        import pyarrow as pa
        import pyarrow.compute as pc

        arr = self.batch.column(col)
        if not pa.types.is_dictionary(arr.type):
            arr = pc.dictionary_encode(arr)
        ind = arr.indices if arr.null_count == 0 else pc.fill_null(arr.indices, -1)
        idx = ind.to_numpy(zero_copy_only=False).astype(np.intp, copy=False)
        return idx, [_label_of(u) for u in arr.dictionary.to_pylist()]

    def value_counts(self, col: str) -> tuple[np.ndarray, list[str], int]:
        import pyarrow as pa

        arr = self.batch.column(col)
        if not pa.types.is_dictionary(arr.type) or arr.null_count:
            return super().value_counts(col)
        # Count the dictionary indices where they are (int8/16/32): ``codes`` would first
        # copy them into a fresh intp array, and ``+ 1`` into another (page faults on each).
        labels = [_label_of(u) for u in arr.dictionary.to_pylist()]
        per_label = np.zeros(len(labels), dtype=np.int64)
        np.add.at(per_label, arr.indices.to_numpy(zero_copy_only=False), 1)
        return per_label, labels, 0

    def series(self, col: str) -> pd.Series:
        return self.batch.column(col).to_pandas()

    def take(self, idx: np.ndarray) -> "_Chunk":
        return _ArrowChunk(self.batch.take(idx), self.offset)

    def head(self, n: int) -> pd.DataFrame:
        return self.batch.slice(0, n).to_pandas()


@dataclass
class _Source:
    header: list[str]
    chunks: Iterator[tuple[_Chunk, float]]
    name: str
    arrow_types: dict[str, Any] | None = None
    sample: pd.DataFrame | None = None  # first rows, for type inference


class _ReadAhead:
    """The chunks of ``chunks``, the next one read by a thread of its own while the caller works.

    Decoding a chunk (Arrow, pandas' CSV parser) releases the GIL, so the next chunk is read
    while the column tasks add the current one, and while a reference's types are inferred
    and its edges placed. Same chunks, same order: the profile does not change. The thread
    starts reading a chunk only once the caller has taken the previous one, so at most one
    chunk is held beyond the caller's. An error while reading is raised to the caller at the
    chunk where it happened; ``close`` stops the thread when the caller gives up early.
    """

    def __init__(self, chunks: Iterator[tuple[_Chunk, float]]) -> None:
        self._queue: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._slot = threading.Semaphore(1)  # released each time the caller takes a chunk
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._fill, args=(chunks,), name="vision-read-ahead", daemon=True)
        self._thread.start()

    def _wait_for_slot(self) -> bool:
        while not self._stop.is_set():
            if self._slot.acquire(timeout=0.05):
                return True
        return False

    def _fill(self, chunks: Iterator[tuple[_Chunk, float]]) -> None:
        try:
            while self._wait_for_slot():
                item = next(chunks, None)
                if item is None:
                    self._queue.put(("end", None))
                    return
                self._queue.put(("chunk", item))
        except BaseException as exc:  # handed to the caller, raised there
            self._queue.put(("error", exc))
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    def __iter__(self) -> "_ReadAhead":
        return self

    def __next__(self) -> tuple[_Chunk, float]:
        if self._done:
            raise StopIteration
        kind, value = self._queue.get()
        if kind == "chunk":
            self._slot.release()
            return value
        self._done = True
        if kind == "error":
            raise value
        raise StopIteration

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def _open(data: Any, chunk_rows: int, columns: list[str] | None, categorical_hint: Callable[[pd.DataFrame], list[str]] | None) -> _Source:
    if isinstance(data, pd.DataFrame):
        return _open_frame(data, chunk_rows)
    if isinstance(data, (str, os.PathLike)):
        path = os.fspath(data)
        if not os.path.exists(path):
            raise InvalidInput(f"{path}: no such file; check the path.")
        if os.path.isdir(path):
            raise InvalidInput(f"{path} is a folder; give a CSV or Parquet file.")
        if os.path.getsize(path) == 0:
            raise InvalidInput(f"{path} is empty (0 bytes); give a file with a header and at least one row.")
        low = path.lower()
        if low.endswith((".parquet", ".pq", ".parq")):
            return _open_parquet(path, chunk_rows)
        if low.endswith((".csv", ".txt", ".tsv", ".csv.gz", ".csv.zip", ".csv.bz2", ".csv.xz")):
            return _open_csv(path, chunk_rows, categorical_hint)
        raise InvalidInput(f"{path}: unknown file type; give a .csv or .parquet file.")
    if _is_arrow(data) or (isinstance(data, Iterable) and not isinstance(data, (bytes, bytearray, Mapping))):
        return _open_arrow(data, chunk_rows)
    raise InvalidInput(f"cannot profile a {type(data).__name__}; give a pandas DataFrame, a CSV/Parquet path, "
                       "or Arrow data (a pyarrow Table, RecordBatchReader or record batches).")


def _is_arrow(data: Any) -> bool:
    """Whether ``data`` is a pyarrow Table, RecordBatch or RecordBatchReader (pyarrow not imported)."""
    return type(data).__module__.split(".")[0] == "pyarrow" and type(data).__name__ in (
        "Table", "RecordBatch", "RecordBatchReader")


def _open_arrow(data: Any, chunk_rows: int) -> _Source:
    """A pyarrow Table, RecordBatchReader or iterable of RecordBatches, read once, as chunks.

    The batches are regrouped into chunks of ``chunk_rows`` rows and text columns are dictionary-
    encoded, as a Parquet file is read: the same data gives the same profile whichever way it
    comes (the first chunk gives the header and the type-inference sample). A stream is read
    once, as it arrives: it is never held whole.
    """
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover - depends on the machine
        raise InvalidInput("reading Arrow data needs pyarrow; `pip install pyarrow`.") from None
    name = "the data stream"
    total: int | None = None
    if isinstance(data, pa.Table):
        name, total, schema, batches = "the Arrow table", data.num_rows, data.schema, iter(data.to_batches())
    elif isinstance(data, pa.RecordBatch):
        name, total, schema, batches = "the record batch", data.num_rows, data.schema, iter((data,))
    elif isinstance(data, pa.RecordBatchReader):
        schema, batches = data.schema, iter(data)
    else:
        batches = iter(data)
        schema = None
    first = None
    for batch in batches:  # the first batch with rows: the header and the sample come from it
        if not isinstance(batch, pa.RecordBatch):
            raise InvalidInput(f"cannot profile an iterable of {type(batch).__name__}; give pyarrow RecordBatches.")
        if schema is None:
            schema = batch.schema
        if batch.num_rows:
            first = batch
            break
    if first is None:
        raise InvalidInput(f"{name} has no rows; give data with at least one row.")
    header = [str(n) for n in schema.names]
    if len(set(header)) != len(header):
        raise InvalidInput(f"{name} has duplicate column names; rename them.")

    def text(t: Any) -> bool:
        return pa.types.is_string(t) or pa.types.is_large_string(t)

    types = {f.name: (pa.dictionary(pa.int32(), f.type) if text(f.type) else f.type) for f in schema}
    src = _Source(header, iter(()), name, arrow_types=types)

    def encoded(table: Any) -> Any:
        batch = table.combine_chunks().to_batches(max_chunksize=max(table.num_rows, 1))
        batch = batch[0] if batch else pa.RecordBatch.from_pylist([], schema=table.schema)
        cols = [c.dictionary_encode() if text(c.type) else c for c in batch.columns]
        return pa.RecordBatch.from_arrays(cols, names=batch.schema.names)

    def gen(columns: list[str] | None = None) -> Iterator[tuple[_Chunk, float]]:
        pending: list[Any] = []
        held = done = 0

        def fraction(rows: int) -> float:
            return min(1.0, rows / total) if total else 1.0 - 0.5 ** (rows / (8.0 * chunk_rows))

        for batch in itertools.chain((first,), batches):
            if not isinstance(batch, pa.RecordBatch):
                raise InvalidInput(f"{name}: cannot profile a {type(batch).__name__} among the record batches.")
            if batch.schema.names != schema.names:
                raise InvalidInput(f"{name}: the record batches do not all have the same columns.")
            if columns is not None:
                batch = batch.select(columns)
            pending.append(batch)
            held += batch.num_rows
            while held >= chunk_rows:
                try:
                    table = pa.Table.from_batches(pending)
                except pa.ArrowInvalid:
                    raise InvalidInput(f"{name}: the record batches do not all have the same column types.") from None
                chunk = _ArrowChunk(encoded(table.slice(0, chunk_rows)), done)
                rest = table.slice(chunk_rows)
                # Let go of the batches read whole before handing the chunk over (the generator waits there).
                pending, held, table = rest.to_batches(), rest.num_rows, None
                yield chunk, fraction(done + chunk_rows)
                done += chunk_rows
        if held:
            try:
                table = pa.Table.from_batches(pending)
            except pa.ArrowInvalid:
                raise InvalidInput(f"{name}: the record batches do not all have the same column types.") from None
            yield _ArrowChunk(encoded(table), done), 1.0

    src.open_columns = gen  # type: ignore[attr-defined]
    return src


def _open_frame(df: pd.DataFrame, chunk_rows: int) -> _Source:
    n = len(df)
    cols = [str(c) for c in df.columns]
    if len(set(cols)) != len(cols):
        raise InvalidInput("the DataFrame has duplicate column names; rename them.")
    if list(df.columns) != cols:
        df = df.set_axis(cols, axis=1)

    def gen() -> Iterator[tuple[_Chunk, float]]:
        for start in range(0, n, chunk_rows):
            stop = min(n, start + chunk_rows)
            yield _PandasChunk(df.iloc[start:stop], start), stop / n

    return _Source(cols, gen(), "the DataFrame", sample=df.iloc[: min(n, 10_000)])


def _open_parquet(path: str, chunk_rows: int) -> _Source:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - depends on the machine
        raise InvalidInput(f"{path}: reading Parquet needs pyarrow; `pip install pyarrow` or give a CSV.") from None
    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for broken files
        raise InvalidInput(f"{path} is not a readable Parquet file ({exc}).") from None
    schema = pf.schema_arrow
    header = [str(n) for n in schema.names]
    strings = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    if strings:
        pf = pq.ParquetFile(path, read_dictionary=strings)
    total = max(pf.metadata.num_rows, 1)
    src = _Source(header, iter(()), path, arrow_types={f.name: f.type for f in pf.schema_arrow})
    src.total_rows = pf.metadata.num_rows  # type: ignore[attr-defined]

    def gen(columns: list[str] | None = None) -> Iterator[tuple[_Chunk, float]]:
        done = 0
        for batch in pf.iter_batches(batch_size=chunk_rows, columns=columns, use_threads=True):
            yield _ArrowChunk(batch, done), min(1.0, (done + batch.num_rows) / total)
            done += batch.num_rows

    src.open_columns = gen  # type: ignore[attr-defined]
    if pf.metadata.num_rows == 0:
        raise InvalidInput(f"{path} has columns but no rows; give a file with data.")
    return src


def _csv_error(path: str, exc: Exception) -> InvalidInput:
    if isinstance(exc, UnicodeDecodeError):
        return InvalidInput(
            f"{path} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} cannot be decoded); "
            "re-save it as UTF-8 (e.g. 'CSV UTF-8' in Excel) and try again."
        )
    if isinstance(exc, pd.errors.EmptyDataError):
        return InvalidInput(f"{path} is empty; give a CSV with a header and at least one row.")
    return InvalidInput(f"{path} could not be read as CSV ({str(exc).splitlines()[0]}).")


def _open_csv(path: str, chunk_rows: int, categorical_hint: Callable[[pd.DataFrame], list[str]] | None) -> _Source:
    sep = "\t" if path.lower().endswith(".tsv") else ","
    try:
        sample = pd.read_csv(path, nrows=10_000, sep=sep, encoding="utf-8", encoding_errors="strict")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise _csv_error(path, exc) from None
    if len(sample) == 0:
        raise InvalidInput(f"{path} has a header but no rows; give a file with data.")
    header = [str(c) for c in sample.columns]
    size = max(os.path.getsize(path), 1)
    src = _Source(header, iter(()), path, sample=sample)

    def gen(columns: list[str] | None = None) -> Iterator[tuple[_Chunk, float]]:
        # Categorical columns are read as text so that '007' stays '007' in every chunk.
        text_cols = categorical_hint(sample) if categorical_hint else []
        dtype = {c: "str" for c in text_cols if columns is None or c in columns}
        with open(path, "rb") as fh:
            try:
                reader = pd.read_csv(fh, sep=sep, chunksize=chunk_rows, usecols=columns, dtype=dtype or None,
                                     encoding="utf-8", encoding_errors="strict")
                done = 0
                for df in reader:
                    df.index = pd.RangeIndex(done, done + len(df))
                    yield _PandasChunk(df, done), min(1.0, fh.tell() / size)
                    done += len(df)
            except (UnicodeDecodeError, pd.errors.ParserError, ValueError) as exc:
                if isinstance(exc, InvalidInput):
                    raise
                raise _csv_error(path, exc) from None

    src.open_columns = gen  # type: ignore[attr-defined]
    return src


# --------------------------------------------------------------------------------------
# Type inference
# --------------------------------------------------------------------------------------


def _infer_kind(col: str, s: pd.Series | None, arrow_type: Any = None) -> str:
    if arrow_type is not None:
        import pyarrow as pa

        t = arrow_type.value_type if pa.types.is_dictionary(arrow_type) else arrow_type
        if pa.types.is_boolean(t):
            return BINARY
        if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
            return _binary_or(NUMERIC, s)
        if pa.types.is_temporal(t):
            raise InvalidInput(f"column {col!r} holds dates/times: name it as the timestamp (--timestamp {col}) or exclude it.")
        return _binary_or(CATEGORICAL, s)
    if s is None:
        return NUMERIC
    if pd.api.types.is_bool_dtype(s.dtype):
        return BINARY
    if pd.api.types.is_numeric_dtype(s.dtype):
        return _binary_or(NUMERIC, s)
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        raise InvalidInput(f"column {col!r} holds dates/times: name it as the timestamp (--timestamp {col}) or exclude it.")
    if isinstance(s.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(s.dtype):
        inferred = pd.api.types.infer_dtype(s, skipna=True)
    else:
        inferred = pd.api.types.infer_dtype(s, skipna=True)
    if inferred in ("mixed", "mixed-integer"):
        bad = next((v for v in s.dropna() if isinstance(v, str)), s.dropna().iloc[0] if s.notna().any() else None)
        raise _mixed(col, bad, None)
    if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
        return _binary_or(NUMERIC, s)
    if inferred == "boolean":
        return BINARY
    return _binary_or(CATEGORICAL, s)


def _binary_or(kind: str, s: pd.Series | None) -> str:
    if s is None:
        return kind
    try:
        distinct = s.dropna().nunique()
    except TypeError:
        return kind
    return BINARY if distinct == 2 else kind


# --------------------------------------------------------------------------------------
# Windows
# --------------------------------------------------------------------------------------

_UNIT_NS = {"s": 10**9, "min": 60 * 10**9, "h": 3600 * 10**9, "D": 86400 * 10**9, "W": 7 * 86400 * 10**9}


def _parse_window(window: str | int | None) -> tuple[str, int] | None:
    if window is None:
        return None
    if isinstance(window, (int, np.integer)) and not isinstance(window, bool):
        if window < 1:
            raise InvalidInput(f"window={window}: a row-count window must be at least 1 row.")
        return ("rows", int(window))
    text = str(window).strip()
    if text.isdigit():
        return _parse_window(int(text))
    m = re.fullmatch(r"(\d*)\s*(s|min|h|H|D|d|W|w|M|MS|ME|Y|YS|YE)", text)
    if not m:
        raise InvalidInput(f"window={window!r} is not understood; use e.g. '1D', '7D', '1M' (month), '1h' or a row count.")
    n = int(m.group(1) or 1)
    unit = m.group(2)
    if n < 1:
        raise InvalidInput(f"window={window!r} must be at least one unit long.")
    if unit in ("M", "MS", "ME"):
        return ("months", n)
    if unit in ("Y", "YS", "YE"):
        return ("months", 12 * n)
    unit = {"H": "h", "d": "D", "w": "W"}.get(unit, unit)
    return ("ns", n * _UNIT_NS[unit])


def _parse_times(col: str, s: pd.Series, offset: int) -> np.ndarray:
    """Timestamps as int64 nanoseconds since the epoch (UTC); NaT becomes a clear error."""
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        t = s
    else:
        try:
            t = pd.to_datetime(s, utc=True, errors="raise")
        except (ValueError, TypeError, OverflowError) as exc:
            coerced = pd.to_datetime(s, utc=True, errors="coerce", format="mixed")
            bad = coerced.isna().to_numpy() & s.notna().to_numpy()
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise InvalidInput(
                    f"column {col!r}: {str(s.iloc[i])[:40]!r} (row {offset + i + 1}) is not a date/time; "
                    "fix the value or use ISO 8601 (2024-05-31 or 2024-05-31T12:00:00)."
                ) from None
            raise InvalidInput(f"column {col!r} could not be read as dates/times ({exc}); use ISO 8601 values.") from None
    if getattr(t.dt, "tz", None) is not None:
        t = t.dt.tz_convert("UTC").dt.tz_localize(None)
    if t.isna().any():
        i = int(np.flatnonzero(t.isna().to_numpy())[0])
        raise InvalidInput(f"column {col!r}: row {offset + i + 1} has no date/time; every row needs a timestamp to be windowed.")
    return t.astype("datetime64[ns]").to_numpy().astype(np.int64)


def _window_keys(spec: tuple[str, int], chunk: _Chunk, col: str | None) -> tuple[np.ndarray, dict[int, str]]:
    kind, n = spec
    if kind == "rows":
        keys = (np.arange(chunk.n, dtype=np.int64) + chunk.offset) // n
        return keys, {int(k): f"rows {int(k) * n}-{int(k) * n + n - 1}" for k in np.unique(keys)}
    assert col is not None
    ns = _parse_times(col, chunk.series(col), chunk.offset)
    if kind == "ns":
        keys = np.floor_divide(ns, n)
        return keys, {int(k): pd.Timestamp(int(k) * n).isoformat() for k in np.unique(keys)}
    days = ns.astype("datetime64[ns]").astype("datetime64[M]").astype(np.int64)  # months since 1970-01
    keys = np.floor_divide(days, n)
    return keys, {int(k): str(np.datetime64(int(k) * n, "M")) for k in np.unique(keys)}


# --------------------------------------------------------------------------------------
# profile()
# --------------------------------------------------------------------------------------


@dataclass
class _Plan:
    features: list[str]
    kinds: dict[str, str]
    grids: dict[str, Grid]
    k: int
    roles: Roles
    task: str | None = None
    prediction_kind: str | None = None
    positive_class: str | None = None
    target_grid: Grid | None = None
    prediction_grid: Grid | None = None
    reference_id: str | None = None


class _Builder:
    """Accumulates one (sub-)profile chunk by chunk; every column is independent."""

    def __init__(self, plan: _Plan) -> None:
        self.plan = plan
        self.rows = 0
        self.cols: dict[str, NumericStats | CategoryStats] = {}
        for c in plan.features:
            kind = plan.kinds[c]
            self.cols[c] = NumericStats(plan.grids[c]) if kind == NUMERIC else CategoryStats(kind=kind)
        self.model: ModelStats | None = None
        if plan.task is not None:
            self.model = ModelStats(plan.task, plan.prediction_kind, plan.positive_class)
            if plan.task == CLASSIFICATION:
                self.model.target = CategoryStats() if plan.roles.target else None
                if plan.prediction_kind == "class":
                    self.model.prediction = CategoryStats()
                elif plan.prediction_kind == "score":
                    self.model.prediction = NumericStats(_score_grid())
            else:
                if plan.roles.target:
                    self.model.target = NumericStats(plan.target_grid or Grid(0.0, 1.0, np.zeros(0, np.int64)))
                if plan.roles.prediction:
                    self.model.prediction = NumericStats(plan.prediction_grid or Grid(0.0, 1.0, np.zeros(0, np.int64)))

    def tasks(self, chunks: Sequence[_Chunk]) -> list[Callable[[], None]]:
        """One task per column (and one for the model block) that adds ``chunks`` in order.

        A column's statistics are not thread-safe, so each column gets exactly one
        task however many chunks there are: run these tasks concurrently, but never
        together with another batch from this builder (``_run`` drains first).
        """
        chunks = tuple(chunks)
        self.rows += sum(ch.n for ch in chunks)
        out: list[Callable[[], None]] = []
        for c, st in self.cols.items():
            if isinstance(st, NumericStats):
                def numeric(c: str = c, st: NumericStats = st) -> None:
                    for ch in chunks:
                        st.add(ch.numeric(c))
                out.append(numeric)
            else:
                def categorical(c: str = c, st: CategoryStats = st) -> None:
                    for ch in chunks:
                        st.add_counts(*ch.value_counts(c), name=c)
                out.append(categorical)
        if self.model is not None:
            def model() -> None:
                for ch in chunks:
                    self._add_model(ch)
            out.append(model)
        return out

    def _add_model(self, chunk: _Chunk) -> None:
        m, roles = self.model, self.plan.roles
        assert m is not None
        if m.task == CLASSIFICATION:
            t_lab = _labels(chunk, roles.target) if roles.target else None
            if t_lab is not None:
                codes, labels = t_lab
                m.target.add_codes(codes, labels, roles.target)  # type: ignore[union-attr]
            if m.prediction_kind == "class":
                p_codes, p_labels = _labels(chunk, roles.prediction)  # type: ignore[arg-type]
                m.prediction.add_codes(p_codes, p_labels, roles.prediction)  # type: ignore[union-attr]
                if t_lab is not None:
                    _add_confusion(m.confusion, t_lab, (p_codes, p_labels))
            elif m.prediction_kind == "score":
                s = chunk.numeric(roles.prediction)  # type: ignore[arg-type]
                _check_scores(roles.prediction, s)
                m.prediction.add(s)  # type: ignore[union-attr]
                if t_lab is not None:
                    codes, labels = t_lab
                    pred = np.where(np.isfinite(s), np.where(s >= 0.5, 1, 0), -1)
                    neg = _negative_label(labels, m.positive_class)
                    pl = [neg, m.positive_class or "1"]
                    _add_confusion(m.confusion, t_lab, (pred.astype(np.intp), pl))
                    for ci, lab in enumerate(labels):
                        sel = codes == ci
                        if sel.any():
                            h = m.score_hist.get(lab)
                            if h is None:
                                h = m.score_hist[lab] = NumericStats(_score_grid())
                            h.add(s[sel])
        else:
            y = chunk.numeric(roles.target) if roles.target else None
            p = chunk.numeric(roles.prediction) if roles.prediction else None
            if y is not None:
                m.target.add(y)  # type: ignore[union-attr]
            if p is not None:
                m.prediction.add(p)  # type: ignore[union-attr]
            if y is not None and p is not None:  # residuals of winsorised values: no sum moves with one row
                tg, pg = m.target.grid, m.prediction.grid  # type: ignore[union-attr]
                e = np.clip(p, *clip_bounds(pg.origin, pg.step, pg.cells)) - np.clip(y, *clip_bounds(tg.origin, tg.step, tg.cells))
                e = e[np.isfinite(e)]
                for key, v in (("n", float(e.size)), ("sum", float(e.sum())), ("sum_abs", float(np.abs(e).sum())),
                               ("sum_sq", float(e @ e))):
                    m.errors[key] = m.errors.get(key, 0.0) + v

    def result(self) -> Profile:
        return Profile(rows=self.rows, k=self.plan.k, roles=self.plan.roles, columns=dict(self.cols),
                       model=self.model, reference_id=self.plan.reference_id)


def _labels(chunk: _Chunk, col: str | None) -> tuple[np.ndarray, list[str]]:
    assert col is not None
    return chunk.codes(col)


def _negative_label(labels: Sequence[str], positive: str | None) -> str:
    others = [lab for lab in labels if lab != positive]
    return others[0] if others else "0"


def _add_confusion(conf: dict[tuple[str, str], int], t: tuple[np.ndarray, list[str]], p: tuple[np.ndarray, list[str]]) -> None:
    tc, tl = t
    pc_, pl = p
    ok = (tc >= 0) & (pc_ >= 0)
    if not ok.any():
        return
    width = len(pl)
    pair = np.bincount(tc[ok] * width + pc_[ok], minlength=len(tl) * width)
    for flat in np.flatnonzero(pair):
        key = (tl[flat // width], pl[flat % width])
        conf[key] = conf.get(key, 0) + int(pair[flat])


def _check_scores(col: str | None, s: np.ndarray) -> None:
    f = s[np.isfinite(s)]
    if f.size and (f.min() < 0 or f.max() > 1):
        raise InvalidInput(f"column {col!r} was taken as a score but has values outside [0, 1]; "
                           "give probabilities, or class labels.")


def profile(
    data: pd.DataFrame | str | os.PathLike[str] | Any,
    roles: Roles | None = None,
    reference: Profile | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: ProgressCallback | None = None,
    k: int = DEFAULT_K,
    window: str | int | None = None,
    bins: int = DEFAULT_BINS,
    noise: Noise | None = None,
) -> Profile:
    """Profile a DataFrame, a CSV/Parquet file or Arrow data, reading it in chunks of ``chunk_rows``.

    Parameters
    ----------
    data
        A DataFrame, the path of a ``.csv`` (UTF-8) or ``.parquet`` file, or Arrow data: a
        ``pyarrow.Table``, a ``pyarrow.RecordBatchReader`` or any iterable of
        ``pyarrow.RecordBatch`` (read once; the first batch gives the header and the sample
        for type inference). Files and streams are read chunk by chunk, so memory stays
        bounded whatever their size; the same data gives the same profile whichever form.
    roles
        Which columns are features, target, prediction, timestamp, excluded.
        Defaults to the reference's roles, or to "every column is a feature".
    reference
        The training profile. Given, this is a *current* profile: it takes the
        reference's column types and bin edges, so the two compare bin by bin.
        Omitted, this is a *reference* profile: edges come from quantiles of an
        evenly spaced sample of its first rows, and the surrogate is fitted.
    chunk_rows
        Rows per chunk (memory vs. overhead); the result does not depend on it.
    progress
        Called with the fraction done (0..1) after every chunk.
    k
        The privacy threshold: nothing backed by fewer than ``k`` rows is serialised.
    window
        With ``roles.timestamp``: ``"1D"``, ``"7D"``, ``"1M"`` (calendar month), ``"1h"``;
        or a row count (with or without a timestamp). One sub-profile per window.
    bins
        Quantile bins per numeric column in a reference profile.
    noise
        ``Noise(epsilon=...)``: publish a differentially private release (Laplace noise on
        every count, a budget per dataset kept in a ledger). None: exact counts, k-guard only.

    Returns
    -------
    Profile
        Exact aggregates; call ``to_json()`` for the pooled, shareable form.
    """
    roles, k, wspec = _arguments(roles, reference, chunk_rows, k, window, noise)

    def hint(sample: pd.DataFrame) -> list[str]:
        names = roles.feature_columns([str(c) for c in sample.columns])
        out = [c for c in names if (reference.columns[c].kind if reference is not None and c in reference.columns
                                    else roles.types.get(c)) in (CATEGORICAL,)]
        if roles.task == CLASSIFICATION or (reference is not None and reference.model is not None
                                           and reference.model.task == CLASSIFICATION):
            out += [c for c in (roles.target,) if c]
        return [c for c in out if c in sample.columns]

    src = _open(data, chunk_rows, None, hint)
    roles, features = _columns(src.header, roles, reference, src.name)
    used = list(dict.fromkeys(features + [c for c in roles.special]))
    reader = _ReadAhead(src.open_columns(used) if hasattr(src, "open_columns") else src.chunks)  # type: ignore[attr-defined]
    try:
        prof = _profile_chunks(reader, src, roles, reference, features, k, chunk_rows, progress, wspec, bins)
    finally:
        reader.close()
    prof.noise = noise
    if noise is not None:
        prof._like = reference  # public to whoever profiles against it: where a bin's rows lie
    return prof


def _arguments(roles: Roles | None, reference: Profile | None, chunk_rows: int, k: int, window: str | int | None,
               noise: Noise | None) -> tuple[Roles, int, tuple[str, int] | None]:
    """``profile``'s arguments checked (shared with the partitioned profiler): the roles, k and window."""
    if not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise InvalidInput(f"chunk_rows={chunk_rows!r} must be a positive whole number.")
    if not isinstance(k, int) or k < 1:
        raise InvalidInput(f"k={k!r} must be a whole number ≥ 1.")
    if noise is not None and not isinstance(noise, Noise):
        raise InvalidInput(f"noise must be Noise(epsilon=...), not {type(noise).__name__}.", field="noise")
    if reference is not None and not isinstance(reference, Profile):
        raise InvalidInput("reference must be a Profile (load one with Profile.from_json).")
    if roles is None:
        roles = reference.roles if reference is not None else Roles()
    if reference is not None and reference.k != k and k == DEFAULT_K:
        k = reference.k
    wspec = _parse_window(window)
    if wspec is not None and wspec[0] != "rows" and not roles.timestamp:
        raise InvalidInput(f"window={window!r} is a time span: name the timestamp column too (--timestamp COL).")
    return roles, k, wspec


def _columns(header: list[str], roles: Roles, reference: Profile | None, name: str) -> tuple[Roles, list[str]]:
    """The roles and the feature columns to profile, checked against the data's ``header``.

    Shared by ``profile`` and the partitioned profiler (``core/stats/distributed.py``), so both
    refuse the same input with the same message.
    """
    if reference is not None and roles.target and roles.target not in header:
        # Production data usually arrives before its labels: a current profile without the target
        # is label-free (drift of the features and the prediction; no confusion counts, no
        # per-class scores). The labels come later as a new profile of the same window with them.
        roles = Roles(features=roles.features, target=None, prediction=roles.prediction, timestamp=roles.timestamp,
                      exclude=roles.exclude, types=roles.types, task=roles.task or (
                          reference.model.task if reference.model is not None else None))
    features = roles.feature_columns(header)
    named = list(roles.features or ()) + list(roles.special)
    for c in named + list(roles.exclude):
        if c not in header:
            close = [h for h in header if h.lower() == c.lower()]
            tip = f" (did you mean {close[0]!r}?)" if close else ""
            raise InvalidInput(f"column {c!r} is not in {name}{tip}; its columns are: {', '.join(header[:30])}.")
    if reference is not None:
        missing = [c for c in reference.columns if c not in header]
        if missing:
            raise InvalidInput(
                f"{name} lacks the reference's column(s) {', '.join(map(repr, missing))}; the current data "
                "must have every feature the reference profiled."
            )
        features = [c for c in reference.columns]
    if not features:
        raise InvalidInput(f"{name}: no feature columns to profile; name some with features=[...] or drop --exclude.")
    return roles, features


def _profile_chunks(chunks: Iterator[tuple[_Chunk, float]], src: _Source, roles: Roles, reference: Profile | None,
                    features: list[str], k: int, chunk_rows: int, progress: ProgressCallback | None,
                    wspec: tuple[str, int] | None, bins: int) -> Profile:
    """``profile`` once the data is open and its columns checked: plan, then read and add every chunk."""
    plan = _Plan(features=features, kinds={}, grids={}, k=k, roles=roles)
    sample = src.sample
    if reference is None and sample is None:
        # The first rows of the first chunk, for type inference: a separate read of them
        # would fetch every column chunk of the file's first row group a second time.
        first = next(chunks, None)
        if first is not None:
            sample = first[0].head(min(10_000, chunk_rows))
            chunks = itertools.chain((first,), chunks)
    if reference is not None:
        _plan_from_reference(plan, reference)
    else:
        _plan_kinds(plan, sample, src.arrow_types)

    executor = ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1)))
    try:
        prof = _run(plan, chunks, executor, progress, wspec, bins, reference is None, src.name)
    finally:
        executor.shutdown(wait=True)
    if prof.rows == 0:
        raise InvalidInput(f"{src.name} has a header but no rows; give data with at least one row.")
    if reference is None:
        _check_reference_columns(prof, src.name)
    if progress is not None:
        progress(1.0)
    return prof


def _plan_from_reference(plan: _Plan, reference: Profile) -> None:
    """A current profile's plan: the reference's column kinds, grids and model block."""
    plan.kinds = reference.types()
    for c, st in reference.columns.items():
        if isinstance(st, NumericStats):
            plan.grids[c] = st.grid
    plan.reference_id = reference.fingerprint()
    if reference.model is not None:
        plan.task = reference.model.task
        plan.prediction_kind = reference.model.prediction_kind
        plan.positive_class = reference.model.positive_class
        if isinstance(reference.model.target, NumericStats):
            plan.target_grid = reference.model.target.grid
        if isinstance(reference.model.prediction, NumericStats) and plan.prediction_kind == "value":
            plan.prediction_grid = reference.model.prediction.grid


def _plan_kinds(plan: _Plan, sample: pd.DataFrame | None, arrow_types: Mapping[str, Any] | None) -> None:
    """A reference profile's column kinds and model block, inferred on ``sample`` (its first rows)."""
    arrow = arrow_types or {}
    for c in plan.features:
        plan.kinds[c] = plan.roles.types.get(c) or _infer_kind(c, sample[c] if sample is not None else None,
                                                               arrow.get(c))
    _plan_model(plan, plan.roles, sample)


def _plan_model(plan: _Plan, roles: Roles, sample: pd.DataFrame | None) -> None:
    if not (roles.target or roles.prediction):
        return
    s_t = sample[roles.target] if (sample is not None and roles.target) else None
    s_p = sample[roles.prediction] if (sample is not None and roles.prediction) else None
    task = roles.task
    if task is None:
        ref = s_t if s_t is not None else s_p
        task = CLASSIFICATION if _looks_like_classes(ref) else REGRESSION
        if s_t is None and s_p is not None and _looks_like_scores(s_p):
            task = CLASSIFICATION
    plan.task = task
    if task == CLASSIFICATION:
        if s_p is not None:
            plan.prediction_kind = "score" if _looks_like_scores(s_p) and not _looks_like_classes(s_p) else "class"
        labels = sorted({_label_of(v) for v in (s_t.dropna().unique() if s_t is not None else [])})
        if "1" in labels:
            plan.positive_class = "1"
        elif "True" in labels:
            plan.positive_class = "True"
        elif labels:
            plan.positive_class = labels[-1]
        elif plan.prediction_kind == "score":
            plan.positive_class = "1"
    else:
        plan.prediction_kind = "value" if s_p is not None else None


def _looks_like_classes(s: pd.Series | None) -> bool:
    if s is None:
        return False
    if pd.api.types.is_bool_dtype(s.dtype) or not pd.api.types.is_numeric_dtype(s.dtype):
        return True
    v = s.dropna().to_numpy(dtype=float)
    return bool(v.size and np.all(v == np.round(v)) and np.unique(v).size <= MAX_CLASSES)


def _looks_like_scores(s: pd.Series | None) -> bool:
    if s is None or pd.api.types.is_bool_dtype(s.dtype) or not pd.api.types.is_numeric_dtype(s.dtype):
        return False
    v = s.dropna().to_numpy(dtype=float)
    return bool(v.size and v.min() >= 0 and v.max() <= 1)


def _check_reference_columns(prof: Profile, name: str) -> None:
    for c, st in prof.columns.items():
        if st.count == 0:
            raise InvalidInput(
                f"column {c!r} in {name} has no values (all {st.missing:,} rows are missing); exclude it "
                f"(exclude=[{c!r}] / --exclude {c}) or fill it."
            )
        if isinstance(st, NumericStats) and st.count > 0 and st.m2 == 0.0:
            raise InvalidInput(
                f"column {c!r} in {name} is constant (every value is the same), so there is nothing to monitor; "
                f"exclude it (exclude=[{c!r}] / --exclude {c})."
            )
        if isinstance(st, CategoryStats) and len(st.counts) == 1 and st.other == 0:
            raise InvalidInput(
                f"column {c!r} in {name} is constant (one value only), so there is nothing to monitor; "
                f"exclude it (exclude=[{c!r}] / --exclude {c})."
            )
    if prof.roles.target and prof.model is not None and prof.model.target is not None and prof.model.target.count == 0:
        raise InvalidInput(f"the target column {prof.roles.target!r} has no values; fill it or leave --target out.")


def _run(plan: _Plan, chunks: Iterator[tuple[_Chunk, float]], executor: ThreadPoolExecutor,
         progress: ProgressCallback | None, wspec: tuple[str, int] | None, bins: int,
         is_reference: bool, name: str) -> Profile:
    warm_rows = _warm_rows(len(plan.features))
    needs_warmup = is_reference
    buffered: list[_Chunk] = []
    buffered_rows = 0
    builders: dict[int, _Builder] = {}
    labels: dict[int, str] = {}
    whole: _Builder | None = None
    pending: list[Future[None]] = []
    surrogate: Surrogate | None = None

    def feed(batch: Sequence[_Chunk]) -> None:
        """Add ``batch`` (chunks in file order) to the profile being built.

        One writer per column at any moment: the previous batch's column tasks are
        drained before this batch's are submitted, and within a batch each column
        is one task that walks the chunks in order.
        """
        nonlocal whole
        drain()
        if wspec is None:
            if whole is None:
                whole = _Builder(plan)
            pending.extend(executor.submit(t) for t in whole.tasks(batch))
            return
        for chunk in batch:
            keys, names = _window_keys(wspec, chunk, plan.roles.timestamp)
            labels.update(names)
            order = np.argsort(keys, kind="stable")
            sk = keys[order]
            starts = np.flatnonzero(np.concatenate([[True], sk[1:] != sk[:-1]]))
            bounds = np.append(starts, sk.size)
            for a, b in zip(bounds[:-1], bounds[1:]):
                key = int(sk[a])
                sub = chunk.take(order[a:b])
                bld = builders.get(key)
                if bld is None:
                    bld = builders[key] = _Builder(plan)
                for t in bld.tasks((sub,)):
                    t()  # windows: run inline, in order (one thread, so one writer)

    def drain() -> None:
        while pending:
            pending.pop(0).result()

    def warm_up() -> None:
        nonlocal needs_warmup, surrogate, buffered
        needs_warmup = False
        surrogate = _warm_plan(plan, buffered, bins, executor)
        feed(buffered)  # one batch: each column walks the buffered chunks in order
        buffered = []

    for chunk, frac in chunks:
        if needs_warmup:
            buffered.append(chunk)
            buffered_rows += chunk.n
            if buffered_rows >= warm_rows:
                warm_up()
        else:
            feed((chunk,))
        if progress is not None:
            progress(min(frac, 0.999))
    if needs_warmup:
        warm_up()
    drain()

    if wspec is None:
        prof = (whole or _Builder(plan)).result()
    else:
        windows = {labels[key]: builders[key].result() for key in sorted(builders)}
        for w in windows.values():
            w.window = None
        parts = list(windows.values())
        prof = parts[0] if parts else _Builder(plan).result()
        for w in parts[1:]:
            prof = _merge_body(prof, w)
        prof = copy.copy(prof)
        prof.windows = windows
        prof.window = str(wspec[1]) if wspec[0] == "rows" else None
    if wspec is not None:
        prof.window = _window_text(wspec)
    prof.surrogate = surrogate
    prof.reference_id = plan.reference_id
    return prof


def _warm_rows(features: int) -> int:
    """How many first rows a reference profile holds for its edges and surrogate (bounded cells)."""
    return min(EDGE_ROWS, max(10_000, EDGE_CELLS // max(1, features + 2)))


def _warm_plan(plan: _Plan, buffered: list[_Chunk], bins: int, executor: ThreadPoolExecutor) -> Surrogate | None:
    """Complete a reference profile's plan from the held rows ``buffered``: the numeric grids (and a
    regression's target/prediction grids) from their evenly spaced sample; return the surrogate fitted on them.
    """
    numeric = [c for c in plan.features if plan.kinds[c] == NUMERIC]
    model_roles = [r for r in ("target", "prediction") if plan.task == REGRESSION and getattr(plan.roles, r)]
    grids = _edge_grids(buffered, list(dict.fromkeys(numeric + [getattr(plan.roles, r) for r in model_roles])),
                        bins, executor)
    for c in numeric:
        plan.grids[c] = grids[c]
    for role in model_roles:
        setattr(plan, f"{role}_grid", grids[getattr(plan.roles, role)])
    return _fit_surrogate(plan, buffered)


def _window_text(spec: tuple[str, int]) -> str:
    kind, n = spec
    if kind == "rows":
        return f"{n} rows"
    if kind == "months":
        return f"{n}M"
    for unit, size in sorted(_UNIT_NS.items(), key=lambda kv: -kv[1]):
        if n % size == 0:
            return f"{n // size}{unit}"
    return f"{n}ns"  # pragma: no cover


def _edge_grids(buffered: list[_Chunk], cols: list[str], bins: int, executor: ThreadPoolExecutor) -> dict[str, Grid]:
    """Per column, the grid of an evenly spaced sample of at most ``EDGE_SAMPLE`` finite values.

    One task per column samples and places the edges, so the columns' sorts run in parallel.
    """
    total = sum(ch.n for ch in buffered)
    stride = max(1, -(-total // EDGE_SAMPLE))

    def one(c: str) -> Grid:
        parts = []
        pos = 0
        for ch in buffered:
            first = (-pos) % stride
            x = ch.numeric(c)[first::stride]
            parts.append(x[np.isfinite(x)])
            pos += ch.n
        return Grid.from_sample(np.concatenate(parts) if parts else np.zeros(0), bins)

    return dict(zip(cols, executor.map(one, cols)))


def _fit_surrogate(plan: _Plan, buffered: list[_Chunk]) -> Surrogate | None:
    roles = plan.roles
    response = roles.prediction if roles.prediction else roles.target
    if response is None or plan.task is None:
        return None
    # An evenly spaced sample of the held rows, not the first ones: a file sorted by time or
    # by label would otherwise give a biased fit (or none, with a single class).
    held = sum(ch.n for ch in buffered)
    stride = max(1, -(-held // SURROGATE_ROWS))
    frames: dict[str, list[Any]] = {}
    num = [c for c in plan.features if plan.kinds[c] == NUMERIC]
    cat = [c for c in plan.features if plan.kinds[c] != NUMERIC]
    ys: list[np.ndarray] = []
    position = 0
    for ch in buffered:
        first = (-position) % stride
        position += ch.n
        if stride == 1:
            part = ch
        elif first < ch.n:
            part = ch.take(np.arange(first, ch.n, stride))
        else:
            continue
        for c in num:
            frames.setdefault(c, []).append(part.numeric(c))
        for c in cat:
            codes, labels = part.codes(c)
            arr = np.array(labels + [None], dtype=object)[codes]
            frames.setdefault(c, []).append(arr)
        if plan.task == CLASSIFICATION:
            if response == roles.prediction and plan.prediction_kind == "score":
                # The score itself is the response (a fractional logit): thresholding it at 0.5
                # separates the classes of a rare-event model and the fit diverges.
                s = part.numeric(response)
                y = np.where(np.isfinite(s), np.clip(s, 0.0, 1.0), np.nan)
            else:
                codes, labels = part.codes(response)
                lab = np.array(labels + [None], dtype=object)[codes]
                y = np.where(codes < 0, np.nan, (lab == plan.positive_class).astype(float))
        else:
            y = part.numeric(response)
        ys.append(y)
    y = np.concatenate(ys)
    frame = {c: np.concatenate(v) for c, v in frames.items()}
    keep = np.isfinite(y)
    y = y[keep]
    frame = {c: v[keep] for c, v in frame.items()}
    if y.size < 2 * plan.k:
        return None
    levels: dict[str, list[str]] = {}
    for c in cat:
        vals, counts = np.unique(frame[c][frame[c] != None].astype(str), return_counts=True)  # noqa: E711
        order = sorted(zip(-counts, vals))
        frequent = [str(v) for n, v in order if -n >= plan.k][: SURROGATE_LEVELS + 1]
        levels[c] = frequent[1:]  # the most frequent value is the baseline
        frame[c] = np.where(frame[c] == None, "", frame[c]).astype(str)  # noqa: E711
    X, names = _design(frame, num, levels)
    if plan.task == CLASSIFICATION:
        if np.unique(y).size < 2:
            return None
        # A score as the response is a fraction, not a Bernoulli draw: sandwich (HC0) variances.
        fractional = response == roles.prediction and plan.prediction_kind == "score"
        beta, var, converged, it = fit_logistic(X, y, robust=fractional)
        return Surrogate("logistic", response, names, [float(b) for b in beta], [float(v) for v in var],
                         rows=int(y.size), converged=converged, iterations=it, positive_class=plan.positive_class,
                         note=None if converged else "IRLS did not converge (classes may be separable).",
                         variance_kind="HC0" if fractional else "model")
    beta, var = fit_linear(X, y)
    return Surrogate("linear", response, names, [float(b) for b in beta], [float(v) for v in var], rows=int(y.size))


# --------------------------------------------------------------------------------------
# Submitting profiles to a Vision AI server (restricted data: only these aggregates travel)
# --------------------------------------------------------------------------------------

SUBMISSION_SCHEMA = "vision.submission"
SEND_TIMEOUT_SECONDS = 30


def print_progress(what: str) -> ProgressCallback:
    """A progress callback that prints ``what: 40%`` lines (for notebooks and scripts)."""
    shown = {"last": -1}

    def report(fraction: float) -> None:
        step = int(float(fraction) * 10)
        if step != shown["last"]:
            shown["last"] = step
            print(f"{what}: {min(step * 10, 100)}%", flush=True)

    return report


def submission(model: str, reference: Profile | None, production: Profile, label: str = "") -> dict[str, Any]:
    """The body the server accepts: the model's name and its pooled profiles, nothing else."""
    if not model or not str(model).strip():
        raise InvalidInput("Give the model's name as registered (MODEL_NAME).")
    return {
        "schema": SUBMISSION_SCHEMA,
        "model": str(model).strip(),
        "label": str(label or ""),
        "reference": reference.to_dict() if reference is not None else None,
        "production": production.to_dict(),
    }


def write_submission(body: Mapping[str, Any], path: str | os.PathLike[str]) -> str:
    """Write a submission as JSON (to upload on the model's page); returns the path."""
    text = json.dumps(body, allow_nan=False, ensure_ascii=False)
    tmp = f"{os.fspath(path)}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:  # write then rename: never a half-written file
        fh.write(text)
    os.replace(tmp, path)
    return os.fspath(path)


def send_submission(server_url: str, token: str, model: str, body: Mapping[str, Any],
                    timeout: float = SEND_TIMEOUT_SECONDS) -> dict[str, Any]:
    """POST a submission with the model's upload token; returns ``{"ok", "status", "message", ...}``.

    Uses only the standard library. Network failures and refusals do not raise:
    the answer says what happened and what to do (upload the written file instead).
    """
    import urllib.error
    import urllib.parse
    import urllib.request

    parts = urllib.parse.urlsplit(server_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return {"ok": False, "status": None,
                "message": f"SERVER_URL {server_url!r} is not an http(s) address; fix it, or upload the written file."}
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        print("Warning: SERVER_URL uses plain http, so the upload token travels unencrypted; "
              "prefer https.", flush=True)
    url = f"{server_url.rstrip('/')}/vision/api/models/{urllib.parse.quote(model, safe='')}/profiles"
    data = json.dumps(body, allow_nan=False).encode("utf-8")
    request = urllib.request.Request(url, data=data, method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        # urllib would resend the Authorization header to wherever a redirect points.
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            answer = json.loads(response.read().decode("utf-8") or "{}")
            drifted = ", ".join(answer.get("drifted_features") or []) or "none"
            return dict(answer, ok=True, status=response.status,
                        message=f"Accepted by the server. Drifted features: {drifted}.")
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read().decode("utf-8")).get("message", "")
        except (ValueError, UnicodeDecodeError):
            detail = ""
        return {"ok": False, "status": exc.code,
                "message": f"The server refused the submission ({exc.code}): {detail or exc.reason}"}
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return {"ok": False, "status": None,
                "message": f"Could not reach {server_url} ({reason}). Upload the written JSON file on the "
                           "model's page in the dashboard instead."}
