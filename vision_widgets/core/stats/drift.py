"""Drift between a reference (training) profile and a current (production) profile.

``drift(reference, current, settings)`` expands the model's ``DriftSettings``
into one test per feature (the method chosen by type and size as Evidently
does, unless overridden), reports PSI beside every chosen method, and gives a
dataset verdict from the share of drifted features. When the current profile
has time windows, the same is computed for every window. Results are data
(``DriftReport.to_dict()`` / ``to_df()``); drawing them is a view's job.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from vision_widgets.client import SCHEMA_VERSION, CategoryStats, NumericStats, Profile, coarsen, rebin
from vision_widgets.core.errors import InvalidInput
from vision_widgets.core.stats.drift_summary import drift_score
from vision_widgets.core.stats.drift_methods import (
    BINARY,
    CATEGORICAL,
    NUMERIC,
    FeaturePair,
    NOISE_LEVEL,
    MethodResult,
    get_method,
    psi,
)

#: threshold modes: a method's fixed threshold, or NannyML's band from the reference's own chunks
FIXED, REFERENCE_CHUNKS = "fixed", "reference_chunks"
THRESHOLD_MODES = (FIXED, REFERENCE_CHUNKS)
#: window settings besides a span: the windows as profiled, or one window per production batch
PROFILED, BATCH = "profiled", "batch"
#: NannyML's StandardDeviationThreshold multipliers (std_lower_multiplier = std_upper_multiplier = 3)
BAND_STDS = 3.0

__all__ = ["DriftSettings", "PROFILED", "BATCH", "parse_window_setting", "check_window", "regroup_windows", "Band", "reference_band", "FeatureDrift", "WindowDrift", "DriftReport", "drift", "choose_method"]


@dataclass(frozen=True)
class DriftSettings:
    """A model's drift configuration.

    Parameters
    ----------
    drift_share
        The dataset is drifted when at least this share of its features drifted.
    methods
        Per-feature method override: ``{"age": "ks"}``.
    type_methods
        Per-type method override: ``{"numeric": "psi"}`` (types: numeric, categorical, binary).
    thresholds
        Threshold overrides, by feature name first, then by method name:
        ``{"age": 0.2, "wasserstein": 0.15}``.
    small_sample
        A reference with at most this many values counts as small (KS/chi-square
        rather than Wasserstein/Jensen–Shannon), as in Evidently.
    features
        Only test these features (default: every feature of the reference).
    window
        What one production window is: ``"profiled"`` (default) — the time windows each
        production batch was profiled with; ``"batch"`` — each batch as one window (no
        per-window results); or a span (``"14D"``, ``"1M"``) that merges the profiled windows
        into coarser ones (profiles are mergeable, so no raw data is needed). A span must be a
        whole multiple of the profiled windows (``check_window``).
    threshold_mode
        ``"fixed"`` (default): each method's threshold (Evidently's), comparable across models.
        ``"reference_chunks"``: NannyML's data-driven band — every window of the reference is
        compared with the whole reference, and a feature drifts when its statistic leaves
        mean ± 3 standard deviations of those chunk statistics (the upper bound only when a
        larger statistic means more drift), each chunk compared on the bins (categories) the
        judged comparison uses. Needs a reference profiled with ``window=``.
    """

    drift_share: float = 0.5
    methods: Mapping[str, str] = field(default_factory=dict)
    type_methods: Mapping[str, str] = field(default_factory=dict)
    thresholds: Mapping[str, float] = field(default_factory=dict)
    small_sample: int = 1000
    features: tuple[str, ...] | None = None
    threshold_mode: str = FIXED
    window: str = PROFILED

    def __post_init__(self) -> None:
        if not 0 < self.drift_share <= 1:
            raise InvalidInput(f"drift_share={self.drift_share} must be in (0, 1].")
        object.__setattr__(self, "methods", dict(self.methods))
        object.__setattr__(self, "type_methods", dict(self.type_methods))
        object.__setattr__(self, "thresholds", {k: float(v) for k, v in self.thresholds.items()})
        if self.features is not None:
            object.__setattr__(self, "features", tuple(self.features))
        for name in list(self.methods.values()) + list(self.type_methods.values()):
            get_method(name)
        if self.threshold_mode not in THRESHOLD_MODES:
            raise InvalidInput(f"threshold_mode={self.threshold_mode!r}; choose one of {', '.join(THRESHOLD_MODES)}.",
                               field="threshold_mode")
        for kind in self.type_methods:
            if kind not in (NUMERIC, CATEGORICAL, BINARY):
                raise InvalidInput(f"type_methods: {kind!r} is not numeric, categorical or binary.")
        object.__setattr__(self, "window", parse_window_setting(self.window))

    def to_dict(self) -> dict[str, Any]:
        return {
            "drift_share": self.drift_share,
            "methods": dict(self.methods),
            "type_methods": dict(self.type_methods),
            "thresholds": dict(self.thresholds),
            "small_sample": self.small_sample,
            "features": list(self.features) if self.features is not None else None,
            "threshold_mode": self.threshold_mode,
            "window": self.window,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "DriftSettings":
        feats = d.get("features")
        return cls(
            drift_share=float(d.get("drift_share", 0.5)),
            methods=dict(d.get("methods") or {}),
            type_methods=dict(d.get("type_methods") or {}),
            thresholds=dict(d.get("thresholds") or {}),
            small_sample=int(d.get("small_sample", 1000)),
            features=tuple(feats) if feats is not None else None,
            threshold_mode=str(d.get("threshold_mode") or FIXED),  # stored before the field: fixed
            window=str(d.get("window") or PROFILED),  # stored before the field: as profiled
        )


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    type: str
    method: str
    statistic: float
    p_value: float | None
    threshold: float
    psi: float
    drifted: bool
    note: str | None = None
    #: how far past its rule, 1 = at the threshold (``drift_summary.drift_score``); computed by
    #: ``drift`` where the rule (fixed threshold or data-driven band) is known. None: read from a
    #: report stored before it was kept (``drift_summary.past_threshold`` works it out then).
    score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "type": self.type,
            "method": self.method,
            "statistic": self.statistic,
            "p_value": self.p_value,
            "threshold": self.threshold,
            "psi": self.psi,
            "drifted": self.drifted,
            "note": self.note,
            "score": self.score,
        }


@dataclass(frozen=True)
class WindowDrift:
    window: str
    rows: int
    dataset_drift: bool
    drift_share: float
    features: tuple[FeatureDrift, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "window": self.window,
            "rows": self.rows,
            "dataset_drift": self.dataset_drift,
            "drift_share": self.drift_share,
            "features": [f.to_dict() for f in self.features],
        }


@dataclass(frozen=True)
class DriftReport:
    """Per-feature results, the dataset verdict, and (with windows) one series per window."""

    dataset_drift: bool
    drift_share: float
    threshold_share: float
    features: tuple[FeatureDrift, ...]
    windows: tuple[WindowDrift, ...] = ()

    @property
    def drifted_features(self) -> list[str]:
        return [f.feature for f in self.features if f.drifted]

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON shape scripts rely on (see ``vision drift --json``)."""
        return {
            "dataset_drift": self.dataset_drift,
            "drift_share": self.drift_share,
            "threshold_share": self.threshold_share,
            "features": [f.to_dict() for f in self.features],
            "windows": [w.to_dict() for w in self.windows],
        }

    def to_df(self) -> pd.DataFrame:
        """One row per feature (the table a page or a notebook shows)."""
        cols = ["feature", "type", "method", "statistic", "p_value", "threshold", "psi", "drifted", "note", "score"]
        return pd.DataFrame([f.to_dict() for f in self.features], columns=cols)

    def windows_df(self) -> pd.DataFrame:
        """One row per (window, feature): the series behind a drift-over-time chart."""
        rows = [dict(f.to_dict(), window=w.window, rows=w.rows) for w in self.windows for f in w.features]
        cols = ["window", "rows", "feature", "type", "method", "statistic", "p_value", "threshold", "psi", "drifted", "note", "score"]
        return pd.DataFrame(rows, columns=cols)


def choose_method(kind: str, n_ref: int, feature: str, settings: DriftSettings) -> str:
    """The method for one feature: per-feature override, per-type override, else the default."""
    if feature in settings.methods:
        return settings.methods[feature]
    if kind in settings.type_methods:
        return settings.type_methods[kind]
    if kind == BINARY:
        return "z"
    small = n_ref <= settings.small_sample
    if kind == NUMERIC:
        return "ks" if small else "wasserstein"
    return "chisquare" if small else "jensenshannon"


def drift(reference: Profile, current: Profile, settings: DriftSettings | None = None) -> DriftReport:
    """Test every feature of ``current`` against ``reference``.

    Parameters
    ----------
    reference
        The training profile (its edges define the bins).
    current
        A production profile computed with ``reference=`` the same reference.
    settings
        The model's drift settings (defaults as in Evidently: KS/Wasserstein,
        chi-square/Jensen–Shannon, Z-test; a dataset drifts at a 0.5 share).

    Returns
    -------
    DriftReport
        Raises ``InvalidInput`` when the two profiles cannot be compared.
    """
    settings = settings or DriftSettings()
    _check_comparable(reference, current)
    current = regroup_windows(current, settings.window)
    features = list(settings.features) if settings.features is not None else list(reference.columns)
    for f in features:
        if f not in reference.columns:
            raise InvalidInput(f"feature {f!r} is not in the reference profile; remove it from the drift settings.")
    bands: dict[tuple[str, Any], Band | None] = {}

    def band(f: str, cur: NumericStats | CategoryStats) -> Band | None:
        # learnt on the partition this comparison uses (windows share coarser pooled bins than the whole)
        if settings.threshold_mode != REFERENCE_CHUNKS:
            return None
        key = (f, _partition(reference.columns[f], cur))
        if key not in bands:
            bands[key] = reference_band(reference, f, settings, cur)
        return bands[key]

    if settings.threshold_mode == REFERENCE_CHUNKS:
        _require_chunks(reference)
    results = tuple(_feature(f, reference.columns[f], current.columns[f], settings, band(f, current.columns[f]))
                    for f in features)
    share, verdict = _verdict(results, settings)
    windows = []
    for label, w in current.windows.items():
        wres = tuple(_feature(f, reference.columns[f], w.columns[f], settings, band(f, w.columns[f]))
                     for f in features if f in w.columns)
        ws, wv = _verdict(wres, settings)
        windows.append(WindowDrift(label, w.rows, wv, ws, wres))
    return DriftReport(verdict, share, settings.drift_share, results, tuple(windows))


@dataclass(frozen=True)
class Band:
    """A data-driven alert band: mean ± 3 std of one statistic over the reference's chunks.

    ``lower`` is None for statistics where only a larger value means more drift.
    ``chunk_statistics`` are the per-chunk values it was computed from.
    """

    method: str
    lower: float | None
    upper: float
    chunk_statistics: tuple[float, ...]

    def outside(self, statistic: float) -> bool:
        return statistic > self.upper or (self.lower is not None and statistic < self.lower)


def reference_band(reference: Profile, feature: str, settings: DriftSettings,
                   current: NumericStats | CategoryStats | None = None) -> Band | None:
    """NannyML's ``StandardDeviationThreshold(3, 3)`` for one feature, from reference windows.

    Each window (chunk) of the reference is compared with the whole reference by the
    feature's method; the band is the mean ± 3 population standard deviations (``np.std``,
    ddof=0, as NannyML) of those statistics. Given ``current`` (the column the band will
    judge), the chunks are compared on the partition that comparison uses — the bins both
    the reference and ``current`` kept, the categories both publish — because a statistic
    depends on the partition (Jensen–Shannon grows with the number of bins, KS and
    Wasserstein shrink on coarser ones): a current profile's windows share jointly pooled
    bins, so one sparse window coarsens them all, and a band learnt on the reference's finer
    bins would judge their statistics against the wrong scale. Returns None when fewer than
    two chunks have values for the feature (the fixed threshold applies then, with a note).
    Raises ``InvalidInput`` when the reference has no windows at all.
    """
    _require_chunks(reference)
    ref = reference.columns[feature]
    method_name = choose_method(ref.kind, ref.count, feature, settings)
    method = get_method(method_name)
    if ref.count == 0 or getattr(ref, "suppressed", False):
        return None
    ref = _on_partition(ref, ref, current)
    values = []
    for w in reference.windows.values():
        chunk = w.columns.get(feature)
        if chunk is None or getattr(chunk, "suppressed", False) or chunk.count == 0:
            continue
        values.append(_finite(method.compute(_pair(feature, ref, _on_partition(chunk, reference.columns[feature],
                                                                                current))).statistic))
    if len(values) < 2:
        return None
    arr = np.asarray(values, dtype=float)
    mean, std = float(arr.mean()), float(arr.std())  # ddof=0, as NannyML's StandardDeviationThreshold
    return Band(method_name, mean - BAND_STDS * std if method.signed else None, mean + BAND_STDS * std, tuple(values))


def _require_chunks(reference: Profile) -> None:
    if not reference.windows:
        raise InvalidInput(
            "threshold_mode='reference_chunks' needs the reference profiled in windows (its chunks); "
            "profile the reference with window= (e.g. window=10_000 rows or '7D'; CLI --window), "
            "at least ~10 windows, or use threshold_mode='fixed'.", field="threshold_mode")


def _usable(cur: NumericStats | CategoryStats | None) -> bool:
    return cur is not None and cur.count > 0 and not getattr(cur, "suppressed", False)


def _partition(ref: NumericStats | CategoryStats, cur: NumericStats | CategoryStats) -> Any:
    """What ``_pair(ref, cur)`` compares on: the bin edges both kept, or the categories both publish."""
    if not _usable(cur) or ref.count == 0 or getattr(ref, "suppressed", False):
        return None
    if isinstance(ref, NumericStats) and isinstance(cur, NumericStats):
        return np.intersect1d(ref.grid.index, cur.grid.index).tobytes()
    assert isinstance(ref, CategoryStats) and isinstance(cur, CategoryStats)
    return frozenset(_align_categories(ref, cur)[0]) - {"(other)"}


def _on_partition(side: NumericStats | CategoryStats, ref: NumericStats | CategoryStats,
                  cur: NumericStats | CategoryStats | None) -> NumericStats | CategoryStats:
    """``side`` (the reference or one of its chunks) on the partition of the comparison ``ref`` vs ``cur``."""
    if not _usable(cur):
        return side
    if isinstance(side, NumericStats) and isinstance(ref, NumericStats) and isinstance(cur, NumericStats):
        keep = np.intersect1d(np.intersect1d(ref.grid.index, cur.grid.index), side.grid.index)
        return side if keep.size == side.grid.index.size else coarsen(side, keep)
    assert isinstance(side, CategoryStats) and isinstance(ref, CategoryStats) and isinstance(cur, CategoryStats)
    kept = set(_align_categories(ref, cur)[0]) - {"(other)"}
    pooled = sum(n for v, n in side.counts.items() if v not in kept)
    if not pooled:
        return side
    return CategoryStats({v: n for v, n in side.counts.items() if v in kept}, side.missing, side.other + pooled, side.kind)


def parse_window_setting(window: str) -> str:
    """``"profiled"``, ``"batch"`` or a time span such as ``"14D"``/``"1M"`` (normalised); else ``InvalidInput``."""
    text = str(window or PROFILED).strip()
    if text.lower() in (PROFILED, BATCH):
        return text.lower()
    spec = _span(text)
    if spec is None:
        raise InvalidInput(f"window={text!r} is not understood; use 'profiled' (the windows as profiled), 'batch' "
                           "(one window per production batch) or a time span such as '14D', '4W' or '1M'.",
                           field="window")
    return text


def _span(text: str) -> tuple[str, int] | None:
    """A time span as the profiler parses it (``("ns", n)`` or ``("months", n)``); None if not a time span."""
    from vision_widgets.client import _parse_window

    if text.isdigit():
        return None  # a row count: windows of rows cannot be regrouped by time
    try:
        spec = _parse_window(text)
    except InvalidInput:
        return None
    return spec if spec is not None and spec[0] != "rows" else None


def check_window(window: str, profiled: Sequence[str | None]) -> None:
    """Refuse a span the stored production profiles cannot be regrouped into.

    ``profiled`` are the window settings the stored production profiles were made
    with (``Profile.window``; None for a batch profiled without windows). A span must
    be a whole multiple of each (14D from 7D or 1D; a month from days or hours, since a
    day never straddles two months; never 7D from 14D, or a month from weeks).
    """
    window = parse_window_setting(window)
    if window in (PROFILED, BATCH):
        return
    want = _span(window)
    assert want is not None
    for have_text in sorted({p for p in profiled if p}):
        have = _span(have_text)
        ok = have is not None and (
            (want[0] == have[0] and want[1] % have[1] == 0)
            or (want[0] == "months" and have[0] == "ns" and _DAY_NS % have[1] == 0))
        if not ok:
            raise InvalidInput(
                f"window={window!r}: the production data were profiled in windows of {have_text}, which do not "
                f"add up to {window} windows; choose a whole multiple of {have_text}, 'profiled' or 'batch'.",
                field="window")


_DAY_NS = 86_400 * 10**9


def regroup_windows(current: Profile, window: str) -> Profile:
    """``current`` with its windows as the ``window`` setting asks (see ``DriftSettings.window``).

    Merging published windows is exact for what they publish (profiles are mergeable);
    a window labelled ``first … last`` (the privacy guard merged it) goes by its first label.
    """
    window = parse_window_setting(window)
    if window == PROFILED or not current.windows:
        return current
    if window == BATCH:
        return dataclasses.replace(current, windows={})
    kind, n = _span(window)  # type: ignore[misc]
    groups: dict[str, Profile] = {}
    for label, w in current.windows.items():
        try:
            start = pd.Timestamp(label.split(" … ")[0])
        except (ValueError, TypeError):
            raise InvalidInput(f"window {label!r} is not a time window; set the window to 'profiled' or 'batch'.",
                               field="window") from None
        if start.tzinfo is not None:
            start = start.tz_convert("UTC").tz_localize(None)
        if kind == "ns":
            key = pd.Timestamp((start.value // n) * n).isoformat()
        else:
            months = (start.year - 1970) * 12 + start.month - 1
            key = str(np.datetime64((months // n) * n, "M"))
        groups[key] = _merge_windows(groups[key], w) if key in groups else w
    return dataclasses.replace(current, windows=dict(sorted(groups.items())))


def _merge_windows(a: Profile, b: Profile) -> Profile:
    from vision_widgets.client import merge

    return merge(a, b)


def _verdict(results: Sequence[FeatureDrift], settings: DriftSettings) -> tuple[float, bool]:
    if not results:
        return 0.0, False
    share = sum(r.drifted for r in results) / len(results)
    return share, share >= settings.drift_share


def _check_comparable(reference: Profile, current: Profile) -> None:
    if not isinstance(reference, Profile) or not isinstance(current, Profile):
        raise InvalidInput("drift() needs two profiles (load them with Profile.from_json).")
    for name, p in (("reference", reference), ("current", current)):
        if p.schema_version != SCHEMA_VERSION:
            raise InvalidInput(f"the {name} profile has schema version {p.schema_version}; recompute it with this version.")
    missing = [c for c in reference.columns if c not in current.columns]
    if missing:
        raise InvalidInput(
            f"the current profile lacks the reference's column(s) {', '.join(map(repr, missing))}; "
            "profile the current data with --reference pointing at this reference."
        )
    for c, ref in reference.columns.items():
        cur = current.columns[c]
        if ref.kind != cur.kind:
            raise InvalidInput(f"column {c!r} is {ref.kind} in the reference but {cur.kind} in the current profile; "
                               "profile the current data with --reference pointing at this reference.")
        if isinstance(ref, NumericStats) and isinstance(cur, NumericStats) and not (ref.suppressed or cur.suppressed):
            g, h = ref.grid, cur.grid
            if (g.origin, g.step, g.cells) != (h.origin, h.step, h.cells):
                raise InvalidInput(
                    f"column {c!r}: the current profile was not computed with this reference's bin edges; profile "
                    "the current data with reference=<this reference> (CLI: --reference REF.json)."
                )
    if current.reference_id is not None and current.reference_id != reference.fingerprint():
        raise InvalidInput(f"the current profile was computed against reference {current.reference_id} but this "
                           f"reference is {reference.fingerprint()}; profile the current data with --reference "
                           "pointing at this reference.", field="reference_id")


def _pair(name: str, ref: NumericStats | CategoryStats, cur: NumericStats | CategoryStats) -> FeaturePair:
    if isinstance(ref, NumericStats) and isinstance(cur, NumericStats):
        if np.array_equal(ref.grid.index, cur.grid.index):  # the usual case: no re-binning
            common, rc, rs, cc, cs = ref.grid.index, ref.counts, ref.sums, cur.counts, cur.sums
        else:  # pooling kept different edges on each side: compare on the edges both kept
            common = np.intersect1d(ref.grid.index, cur.grid.index, assume_unique=True)
            rc, rs = rebin(ref, common)
            cc, cs = rebin(cur, common)
        edges = ref.grid.origin + common.astype(float) * ref.grid.step

        def tails(c: np.ndarray, s: np.ndarray, st: NumericStats) -> tuple[float, float]:
            if common.size == 0:
                return (st.mean, st.mean)
            lo = float(s[0] / c[0]) if c[0] else float(edges[0])
            hi = float(s[-1] / c[-1]) if c[-1] else float(edges[-1])
            return (min(lo, float(edges[0])), max(hi, float(edges[-1])))

        points = None
        if ref.grid.discrete and cur.grid.discrete:  # one value per bin: point masses, not spread
            pa, pb = ref.grid.coarsened(common).atoms(), cur.grid.coarsened(common).atoms()
            points = np.where(pa == pb, pa, np.nan)
        return FeaturePair(name, NUMERIC, rc, cc, edges=edges, ref_tails=tails(rc, rs, ref), cur_tails=tails(cc, cs, cur),
                           ref_mean=ref.mean, ref_std=ref.std, cur_mean=cur.mean, cur_std=cur.std, points=points)
    assert isinstance(ref, CategoryStats) and isinstance(cur, CategoryStats)
    labels, r, c = _align_categories(ref, cur)
    return FeaturePair(name, ref.kind, r, c, labels=labels)


def _align_categories(ref: CategoryStats, cur: CategoryStats) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """Both sides' counts over the categories both can publish, plus one pooled "(other)".

    The privacy guard pools values with fewer than k rows into ``other`` on each side
    separately, so a value just above k on one side can sit just below it on the other.
    Compared as "0 against its count" it is a false drift (same-distribution data gave a
    chi-square p of 3e-26 where the raw data give 0.35). A value published on one side
    only is therefore moved into ``other`` on that side too — but only when the other side
    pooled something: with ``other == 0`` nothing was pooled there, so the value is truly
    absent (new in production, or gone) and stays a category of its own.
    """
    shared = set(ref.counts) & set(cur.counts)
    keep = sorted(shared
                  | ({v for v in cur.counts if v not in shared} if ref.other == 0 else set())
                  | ({v for v in ref.counts if v not in shared} if cur.other == 0 else set()))
    kept = set(keep)
    r_other = ref.other + sum(n for v, n in ref.counts.items() if v not in kept)
    c_other = cur.other + sum(n for v, n in cur.counts.items() if v not in kept)
    r = np.array([ref.counts.get(v, 0) for v in keep] + [r_other], dtype=np.int64)
    c = np.array([cur.counts.get(v, 0) for v in keep] + [c_other], dtype=np.int64)
    if r_other == 0 and c_other == 0:
        return tuple(keep), r[:-1], c[:-1]
    return tuple(keep) + ("(other)",), r, c


def _feature(name: str, ref: NumericStats | CategoryStats, cur: NumericStats | CategoryStats, settings: DriftSettings,
             band: Band | None = None) -> FeatureDrift:
    kind = ref.kind
    method_name = choose_method(kind, ref.count, name, settings)
    method = get_method(method_name)
    if kind not in method.feature_types:
        raise InvalidInput(f"feature {name!r} is {kind}; method {method_name!r} applies to "
                           f"{', '.join(method.feature_types)} features only — choose another in the drift settings.")
    threshold = settings.thresholds.get(name, settings.thresholds.get(method_name, method.default_threshold))
    band_note = None
    if band is not None:
        threshold = band.upper
        band_note = (f"data-driven band from {len(band.chunk_statistics)} reference chunks: "
                     + (f"[{band.lower:.4g}, {band.upper:.4g}]" if band.lower is not None else f"alert above {band.upper:.4g}"))
    elif settings.threshold_mode == REFERENCE_CHUNKS:
        band_note = "fewer than two reference chunks have values for this column: fixed threshold used"

    def scored(stat: float, p: float | None, thr: float, psi_: float, drifted: bool, note: str | None) -> FeatureDrift:
        score = drift_score(method.uses_p_value, stat, p, thr, band=band is not None,
                            lower=band.lower if band is not None else None)
        return FeatureDrift(name, kind, method_name, stat, p, float(thr), psi_, drifted, note, _finite(score))

    total_cur = cur.count + cur.missing
    if ref.count == 0 or getattr(ref, "suppressed", False):
        return scored(0.0, None, threshold, 0.0, False,
                      "the reference has no usable values for this column; nothing to compare")
    if cur.count == 0 or getattr(cur, "suppressed", False):
        if cur.count == 0 and total_cur == 0:
            return scored(0.0, None, threshold, 0.0, False,
                          "no current rows; nothing to compare")
        if cur.count == 0:
            return scored(1.0, 0.0 if method.uses_p_value else None, threshold, 0.0, True,
                          f"every current value is missing ({cur.missing:,} rows); statistic set to the missing share, 1.0")
        return scored(0.0, None, threshold, 0.0, False,
                      f"fewer than k current values ({cur.count}); too few to compare")
    pair = _pair(name, ref, cur)
    res: MethodResult = method.compute(pair)
    stat = _finite(res.statistic)
    p = _finite(res.p_value) if res.p_value is not None else None
    notes = [n for n in (res.note, band_note) if n]
    if isinstance(ref, NumericStats) and ref.m2 == 0:
        notes.append("the reference is constant")
    if band is not None:
        drifted = band.outside(stat)
    else:
        drifted = method.drifted(MethodResult(stat, p), threshold)
        if drifted and method.noise is not None:
            floor = method.noise(pair)
            if floor.p_value >= NOISE_LEVEL:
                drifted = False
                notes.append(f"within sampling noise: two same-distribution samples of these sizes reach "
                             f"{floor.floor:.4g} in {100 * (1 - NOISE_LEVEL):.0f} % of draws (p = {floor.p_value:.2g})")
    return scored(stat, p, float(threshold), _finite(psi(pair)),
                  drifted, "; ".join(notes) or None)


def _finite(x: float) -> float:
    x = float(x)
    if math.isnan(x):
        return 0.0
    if math.isinf(x):
        return math.copysign(1e300, x)
    return x
