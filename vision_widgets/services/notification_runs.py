"""Running the notification rules: every few minutes in the worker, and after each new production batch.

The runner acts for the platform, not for an account (like the worker's scheduled pulls): it reads
the facts (``core/notify/facts.py``; performance from the series the Drift page's Performance tab
shows, ``services.estimation.series``), asks the rules (``core/notify/rules.py``) what is due, and
stores it (``core/notify/store.py``), each cause once. One model that cannot be judged (a stored
profile that no longer parses) is logged and skipped; the others are still judged.

``after_new_batch`` is what the paths that store production data call once their transaction has
committed: it never raises, so a failing rule never fails an upload — the periodic run catches up.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

from vision_widgets.client import Profile
from vision_widgets.core.catalog import records
from vision_widgets.core.catalog.windows import labels_by_window, model_windows, window_key
from vision_widgets.core.context import Context
from vision_widgets.core.notify import facts, rules, store
from vision_widgets.core.notify.rules import Due, ModelFacts, WindowPerformanceFacts
from vision_widgets.core.stats.estimation import realised
from vision_widgets.core.stats.performance import performance as regression_performance
from vision_widgets.services import estimation
from vision_widgets.services.notifications import stored_performance_drop
from vision_widgets.services.profiling import drift_settings_of

log = logging.getLogger("vision.notify")


@dataclass(frozen=True)
class RunResult:
    """What one run did: models judged, causes seen, notifications newly stored."""

    models: int
    due: int
    stored: int

    def summary(self) -> dict[str, int]:
        return {"models": self.models, "due": self.due, "stored": self.stored}


def performance_facts(conn, model: ModelFacts) -> tuple[dict[str, float | None], list[WindowPerformanceFacts]]:
    """The training data's realised metrics and each window's (realised, else estimated) metrics.

    Classification: the series the Drift page's Performance tab shows, with, per window and metric,
    whether the value fell outside the band the window is judged on (the page's alert: realised
    values are judged on the same band as the estimates). Regression: MAE and RMSE realised from the
    residual sums, as the Business Metrics page reads them (no estimate, no band).
    """
    record = records.get_by_id(conn, model.id)
    refs = records.profiles_of(conn, model.id, records.REFERENCE)
    if not refs:
        return {}, []
    reference = Profile.from_json(refs[-1].body)
    window = drift_settings_of(record).window
    prods = records.profiles_of(conn, model.id, records.PRODUCTION)
    late = records.profiles_of(conn, model.id, records.LABELS)
    wins, labelled = model_windows(prods, window), labels_by_window(late, window)
    if record.task == "regression":
        out = []
        for w in wins:
            got = regression_performance(labelled.get((w.batch.strip(), window_key(w.label)), w.profile))
            values = {m: (float(got[m]), "realised") for m in rules.ERROR_METRICS if got.get(m) is not None}
            out.append(WindowPerformanceFacts(profile_id=w.profile_id, window=w.window, label=w.label, values=values))
        ref = regression_performance(reference)
        return {m: ref.get(m) for m in rules.ERROR_METRICS}, out
    found = estimation.series(reference, wins, labelled)
    out = []
    for i, label in enumerate(found.windows):
        values: dict[str, tuple[float, str]] = {}
        outside: dict[str, bool] = {}
        band = found.window_bands[i] if i < len(found.window_bands) else {}
        for metric in found.metrics:
            real = found.realised.get(metric, ())[i] if found.realised.get(metric) else None
            est = found.estimated.get(metric, ())[i] if found.estimated.get(metric) else None
            if real is not None:
                values[metric] = (float(real), "realised")
                if metric in band:
                    lo, hi = band[metric]
                    outside[metric] = real < lo or real > hi
            elif est is not None:
                values[metric] = (float(est), "estimated")
                if metric in band:
                    outside[metric] = bool(found.alerts[metric][i])
        profile_id, win = found.keys[i] if i < len(found.keys) else (0, None)
        out.append(WindowPerformanceFacts(profile_id=profile_id, window=win, label=label, values=values,
                                          outside=outside))
    return realised(reference, found.threshold), out


def due_for_model(conn, model: ModelFacts, now, drop: float) -> list[Due]:
    """Every cause the model rules see for one model."""
    due = rules.drift(model, facts.drift_windows(conn, model.id))
    reference, windows = performance_facts(conn, model)
    due += rules.performance(model, reference, windows, drop)
    due += rules.stale(model, now)
    due += rules.awaiting_metrics(model, now)
    return due


def run_rules(ctx: Context, model_ids: Sequence[int] | None = None, *, platform: bool = True) -> RunResult:
    """Run the rules for ``model_ids`` (None: every model) and, with ``platform``, the health rule."""
    now = ctx.now()
    with ctx.store.read() as conn:
        found = facts.models(conn, model_ids)
        drop = stored_performance_drop(conn)
    seen = stored = 0
    for model in found:
        try:  # one model's broken data, or a cause the database refuses, must not stop the others
            with ctx.store.read() as conn:
                due = due_for_model(conn, model, now, drop)
            seen += len(due)
            if due:
                with ctx.store.write() as conn:
                    stored += store.add(conn, due, now)
        except Exception:  # noqa: BLE001 - logged; the next run tries this model again
            log.exception("notifications: the rules could not judge or store model %s", model.id)
    if platform:
        try:  # the health rule is judged on its own: a failure here leaves the models' causes stored
            with ctx.store.read() as conn:
                due = rules.health(facts.failing_checks(conn))
            seen += len(due)
            if due:
                with ctx.store.write() as conn:
                    stored += store.add(conn, due, now)
        except Exception:  # noqa: BLE001 - logged; the next run tries again
            log.exception("notifications: the health rule could not run")
    if stored:
        log.info("notifications: %d new (of %d causes seen, %d models)", stored, seen, len(found))
    return RunResult(len(found), seen, stored)


def after_new_batch(ctx: Context, model: str | int) -> RunResult | None:
    """Run one model's rules right after its new production data was stored; never raises.

    ``model`` is its name or id. A failure is logged and the upload it follows stands: the
    worker's periodic run finds the same causes later.
    """
    try:
        if isinstance(model, int):
            model_id = model
        else:
            with ctx.store.read() as conn:
                record = records.find(conn, model)
            if record is None:
                return None
            model_id = record.id
        return run_rules(ctx, [model_id], platform=False)
    except Exception:  # noqa: BLE001 - never fail the upload
        log.exception("notifications: the rules after a new batch of model %s failed", model)
        return None
