"""The Drift page's data: a model's production windows, each with its verdict and per-feature tests.

``drift_overview(ctx, principal, name)`` reads a model once — its training profile, the stored
drift reports and (unparsed) production profiles — and answers every later question of the page
(another window, another feature, a feature's series over time) from memory: switching costs no
database round trip and no recomputation, which is what keeps a switch under the page's budget
for 100 features × 180 windows (benchmarks/bench_drift_page.py).

**Windows.** Each stored production batch is one window, or — when it was profiled with a
timestamp — each of its time windows. Their results come from the stored drift reports (which a
change of drift settings recomputes), so the page shows what alerts and the model list show.

**How far past the threshold.** Methods read their numbers differently (a p-value drifts *below*
its threshold, a distance *above*), so each result also carries a ``score`` on one scale where the
threshold is 1 (``core.stats.drift_summary.drift_score``: ``statistic / threshold`` for a distance,
``log(p) / log(threshold)`` for a p-value, ``statistic / upper`` — or the distance from the
centre over the half-width, for a signed statistic — in a data-driven band). ``drift`` stores it
with each result; the page reads it, as the export does. The table sorts on it and
the drift-over-time chart draws it, so features tested by different methods share one threshold
line.

Permission: whoever may open the model (its owner, or an admin); checked in ``drift_overview``.
The overview holds only what that check let through.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from datetime import datetime
from typing import Any, Callable

import numpy as np

from vision_widgets.client import CategoryStats, NumericStats, Profile
from vision_widgets.core.catalog import records
from vision_widgets.core.catalog.records import AWAITING, ModelRecord, StoredProfile
from vision_widgets.core.catalog.windows import report_windows
from vision_widgets.core.context import Context
from vision_widgets.core.identity import sessions
from vision_widgets.core.identity.principal import Principal
from vision_widgets.core.identity.rbac import can_manage_model
from vision_widgets.core.stats.drift import BATCH, PROFILED, DriftSettings, regroup_windows
from vision_widgets.core.stats.drift_summary import stored_score
from vision_widgets.core.stats.histograms import overlay
from vision_widgets.core.stats.label_shift import Shift, label_and_prediction_shift
from vision_widgets.services.profiling import drift_settings_of, record_for

#: A score drawn beyond this is drawn at it (a p-value of 1e-300 would flatten every other line).
SCORE_CAP = 5.0
#: Features drawn over time when the page opens: the ones that drifted most.
TOP_FEATURES = 5


@dataclass(frozen=True)
class FeatureResult:
    """One feature's test in one window, as the table shows it."""

    feature: str
    type: str
    method: str
    statistic: float
    p_value: float | None
    psi: float
    threshold: float
    drifted: bool
    score: float  # 1 = at the threshold (see the module docstring)
    note: str | None = None

    @staticmethod
    def from_dict(d: dict[str, Any]) -> "FeatureResult":
        p = d.get("p_value")
        return FeatureResult(str(d["feature"]), str(d.get("type", "")), str(d.get("method", "")),
                             float(d.get("statistic") or 0.0), None if p is None else float(p),
                             float(d.get("psi") or 0.0), float(d.get("threshold") or 0.0), bool(d.get("drifted")),
                             stored_score(d), d.get("note"))


@dataclass(frozen=True)
class Window:
    """One production window: a stored batch, or one time window of it."""

    index: int
    label: str  # unique on the page (a chart's category)
    batch: str  # the batch's label
    profile_id: int  # the stored production profile it comes from
    window: str | None  # the time window's label inside the batch (None: the batch is the window)
    received: datetime  # when the batch arrived
    rows: int
    drift_share: float
    dataset_drift: bool
    #: the stored report's per-feature results, read into ``features`` when first asked for
    raw: tuple[dict, ...] = field(default=(), repr=False, compare=False)
    #: the share of drifted features the stored report's verdict used (its rule, not today's settings')
    threshold_share: float = 0.5

    @cached_property
    def features(self) -> tuple[FeatureResult, ...]:
        return tuple(FeatureResult.from_dict(f) for f in self.raw)

    @property
    def drifted(self) -> tuple[str, ...]:
        return tuple(f.feature for f in self.features if f.drifted)

    @property
    def empty(self) -> bool:
        """No rows to compare (a window the data did not reach)."""
        return self.rows == 0

    def sorted_features(self) -> tuple[FeatureResult, ...]:
        """Drifted first, then by how far past (or short of) the threshold, then by name."""
        return tuple(sorted(self.features, key=lambda f: (not f.drifted, -f.score, f.feature)))


@dataclass(frozen=True)
class StatRow:
    """One line of the selected feature's statistics table: what, training, production."""

    name: str
    training: str
    production: str


@dataclass(frozen=True)
class Distribution:
    """A feature in one window against training, ready to draw."""

    feature: str
    kind: str
    labels: tuple[str, ...]
    reference_share: tuple[float, ...]
    current_share: tuple[float, ...]
    edges: tuple[float, ...] | None  # numeric: inner bin edges (the value axis)
    #: categories (or the pooled "(other)") with rows in this window and none in training
    unseen: tuple[str, ...] = ()
    #: categories of training with no row in this window
    vanished: tuple[str, ...] = ()
    stats: tuple[StatRow, ...] = ()


@dataclass(frozen=True)
class Series:
    """One feature's score per window (None where the window has no result for it)."""

    feature: str
    scores: tuple[float | None, ...]
    drifted: tuple[bool, ...]


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.4g}"


def _pct(part: int, whole: int) -> str:
    return "–" if not whole else f"{part / whole:.1%}"


class DriftOverview:
    """Everything the Drift page shows for one model; later questions are answered from memory.

    Built by ``drift_overview`` after the permission check. Production profiles are parsed the
    first time one of their windows is asked for a distribution, and kept.
    """

    def __init__(self, model: ModelRecord, settings: DriftSettings, reference: Profile | None,
                 windows: tuple[Window, ...], can_manage: bool, latest_at: datetime | None,
                 fetch: Callable[[int], str]) -> None:
        self.model = model
        self.settings = settings
        self.reference = reference
        self.windows = windows
        self.can_manage = can_manage
        #: when the latest production data arrived (None: none yet)
        self.latest_at = latest_at
        self._fetch = fetch  # profile id -> its stored JSON (read when a window is first drawn)
        self._bodies: dict[int, dict] = {}
        self._parsed: dict[tuple[int, str | None], Profile | None] = {}
        self._series: dict[str, Series] = {}
        self.features: tuple[str, ...] = tuple(reference.columns) if reference is not None else ()
        self.types: dict[str, str] = {n: c.kind for n, c in reference.columns.items()} if reference else {}
        self.scores, self.flags = _matrix(windows, self.features)

    # -- verdicts ---------------------------------------------------------------------------
    @property
    def threshold_share(self) -> float:
        """The dataset-drift rule of the latest window's stored report (the settings' before any report)."""
        return self.windows[-1].threshold_share if self.windows else self.settings.drift_share

    def stale(self, w: Window) -> bool:
        """Whether window ``w``'s report was computed with a rule other than the saved settings' (a
        recompute after a save has not finished, or failed)."""
        return abs(w.threshold_share - self.settings.drift_share) > 1e-12

    @property
    def latest(self) -> Window | None:
        return self.windows[-1] if self.windows else None

    @property
    def empty_reason(self) -> str:
        """Why there is nothing to show ("" when there is)."""
        m = self.model
        if self.reference is None:
            if m.status == AWAITING:
                return (f"{m.name} is awaiting metrics: no profile has arrived from the client notebook yet. "
                        "Its drift appears here once the notebook has sent the training and production profiles.")
            return f"{m.name} has no training profile yet, so there is nothing to compare with."
        if not self.windows:
            return (f"{m.name} has no production data yet: drift compares production windows with the training "
                    "data. Add a production batch (Model 360 → Add data) or send one with the client notebook.")
        return ""

    def window(self, index: int) -> Window:
        return self.windows[index]

    def share_series(self) -> tuple[tuple[str, ...], tuple[float, ...], tuple[bool, ...]]:
        """Per window: label, share of drifted features, dataset verdict."""
        return (tuple(w.label for w in self.windows), tuple(w.drift_share for w in self.windows),
                tuple(w.dataset_drift for w in self.windows))

    def series(self, feature: str) -> Series:
        """``feature``'s score in every window."""
        if feature not in self._series:
            j = self.features.index(feature)
            col = self.scores[:, j]
            self._series[feature] = Series(feature, tuple(None if np.isnan(v) else float(v) for v in col),
                                           tuple(bool(b) for b in self.flags[:, j]))
        return self._series[feature]

    def top_features(self, n: int = TOP_FEATURES) -> tuple[str, ...]:
        """The ``n`` features that drifted most: in the most windows, then by their latest score."""
        if not self.windows:
            return self.features[:n]
        counts = self.flags.sum(axis=0)
        latest = np.nan_to_num(self.scores[-1], nan=0.0)
        order = sorted(range(len(self.features)), key=lambda j: (-counts[j], -latest[j], self.features[j]))
        return tuple(self.features[j] for j in order[:n])

    # -- one window in detail -------------------------------------------------------------------
    def _profile(self, w: Window) -> Profile | None:
        """The profile of window ``w``: its batch's stored JSON, read once, parsed one window at a time.

        Parsing a batch of 180 daily windows whole takes seconds; one window of it, milliseconds.
        With a span setting (``14D``) the report's windows are merged ones, so the batch is parsed
        whole and regrouped as ``drift()`` did.
        """
        key = (w.profile_id, w.window)
        if key in self._parsed:
            return self._parsed[key]
        if w.profile_id not in self._bodies:
            self._bodies[w.profile_id] = json.loads(self._fetch(w.profile_id))
        body = self._bodies[w.profile_id]
        window = self.settings.window
        if w.window is None:
            prof: Profile | None = Profile.from_json({**body, "windows": []})
        elif window in (PROFILED, BATCH):
            one = [d for d in body.get("windows") or () if d.get("window") == w.window]
            prof = Profile.from_json({**body, "windows": one}).windows.get(w.window)
        else:
            prof = regroup_windows(Profile.from_json(body), window).windows.get(w.window)
        self._parsed[key] = prof
        return prof

    def shifts(self, index: int) -> tuple[Shift, ...]:
        """Target drift and prediction drift in window ``index`` (apart from feature drift)."""
        if self.reference is None or not self.windows:
            return ()
        roles = self.model.roles
        return label_and_prediction_shift(self.reference, self._profile(self.windows[index]), self.settings,
                                          roles.get("target") or "", roles.get("prediction") or "")

    def distribution(self, index: int, feature: str) -> Distribution | None:
        """Training vs window ``index`` for ``feature`` (None when either side is missing)."""
        if self.reference is None or feature not in self.reference.columns or not self.windows:
            return None
        ref = self.reference.columns[feature]
        prof = self._profile(self.windows[index])
        cur = prof.columns.get(feature) if prof is not None else None
        if cur is not None and (type(cur) is not type(ref) or getattr(cur, "suppressed", False)
                                or getattr(ref, "suppressed", False)):
            cur = None
        o = overlay(feature, ref, cur)
        labels, rs, cs = list(o.labels), list(o.reference_share), list(o.current_share)
        unseen: tuple[str, ...] = ()
        vanished: tuple[str, ...] = ()
        if isinstance(ref, CategoryStats) and cur is not None:
            # What a reader looks for first: bars on one side only (a new merchant type, a retired one).
            unseen = tuple(l for l, r, c in zip(labels, rs, cs) if r == 0 and c > 0)
            vanished = tuple(l for l, r, c in zip(labels, rs, cs) if r > 0 and c == 0)
        if isinstance(ref, CategoryStats):
            # Missing values as their own bar, on both sides' total rows: a column going empty is drift too.
            r_total, c_total = ref.count + ref.missing, (cur.count + cur.missing) if cur is not None else 0
            if ref.missing or (cur is not None and cur.missing):
                r_known, c_known = (ref.count / r_total if r_total else 0.0), (cur.count / c_total if c_total else 0.0)
                rs = [s * r_known for s in rs] + [ref.missing / r_total if r_total else 0.0]
                cs = [s * c_known for s in cs] + [cur.missing / c_total if c_total else 0.0]
                labels.append("(missing)")
        return Distribution(feature, ref.kind, tuple(labels), tuple(rs), tuple(cs), o.edges, unseen, vanished,
                            self._stats(ref, cur))

    @staticmethod
    def _stats(ref: NumericStats | CategoryStats, cur: NumericStats | CategoryStats | None) -> tuple[StatRow, ...]:
        def rows(c):
            return None if c is None else c.count + c.missing

        out = [StatRow("Rows", f"{rows(ref):,}", "–" if cur is None else f"{rows(cur):,}"),
               StatRow("Missing", _pct(ref.missing, rows(ref)), "–" if cur is None else _pct(cur.missing, rows(cur)))]
        if isinstance(ref, NumericStats):
            num = cur if isinstance(cur, NumericStats) else None
            out += [StatRow("Mean", _fmt(ref.mean), _fmt(num.mean if num is not None else None)),
                    StatRow("Standard deviation", _fmt(ref.std), _fmt(num.std if num is not None else None))]
        else:
            cat = cur if isinstance(cur, CategoryStats) else None
            top = lambda c: max(c.counts, key=lambda v: (c.counts[v], v)) if c is not None and c.counts else "–"  # noqa: E731
            out += [StatRow("Categories", f"{len(ref.counts)}", "–" if cat is None else f"{len(cat.counts)}"),
                    StatRow("Most frequent", top(ref), top(cat))]
        return tuple(out)


def _windows(history: list[records.StoredDrift], production: dict[int, StoredProfile]) -> tuple[Window, ...]:
    out: list[Window] = []
    seen: dict[str, int] = {}

    def unique(label: str) -> str:
        n = seen.get(label, 0) + 1
        seen[label] = n
        return label if n == 1 else f"{label} ({n})"

    for rw in report_windows(history, list(production.values())):
        r = rw.result
        if rw.window is not None:
            name = rw.window
            label = name[:10] if len(name) >= 10 and name[4:5] == "-" else name
        else:
            label = rw.batch or f"{rw.arrived:%Y-%m-%d}"
        out.append(Window(len(out), unique(label), rw.batch, rw.profile_id, rw.window, rw.arrived, rw.rows,
                          float(r.get("drift_share", 0.0)), bool(r.get("dataset_drift")),
                          tuple(r.get("features", ())), rw.threshold_share))
    return tuple(out)


def drift_overview(ctx: Context, principal: Principal, name: str) -> DriftOverview:
    """Model ``name``'s drift: every production window with its verdict and per-feature results.

    Raises ``PermissionDenied`` when the principal may not open the model, ``NotFound`` when
    there is no such model.
    """
    me = sessions.authenticate(ctx, principal)
    with ctx.store.read() as conn:
        record = record_for(conn, me, name)
        refs = records.profiles_of(conn, record.id, "reference")
        prods = records.profile_headers(conn, record.id, "production")
        history = records.drift_history(conn, record.id)
    reference = Profile.from_json(refs[-1].body) if refs else None
    windows = _windows(history, {p.id: p for p in prods}) if reference is not None else ()
    model_id = record.id

    def fetch(profile_id: int) -> str:
        # The model was opened with the permission check above; a body is read only for it.
        with ctx.store.read() as conn:
            return records.profile_body(conn, model_id, profile_id)

    return DriftOverview(record, drift_settings_of(record), reference, windows,
                         can_manage_model(me, record.owner), prods[-1].created_at if prods else None, fetch)


def _matrix(windows: tuple[Window, ...], features: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Scores and drift flags, one row per window and one column per feature (NaN: not tested there)."""
    scores = np.full((len(windows), len(features)), np.nan)
    flags = np.zeros((len(windows), len(features)), dtype=bool)
    column = {f: j for j, f in enumerate(features)}
    for i, w in enumerate(windows):
        for d in w.raw:
            j = column.get(d.get("feature"))
            if j is None:
                continue
            scores[i, j] = stored_score(d)
            flags[i, j] = bool(d.get("drifted"))
    return scores, flags
