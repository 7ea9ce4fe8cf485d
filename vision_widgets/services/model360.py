"""Model 360: one model seen from every side, computed from stored aggregates only.

The result carries every number the page shows — class balance, the feature
table, surrogate terms, the drift history series — so the view only formats
and renders.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vision_widgets.client import Profile
from vision_widgets.core.catalog import records
from vision_widgets.core.catalog.records import ModelRecord
from vision_widgets.core.context import Context
from vision_widgets.core.identity import sessions
from vision_widgets.core.identity.principal import Principal
from vision_widgets.core.identity.rbac import can_manage_model
from vision_widgets.core.stats.drift import DriftReport, drift
from vision_widgets.core.stats.performance import performance
from vision_widgets.services.profiling import drift_settings_of, record_for


@dataclass(frozen=True)
class HistoryPoint:
    at: datetime
    label: str
    rows: int
    drift_share: float
    dataset_drift: bool


@dataclass(frozen=True)
class FeatureRow:
    """One feature: training vs production summary and its drift test."""

    feature: str
    kind: str
    mean_reference: float | None
    mean_production: float | None
    missing_share_production: float | None
    method: str | None
    statistic: float | None
    drifted: bool | None


@dataclass(frozen=True)
class ClassShare:
    """One class of the target: its share in training and in production data."""

    label: str
    training: float | None
    production: float | None


@dataclass(frozen=True)
class SurrogateView:
    """The surrogate's informative terms (intercept and zero-variance terms left out)."""

    terms: tuple[str, ...]
    coefficients: tuple[float, ...]
    variances: tuple[float, ...]
    dropped: tuple[str, ...]
    rows: int
    response: str
    converged: bool
    variance_kind: str = "model"  # "model" | "HC0": what the variances (and so the intervals) are


@dataclass(frozen=True)
class DriftSeries:
    """The share of drifted features per production window, and the dataset threshold."""

    labels: tuple[str, ...]
    shares: tuple[float, ...]
    threshold: float


@dataclass(frozen=True)
class Model360:
    """Everything the model 360 page shows, computed from stored aggregates only."""

    model: ModelRecord
    reference: Profile | None
    production: Profile | None
    drift: DriftReport | None
    history: tuple[HistoryPoint, ...]
    performance: dict[str, Any]
    training_performance: dict[str, Any]
    can_manage: bool
    features: tuple[FeatureRow, ...] = ()
    class_balance: tuple[ClassShare, ...] = ()
    surrogate: SurrogateView | None = None
    drift_series: DriftSeries = DriftSeries((), (), 0.5)
    #: Why metrics are missing when the privacy guard withheld a confusion matrix ("" otherwise).
    performance_note: str = ""


def model_360(ctx: Context, principal: Principal, name: str) -> Model360:
    """Metadata, profiles, latest drift, drift history and performance of one model."""
    me = sessions.authenticate(ctx, principal)
    with ctx.store.read() as conn:
        record = record_for(conn, me, name)
        refs = records.profiles_of(conn, record.id, "reference")
        prods = records.profiles_of(conn, record.id, "production")
        history = records.drift_history(conn, record.id)
        late = [p for p in records.profiles_of(conn, record.id, records.LABELS) if prods and p.label == prods[-1].label]
    reference = Profile.from_json(refs[-1].body) if refs else None
    production = Profile.from_json(prods[-1].body) if prods else None
    # the latest batch's labels, when they arrived after it (docs/decisions.md): its realised performance
    labelled = Profile.from_json(late[-1].body) if late else production
    report = drift(reference, production, drift_settings_of(record)) if reference and production else None
    labels = {p.id: p for p in prods}
    points = tuple(
        HistoryPoint(h.created_at, labels[h.profile_id].label if h.profile_id in labels else "",
                     labels[h.profile_id].rows if h.profile_id in labels else 0, h.drift_share, h.dataset_drift)
        for h in history
    )
    return Model360(record, reference, production, report, points, performance(labelled),
                    performance(reference), can_manage_model(me, record.owner),
                    features=_features(reference, production, report),
                    class_balance=_class_balance(reference, production),
                    surrogate=_surrogate(reference), drift_series=_series(report, points),
                    performance_note=_performance_note(reference, labelled))


def _performance_note(reference: Profile | None, production: Profile | None) -> str:
    notes = []
    withheld = [name for name, p in (("training", reference), ("production", production))
                if p is not None and p.model is not None and p.model.confusion_suppressed]
    if withheld:
        notes.append(f"Accuracy, precision and recall are withheld for the {' and '.join(withheld)} data: a cell of "
                     "its confusion matrix holds fewer rows than the privacy threshold, and no such group is "
                     "published. ROC AUC comes from the score histograms and is shown when they allow it.")
    target = production.model.target if production is not None and production.model is not None else None
    unlabelled = production.rows - target.count if target is not None else 0
    if production is not None and production.model is not None and (target is None or unlabelled > 0):
        labelled = target.count if target is not None else 0
        notes.append(f"Production metrics cover the {labelled:,} rows with labels; {production.rows - labelled:,} "
                     "rows have no label yet. The Drift page estimates their performance from the scores.")
    return " ".join(notes)


def _features(reference: Profile | None, production: Profile | None, report: DriftReport | None) -> tuple[FeatureRow, ...]:
    if reference is None:
        return ()
    results = {f.feature: f for f in report.features} if report else {}
    rows = []
    for name, col in reference.columns.items():
        cur = production.columns.get(name) if production else None
        numeric = col.kind == "numeric"
        seen = (cur.count + cur.missing) if cur is not None else 0
        r = results.get(name)
        rows.append(FeatureRow(
            feature=name, kind=col.kind,
            mean_reference=col.mean if numeric else None,
            mean_production=cur.mean if numeric and cur is not None and cur.kind == "numeric" else None,
            missing_share_production=cur.missing / seen if seen else None,
            method=r.method if r else None, statistic=r.statistic if r else None,
            drifted=r.drifted if r else None,
        ))
    return tuple(rows)


def _balance(profile: Profile | None) -> dict[str, float]:
    target = profile.model.target if (profile is not None and profile.model is not None) else None
    counts = getattr(target, "counts", None)
    if not counts:
        return {}
    total = sum(counts.values()) + getattr(target, "other", 0)
    return {label: n / total for label, n in counts.items()} if total else {}


def _class_balance(reference: Profile | None, production: Profile | None) -> tuple[ClassShare, ...]:
    ref, prod = _balance(reference), _balance(production)
    return tuple(ClassShare(c, ref.get(c), prod.get(c)) for c in sorted(set(ref) | set(prod)))


def _surrogate(reference: Profile | None) -> SurrogateView | None:
    s = reference.surrogate if reference is not None else None
    if s is None:
        return None
    # Terms whose variance collapsed (separable classes) carry no information: leave them out.
    keep = [i for i, t in enumerate(s.terms) if t != "(intercept)" and s.variances[i] > 0]
    dropped = tuple(t for i, t in enumerate(s.terms) if t != "(intercept)" and not s.variances[i] > 0)
    return SurrogateView(tuple(s.terms[i] for i in keep), tuple(float(s.coefficients[i]) for i in keep),
                         tuple(float(s.variances[i]) for i in keep), dropped, s.rows, s.response, s.converged,
                         s.variance_kind)


def _series(report: DriftReport | None, history: tuple[HistoryPoint, ...]) -> DriftSeries:
    """Per window of the latest batch when it has windows, else one point per stored batch."""
    if report is not None and report.windows:
        return DriftSeries(tuple(w.window[:10] for w in report.windows), tuple(w.drift_share for w in report.windows),
                           report.threshold_share)
    return DriftSeries(tuple(p.label for p in history), tuple(p.drift_share for p in history),
                       report.threshold_share if report else 0.5)
