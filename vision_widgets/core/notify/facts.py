"""What the notification rules look at, read from the database (no permission checks: the rules
run for the platform; the services decide who sees what they store).

Performance is not read here: it comes from the series the Drift page's Performance tab shows
(``services.estimation``), which the runner computes from the stored profiles.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Sequence

from sqlalchemy import Connection, func, select

from vision_widgets.core.clock import as_utc
from vision_widgets.core.monitoring import FAIL, MODEL_CHECKS, SERVER_CHECKS
from vision_widgets.core.notify import HEALTH
from vision_widgets.core.notify.rules import (
    DriftedFeature,
    FailingCheck,
    ModelFacts,
    WindowDriftFacts,
)
from vision_widgets.core.storage import schema


def models(conn: Connection, model_ids: Sequence[int] | None = None) -> list[ModelFacts]:
    """Every model (or those of ``model_ids``) with its newest production batch's time and whether it
    has a training profile."""
    m, p = schema.models, schema.profiles
    newest = (select(p.c.model_id, func.max(p.c.created_at).label("at"))
              .where(p.c.kind == "production").group_by(p.c.model_id).subquery())
    refs = select(p.c.model_id).where(p.c.kind == "reference").distinct().subquery()
    query = (select(m.c.id, m.c.name, m.c.restricted, m.c.created_at, m.c.cadence, newest.c.at,
                    refs.c.model_id.label("has_ref"))
             .select_from(m.outerjoin(newest, newest.c.model_id == m.c.id).outerjoin(refs, refs.c.model_id == m.c.id))
             .order_by(m.c.id))
    if model_ids is not None:
        query = query.where(m.c.id.in_(list(model_ids)))
    return [ModelFacts(id=r["id"], name=r["name"], restricted=bool(r["restricted"]), created_at=as_utc(r["created_at"]),
                       cadence=r["cadence"], last_data_at=as_utc(r["at"]), has_reference=r["has_ref"] is not None)
            for r in conn.execute(query).mappings()]


def drift_windows(conn: Connection, model_id: int) -> list[WindowDriftFacts]:
    """The model's production windows as its stored drift reports have them, oldest first.

    A report with time windows gives one entry per window; a batch without them is one window
    labelled with the batch's label.
    """
    d, p = schema.drift_reports, schema.profiles
    query = (select(d.c.profile_id, d.c.dataset_drift, d.c.drift_share, d.c.body, p.c.label, p.c.rows)
             .join(p, p.c.id == d.c.profile_id).where(d.c.model_id == model_id)
             .order_by(d.c.created_at, d.c.id))
    found: list[WindowDriftFacts] = []
    for row in conn.execute(query).mappings():
        report = json.loads(row["body"])
        share = float(report.get("threshold_share", 0.5))
        parts = report.get("windows") or [{"window": row["label"], "rows": row["rows"],
                                            "dataset_drift": row["dataset_drift"], "drift_share": row["drift_share"],
                                            "features": report.get("features") or []}]
        for w in parts:
            features = w.get("features") or []
            found.append(WindowDriftFacts(
                profile_id=row["profile_id"], window=str(w["window"]), rows=int(w.get("rows") or 0),
                dataset_drift=bool(w["dataset_drift"]), drift_share=float(w["drift_share"]), threshold_share=share,
                features=len(features),
                drifted=tuple(DriftedFeature(f["feature"], f["method"], float(f["statistic"]), float(f["threshold"]),
                                             f.get("p_value")) for f in features if f.get("drifted"))))
    return found


def failing_checks(conn: Connection) -> list[FailingCheck]:
    """The platform checks whose newest recorded result failed, each with the start of its failing streak.

    Model checks are left out (the stale and drift rules speak for models, to their owners), and
    so are the server's own (uptime, kernels), which never fail.

    The streak's start is part of the health notification's key, so it must not move while the check
    stays red. The stored history cannot say it alone: the monitoring job prunes results older than a
    week, and a check red for longer would see its oldest stored failure move every run (and raise a
    new notification each time). So the stored notifications decide: when the newest health
    notification for the same check and subject was raised and no passing result has been recorded
    after the last failure it saw, this is the same streak, and it keeps that notification's start.
    """
    t = schema.health_checks
    skip = list(MODEL_CHECKS) + list(SERVER_CHECKS)
    last = (select(t.c.check, t.c.subject, func.max(t.c.id).label("id"))
            .where(t.c.check.not_in(skip)).group_by(t.c.check, t.c.subject).subquery())
    newest = conn.execute(select(t).join(last, t.c.id == last.c.id)).mappings().all()
    found = []
    for row in newest:
        if row["status"] != FAIL:
            continue
        pair = (t.c.check == row["check"]) & (t.c.subject == row["subject"])
        since = _notified_streak_start(conn, row["check"], row["subject"])
        if since is None:
            last_ok = conn.execute(select(func.max(t.c.checked_at)).where(pair & (t.c.status != FAIL))).scalar_one()
            start = select(func.min(t.c.checked_at)).where(pair & (t.c.status == FAIL))
            if last_ok is not None:
                start = start.where(t.c.checked_at > last_ok)
            since = as_utc(conn.execute(start).scalar_one())
        found.append(FailingCheck(check=row["check"], subject=row["subject"], since=since,
                                  last_at=as_utc(row["checked_at"]), message=row["message"]))
    return sorted(found, key=lambda f: (f.check, f.subject))


def _notified_streak_start(conn: Connection, check: str, subject: str) -> datetime | None:
    """The start of the streak already notified for ``check``/``subject`` if it is still going on, else None.

    Still going on: no result other than a failure was recorded after the last failure that
    notification saw (its ``last_at``).
    """
    n, t = schema.notifications, schema.health_checks
    prefix = f"{HEALTH}:{check}:{subject}:"  # the key's start (rules.health); the body says it exactly
    rows = conn.execute(select(n.c.body).where(n.c.kind == HEALTH, n.c.model_id.is_(None),
                                               n.c.dedupe_key.startswith(prefix, autoescape=True))
                        .order_by(n.c.id.desc())).scalars()
    for raw in rows:
        body = json.loads(raw or "{}")
        if body.get("check") != check or body.get("subject") != subject or not body.get("since"):
            continue
        seen = body.get("last_at") or body["since"]
        recovered = conn.execute(select(t.c.id).where(
            t.c.check == check, t.c.subject == subject, t.c.status != FAIL,
            t.c.checked_at > as_utc(datetime.fromisoformat(seen))).limit(1)).first()
        return None if recovered is not None else as_utc(datetime.fromisoformat(body["since"]))
    return None
