"""Performance estimated before labels arrive (CBPE), from profiles alone.

NannyML's confidence-based performance estimation (CBPE) calibrates the model's
scores on the reference, where labels are known, and then takes the *expected*
confusion matrix of an unlabelled window: a row with calibrated probability
``p`` that the model predicts positive is a true positive with probability ``p``
and a false positive with ``1 - p``. We do the same on aggregates:

- the reference profile holds one score histogram per true class on shared bins,
  so ``P(y = positive | score bin)`` is a ratio of two published counts — a
  calibration map per bin, made monotone (isotonic regression over the bins,
  NannyML's default calibrator is isotonic too);
- a production window holds the histogram of its scores on the same score grid,
  so the expected confusion matrix is a sum over its bins;
- ROC AUC follows from the calibrated expected positives and negatives per bin,
  ordered by score (ties inside a bin count one half, as ``Profile.roc_auc``).

Assumptions (docs/statistics.md): no concept drift (``P(y | score)`` in
production is the reference's), the score is informative enough that binning at
0.01 loses little. A bin that straddles the decision threshold (the privacy
guard merges the bins around 0.5 when few rows fall there) holds rows that may
be predicted either way: a threshold metric (accuracy, precision, recall, F1) is
reported only when sending the whole bin to either side moves it by at most
``AMBIGUITY``, and is then the bin split in proportion to its width; otherwise it
is unknown (None), never a guess. ROC AUC does not depend on the threshold. Only binary classification with a probability score: a profile carries one
score column, so a multiclass model's per-class probabilities are not there.

The band is NannyML's: mean ± 3 standard deviations of the *realised* metric over
the reference's chunks (its windows, when it was profiled with ``window=``); a
reference without chunks gets the same band from chunks resampled from its own
(bin, class) counts, as many rows as the production window (the service draws the
band for the median window's size and judges a window under half of it on the band for
its own size). An estimate outside the band is an alert.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from vision_widgets.client import (
    CLASSIFICATION,
    OTHER,
    SCORE_BINS,
    CategoryStats,
    NumericStats,
    Profile,
    binned_auc,
    rebin,
)
from vision_widgets.core.stats.performance import performance

__all__ = ["METRICS", "THRESHOLD", "Calibration", "CBPE", "Estimate", "cannot_estimate", "realised"]

#: The metrics CBPE estimates, in the order tables and charts show them.
METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
#: The client labels a score positive at ``score >= 0.5`` (``client._add_confusion``); so do we.
THRESHOLD = 0.5
#: NannyML's StandardDeviationThreshold(std_lower_multiplier=3, std_upper_multiplier=3).
BAND_STDS = 3.0
#: The most a threshold metric may move when a bin straddling the threshold goes wholly to either
#: side; past it the metric is not told (a 500-row window whose score bins the guard merged into one
#: gave an "accuracy" of exactly 0.5 — the width split of a bin [0, 1] — for a model right 93% of the time).
AMBIGUITY = 0.01
#: The metrics that depend on the decision threshold.
THRESHOLD_METRICS = ("accuracy", "precision", "recall", "f1")
#: Chunks drawn from the reference's (bin, class) counts when it has no chunks of its own.
RESAMPLED_CHUNKS = 200
#: A reference needs at least this many chunks with labels for a band from its chunks.
MIN_CHUNKS = 2


def _score_hist(profile: Profile) -> NumericStats | None:
    m = profile.model
    if m is None or m.prediction_kind != "score" or not isinstance(m.prediction, NumericStats):
        return None
    return m.prediction


def cannot_estimate(reference: Profile | None) -> str:
    """Why CBPE cannot run on this reference ("" when it can): the reason, in words."""
    if reference is None:
        return "The model has no training profile yet, so there is nothing to calibrate the scores on."
    m = reference.model
    if m is None or (m.target is None and m.prediction is None):
        return "The model was registered without a target or prediction column, so there is no model output to judge."
    if m.task != CLASSIFICATION:
        return ("Estimation without labels is for classification models with probability scores; "
                "this is a regression model (its performance is shown once labels arrive).")
    if m.prediction_kind != "score":
        return ("The model's predictions are class labels, not probability scores: without a score there is no "
                "confidence to estimate performance from. Send the model's probability (0–1) as the prediction.")
    if m.target is None or not m.score_hist:
        return "The training profile has no labels, so the scores cannot be calibrated against outcomes."
    classes = [c for c, n in m.target.counts.items() if n > 0] if isinstance(m.target, CategoryStats) else []
    if len(classes) + (1 if getattr(m.target, "other", 0) else 0) > 2:
        return ("Estimation without labels is implemented for binary classification: a profile carries one score "
                "column, not a probability per class.")
    pos = m.score_hist.get(m.positive_class or "")
    negs = [h for key, h in m.score_hist.items() if key != m.positive_class]
    if pos is None or not negs or pos.suppressed or any(h.suppressed for h in negs):
        return ("The training profile's per-class score histograms were withheld by the privacy guard (a class has "
                "fewer rows than the threshold), so the scores cannot be calibrated.")
    return ""


def _bounds(edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each bin's score range: the outer bins are closed by 0 and 1 (scores are probabilities)."""
    lo = np.concatenate([[0.0], edges])
    hi = np.concatenate([edges, [1.0]])
    return np.clip(lo, 0.0, 1.0), np.clip(hi, 0.0, 1.0)


def _positive_share(lo: np.ndarray, hi: np.ndarray, threshold: float) -> np.ndarray:
    """Per bin, the share of its rows predicted positive (score >= threshold), uniform inside a bin."""
    width = hi - lo
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(width > 0, (hi - threshold) / np.where(width > 0, width, 1.0), (lo >= threshold) * 1.0)
    return np.clip(share, 0.0, 1.0)


def _isotonic(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted isotonic (non-decreasing) regression by pool-adjacent-violators; zero weights are skipped."""
    keep = np.flatnonzero(w > 0)
    out = np.full(y.size, np.nan)
    if keep.size == 0:
        return out
    vals: list[float] = []
    wts: list[float] = []
    sizes: list[int] = []
    for i in keep:
        vals.append(float(y[i]))
        wts.append(float(w[i]))
        sizes.append(1)
        while len(vals) > 1 and vals[-2] > vals[-1]:
            v, ww, s = vals.pop(), wts.pop(), sizes.pop()
            tot = wts[-1] + ww
            vals[-1] = (vals[-1] * wts[-1] + v * ww) / tot
            wts[-1] = tot
            sizes[-1] += s
    fitted = np.repeat(vals, sizes)
    out[keep] = fitted
    # bins the reference never saw: the calibration of the nearest seen bin (constant extrapolation)
    idx = np.arange(y.size)
    return np.interp(idx, keep, fitted) if keep.size < y.size else out


@dataclass(frozen=True)
class Calibration:
    """``P(y = positive | score bin)`` learnt on the reference, on the bins it published.

    ``index`` are the bin edges' positions on the client's score grid (edge ``i`` at
    ``i / SCORE_BINS``); ``positives``/``negatives`` the reference's counts per bin;
    ``p`` the calibrated (isotonic) probability per bin.
    """

    index: np.ndarray
    positives: np.ndarray
    negatives: np.ndarray
    p: np.ndarray

    @property
    def edges(self) -> np.ndarray:
        return self.index.astype(np.float64) / SCORE_BINS

    @classmethod
    def fit(cls, reference: Profile) -> "Calibration":
        m = reference.model
        assert m is not None
        pos, negs = _class_hists(m.score_hist, m.positive_class)
        common = pos.grid.index
        for h in negs:
            common = np.intersect1d(common, h.grid.index)
        a = rebin(pos, common)[0].astype(np.float64)
        b = sum((rebin(h, common)[0].astype(np.float64) for h in negs), np.zeros(common.size + 1))
        n = a + b
        with np.errstate(divide="ignore", invalid="ignore"):
            raw = np.where(n > 0, a / np.where(n > 0, n, 1.0), np.nan)
        return cls(common, a, b, _isotonic(raw, n))

    def on(self, index: np.ndarray) -> "Calibration":
        """This calibration on the coarser edges ``index`` (a subset of ``self.index``)."""
        pos = np.add.reduceat(self.positives, _starts(self.index, index))
        neg = np.add.reduceat(self.negatives, _starts(self.index, index))
        n_fine = self.positives + self.negatives
        # the calibrated probability of a merged bin: the reference-weighted mean of its parts
        num = np.add.reduceat(np.nan_to_num(self.p) * n_fine, _starts(self.index, index))
        n = pos + neg
        with np.errstate(divide="ignore", invalid="ignore"):
            p = np.where(n > 0, num / np.where(n > 0, n, 1.0), np.nan)
        if np.isnan(p).any():  # a merged bin the reference never saw: nearest seen bin
            seen = np.flatnonzero(~np.isnan(p))
            p = np.interp(np.arange(p.size), seen, p[seen]) if seen.size else p
        return Calibration(np.asarray(index, dtype=np.int64), pos, neg, p)


def _starts(fine: np.ndarray, coarse: np.ndarray) -> np.ndarray:
    """Where each bin of the edges ``coarse`` (a subset of ``fine``) starts among ``fine``'s bins."""
    pos = np.searchsorted(fine, coarse)
    return np.concatenate([[0], pos + 1]).astype(np.intp)


def _class_hists(hists: Mapping[str, NumericStats], positive: str | None) -> tuple[NumericStats, list[NumericStats]]:
    pos = hists[positive or ""]
    return pos, [h for key, h in hists.items() if key != positive]


@dataclass(frozen=True)
class Estimate:
    """One window's estimated metrics (None where undefined, e.g. no predicted positive)."""

    rows: int
    metrics: dict[str, float | None]
    #: The share of the window's rows in score bins the reference never saw (calibration extrapolated).
    unseen_share: float = 0.0
    #: A threshold metric is unknown: the score bins around the threshold were merged (privacy guard).
    merged_at_threshold: bool = False


def _metrics_from(pos: np.ndarray, neg: np.ndarray, share: np.ndarray) -> dict[str, float | None]:
    """Metrics of a (expected or counted) split of rows per bin into positives and negatives.

    ``pos``/``neg`` per bin (ordered by score), ``share`` per bin the fraction predicted positive.
    """
    tp = float((pos * share).sum())
    fp = float((neg * share).sum())
    fn = float((pos * (1 - share)).sum())
    tn = float((neg * (1 - share)).sum())
    n = tp + fp + fn + tn
    out: dict[str, float | None] = {m: None for m in METRICS}
    if n <= 0:
        return out
    out["accuracy"] = (tp + tn) / n
    out["precision"] = tp / (tp + fp) if tp + fp > 0 else None
    out["recall"] = tp / (tp + fn) if tp + fn > 0 else None
    out["f1"] = 2 * tp / (2 * tp + fp + fn) if tp > 0 else (0.0 if fp + fn > 0 else None)
    out["roc_auc"] = binned_auc(pos, neg)  # ties in a bin count one half; too many ties: not told
    return out


def _split_metrics(pos: np.ndarray, neg: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                   threshold: float) -> tuple[dict[str, float | None], bool]:
    """``_metrics_from`` on bins ``[lo, hi)`` split at ``threshold``, and whether a threshold metric was
    left unknown because a bin straddling the threshold could move it by more than ``AMBIGUITY``.

    Each metric is monotone in the share of the straddling bin predicted positive (linear, or a
    ratio of linear functions), so its two extremes bound it.
    """
    share = _positive_share(lo, hi, threshold)
    out = _metrics_from(pos, neg, share)
    straddle = (share > 0) & (share < 1) & ((pos + neg) > 0)
    if not straddle.any():
        return out, False
    none = _metrics_from(pos, neg, np.where(straddle, 0.0, share))
    every = _metrics_from(pos, neg, np.where(straddle, 1.0, share))
    unknown = False
    for m in THRESHOLD_METRICS:
        ends = (none[m], out[m], every[m])
        if out[m] is not None and (None in ends or max(ends) - min(ends) > AMBIGUITY):  # type: ignore[type-var]
            out[m] = None
            unknown = True
    return out, unknown


class CBPE:
    """Confidence-based performance estimation on profiles: ``fit(reference)``, then ``estimate(current)``.

    Parameters
    ----------
    threshold
        The decision threshold: a score at or above it is a positive prediction.
    """

    def __init__(self, threshold: float = THRESHOLD) -> None:
        self.threshold = float(threshold)
        self.reference: Profile | None = None
        self.calibration: Calibration | None = None
        self.reason = "Call fit(reference) first."

    def fit(self, reference: Profile) -> "CBPE":
        """Learn the calibration map; ``reason`` says why estimation cannot run ("" when it can)."""
        self.reference = reference
        self.reason = cannot_estimate(reference)
        self.calibration = Calibration.fit(reference) if not self.reason else None
        return self

    def estimate(self, current: Profile) -> Estimate | None:
        """The expected metrics of ``current`` (a production profile or window); None without scores."""
        if self.calibration is None:
            return None
        hist = _score_hist(current)
        if hist is None or hist.suppressed or hist.count == 0:
            return None
        common = np.intersect1d(self.calibration.index, hist.grid.index)
        cal = self.calibration if common.size == self.calibration.index.size else self.calibration.on(common)
        counts = rebin(hist, common)[0].astype(np.float64)
        lo, hi = _bounds(common.astype(np.float64) / SCORE_BINS)
        p = cal.p
        metrics, merged = _split_metrics(counts * p, counts * (1 - p), lo, hi, self.threshold)
        seen = (cal.positives + cal.negatives) > 0
        unseen = float(counts[~seen].sum() / counts.sum()) if counts.sum() else 0.0
        return Estimate(int(hist.count), metrics, unseen, merged)

    # -- the band ------------------------------------------------------------------
    def band(self, rows: int | None = None, seed: int = 0) -> tuple[dict[str, tuple[float, float]], str]:
        """Per metric (lower, upper): mean ± 3 std of the realised metric over reference chunks.

        From the reference's own windows when it has at least two with labels; otherwise from
        ``RESAMPLED_CHUNKS`` chunks of ``rows`` rows drawn from its (bin, class) counts. Returns
        the band and a sentence saying where it came from.
        """
        if self.reference is None or self.calibration is None:
            return {}, ""
        values: dict[str, list[float]] = {m: [] for m in METRICS}
        chunks = [w for w in self.reference.windows.values() if w.model is not None and w.model.target is not None]
        source = ""
        if len(chunks) >= MIN_CHUNKS:
            for w in chunks:
                got = realised(w, self.threshold)
                for m in METRICS:
                    if got.get(m) is not None:
                        values[m].append(float(got[m]))  # type: ignore[arg-type]
            source = f"mean ± 3 std of the realised metric over the training data's {len(chunks)} chunks"
        else:
            cal = self.calibration
            n = int(rows) if rows else int((cal.positives + cal.negatives).sum())
            total = cal.positives + cal.negatives
            probs = np.concatenate([cal.positives, cal.negatives]) / total.sum()
            lo, hi = _bounds(cal.edges)
            rng = np.random.default_rng(seed)
            k = cal.positives.size
            for draw in rng.multinomial(max(n, 1), probs, size=RESAMPLED_CHUNKS):
                got, _ = _split_metrics(draw[:k].astype(float), draw[k:].astype(float), lo, hi, self.threshold)
                for m in METRICS:
                    if got[m] is not None:
                        values[m].append(float(got[m]))  # type: ignore[arg-type]
            source = (f"mean ± 3 std of the realised metric over {RESAMPLED_CHUNKS} chunks of {n:,} rows resampled "
                      "from the training data (it was profiled without chunks)")
        out: dict[str, tuple[float, float]] = {}
        for m, vals in values.items():
            if len(vals) >= MIN_CHUNKS:
                arr = np.asarray(vals)
                mean, std = float(arr.mean()), float(arr.std())  # ddof=0, as NannyML
                out[m] = (max(0.0, mean - BAND_STDS * std), min(1.0, mean + BAND_STDS * std))
        return out, source


def realised(profile: Profile, threshold: float = THRESHOLD) -> dict[str, float | None]:
    """The metrics a labelled profile (or window) realised; every value None without labels.

    From the confusion counts when the privacy guard published them (exact), else from the
    per-class score histograms split at the threshold (a bin straddling it split by width).
    """
    out: dict[str, float | None] = {m: None for m in METRICS}
    m = profile.model
    if m is None or m.target is None or m.task != CLASSIFICATION:
        return out
    classes = [c for c, n in getattr(m.target, "counts", {}).items() if n > 0 and c != OTHER]
    if len(classes) < 2 or (m.positive_class is not None and len(classes) == 2 and m.positive_class not in classes):
        # the privacy guard pooled a class away (fewer than k rows of it): no metric can be told apart
        return out
    perf = performance(profile)
    for key in METRICS:
        v = perf.get(key)
        out[key] = float(v) if v is not None and math.isfinite(v) else None
    if m.confusion or m.prediction_kind != "score" or not m.score_hist or (m.positive_class or "") not in m.score_hist:
        return out
    pos, negs = _class_hists(m.score_hist, m.positive_class)
    if pos.suppressed or any(h.suppressed for h in negs):
        return out
    common = pos.grid.index
    for h in negs:
        common = np.intersect1d(common, h.grid.index)
    a = rebin(pos, common)[0].astype(float)
    b = sum((rebin(h, common)[0].astype(float) for h in negs), np.zeros(common.size + 1))
    lo, hi = _bounds(common.astype(np.float64) / SCORE_BINS)
    got, _ = _split_metrics(a, b, lo, hi, threshold)
    for key in METRICS:
        if out[key] is None:
            out[key] = got[key]
    return out


def alerts(values: Sequence[float | None], band: tuple[float, float] | None) -> tuple[bool, ...]:
    """Per value, whether it left the band (False where there is no value or no band)."""
    if band is None:
        return tuple(False for _ in values)
    lo, hi = band
    return tuple(v is not None and (v < lo or v > hi) for v in values)
