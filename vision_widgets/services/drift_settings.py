"""A model's drift settings: read them with the choices a panel offers, change them, recompute the reports.

``get_settings`` — whoever may see the model — returns the settings in force plus what
the panel needs: the registered methods per feature type with each threshold's domain,
and the model's features with the method and threshold each one gets now.

``save_settings`` — the owner or an admin — validates every change before anything is
stored (a threshold inside its method's domain, a method that applies to the feature's
type, a dataset share in (0, 1], a window the stored profiles can be regrouped into),
then stores the settings, the audit entry (who, which model, each change old → new) and a
"recompute drift" job in ONE transaction, and tells the workers.

``recompute_reports`` — the job's body (``vision worker``) — recomputes every stored drift
report of the model from its stored profiles (no raw data, so restricted models too),
reporting progress, and replaces them all in one transaction.

Two saves at once: the last one wins. Each save is audited and queues its own job. A job
uses the settings *as stored when it runs*, and checks in its writing transaction (the
model's row locked) that they are still the ones it computed with; if a later save changed
them meanwhile, it writes nothing and ends as "superseded" — the later save's job, queued
after it, recomputes with the later settings. So the stored reports always match one
saved version of the settings, never a mix (docs/decisions.md, "Drift settings").
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from sqlalchemy import Connection

from vision_widgets.client import Profile
from vision_widgets.core import audit
from vision_widgets.core.catalog import drift_store, records
from vision_widgets.core.catalog.records import ModelRecord
from vision_widgets.core.context import Context
from vision_widgets.core.errors import Conflict, InvalidInput
from vision_widgets.core.identity.principal import Principal
from vision_widgets.core.identity.rbac import Permission, can_manage_model
from vision_widgets.core.jobs import queue
from vision_widgets.core.jobs import records as job_records
from vision_widgets.core.jobs.records import Job
from vision_widgets.core.stats.drift import (
    BATCH,
    PROFILED,
    THRESHOLD_MODES,
    DriftReport,
    DriftSettings,
    check_window,
    choose_method,
    drift,
)
from vision_widgets.core.stats.drift_methods import BINARY, CATEGORICAL, NUMERIC, get_method, methods
from vision_widgets.core.stats.thresholds import Domain, check_threshold, domain_of
from vision_widgets.services.jobs import RECOMPUTE_DRIFT
from vision_widgets.services.profiling import Progress, drift_settings_of, record_for
from vision_widgets.services.sessions import acting

__all__ = [
    "FEATURE_TYPES",
    "SETTING_KEYS",
    "MethodChoice",
    "FeatureSetting",
    "DriftSettingsView",
    "Recomputed",
    "get_settings",
    "save_settings",
    "recompute_reports",
]

FEATURE_TYPES = (NUMERIC, CATEGORICAL, BINARY)
#: What ``save_settings`` may change; each key given replaces that setting whole.
SETTING_KEYS = ("drift_share", "methods", "type_methods", "thresholds", "window", "threshold_mode",
                "small_sample", "features")
#: The audit action of a change of drift settings.
AUDIT_ACTION = "change drift settings"


@dataclass(frozen=True)
class MethodChoice:
    """A registered drift method as the panel offers it."""

    name: str
    label: str
    feature_types: tuple[str, ...]
    default_threshold: float
    uses_p_value: bool
    domain: Domain


@dataclass(frozen=True)
class FeatureSetting:
    """One feature: its type, and the method and threshold it gets under the settings in force."""

    feature: str
    type: str
    method: str
    threshold: float
    #: what the method would be with no per-feature override (by type, or by size as Evidently)
    default_method: str


@dataclass(frozen=True)
class DriftSettingsView:
    """Everything the drift settings panel shows and offers."""

    model: str
    owner: str
    settings: DriftSettings
    #: whether this principal may save (owner or admin); the service refuses anyway
    can_edit: bool
    #: every registered method (name → choice)
    methods: Mapping[str, MethodChoice]
    #: the method names that apply to each feature type, in registry order
    methods_by_type: Mapping[str, tuple[str, ...]]
    features: tuple[FeatureSetting, ...]
    #: the window settings the panel offers: profiled, batch, and the spans the stored profiles allow
    window_choices: tuple[str, ...]
    #: the windows the stored production profiles were made with (e.g. ``("7D",)``; empty: none stored)
    profiled_windows: tuple[str, ...]
    threshold_modes: tuple[str, ...] = THRESHOLD_MODES


@dataclass(frozen=True)
class Recomputed:
    """What a recompute job did."""

    model: str
    reports: int
    superseded: bool
    settings: Mapping[str, Any]
    dataset_drift: bool | None = None
    drift_share: float | None = None

    def summary(self) -> dict[str, Any]:
        """The job's result (plain JSON)."""
        return {"model": self.model, "reports": self.reports, "superseded": self.superseded,
                "dataset_drift": self.dataset_drift, "drift_share": self.drift_share}


# ----------------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------------
def get_settings(ctx: Context, principal: Principal, name: str) -> DriftSettingsView:
    """The drift settings of model ``name`` and the choices a settings panel offers.

    Whoever may open the model may read them (``PermissionDenied`` otherwise;
    ``NotFound`` for an unknown model). A model awaiting client metrics has no
    reference yet: its features are empty until the first profile arrives.
    """
    me = acting(ctx, principal, Permission.VIEW_OWN_MODELS)
    with ctx.store.read() as conn:
        record = record_for(conn, me, name)
        reference = _reference(conn, record)
        profiled = drift_store.profiled_windows(conn, record.id)
    settings = drift_settings_of(record)
    registry = methods()
    choices = {n: MethodChoice(n, m.label, tuple(m.feature_types), m.default_threshold, m.uses_p_value, domain_of(n))
               for n, m in registry.items()}
    by_type = {t: tuple(n for n, m in registry.items() if t in m.feature_types) for t in FEATURE_TYPES}
    features = tuple(_feature_setting(f, col, settings) for f, col in reference.columns.items()) if reference else ()
    return DriftSettingsView(
        model=record.name, owner=record.owner, settings=settings, can_edit=can_manage_model(me, record.owner),
        methods=choices, methods_by_type=by_type, features=features,
        window_choices=_window_choices(profiled), profiled_windows=profiled,
    )


def _feature_setting(feature: str, col: Any, settings: DriftSettings) -> FeatureSetting:
    method = choose_method(col.kind, col.count, feature, settings)
    base = DriftSettings(drift_share=settings.drift_share, type_methods=settings.type_methods,
                         small_sample=settings.small_sample)
    threshold = settings.thresholds.get(feature, settings.thresholds.get(method, get_method(method).default_threshold))
    return FeatureSetting(feature, col.kind, method, float(threshold), choose_method(col.kind, col.count, feature, base))


def _window_choices(profiled: tuple[str, ...]) -> tuple[str, ...]:
    choices = [PROFILED, BATCH]
    for span in ("1D", "7D", "14D", "28D", "1M", "3M"):
        try:
            check_window(span, profiled)
        except InvalidInput:
            continue
        if profiled:
            choices.append(span)
    return tuple(choices)


def _reference(conn: Connection, record: ModelRecord) -> Profile | None:
    refs = records.profiles_of(conn, record.id, "reference")
    return Profile.from_json(refs[-1].body) if refs else None


# ----------------------------------------------------------------------------------------
# Saving
# ----------------------------------------------------------------------------------------
def save_settings(ctx: Context, principal: Principal, name: str, changes: Mapping[str, Any]) -> Job:
    """Change model ``name``'s drift settings and queue the recompute of its stored reports.

    Parameters
    ----------
    changes
        Any of ``SETTING_KEYS``; each key given replaces that setting whole (``methods``,
        ``type_methods`` and ``thresholds`` are mappings: send the full mapping wanted).
        Thresholds are keyed by feature name first, then by method name.

    Returns
    -------
    Job
        The queued "recompute drift" job (follow it with ``services.jobs.get_job``).

    Raises ``PermissionDenied`` unless the principal owns the model or is an admin, and
    ``InvalidInput`` (with ``field`` naming the setting, e.g. ``thresholds.age``) for any
    value outside what is allowed; nothing is stored then.
    """
    me = acting(ctx, principal, Permission.REGISTER_MODEL)
    with ctx.store.read() as conn:
        record = record_for(conn, me, name, manage=True)
        reference = _reference(conn, record)
        prods = records.profiles_of(conn, record.id, "production")
        profiled = drift_store.profiled_windows(conn, record.id) if "window" in changes else ()
    old = drift_settings_of(record)
    new = _validated(old, changes, reference, profiled)
    if new.to_dict() == old.to_dict():
        raise InvalidInput("These are the drift settings in force already; change a value before saving.")
    if reference is not None and prods:  # a dry run on the newest batch: anything drift() refuses, refused now
        drift(reference, Profile.from_json(prods[-1].body), new)
    now = ctx.now()
    with ctx.store.write() as conn:
        record = record_for(conn, me, name, manage=True, lock=True)  # as it is now, held
        before = drift_settings_of(record)
        if before.to_dict() != old.to_dict():
            # saving ``new`` (built on ``old``) would silently undo the other change
            raise Conflict(f"The drift settings of {record.name} were changed meanwhile (in another tab or by "
                           "another person); reload them and make your change again.")
        drift_store.set_settings(conn, record.id, new.to_dict(), now)
        audit.record(conn, now, me.username, AUDIT_ACTION, record.name, describe_changes(before, new))
        job = job_records.insert(conn, kind=RECOMPUTE_DRIFT, actor=me.username, title=f"Recompute drift: {record.name}",
                                 params={"model": record.name}, now=now, max_attempts=ctx.settings.job_max_attempts)
    queue.notify(ctx.settings, job.id)
    return job


def _validated(old: DriftSettings, changes: Mapping[str, Any], reference: Profile | None,
               profiled: tuple[str, ...]) -> DriftSettings:
    if not isinstance(changes, Mapping):
        raise InvalidInput("The drift settings to save are a mapping of setting → value.", field="changes")
    unknown = sorted(set(changes) - set(SETTING_KEYS))
    if unknown:
        raise InvalidInput(f"{unknown[0]!r} is not a drift setting; change any of {', '.join(SETTING_KEYS)}.",
                           field=str(unknown[0]))
    d = old.to_dict()
    kinds = {f: c.kind for f, c in reference.columns.items()} if reference is not None else {}
    registry = methods()

    if "drift_share" in changes:
        d["drift_share"] = _share(changes["drift_share"])
    if "small_sample" in changes:
        v = changes["small_sample"]
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise InvalidInput(f"small_sample: {v!r} must be a whole number of rows, 0 or more.", field="small_sample")
        d["small_sample"] = v
    if "threshold_mode" in changes:
        mode = changes["threshold_mode"]
        if mode not in THRESHOLD_MODES:
            raise InvalidInput(f"threshold_mode: {mode!r} is not a mode; choose {' or '.join(THRESHOLD_MODES)}.",
                               field="threshold_mode")
        if mode != old.threshold_mode and mode != "fixed" and reference is not None and not reference.windows:
            raise InvalidInput("threshold_mode: 'reference_chunks' needs a reference profiled in windows, and this "
                               "model's reference has none; keep 'fixed'.", field="threshold_mode")
        d["threshold_mode"] = mode
    if "window" in changes:
        window = changes["window"]
        if not isinstance(window, str):
            raise InvalidInput(f"window: {window!r} must be 'profiled', 'batch' or a time span such as '14D'.",
                               field="window")
        check_window(window, profiled)
        d["window"] = window.strip()
    if "features" in changes:
        feats = changes["features"]
        if feats is not None:
            if isinstance(feats, str) or not all(isinstance(f, str) for f in feats) or not feats:
                raise InvalidInput("features: give a list of feature names (or null for every feature).",
                                   field="features")
            for f in feats:
                if kinds and f not in kinds:
                    raise InvalidInput(f"features: {f!r} is not a feature of this model.", field="features")
            feats = list(dict.fromkeys(feats))
        d["features"] = feats
    if "type_methods" in changes:
        tm = _mapping(changes["type_methods"], "type_methods")
        for kind, method in tm.items():
            if kind not in FEATURE_TYPES:
                raise InvalidInput(f"type_methods: {kind!r} is not a feature type; use {', '.join(FEATURE_TYPES)}.",
                                   field=f"type_methods.{kind}")
            _applies(method, kind, f"type_methods.{kind}", registry)
        d["type_methods"] = dict(tm)
    if "methods" in changes:
        fm = _mapping(changes["methods"], "methods")
        for feature, method in fm.items():
            if kinds and feature not in kinds:
                raise InvalidInput(f"methods: {feature!r} is not a feature of this model.", field=f"methods.{feature}")
            _applies(method, kinds.get(feature), f"methods.{feature}", registry)
        d["methods"] = dict(fm)
    if "thresholds" in changes:
        d["thresholds"] = _mapping(changes["thresholds"], "thresholds")
    try:
        new = DriftSettings.from_dict({**d, "thresholds": {}})
    except InvalidInput as exc:
        raise InvalidInput(str(exc), field=exc.field or "settings") from None
    checked: dict[str, float] = {}
    for key, value in dict(d["thresholds"]).items():  # features first, then methods (as drift() reads them)
        where = f"thresholds.{key}"
        if key in kinds:
            col = reference.columns[key]  # type: ignore[union-attr]
            checked[key] = check_threshold(choose_method(col.kind, col.count, key, new), value, where)
        elif key in registry:
            checked[key] = check_threshold(key, value, where)
        else:
            raise InvalidInput(f"{where}: {key!r} is neither a feature of this model nor a drift method; a threshold "
                               f"is set per feature or per method ({', '.join(sorted(registry))}).", field=where)
    return DriftSettings.from_dict({**d, "thresholds": checked})


def _share(value: Any) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        x = math.nan
    if isinstance(value, bool) or not (0 < x <= 1):
        raise InvalidInput(f"drift_share: {value!r} is not allowed; the share of drifted features that makes the "
                           "dataset drift is a number above 0 and at most 1 (e.g. 0.5 for half).", field="drift_share")
    return x


def _mapping(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise InvalidInput(f"{what}: give a mapping of name → value.", field=what)
    return dict(value)


def _applies(method: Any, kind: str | None, where: str, registry: Mapping[str, Any]) -> None:
    if not isinstance(method, str) or method not in registry:
        raise InvalidInput(f"{where}: {method!r} is not a drift method; choose one of {', '.join(sorted(registry))}.",
                           field=where)
    allowed = registry[method].feature_types
    if kind is not None and kind not in allowed:
        fits = [n for n, m in registry.items() if kind in m.feature_types]
        raise InvalidInput(f"{where}: {registry[method].label} applies to {', '.join(allowed)} features, and this one "
                           f"is {kind}; choose one of {', '.join(fits)}.", field=where)


def describe_changes(old: DriftSettings, new: DriftSettings) -> str:
    """Each changed setting, ``old → new`` (``thresholds.age: default → 0.2``), for the audit log."""
    a, b = old.to_dict(), new.to_dict()
    parts = []
    for key in b:
        if isinstance(b[key], dict) or isinstance(a.get(key), dict):
            x, y = a.get(key) or {}, b[key] or {}
            for sub in sorted(set(x) | set(y)):
                if x.get(sub) != y.get(sub):
                    parts.append(f"{key}.{sub}: {x.get(sub, 'default')} → {y.get(sub, 'default')}")
        elif a.get(key) != b[key]:
            parts.append(f"{key}: {a.get(key)} → {b[key]}")
    return "; ".join(parts) or "no change"


# ----------------------------------------------------------------------------------------
# Recomputing (the job)
# ----------------------------------------------------------------------------------------
def recompute_reports(ctx: Context, principal: Principal, name: str, progress: Progress | None = None,
                      in_transaction: Callable[[Connection, Recomputed], None] | None = None) -> Recomputed:
    """Recompute every stored drift report of model ``name`` with its settings as stored now.

    Reads only stored profiles (the latest reference and every production batch), so it
    works for restricted models too. All reports are replaced in one transaction, or
    none: if the settings changed while this ran (a later save), nothing is written and
    the result says ``superseded`` (the later save's job does the work).
    ``in_transaction(conn, result)`` runs inside the writing transaction (a job marks
    itself done there).
    """
    me = acting(ctx, principal, Permission.REGISTER_MODEL)
    with ctx.store.read() as conn:
        record = record_for(conn, me, name, manage=True)
        refs = records.profiles_of(conn, record.id, "reference")
        prods = records.profiles_of(conn, record.id, "production")
    used = dict(record.drift_settings or {})
    settings = drift_settings_of(record)
    reports: list[tuple[int, DriftReport]] = []
    if refs and prods:
        reference = Profile.from_json(refs[-1].body)
        for i, stored in enumerate(prods):
            if progress:
                progress(0.95 * i / len(prods), f"Recomputing drift report {i + 1} of {len(prods)}")
            reports.append((stored.id, drift(reference, Profile.from_json(stored.body), settings)))
    if progress:
        progress(0.96, "Saving")
    now = ctx.now()
    with ctx.store.write() as conn:
        current = drift_store.settings_for_update(conn, record.id)
        if current is None:
            raise InvalidInput(f"The model {record.name!r} was deleted while its drift reports were recomputed.")
        if current != used:
            result = Recomputed(record.name, 0, True, current)
        else:
            drift_store.replace_reports(conn, record.id, [
                (pid, r.dataset_drift, r.drift_share, json.dumps(r.to_dict(), allow_nan=False)) for pid, r in reports
            ], now)
            last = reports[-1][1] if reports else None
            result = Recomputed(record.name, len(reports), False, settings.to_dict(),
                                last.dataset_drift if last else None, last.drift_share if last else None)
        if in_transaction is not None:
            in_transaction(conn, result)
    if progress:
        progress(1.0, "Done")
    return result
