"""Estimated vs realised performance per production window (CBPE on stored profiles).

A model's production windows are its stored production batches in the order they
arrived, each split into its time windows as the drift settings' ``window`` groups them
(``windows.model_windows``: the windows of the stored drift reports, which the Drift page
lists), each identified by ``(profile_id, window)`` — never by its label alone. Per window the
estimate comes from the window's score histogram and the calibration learnt on the
training profile (``core/stats/estimation.py``); the realised value from its labels:
those the batch carried, or those sent later as a *labels* profile of the same
window (``records.LABELS``, matched by batch label and window label, see docs/decisions.md). The
drift of a window always comes from the batch first stored for it.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Sequence

import pandas as pd

from vision_widgets.client import Profile
from vision_widgets.core.catalog import records
from vision_widgets.core.catalog.windows import (
    ProductionWindow,
    has_labels,
    labels_by_window,
    model_windows,
    production_windows,
    window_key,
)
from vision_widgets.core.context import Context
from vision_widgets.core.identity import sessions
from vision_widgets.core.identity.principal import Principal
from vision_widgets.core.stats.estimation import CBPE, METRICS, alerts, realised
from vision_widgets.services.profiling import drift_settings_of, record_for

__all__ = ["PerformanceSeries", "ProductionWindow", "performance_over_time", "series", "production_windows", "has_labels"]


@dataclass(frozen=True)
class PerformanceSeries:
    """Per production window, estimated and realised metrics, the reference band and alerts.

    ``windows`` are window labels in time order (as ``production_windows`` gives them);
    every tuple in ``estimated``/``realised``/``alerts`` has one entry per window (None
    where there is no estimate, or no labels). ``band[metric]`` is (lower, upper);
    ``reason`` is "" when the estimation ran, else why it could not (in words).
    """

    windows: tuple[str, ...]
    metrics: tuple[str, ...]
    estimated: dict[str, tuple[float | None, ...]]
    realised: dict[str, tuple[float | None, ...]]
    band: dict[str, tuple[float, float]]
    alerts: dict[str, tuple[bool, ...]]
    reason: str
    #: Rows per window.
    rows: tuple[int, ...] = ()
    #: Where the band came from (reference chunks, or chunks resampled from the reference).
    band_source: str = ""
    #: The decision threshold the predictions were labelled with.
    threshold: float = 0.5
    #: Notes worth showing (e.g. windows whose scores fall where the reference had none).
    notes: tuple[str, ...] = field(default=())
    #: Per window, what identifies it: (stored production profile id, time window label or None).
    #: Match windows on this, not on ``windows`` (two batches may share a label).
    keys: tuple[tuple[int, str | None], ...] = ()
    #: Per window, the band it is judged on (``band``, or the wider band of its own size for a window
    #: under half the typical size); empty dicts when no band could be drawn.
    window_bands: tuple[dict[str, tuple[float, float]], ...] = field(default=())

    def to_df(self) -> pd.DataFrame:
        """One row per (window, metric): estimated, realised, band, alert."""
        rows = []
        for i, w in enumerate(self.windows):
            for m in self.metrics:
                lo, hi = self.band.get(m, (None, None))
                rows.append({
                    "window": w, "rows": self.rows[i] if i < len(self.rows) else None, "metric": m,
                    "estimated": self.estimated.get(m, ())[i] if self.estimated.get(m) else None,
                    "realised": self.realised.get(m, ())[i] if self.realised.get(m) else None,
                    "lower": lo, "upper": hi,
                    "alert": bool(self.alerts.get(m, ())[i]) if self.alerts.get(m) else False,
                })
        return pd.DataFrame(rows, columns=["window", "rows", "metric", "estimated", "realised", "lower", "upper",
                                           "alert"])

    def to_dict(self) -> dict:
        """JSON-ready (``vision drift --json``, the exported report)."""
        return {
            "windows": list(self.windows), "rows": list(self.rows), "metrics": list(self.metrics),
            "estimated": {m: list(v) for m, v in self.estimated.items()},
            "realised": {m: list(v) for m, v in self.realised.items()},
            "band": {m: list(v) for m, v in self.band.items()}, "band_source": self.band_source,
            "alerts": {m: list(v) for m, v in self.alerts.items()}, "threshold": self.threshold,
            "reason": self.reason, "notes": list(self.notes),
        }


def performance_over_time(ctx: Context, principal: Principal, name: str) -> PerformanceSeries:
    """Estimated (CBPE) and realised performance of model ``name`` per production window.

    Whoever may open the model may call it (``PermissionDenied`` otherwise). Estimation
    runs for binary classification with probability scores and a labelled training
    profile; otherwise ``reason`` says why, and the realised values are still given
    where labels exist.
    """
    me = sessions.authenticate(ctx, principal)
    with ctx.store.read() as conn:
        record = record_for(conn, me, name)
        refs = records.profiles_of(conn, record.id, "reference")
        prods = records.profiles_of(conn, record.id, "production")
        late = records.profiles_of(conn, record.id, records.LABELS)
    reference = Profile.from_json(refs[-1].body) if refs else None
    window = drift_settings_of(record).window
    # The drift reports' windows (the settings' grouping), so each estimate lands on its window.
    return series(reference, model_windows(prods, window), labels_by_window(late, window))


def series(reference: Profile | None, windows: Sequence[ProductionWindow],
           late: dict[tuple[str, str], Profile] | None = None) -> PerformanceSeries:
    """The performance series of ``windows`` against ``reference`` (no storage, no permission check).

    For a caller that has already checked the principal and parsed the model's profiles (the Drift
    page loads them once per model): ``series(reference, model_windows(batches, window),
    labels_by_window(stored_labels, window))`` gives what ``performance_over_time`` gives, without parsing
    the profiles again (about 30 ms for 180 windows).
    """
    late = late or {}
    est = CBPE()
    reason = est.fit(reference).reason if reference is not None else \
        "The model has no training profile yet, so there is nothing to calibrate the scores on."
    if not windows and not reason:
        reason = "There is no production data yet: estimates appear with the first production window."
    estimated: dict[str, list[float | None]] = {m: [] for m in METRICS}
    real: dict[str, list[float | None]] = {m: [] for m in METRICS}
    rows: list[int] = []
    notes: list[str] = []
    merged: list[str] = []  # windows whose score bins around the threshold the privacy guard merged
    for w in windows:
        rows.append(int(w.profile.rows))
        e = est.estimate(w.profile) if not reason else None
        if e is not None and e.unseen_share > 0.05:
            notes.append(f"{w.label}: {e.unseen_share:.0%} of the scores fall where the training data had none; "
                         "their calibration is extrapolated.")
        if e is not None and e.merged_at_threshold:
            merged.append(w.label)
        labelled = late.get((w.batch.strip(), window_key(w.label)))
        got = realised(labelled if labelled is not None else w.profile, est.threshold)
        for m in METRICS:
            estimated[m].append(e.metrics.get(m) if e is not None else None)
            real[m].append(got.get(m))
    if merged:  # one sentence, not one per window (180 daily windows would be a wall of text)
        where = (f"window {merged[0]}" if len(merged) == 1 else
                 f"{len(merged)} windows ({merged[0]} to {merged[-1]})" if len(merged) < len(windows) else
                 f"every window ({len(merged)})")
        notes.append(f"In {where}, too few rows scored near {est.threshold:g} for the privacy guard to publish "
                     "those score bins apart: accuracy, precision, recall and F1 cannot be told there "
                     "(ROC AUC does not depend on the threshold).")
    band: dict[str, tuple[float, float]] = {}
    per_window: list[dict[str, tuple[float, float]]] = [{} for _ in rows]
    source = ""
    flagged = {m: alerts(estimated[m], None) for m in METRICS}
    if not reason:
        typical = int(statistics.median(rows)) if rows else None
        band, source = est.band(typical)
        flagged = {m: alerts(estimated[m], band.get(m)) for m in METRICS}
        # The band drawn is for the median window's size. A window under half of it (a partial week)
        # varies more: judged against the drawn band it would alert on noise, so it is judged against
        # the band for its own size (the same band when the reference has its own chunks).
        own: dict[int, dict[str, tuple[float, float]]] = {}
        per_window = [band] * len(rows)
        for i, n in enumerate(rows):
            if typical is None or n <= 0 or 2 * n >= typical:
                continue
            if n not in own:
                own[n] = est.band(n)[0]
            per_window[i] = own[n]
            for m in METRICS:
                flagged[m] = flagged[m][:i] + alerts([estimated[m][i]], own[n].get(m)) + flagged[m][i + 1:]
            if own[n] != band:
                notes.append(f"{windows[i].label}: {n:,} rows, under half the {typical:,} the band is drawn for; "
                             f"its alerts are judged on the band for {n:,} rows, which is wider.")
    return PerformanceSeries(
        windows=tuple(w.label for w in windows), metrics=METRICS,
        estimated={m: tuple(v) for m, v in estimated.items()}, realised={m: tuple(v) for m, v in real.items()},
        band=band, alerts=flagged, reason=reason,
        rows=tuple(rows), band_source=source, threshold=est.threshold, notes=tuple(notes),
        keys=tuple(w.key for w in windows), window_bands=tuple(per_window),
    )
