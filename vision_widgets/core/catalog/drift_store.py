"""A model's drift settings and stored drift reports, as the settings and report services need them.

No permission checks here (the services check who acts). Kept apart from ``records`` so the
queries the drift settings and the report export need — the settings row locked while the
reports are replaced, the production batches without their (large) bodies — are in one place.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Mapping

from sqlalchemy import Connection, select, update

from vision_widgets.core.catalog import records
from vision_widgets.core.storage import schema


@dataclass(frozen=True)
class Batch:
    """One stored production profile, without its body."""

    id: int
    label: str
    rows: int
    created_at: datetime


def production_batches(conn: Connection, model_id: int) -> list[Batch]:
    """The model's production batches, oldest first."""
    t = schema.profiles
    query = (select(t.c.id, t.c.label, t.c.rows, t.c.created_at)
             .where((t.c.model_id == model_id) & (t.c.kind == "production")).order_by(t.c.created_at, t.c.id))
    return [Batch(r.id, r.label, r.rows, r.created_at) for r in conn.execute(query)]


def profiled_windows(conn: Connection, model_id: int) -> tuple[str, ...]:
    """The ``window`` setting each stored production profile was made with (e.g. ``("7D",)``)."""
    t = schema.profiles
    bodies = conn.execute(select(t.c.body).where((t.c.model_id == model_id) & (t.c.kind == "production"))).scalars()
    found = {str(w) for w in (json.loads(body).get("window") for body in bodies) if w}
    return tuple(sorted(found))


def set_settings(conn: Connection, model_id: int, settings: Mapping[str, Any], now: datetime) -> None:
    """Store a model's drift settings (a ``DriftSettings.to_dict()``)."""
    conn.execute(update(schema.models).where(schema.models.c.id == model_id)
                 .values(drift_settings=json.dumps(dict(settings), allow_nan=False), updated_at=now))


def settings_for_update(conn: Connection, model_id: int) -> dict[str, Any] | None:
    """The model's stored drift settings, its row locked until the transaction ends (None: no such model)."""
    t = schema.models
    raw = conn.execute(select(t.c.drift_settings).where(t.c.id == model_id).with_for_update()).first()
    return None if raw is None else json.loads(raw[0] or "{}")


def replace_reports(conn: Connection, model_id: int, reports: Iterable[tuple[int, bool, float, str]],
                    now: datetime) -> None:
    """Replace the drift report of each ``(profile_id, dataset_drift, drift_share, body)``.

    A report keeps its time (when its batch arrived); a batch without one gets one now.
    """
    d = schema.drift_reports
    existing = {pid: rid for rid, pid in conn.execute(select(d.c.id, d.c.profile_id).where(d.c.model_id == model_id))}
    for profile_id, dataset_drift, drift_share, body in reports:
        if profile_id in existing:
            conn.execute(update(d).where(d.c.id == existing[profile_id]).values(
                dataset_drift=bool(dataset_drift), drift_share=float(drift_share), body=body))
        else:
            records.add_drift(conn, model_id, profile_id, dataset_drift, drift_share, body, now)
