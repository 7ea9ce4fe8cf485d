"""The notification rules: given the stored facts and the time, which notifications are due.

Pure: no database, no clock of their own. ``services/notification_runs.py`` reads the facts
(``facts.py``; performance through the same series the Drift page's Performance tab shows) and
stores what the rules return (``store.py``), which keeps each cause once by its ``dedupe_key``.
A rule returns every cause it sees, already notified or not: deciding "new" is the unique key's job,
so two runs that race cannot both decide a cause is new and store it twice.

The rules, and what makes a cause the same cause (its dedupe key):

* ``drift`` — a production window whose dataset drifted (the stored drift report's verdict), with
  its drifted features, their method, statistic and threshold. Key: model, batch (profile id), window.
* ``performance`` — a window whose realised performance (or, before its labels, the estimated one)
  is more than ``drop`` below the training data's realised value and outside the band expected for
  the window's size (the Drift page's alert); for regression, MAE or RMSE more than ``rise`` (20%)
  above the training value. Key: model, batch, window, metric.
* ``stale`` — no production data for longer than the model's cadence (``core.cadence``; the same
  freshness Monitoring shows: late or stale). Key: model and the last data's time, so a silence is
  one notification, and a new silence after new data is another.
* ``awaiting_metrics`` — a restricted model with no client metrics 24 hours after registration.
  Key: model.
* ``health`` — a platform health check failing (red), for admins (no model). Key: check, subject and
  the start of the failing streak: a check red for an hour (or for longer than the week of history
  kept) is one notification; red again after it recovered is another. ``facts.failing_checks``
  keeps a notified streak's start while no passing result follows it.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Mapping, Sequence
from urllib.parse import urlencode

from vision_widgets.core.monitoring.checks import FRESH, freshness, stored_cadence
from vision_widgets.core.notify import (
    AWAITING_METRICS,
    DRIFT,
    HEALTH,
    PERFORMANCE,
    STALE,
)

#: A restricted model awaits its client's metrics this long before it is a notification.
AWAITING_AFTER = timedelta(hours=24)
#: The default drop below the training performance that raises a notification (absolute).
DEFAULT_PERFORMANCE_DROP = 0.05
#: The classification metrics the performance rule watches (precision and recall are in F1): a
#: drop of more than the setting (absolute) below the training value.
WATCHED_METRICS: tuple[str, ...] = ("accuracy", "f1", "roc_auc")
#: The regression metrics it watches: errors, so a *rise* above the training value, relative to it.
ERROR_METRICS: tuple[str, ...] = ("mae", "rmse")
#: The default relative rise of MAE/RMSE over the training value that raises a notification (20%).
DEFAULT_ERROR_RISE = 0.20
#: Comparisons with a threshold allow for float rounding (0.90 − 0.85 is 0.05000000000000004):
#: a change exactly at the threshold is not past it.
TOLERANCE = 1e-9
METRIC_NAMES = {"accuracy": "accuracy", "f1": "F1", "roc_auc": "ROC AUC", "precision": "precision",
                "recall": "recall", "mae": "MAE", "rmse": "RMSE"}
#: The newest windows of a model the drift and performance rules look at: older ones are history,
#: not news (a model registered with a year of daily windows must not raise 365 notifications).
RECENT_WINDOWS = 12
#: ``notifications.dedupe_key`` and ``title`` lengths.
KEY_LENGTH, TITLE_LENGTH = 255, 200


@dataclass(frozen=True)
class Due:
    """A notification a rule found due (stored once per ``dedupe_key``)."""

    kind: str
    model_id: int | None
    dedupe_key: str
    title: str
    body: Mapping[str, Any]
    link: str


# --------------------------------------------------------------------------------------------
# The facts rules look at
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelFacts:
    """One model as the rules see it."""

    id: int
    name: str
    restricted: bool
    created_at: datetime
    cadence: str | None
    #: When its newest production batch arrived (None: none yet).
    last_data_at: datetime | None
    #: Whether it has a training profile (a restricted model's client sends it first).
    has_reference: bool


@dataclass(frozen=True)
class DriftedFeature:
    feature: str
    method: str
    statistic: float
    threshold: float
    p_value: float | None = None


@dataclass(frozen=True)
class WindowDriftFacts:
    """One production window's drift, as its stored report says."""

    profile_id: int
    window: str
    rows: int
    dataset_drift: bool
    drift_share: float
    threshold_share: float
    features: int
    drifted: tuple[DriftedFeature, ...] = field(default=())


@dataclass(frozen=True)
class WindowPerformanceFacts:
    """One production window's performance per metric: realised where labels exist, else estimated."""

    profile_id: int
    window: str | None
    label: str
    #: metric -> (value, "realised" | "estimated")
    values: Mapping[str, tuple[float, str]]
    #: metric -> whether the value left the band the window is judged on (the Drift page's alert);
    #: a metric absent here has no band (regression, no scores), and the threshold alone decides.
    outside: Mapping[str, bool] = field(default_factory=dict)


@dataclass(frozen=True)
class FailingCheck:
    """A health check whose newest result is a failure, and since when it has been failing."""

    check: str
    subject: str
    since: datetime
    last_at: datetime
    message: str


# --------------------------------------------------------------------------------------------
# Links and keys
# --------------------------------------------------------------------------------------------
def link(page: str, model: str = "") -> str:
    """The deep link the app follows (``?page=drift&model=Fraud+detection``)."""
    return "?" + urlencode({"page": page, "model": model} if model else {"page": page})


def key(*parts: object) -> str:
    """A dedupe key from its parts; a long one (a long window label) is shortened by its hash."""
    text = ":".join(str(p) for p in parts)
    if len(text) <= KEY_LENGTH:
        return text
    return text[:KEY_LENGTH - 41] + "#" + hashlib.sha1(text.encode()).hexdigest()


def _title(text: str, name: str = "") -> str:
    """``text`` within ``notifications.title``: a long ``name`` in it (a model's, up to 128 characters)
    is shortened first, with an ellipsis, so the window the title names stays readable; what is still
    too long is cut at the end."""
    if len(text) <= TITLE_LENGTH:
        return text
    excess = len(text) - TITLE_LENGTH
    if name and name in text and len(name) > excess + 1 + 8:  # keep at least 8 characters of the name
        text = text.replace(name, name[:len(name) - excess - 1] + "…", 1)
    return text if len(text) <= TITLE_LENGTH else text[:TITLE_LENGTH - 1] + "…"


def window_name(label: str) -> str:
    """A window's label as a title reads it: a day's start without its midnight (``2026-10-01``)."""
    return label[:-9] if label.endswith("T00:00:00") else label


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat(timespec="seconds")


# --------------------------------------------------------------------------------------------
# The rules
# --------------------------------------------------------------------------------------------
def drift(model: ModelFacts, windows: Sequence[WindowDriftFacts]) -> list[Due]:
    """A notification per recent window whose dataset drifted, listing its drifted features."""
    due = []
    for w in list(windows)[-RECENT_WINDOWS:]:
        if not w.dataset_drift:
            continue
        names = ", ".join(f.feature for f in w.drifted[:5]) + (" …" if len(w.drifted) > 5 else "")
        summary = (f"{len(w.drifted)} of {w.features} features drifted ({w.drift_share:.0%}; dataset drift needs "
                   f"{w.threshold_share:.0%})" + (f": {names}." if names else "."))
        due.append(Due(
            kind=DRIFT, model_id=model.id, dedupe_key=key(DRIFT, model.id, w.profile_id, w.window),
            title=_title(f"Dataset drift in {model.name}, window {window_name(w.window)}", model.name),
            body={"model": model.name, "window": w.window, "profile_id": w.profile_id, "rows": w.rows,
                  "drift_share": w.drift_share, "threshold_share": w.threshold_share, "features": w.features,
                  "drifted": [{"feature": f.feature, "method": f.method, "statistic": f.statistic,
                               "threshold": f.threshold, "p_value": f.p_value} for f in w.drifted],
                  "summary": summary},
            link=link("drift", model.name)))
    return due


def performance(model: ModelFacts, reference: Mapping[str, float | None],
                windows: Sequence[WindowPerformanceFacts], drop: float,
                rise: float = DEFAULT_ERROR_RISE) -> list[Due]:
    """A notification per recent window and watched metric that got worse than the training value by
    more than the threshold — and, where the window has a band, left it.

    Classification metrics: more than ``drop`` below (absolute). Regression errors (MAE, RMSE): more
    than ``rise`` above, relative to the training value. The band is the range the metric takes on
    reference data of the window's size (the Drift page's Performance tab and its alerts): a drop
    inside it is what chance alone does to a window that small, so it is not news, however large.
    """
    due = []
    for w in list(windows)[-RECENT_WINDOWS:]:
        for metric in WATCHED_METRICS + ERROR_METRICS:
            ref = reference.get(metric)
            got = w.values.get(metric)
            if ref is None or got is None or w.outside.get(metric) is False:
                continue
            value, source = got
            name = METRIC_NAMES.get(metric, metric)
            if metric in ERROR_METRICS:
                if ref <= 0:
                    continue  # a perfect fit on the training data: no relative rise to speak of
                worse = (value - ref) / ref
                if worse <= rise + TOLERANCE:
                    continue
                verb = "rose"
                summary = (f"{source.capitalize()} {name} {value:.4g} against {ref:.4g} on the training data: "
                           f"{worse:.0%} higher (notified above {rise:.0%}).")
                numbers = {"rise": worse, "threshold": rise}
            else:
                worse = ref - value
                if worse <= drop + TOLERANCE:
                    continue
                verb = "dropped"
                summary = (f"{source.capitalize()} {name} {value:.3f} against {ref:.3f} on the training data: "
                           f"{worse:.3f} lower (notified above {drop:g}"
                           + ("; outside the range expected for the window's size)." if metric in w.outside else ")."))
                numbers = {"drop": worse, "threshold": drop}
            due.append(Due(
                kind=PERFORMANCE, model_id=model.id,
                dedupe_key=key(PERFORMANCE, model.id, w.profile_id, w.window or "", metric),
                title=_title(f"{name[:1].upper() + name[1:]} {verb} in {model.name}, window {window_name(w.label)}",
                             model.name),
                body={"model": model.name, "window": w.label, "profile_id": w.profile_id, "metric": metric,
                      "value": value, "source": source, "reference": ref, **numbers,
                      "outside_band": w.outside.get(metric), "summary": summary},
                link=link("drift", model.name)))
    return due


def stale(model: ModelFacts, now: datetime) -> list[Due]:
    """A notification when the model's production data is older than its cadence (once per silence)."""
    cadence, problem = stored_cadence(model.cadence)
    if cadence is None or problem is not None:
        return []
    if model.restricted and not model.has_reference:
        return []  # awaiting its client's first metrics: that rule speaks for it
    since = model.last_data_at or model.created_at
    age = now - since
    state, _ = freshness(age, cadence)
    if state == FRESH or age <= cadence:
        return []
    hours = age.total_seconds() / 3600
    what = "production data arrived" if model.last_data_at is not None else "production data has arrived since registration"
    summary = (f"No {what} for {_span(hours)}" if model.last_data_at is None else
               f"The last production data arrived {_span(hours)} ago") + \
        f"; {model.name} expects a batch every {model.cadence}."
    return [Due(
        kind=STALE, model_id=model.id, dedupe_key=key(STALE, model.id, _iso(model.last_data_at) or "never"),
        title=_title(f"No new production data for {model.name}", model.name),
        body={"model": model.name, "cadence": model.cadence, "last_data_at": _iso(model.last_data_at),
              "age_hours": round(hours, 2), "freshness": state, "summary": summary},
        link=link("models", model.name))]


def awaiting_metrics(model: ModelFacts, now: datetime) -> list[Due]:
    """A notification when a restricted model still has no client metrics a day after registration."""
    if not model.restricted or model.has_reference or now - model.created_at < AWAITING_AFTER:
        return []
    hours = (now - model.created_at).total_seconds() / 3600
    summary = (f"{model.name} was registered {_span(hours)} ago and its client has not sent metrics yet: "
               "send the client notebook and an upload token to the data owner.")
    return [Due(
        kind=AWAITING_METRICS, model_id=model.id, dedupe_key=key(AWAITING_METRICS, model.id),
        title=_title(f"{model.name} is still awaiting client metrics", model.name),
        body={"model": model.name, "registered_at": _iso(model.created_at), "age_hours": round(hours, 2),
              "summary": summary},
        link=link("models", model.name))]


def health(failing: Sequence[FailingCheck]) -> list[Due]:
    """A platform notification per failing check, once per failing streak."""
    due = []
    for f in failing:
        what = f"{f.check} {f.subject}".strip()
        due.append(Due(
            kind=HEALTH, model_id=None, dedupe_key=key(HEALTH, f.check, f.subject, _iso(f.since)),
            title=_title(f"Health check failing: {what}"),
            body={"check": f.check, "subject": f.subject, "since": _iso(f.since), "last_at": _iso(f.last_at),
                  "message": f.message, "summary": f.message},
            link=link("monitoring")))
    return due


def _span(hours: float) -> str:
    if hours < 48:
        return f"{hours:.0f} hours" if round(hours) != 1 else "1 hour"
    return f"{hours / 24:.0f} days"
