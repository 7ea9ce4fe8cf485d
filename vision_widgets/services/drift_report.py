"""The shareable drift report of one model and window: one self-contained HTML file, or JSON.

Both are made from the same data (``report_data``): the model, the window, the settings
in force, when and by whom it was made, the dataset verdict in words, the per-feature
table sorted drifted-first (then by how far past the threshold), the share of drifted
features in every production window, and each feature's statistic over the windows. The
JSON is that data with a ``schema_version``; the HTML (``core.report.drift_html``) draws
it with inline SVG — no script, no outside request, every text escaped — so it opens
offline in any browser and can be mailed or attached to a ticket.

The numbers come from the stored drift reports (recomputed whenever the settings change),
so the export never needs raw data and works for restricted models. Whoever may open the
model may export its report.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vision_widgets.core.catalog import drift_store, records
from vision_widgets.core.catalog.records import ModelRecord
from vision_widgets.core.catalog.windows import report_windows
from vision_widgets.core.context import Context
from vision_widgets.core.errors import InvalidInput, NotFound
from vision_widgets.core.identity.principal import Principal
from vision_widgets.core.identity.rbac import Permission
from vision_widgets.core.report.drift_html import render
from vision_widgets.core.stats.drift import FeatureDrift
from vision_widgets.core.stats.drift_summary import (BAND_NOTE, dataset_verdict, past_threshold, sorted_features,
                                                     stored_score)
from vision_widgets.services.profiling import drift_settings_of, record_for
from vision_widgets.services.sessions import acting

__all__ = ["SCHEMA_VERSION", "TOP_FEATURES", "WindowPoint", "drift_timeline", "report_data", "export_json",
           "export_html", "filename"]

#: Version of the exported JSON's shape; raised when a field changes meaning or goes away.
SCHEMA_VERSION = 1
#: How many features get their own drift-over-time chart in the HTML.
TOP_FEATURES = 5


@dataclass(frozen=True)
class WindowPoint:
    """One production window: a time window of a batch, or a whole batch profiled without windows."""

    window: str
    batch: str
    arrived: datetime
    rows: int
    dataset_drift: bool
    drift_share: float
    threshold_share: float
    features: tuple[FeatureDrift, ...]
    #: what identifies the window (``window`` and ``batch`` labels repeat): the stored batch, and
    #: its time window's label inside it (None: the batch is the window)
    profile_id: int = 0
    time_window: str | None = None


def drift_timeline(ctx: Context, principal: Principal, name: str) -> tuple[ModelRecord, list[WindowPoint]]:
    """Model ``name`` and its production windows from the stored drift reports, as the Drift page lists them.

    ``windows.report_windows``: batches in the order they arrived, a batch profiled in time windows
    gives one point per window, one without, one point labelled with the batch. Two batches with the
    same label are two points (tell them apart by ``profile_id``).
    """
    me = acting(ctx, principal, Permission.VIEW_OWN_MODELS)
    with ctx.store.read() as conn:
        record = record_for(conn, me, name)
        batches = drift_store.production_batches(conn, record.id)
        history = records.drift_history(conn, record.id)
    points = []
    for rw in report_windows(history, batches):
        r = rw.result
        label = rw.window if rw.window is not None else (rw.batch or f"{rw.arrived:%Y-%m-%d %H:%M}")
        points.append(WindowPoint(label, rw.batch, rw.arrived, rw.rows, bool(r.get("dataset_drift")),
                                  float(r.get("drift_share", 0.0)), rw.threshold_share,
                                  _features(r.get("features", ())), rw.profile_id, rw.window))
    return record, points


def _features(items: list[dict[str, Any]]) -> tuple[FeatureDrift, ...]:
    """Stored results; one stored before the drift score was kept gets it worked out here (``stored_score``)."""
    return tuple(FeatureDrift(**dict({k: f.get(k) for k in FeatureDrift.__dataclass_fields__}, score=stored_score(f)))
                 for f in items)


def report_data(ctx: Context, principal: Principal, name: str, window: str | None = None,
                profile_id: int | None = None) -> dict[str, Any]:
    """Everything the report says, as plain data (the JSON export; the HTML draws it).

    ``window`` is a window label (``None``: the latest); with ``profile_id`` (the stored batch, as
    the Drift page knows it) it is the time window's label in that batch (``None``: the whole batch),
    which tells apart windows whose labels repeat. Raises ``NotFound`` for an
    unknown model or window, ``InvalidInput`` when the model has no drift report yet
    (awaiting its first production data), ``PermissionDenied`` when the principal may
    not open the model.
    """
    record, points = drift_timeline(ctx, principal, name)
    if not points:
        raise InvalidInput(f"The model {record.name!r} has no drift report yet: "
                           + ("it is awaiting metrics from its client; a report can be exported once the first "
                              "production profile arrives." if record.status == records.AWAITING else
                              "no production data has been profiled for it."), field="model")
    if profile_id is not None:
        found = [p for p in points if (p.profile_id, p.time_window) == (profile_id, window)]
        if not found:
            raise NotFound(f"The model {record.name!r} has no such window any more; reload the page.")
        chosen = found[-1]
    elif window is None:
        chosen = points[-1]
    else:
        found = [p for p in points if p.window == window.strip()]
        if not found:
            shown = ", ".join(p.window for p in points[-5:])
            raise NotFound(f"The model {record.name!r} has no window {window!r}; its latest windows are {shown} "
                           f"({len(points)} in all). Leave the window out for the latest.")
        chosen = found[-1]
    settings = drift_settings_of(record)
    features = sorted_features(chosen.features)
    top = [f.feature for f in features[:TOP_FEATURES]]
    drifted = sum(f.drifted for f in chosen.features)
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "vision-ai drift report",
        "generated_at": ctx.now().isoformat(timespec="seconds"),
        "generated_by": principal.username,
        "model": {"name": record.name, "description": record.description, "task": record.task, "owner": record.owner,
                  "line_of_business": record.lob, "status": record.status, "restricted": record.restricted},
        "window": {"label": chosen.window, "batch": chosen.batch, "rows": chosen.rows,
                   "arrived_at": chosen.arrived.isoformat(timespec="seconds"),
                   "latest": chosen is points[-1], "windows_in_all": len(points)},
        "settings": settings.to_dict(),
        "verdict": {"text": dataset_verdict(chosen.dataset_drift, chosen.features, chosen.threshold_share),
                    "dataset_drift": chosen.dataset_drift, "drift_share": chosen.drift_share,
                    "threshold_share": chosen.threshold_share, "drifted_features": drifted,
                    "features": len(chosen.features)},
        "features": [dict(f.to_dict(), past_threshold=round(past_threshold(f), 6)) for f in features],
        "timeline": [{"window": p.window, "batch": p.batch, "rows": p.rows, "drift_share": p.drift_share,
                      "threshold_share": p.threshold_share, "dataset_drift": p.dataset_drift} for p in points],
        "top_features": top,
        "feature_series": _series(points),
    }


def _series(points: list[WindowPoint]) -> dict[str, list[dict[str, Any] | None]]:
    """Per feature, one entry per window (``None`` where the window lacks the feature)."""
    by_window = [{f.feature: f for f in p.features} for p in points]
    names = sorted({name for window in by_window for name in window})
    return {name: [_point(window.get(name)) for window in by_window] for name in names}


def _point(f: FeatureDrift | None) -> dict[str, Any] | None:
    if f is None:
        return None
    return {"statistic": f.statistic, "p_value": f.p_value, "threshold": f.threshold, "method": f.method,
            "drifted": f.drifted, "score": past_threshold(f), "band": BAND_NOTE in (f.note or "")}


def export_json(ctx: Context, principal: Principal, name: str, window: str | None = None,
                profile_id: int | None = None) -> bytes:
    """The report as UTF-8 JSON with a ``schema_version`` (see ``report_data``)."""
    data = report_data(ctx, principal, name, window, profile_id)
    return json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False).encode("utf-8")


def export_html(ctx: Context, principal: Principal, name: str, window: str | None = None,
                profile_id: int | None = None) -> bytes:
    """The report as one self-contained UTF-8 HTML file (inline SVG charts, no script, no outside request)."""
    return render(report_data(ctx, principal, name, window, profile_id)).encode("utf-8")


def filename(name: str, window: str | None, ext: str) -> str:
    """A safe download name: ``drift-report_Card-fraud_2026-09-03.html``."""
    def slug(text: str) -> str:
        kept = "".join(c if c.isalnum() or c in "-_" else "-" for c in text.strip())
        return "-".join(part for part in kept.split("-") if part)[:60] or "model"

    return f"drift-report_{slug(name)}{'_' + slug(window[:10]) if window else ''}.{ext}"
