"""Model registry use cases: register, list, open (model 360), add data, submit profiles, delete.

Every function takes the acting principal (or, for the submission API, an
upload token) and checks it first. Profiling — the long part — happens before
the write transaction; the model, its profiles, its drift report and the audit
entry are then stored in ONE transaction, so a failure leaves nothing behind.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import func, select

from vision_widgets import client
from vision_widgets.client import (
    CLASSIFICATION,
    REGRESSION,
    CategoryStats,
    Profile,
    Roles,
)
from vision_widgets.core import audit, connectors
from vision_widgets.core.catalog import records, upload_tokens
from vision_widgets.core.catalog.records import ACTIVE, AWAITING, ModelRecord
from vision_widgets.core.catalog.submissions import Submission, parse
from vision_widgets.core.context import Context
from vision_widgets.core.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from vision_widgets.core.identity import sessions, users
from vision_widgets.core.identity.principal import Principal
from vision_widgets.core.identity.rbac import (
    Permission,
    can_manage_model,
    can_view_model,
    has,
)
from vision_widgets.core.stats.drift import DriftReport, DriftSettings, drift
from vision_widgets.core.stats.performance import performance
from vision_widgets.core.storage import schema
from vision_widgets.services.sessions import acting

Progress = Callable[[float, str], Any]

PRODUCTION_WINDOW = "7D"  # drift history per week when a timestamp column is named


@dataclass(frozen=True)
class ModelSpec:
    """What a person fills in on the Register model page."""

    name: str
    task: str
    description: str = ""
    platform: str = ""
    connector: str = "local"
    connector_details: dict[str, Any] = field(default_factory=dict)
    target: str = ""
    prediction: str = ""
    timestamp: str = ""
    features: tuple[str, ...] = ()  # empty: every column not named elsewhere
    exclude: tuple[str, ...] = ()
    owner: str = ""  # empty: the acting user
    restricted: bool = False
    training: str = ""  # data references for the connector (unrestricted models)
    production: str = ""

    def roles(self) -> dict[str, Any]:
        return {
            "target": self.target.strip() or None,
            "prediction": self.prediction.strip() or None,
            "timestamp": self.timestamp.strip() or None,
            "features": [f for f in self.features if f] or None,
            "exclude": [c for c in self.exclude if c],
        }


@dataclass(frozen=True)
class Registration:
    model: ModelRecord
    drift: DriftReport | None = None
    #: For restricted models: shown once to the owner, never stored in clear.
    upload_token: str | None = field(default=None, repr=False)
    token_expires: datetime | None = None


@dataclass(frozen=True)
class ModelSummary:
    """A row of the model list."""

    model: ModelRecord
    dataset_drift: bool | None
    drift_share: float | None
    last_update: datetime


@dataclass(frozen=True)
class HistoryPoint:
    at: datetime
    label: str
    rows: int
    drift_share: float
    dataset_drift: bool


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


@dataclass(frozen=True)
class SubmissionResult:
    model: ModelRecord
    drift: DriftReport

    def summary(self) -> dict[str, Any]:
        """The JSON the submission API answers with."""
        return {
            "model": self.model.name,
            "status": self.model.status,
            "dataset_drift": self.drift.dataset_drift,
            "drift_share": self.drift.drift_share,
            "drifted_features": self.drift.drifted_features,
        }


# -- helpers ---------------------------------------------------------------------------


def _client_task(task: str) -> str:
    return REGRESSION if task == "regression" else CLASSIFICATION


def _roles(record_roles: dict[str, Any], task: str) -> Roles:
    return Roles(
        features=tuple(record_roles["features"]) if record_roles.get("features") else None,
        target=record_roles.get("target"),
        prediction=record_roles.get("prediction"),
        timestamp=record_roles.get("timestamp"),
        exclude=tuple(record_roles.get("exclude") or ()),
        task=_client_task(task),
    )


def _step(progress: Progress | None, start: float, end: float, what: str):
    if progress is None:
        return None
    return lambda fraction: progress(start + (end - start) * float(fraction), what)


def _check_labels(reference: Profile, task: str, target: str | None) -> None:
    """A classification target needs two classes or more (binary: exactly two)."""
    if not target or reference.model is None:
        return
    t = reference.model.target
    if isinstance(t, CategoryStats):
        classes = [c for c, n in t.counts.items() if n > 0]
        if len(classes) < 2:
            only = f" ({classes[0]!r})" if classes else ""
            raise InvalidInput(
                f"The target column {target!r} has a single class{only} in the training data; "
                "a classification model needs at least two. Check the column or the file."
            )
        if task == "binary classification" and len(classes) > 2:
            raise InvalidInput(
                f"The target column {target!r} has {len(classes)} classes; choose 'multiclass classification'."
            )


def _record_for(conn, principal: Principal, name: str, manage: bool = False) -> ModelRecord:
    record = records.get(conn, name)
    allowed = can_manage_model(principal, record.owner) if manage else can_view_model(principal, record.owner)
    if not allowed:
        verb = "change" if manage else "open"
        raise PermissionDenied(f"You may not {verb} the model {record.name!r}; it belongs to another user.")
    return record


def _profile_production(ctx: Context, path, reference: Profile, timestamp: str | None,
                        progress: Progress | None, start: float) -> Profile:
    """A production profile on the reference's bins, in weekly windows when there is a timestamp."""
    return client.profile(
        str(path), reference=reference, k=ctx.settings.privacy_k,
        window=PRODUCTION_WINDOW if timestamp else None,
        progress=_step(progress, start, 0.95, "Profiling production data"),
    )


def _store_batch(conn, record: ModelRecord, production: Profile, report: DriftReport, label: str, source: str,
                 now: datetime) -> None:
    pid = records.add_profile(conn, record.id, "production", label, source, production.rows,
                               production.to_json(), now)
    records.add_drift(conn, record.id, pid, report.dataset_drift, report.drift_share,
                       json.dumps(report.to_dict(), allow_nan=False), now)


def _settings_of(record: ModelRecord) -> DriftSettings:
    return DriftSettings.from_dict(record.drift_settings) if record.drift_settings else DriftSettings()


# -- registration ------------------------------------------------------------------------


@dataclass(frozen=True)
class DataSources:
    """What the Register page offers: connector (name, title) pairs and the readable folders."""

    connectors: tuple[tuple[str, str], ...]
    roots: tuple[str, ...]


def data_sources(ctx: Context, principal: Principal) -> DataSources:
    """The connectors a model can be registered with, and where the local one reads."""
    acting(ctx, principal, Permission.REGISTER_MODEL)
    return DataSources(
        connectors=tuple((name, connectors.get(name, ctx.settings).title) for name in connectors.available()),
        roots=tuple(str(p) for p in connectors.allowed_roots(ctx.settings)),
    )


def register_model(ctx: Context, principal: Principal, spec: ModelSpec, progress: Progress | None = None) -> Registration:
    """Register a model: profile its data now (unrestricted) or issue an upload token (restricted)."""
    me = acting(ctx, principal, Permission.REGISTER_MODEL)
    name = records.validate_name(spec.name)
    records.validate_task(spec.task)
    owner_name = spec.owner.strip() or me.username
    if owner_name != me.username and not has(me, Permission.VIEW_ALL_MODELS):
        raise PermissionDenied("Only an admin may register a model for another user; leave the owner empty.")
    roles = spec.roles()
    client_roles = _roles(roles, spec.task)  # validates role combinations early
    if spec.task != "regression" and not roles["target"] and not spec.restricted:
        raise InvalidInput("Name the target column (the label the model predicts).")
    connector = connectors.get(spec.connector, ctx.settings)
    with ctx.store.read() as conn:
        owner = users.get(conn, owner_name)
        if records.find(conn, name) is not None:
            raise InvalidInput(f"A model named {name!r} already exists; choose another name.")
    now = ctx.now()
    details = {k: v for k, v in spec.connector_details.items() if isinstance(v, (str, int, float, bool))}

    reference = production = report = None
    if not spec.restricted:
        training_path = connector.resolve(spec.training)
        production_path = connector.resolve(spec.production)
        details.update(training=str(training_path), production=str(production_path))
        reference = client.profile(str(training_path), client_roles, k=ctx.settings.privacy_k,
                                   progress=_step(progress, 0.0, 0.5, "Profiling training data"))
        _check_labels(reference, spec.task, roles["target"])
        production = _profile_production(ctx, production_path, reference, roles["timestamp"], progress, 0.5)
        report = drift(reference, production)
        if progress:
            progress(0.97, "Saving")

    token = expires = None
    with ctx.store.write() as conn:
        record = records.insert(
            conn, name=name, description=spec.description.strip(), task=spec.task, platform=spec.platform,
            connector=connector.name, connector_details=details, owner=owner.username, lob=owner.lob,
            sub_lob=owner.sub_lob, roles=roles, restricted=spec.restricted,
            status=AWAITING if spec.restricted else ACTIVE, drift_settings=DriftSettings().to_dict(),
            created_by=me.username, now=now,
        )
        if spec.restricted:
            token, expires = upload_tokens.issue(conn, record.id, me.username, now)
        else:
            records.add_profile(conn, record.id, "reference", "training", "server", reference.rows,
                                 reference.to_json(), now)
            _store_batch(conn, record, production, report, "initial production data", "server", now)
        audit.record(conn, now, me.username, "register model", record.name,
                     f"owner={record.owner}; {'restricted' if spec.restricted else 'unrestricted'}")
    if progress:
        progress(1.0, "Done")
    return Registration(model=record, drift=report, upload_token=token, token_expires=expires)


# -- reading -----------------------------------------------------------------------------


def list_models(ctx: Context, principal: Principal, text: str = "", lob: str = "", platform: str = "",
                status: str = "") -> list[ModelSummary]:
    """The models the principal may see (own, or all for admins), filtered, with their latest drift."""
    me = sessions.authenticate(ctx, principal)
    if not (has(me, Permission.VIEW_ALL_MODELS) or has(me, Permission.VIEW_OWN_MODELS)):
        raise PermissionDenied("Your profile may not view models.")
    m, d = schema.models, schema.drift_reports
    latest = select(d.c.model_id, func.max(d.c.id).label("last_id")).group_by(d.c.model_id).subquery()
    query = (
        select(m, d.c.dataset_drift, d.c.drift_share, d.c.created_at.label("drift_at"))
        .select_from(m.outerjoin(latest, latest.c.model_id == m.c.id).outerjoin(d, d.c.id == latest.c.last_id))
        .order_by(m.c.name_key)
    )
    if not has(me, Permission.VIEW_ALL_MODELS):
        query = query.where(m.c.owner == me.username)
    if text.strip():
        # Typed text matches literally: escape LIKE's wildcards (a bound parameter, never formatted into SQL).
        typed = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(m.c.name_key.like(f"%{typed}%", escape="\\"))
    if lob:
        query = query.where(m.c.lob == lob)
    if platform:
        query = query.where(m.c.platform == platform)
    if status:
        query = query.where(m.c.status == status)
    with ctx.store.read() as conn:
        rows = conn.execute(query).mappings().all()
    out = []
    for r in rows:
        record = records.record_from_row(r)
        out.append(ModelSummary(record, None if r["dataset_drift"] is None else bool(r["dataset_drift"]),
                                r["drift_share"], r["drift_at"] or record.updated_at))
    return out


def model_360(ctx: Context, principal: Principal, name: str) -> Model360:
    """Metadata, profiles, latest drift, drift history and performance of one model."""
    me = sessions.authenticate(ctx, principal)
    with ctx.store.read() as conn:
        record = _record_for(conn, me, name)
        refs = records.profiles_of(conn, record.id, "reference")
        prods = records.profiles_of(conn, record.id, "production")
        history = records.drift_history(conn, record.id)
    reference = Profile.from_json(refs[-1].body) if refs else None
    production = Profile.from_json(prods[-1].body) if prods else None
    report = drift(reference, production, _settings_of(record)) if reference and production else None
    labels = {p.id: p for p in prods}
    points = tuple(
        HistoryPoint(h.created_at, labels[h.profile_id].label if h.profile_id in labels else "",
                     labels[h.profile_id].rows if h.profile_id in labels else 0, h.drift_share, h.dataset_drift)
        for h in history
    )
    return Model360(record, reference, production, report, points, performance(production),
                    performance(reference), can_manage_model(me, record.owner))


def filter_choices(ctx: Context, principal: Principal) -> dict[str, tuple[str, ...]]:
    """The lines of business, platforms and statuses present among the principal's models."""
    models = [s.model for s in list_models(ctx, principal)]
    return {
        "lob": tuple(sorted({m.lob for m in models if m.lob})),
        "platform": tuple(sorted({m.platform for m in models if m.platform})),
        "status": tuple(sorted({m.status for m in models})),
    }


# -- changing ----------------------------------------------------------------------------


def add_production_batch(ctx: Context, principal: Principal, name: str, data: str, label: str = "",
                         progress: Progress | None = None) -> DriftReport:
    """Profile a new production file of an unrestricted model and add it to the drift history."""
    me = acting(ctx, principal, Permission.REGISTER_MODEL)
    with ctx.store.read() as conn:
        record = _record_for(conn, me, name, manage=True)
        refs = records.profiles_of(conn, record.id, "reference")
    if record.restricted:
        raise InvalidInput("This model's data is restricted: add production data with the client notebook.")
    if not refs:
        raise InvalidInput("This model has no training profile yet.")
    reference = Profile.from_json(refs[-1].body)
    path = connectors.get(record.connector, ctx.settings).resolve(data)
    production = _profile_production(ctx, path, reference, record.roles.get("timestamp"), progress, 0.0)
    report = drift(reference, production, _settings_of(record))
    now = ctx.now()
    with ctx.store.write() as conn:
        record = records.get_by_id(conn, record.id)  # still there?
        _store_batch(conn, record, production, report, label.strip() or path.name, "server", now)
        records.set_status(conn, record.id, ACTIVE, now)
        audit.record(conn, now, me.username, "add production batch", record.name, path.name)
    if progress:
        progress(1.0, "Done")
    return report


def issue_upload_token(ctx: Context, principal: Principal, name: str) -> tuple[str, datetime]:
    """A new 24-hour, single-use upload token for a restricted model (owner or admin)."""
    me = acting(ctx, principal, Permission.REGISTER_MODEL)
    now = ctx.now()
    with ctx.store.write() as conn:
        record = _record_for(conn, me, name, manage=True)
        if not record.restricted:
            raise InvalidInput("Upload tokens are for restricted models; add data to this model from a file path.")
        upload_tokens.revoke_unused(conn, record.id)  # one live token per model
        token, expires = upload_tokens.issue(conn, record.id, me.username, now)
        audit.record(conn, now, me.username, "issue upload token", record.name)
    return token, expires


def _validate_for(record: ModelRecord, sub: Submission, stored_reference: Profile | None) -> Profile:
    """The reference to compare with; refuses profiles that belong to another model."""
    if sub.model.lower() != record.name.lower():
        raise InvalidInput(
            f'Field "model": these profiles are for {sub.model!r}, not {record.name!r}; '
            "submit them to the right model."
        )
    if sub.reference is not None:
        if stored_reference is not None:
            raise InvalidInput('Field "reference": this model already has a training profile; send production only.')
        ref_roles = sub.reference.roles
        for role in ("target", "prediction", "timestamp"):
            want = record.roles.get(role)
            got = getattr(ref_roles, role)
            if want and got != want:
                raise InvalidInput(
                    f'Field "reference": the profile\'s {role} column is {got!r} but the model was registered with '
                    f"{want!r}; profile the data with the model's column roles."
                )
        reference = sub.reference
        _check_labels(reference, record.task, record.roles.get("target"))
    else:
        if stored_reference is None:
            raise InvalidInput('Field "reference" is missing: the first submission must carry the training profile.')
        reference = stored_reference
    if sub.production.reference_id != reference.fingerprint():
        raise InvalidInput(
            'Field "production": it was not profiled against this model\'s training profile '
            "(its bin edges differ); profile production data with reference=<the training profile>."
        )
    return reference


def _accept(ctx: Context, record: ModelRecord, sub: Submission, actor: str, token_digest: str | None) -> SubmissionResult:
    with ctx.store.read() as conn:
        refs = records.profiles_of(conn, record.id, "reference")
    stored = Profile.from_json(refs[-1].body) if refs else None
    reference = _validate_for(record, sub, stored)
    report = drift(reference, sub.production, _settings_of(record))
    now = ctx.now()
    with ctx.store.write() as conn:
        # Checked again under the write lock: another submission may have landed meanwhile.
        record = records.get_by_id(conn, record.id)
        if len(records.profiles_of(conn, record.id, "reference")) != len(refs):
            raise Conflict("Another submission for this model was stored meanwhile; submit again "
                           "(production profiles only if the training profile is now there).")
        if token_digest is not None:
            upload_tokens.check_hash(conn, token_digest, record.id, now)
            upload_tokens.spend(conn, token_digest, now)
        if sub.reference is not None:
            records.add_profile(conn, record.id, "reference", "training", "client", sub.reference.rows,
                                 sub.reference.to_json(), now)
        _store_batch(conn, record, sub.production, report, sub.label or "client submission", "client", now)
        records.set_status(conn, record.id, ACTIVE, now)
        audit.record(conn, now, actor, "submit profiles", record.name, sub.label)
        record = records.get_by_id(conn, record.id)
    return SubmissionResult(record, report)


def submit_with_token(ctx: Context, token: str, name: str, body: bytes | str) -> SubmissionResult:
    """The submission API: a restricted client posts profiles with its model's upload token.

    The token is checked before the model is looked up (401 reveals nothing), then
    404 for an unknown model and 403 for a token of another model.
    """
    now = ctx.now()
    with ctx.store.read() as conn:
        digest, model_id = upload_tokens.holder(conn, token, now)
        record = records.find(conn, name)
    if record is None:
        raise NotFound(f"There is no model named {name!r}.")
    if record.id != model_id:
        raise PermissionDenied("This upload token belongs to another model; use the token issued for this model.")
    sub = parse(body, ctx.settings.upload_limit_bytes)
    return _accept(ctx, record, sub, "upload token", digest)


def submit_file(ctx: Context, principal: Principal, name: str, content: bytes) -> SubmissionResult:
    """The owner uploads the JSON file the client notebook wrote (FileUpload on the model page)."""
    me = acting(ctx, principal, Permission.REGISTER_MODEL)
    with ctx.store.read() as conn:
        record = _record_for(conn, me, name, manage=True)
    if not record.restricted:
        raise InvalidInput("This model's data is not restricted: add production data from a file path instead.")
    sub = parse(content, ctx.settings.upload_limit_bytes)
    return _accept(ctx, record, sub, me.username, None)


def delete_model(ctx: Context, principal: Principal, name: str) -> None:
    """Delete a model with everything stored for it (owner or admin)."""
    me = acting(ctx, principal, Permission.REGISTER_MODEL)
    now = ctx.now()
    with ctx.store.write() as conn:
        record = _record_for(conn, me, name, manage=True)
        records.remove(conn, record.id)
        audit.record(conn, now, me.username, "delete model", record.name)
