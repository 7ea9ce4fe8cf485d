"""Business Metrics: volume, cost, utilisation and performance over time for the models a principal may see.

``load`` checks the principal and reads everything once (a user: their own models; an admin: every
model, filtered by line of business, sub-LOB, platform or model); ``for_range`` answers a date range
from what ``load`` read, without the database, so the page changes its range in milliseconds.
``business_metrics`` does both.

Performance is not recomputed here: per production window it is what the Drift page's Performance
tab shows — ``services.estimation.series`` (realised from labels, CBPE estimate where they have not
arrived) for classification, ``core.stats.performance`` (MAE, RMSE) for regression — placed on the
window's first day.
"""
from __future__ import annotations

import logging
import re
from datetime import date, datetime

import pandas as pd

from vision_widgets.client import Profile
from vision_widgets.core.catalog import records
from vision_widgets.core.catalog.windows import labels_by_window, model_windows, window_key
from vision_widgets.core.context import Context
from vision_widgets.core.errors import InvalidInput, VisionError
from vision_widgets.core.identity.principal import Principal
from vision_widgets.core.identity.rbac import Permission, has
from vision_widgets.core.stats.performance import performance
from vision_widgets.core.usage import metrics, metrics_data, rates
from vision_widgets.core.usage.metrics import ESTIMATED, REALISED, BusinessMetrics, MetricsSource
from vision_widgets.services import estimation
from vision_widgets.services.profiling import drift_settings_of
from vision_widgets.services.sessions import acting

log = logging.getLogger(__name__)

__all__ = [
    "CLASSIFICATION_METRICS",
    "REGRESSION_METRICS",
    "BusinessMetrics",
    "MetricsSource",
    "business_metrics",
    "filter_choices",
    "for_range",
    "load",
]

#: The metrics the page offers (the issue's: accuracy, ROC AUC, F1; RMSE and MAE for regression).
CLASSIFICATION_METRICS = ("accuracy", "roc_auc", "f1")
REGRESSION_METRICS = ("rmse", "mae")
PERF_COLUMNS = ("model_id", "day", "metric", "value", "kind")


def _owner(me: Principal) -> str | None:
    return None if has(me, Permission.VIEW_ALL_MODELS) else me.username


def filter_choices(ctx: Context, principal: Principal) -> dict[str, tuple[str, ...]]:
    """The lines of business, sub-LOBs, platforms and model names among the models the principal may see."""
    me = acting(ctx, principal, Permission.VIEW_OWN_MODELS)
    with ctx.store.read() as conn:
        frame = metrics_data.models_in_scope(conn, owner=_owner(me))
    return {key: tuple(sorted({v for v in frame[col] if v}, key=str.lower))
            for key, col in (("lob", "lob"), ("sub_lob", "sub_lob"), ("platform", "platform"), ("model", "name"))}


#: A time window's label as the windowing writes it (``pd.Timestamp.isoformat``: ``2026-09-03T00:00:00``).
_WINDOW_START = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2})?$")


def _window_day(label: str, created) -> pd.Timestamp:
    """A window's first day: its label when the windowing wrote it (``2026-09-03T00:00:00``), else its
    batch's arrival.

    Only that strict form is read as a time: a batch label a person chose ("March", "2026-09", "Q3")
    names the batch, not its day (pandas read "March" as March of year 1, which no day column holds).
    """
    at = None
    if _WINDOW_START.match(label.strip()):
        try:
            at = pd.Timestamp(datetime.fromisoformat(label.strip())).as_unit("ns")  # raises past 1677..2262
        except (ValueError, OverflowError, pd.errors.OutOfBoundsDatetime):
            at = None
    if at is None:
        at = pd.Timestamp(created)
    at = at.tz_convert("UTC") if at.tzinfo else at.tz_localize("UTC")
    return at.tz_localize(None).floor("D")


def _model_series(conn, record: records.ModelRecord) -> tuple[list[tuple], list[tuple], str]:
    """(windows' rows per day, performance points, a note) of one model, from its stored profiles."""
    refs = records.profiles_of(conn, record.id, "reference")
    prods = records.profiles_of(conn, record.id, "production")
    late = records.profiles_of(conn, record.id, records.LABELS)
    window = drift_settings_of(record).window
    wins = model_windows(prods, window)
    arrived = {p.id: p.created_at for p in prods}
    days = [_window_day(w.label, arrived.get(w.profile_id)) for w in wins]
    rows = [(record.id, d, int(w.profile.rows)) for d, w in zip(days, wins)]
    points: list[tuple] = []
    if record.task == "regression":
        labelled = labels_by_window(late, window)
        for d, w in zip(days, wins):
            got = performance(labelled.get((w.batch.strip(), window_key(w.label)), w.profile))
            points.extend((record.id, d, m, float(got[m]), REALISED) for m in REGRESSION_METRICS if got.get(m) is not None)
        return rows, points, ""
    reference = Profile.from_json(refs[-1].body) if refs else None
    perf = estimation.series(reference, wins, labels_by_window(late, window))
    for i, d in enumerate(days):
        for m in CLASSIFICATION_METRICS:
            r, e = perf.realised.get(m, ())[i], perf.estimated.get(m, ())[i]
            if r is not None:
                points.append((record.id, d, m, float(r), REALISED))
            elif e is not None:
                points.append((record.id, d, m, float(e), ESTIMATED))
    return rows, points, ""


def load(ctx: Context, principal: Principal, lob: str = "", sub_lob: str = "", platform: str = "",
         model: str = "") -> MetricsSource:
    """Everything the page shows for the principal's models matching the filters, read once."""
    me = acting(ctx, principal, Permission.VIEW_OWN_MODELS)
    notes: list[str] = []
    windows: list[tuple] = []
    points: list[tuple] = []
    with ctx.store.read() as conn:
        models = metrics_data.models_in_scope(conn, owner=_owner(me), lob=lob, sub_lob=sub_lob, platform=platform,
                                              name=model)
        if model and models.empty:
            raise InvalidInput(f"There is no model {model!r} among the models you may see.", field="model")
        usage = metrics_data.daily_usage_of(conn, list(models["model_id"]))
        all_rates = rates.list_rates(conn)
        for model_id in models["model_id"]:
            record = records.get_by_id(conn, int(model_id))
            try:
                rows, pts, note = _model_series(conn, record)
            except VisionError as exc:  # one model's unreadable profiles must not blank the page
                notes.append(f"{record.name}: performance could not be read ({exc}).")
                continue
            except Exception:  # nor one model's data no check foresaw: the others are still shown
                log.exception("business metrics: the windows of model %s could not be read", record.id)
                notes.append(f"{record.name}: its production windows and performance could not be read "
                             "(an unexpected error, logged on the server); the other models are shown.")
                continue
            windows.extend(rows)
            points.extend(pts)
            if note:
                notes.append(note)
    win = pd.DataFrame(windows, columns=["model_id", "day", "rows"])
    perf = pd.DataFrame(points, columns=list(PERF_COLUMNS))
    for frame in (win, perf):
        frame["day"] = pd.to_datetime(frame["day"]).astype("datetime64[ns]")
    return metrics.prepare(models, usage, win, perf, rates.rates_frame(all_rates), tuple(notes))


def for_range(source: MetricsSource, start: date, end: date, metric: str = "accuracy") -> BusinessMetrics:
    """The series and KPIs of ``start``..``end`` from a ``load``-ed source (``InvalidInput`` if start > end)."""
    return metrics.compute(source, start, end, metric)


def business_metrics(ctx: Context, principal: Principal, start: date, end: date, metric: str = "accuracy",
                     lob: str = "", sub_lob: str = "", platform: str = "", model: str = "") -> BusinessMetrics:
    """``load`` then ``for_range``: the range is checked before anything is read."""
    metrics.check_range(start, end)
    return for_range(load(ctx, principal, lob=lob, sub_lob=sub_lob, platform=platform, model=model),
                     start, end, metric)
