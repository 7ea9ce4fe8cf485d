"""Registering a model: from open data through a stored connector, or restricted with an upload token.

Profiling — the long part — happens before the write transaction; the model,
its profiles, its drift report and the audit entry are then stored in ONE
transaction, so a failure leaves nothing behind.

From the web app, open data is registered by a job (``submit_registration``):
what can be checked at once (permission, name free, column roles, the stored
connector, and for files on this server the paths inside the allowed roots) is
checked before the job is queued, so the form answers
immediately; the worker then runs ``register_model``, the synchronous core, as
the account that submitted it, and marks the job done inside the same storing
transaction (``in_transaction``). A restricted model has nothing to profile
and is registered at once (its upload token is shown once, never stored in a job).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any, Callable, Mapping

from sqlalchemy import Connection

from vision_widgets import client
from vision_widgets.core import audit, connectors
from vision_widgets.core.catalog import pulls, records, upload_tokens
from vision_widgets.core.catalog.records import ACTIVE, AWAITING, ModelRecord
from vision_widgets.core.context import Context
from vision_widgets.core.errors import ConnectorError, InvalidInput, NotFound, PermissionDenied
from vision_widgets.core.identity import users
from vision_widgets.core.identity.principal import Principal
from vision_widgets.core.identity.rbac import Permission, has
from vision_widgets.core.identity.users import Account
from vision_widgets.core.jobs.records import Job
from vision_widgets.core.stats.drift import DriftReport, DriftSettings, drift
from vision_widgets.services import connectors as stored_connectors
from vision_widgets.services import jobs
from vision_widgets.services import notification_runs
from vision_widgets.services.profiling import (
    Progress,
    check_labels,
    client_roles,
    open_source,
    profile_data,
    profile_production,
    published,
    step,
    store_batch,
)
from vision_widgets.services.sessions import acting


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

    def to_params(self) -> dict[str, Any]:
        """The spec as a job's parameters (plain JSON; it holds no secret)."""
        return asdict(self)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "ModelSpec":
        """The spec a job was submitted with (``to_params`` read back)."""
        known = {f.name for f in fields(cls)}
        unknown = set(params) - known
        if unknown:
            raise InvalidInput(f"The registration job has unknown fields {sorted(unknown)}; submit it again.")
        values = dict(params)
        for name in ("features", "exclude"):
            if name in values:
                values[name] = tuple(values[name] or ())
        return cls(**values)


@dataclass(frozen=True)
class Registration:
    model: ModelRecord
    drift: DriftReport | None = None
    #: For restricted models: shown once to the owner, never stored in clear.
    upload_token: str | None = field(default=None, repr=False)
    token_expires: datetime | None = None

    def summary(self) -> dict[str, Any]:
        """The model and its first drift verdict, as a job's result (never the upload token)."""
        report = self.drift
        return {
            "model": self.model.name,
            "owner": self.model.owner,
            "dataset_drift": bool(report.dataset_drift) if report else None,
            "drift_share": float(report.drift_share) if report else None,
            "drifted_features": list(report.drifted_features) if report else [],
        }


@dataclass(frozen=True)
class DataSources:
    """What the Register page offers: the stored connectors the account may use, and the data folders.

    ``connectors`` are (name, what it is) pairs, e.g. ``("warehouse", "warehouse — SQL database")``;
    ``local_connectors`` the names of those of the local-filesystem type. ``roots`` are the local
    data folders' names (a file is given as ``<name>/<path>``); ``root_paths``, where they are on
    the server, only for those who manage connectors (admins): a server's layout is nobody else's business.
    """

    connectors: tuple[tuple[str, str], ...]
    roots: tuple[str, ...]
    root_paths: tuple[str, ...] = ()
    local_connectors: tuple[str, ...] = ()


def data_sources(ctx: Context, principal: Principal) -> DataSources:
    """The stored connectors a model can be registered through, and the data folders the local type reads."""
    me = acting(ctx, principal, Permission.REGISTER_MODEL)
    found = [c for c in stored_connectors.list_connectors(ctx, me) if c.readable]
    named = connectors.named_roots(ctx.settings)
    return DataSources(
        connectors=tuple((c.name, f"{c.name} — {c.title}") for c in found),
        roots=tuple(name for name, _ in named),
        root_paths=tuple(str(path) for _, path in named) if has(me, Permission.MANAGE_CONNECTORS) else (),
        local_connectors=tuple(c.name for c in found if c.type == LOCAL_TYPE),
    )


#: The connector type that reads files on the server's disk (cheap to check before a job is queued).
LOCAL_TYPE = "local"


@dataclass(frozen=True)
class _Checked:
    """A spec that passed every check that needs no profiling."""

    me: Principal
    name: str
    owner: Account
    roles: dict[str, Any]
    profiler_roles: client.Roles
    connector: str  # the stored connector's name as stored ("local" for a restricted model)
    training: str
    production: str


def _reference(text: str, what: str, field_name: str) -> str:
    text = (text or "").strip()
    if not text or "\x00" in text:
        raise InvalidInput(f"Give the {what} data: a file, folder or table under the connector (the browser "
                           "lists them).", field=field_name)
    return text


def _usable_connector(ctx: Context, me: Principal, name: str) -> "stored_connectors.ConnectorInfo":
    """The stored connector ``name``; an unknown one is the form's fault (``InvalidInput`` naming those there are)."""
    try:
        return stored_connectors.get_connector(ctx, me, name)
    except NotFound:
        known = ", ".join(c.name for c in stored_connectors.list_connectors(ctx, me))
        raise InvalidInput(f"There is no connector named {name!r}; choose one of: {known}.", field="connector") from None


def _check(ctx: Context, principal: Principal, spec: ModelSpec) -> _Checked:
    """Everything that can be answered at once: permission, name free, owner, column roles, the connector
    and, for files on this server, the data references."""
    me = acting(ctx, principal, Permission.REGISTER_MODEL)
    name = records.validate_name(spec.name)
    records.validate_task(spec.task)
    owner_name = spec.owner.strip() or me.username
    if owner_name != me.username and not has(me, Permission.VIEW_ALL_MODELS):
        raise PermissionDenied("Only an admin may register a model for another user; leave the owner empty.")
    roles = spec.roles()
    profiler_roles = client_roles(roles, spec.task)  # validates role combinations early
    if spec.task != "regression" and not roles["target"] and not spec.restricted:
        raise InvalidInput("Name the target column (the label the model predicts).")
    with ctx.store.read() as conn:
        owner = users.get(conn, owner_name)
        if records.find(conn, name) is not None:
            raise InvalidInput(f"A model named {name!r} already exists; choose another name.")
    if spec.restricted:
        return _Checked(me, name, owner, roles, profiler_roles, LOCAL_TYPE, "", "")
    training = _reference(spec.training, "training", "training")
    production = _reference(spec.production, "production", "production")
    info = _usable_connector(ctx, me, (spec.connector or "").strip() or LOCAL_TYPE)
    if not info.readable:
        raise ConnectorError(f"The connector {info.name!r} cannot be used: its secrets cannot be decrypted "
                             "(the secret key changed). An administrator must re-enter them on the Connectors page.")
    if info.type == LOCAL_TYPE:  # files on this server: checked now, so the form answers at once
        connection = stored_connectors.connect(ctx, me, info.name)
        try:
            connection.open(training)
            connection.open(production)
        finally:
            connection.close()
    return _Checked(me, name, owner, roles, profiler_roles, info.name, training, production)


def submit_registration(ctx: Context, principal: Principal, spec: ModelSpec) -> Job:
    """Check a registration of open data at once, then queue it as a job (profiling takes minutes).

    Raises the same errors as ``register_model`` for anything that needs no
    profiling, before anything is stored; the job reports the rest (a column
    missing from a file, a single-class target) as its failure reason.
    """
    if spec.restricted:
        raise InvalidInput("A restricted model has no data to profile on the server; register it directly.",
                           field="restricted")
    checked = _check(ctx, principal, spec)
    return jobs.submit_job(ctx, principal, jobs.REGISTER_MODEL, spec.to_params(), title=checked.name)


def register_model(ctx: Context, principal: Principal, spec: ModelSpec, progress: Progress | None = None,
                   in_transaction: Callable[[Connection, "Registration"], None] | None = None) -> Registration:
    """Register a model: profile its data now (unrestricted) or issue an upload token (restricted).

    ``in_transaction(conn, registration)`` runs inside the storing transaction,
    after everything is stored: a job marks itself done there, so the model and
    the mark commit together or not at all.
    """
    checked = _check(ctx, principal, spec)
    me, name, owner, roles = checked.me, checked.name, checked.owner, checked.roles
    now = ctx.now()
    details = {k: v for k, v in spec.connector_details.items() if isinstance(v, (str, int, float, bool))}

    reference = production = report = None
    if not spec.restricted:
        # the references as given (a file, folder or table under the connector): never a server path
        # of someone else's choosing, never a secret (those stay in the connector)
        details.update(training=checked.training, production=checked.production)
        connection = stored_connectors.connect(ctx, me, checked.connector)
        try:
            with connectors.reworded(connection):
                reference = profile_data(ctx, open_source(ctx, connection, checked.training), checked.profiler_roles,
                                         progress=step(progress, 0.0, 0.5, "Profiling training data"))
            check_labels(reference, spec.task, roles["target"])
            with connectors.reworded(connection):
                production = profile_production(ctx, open_source(ctx, connection, checked.production), reference,
                                                roles["timestamp"], progress, 0.5)
        finally:
            connection.close()
        report = drift(published(reference), published(production))
        if progress:
            progress(0.97, "Saving")

    token = expires = None
    with ctx.store.write() as conn:
        if not spec.restricted and not pulls.connector_exists(conn, checked.connector):
            # removed while the data was being profiled: a model must never point at a missing connector
            raise ConnectorError(f"The connector {checked.connector!r} was removed while {name} was being "
                                 "registered; nothing was stored. Choose another connector and register again.")
        record = records.insert(
            conn, name=name, description=spec.description.strip(), task=spec.task, platform=spec.platform,
            connector=checked.connector, connector_details=details, owner=owner.username, lob=owner.lob,
            sub_lob=owner.sub_lob, roles=roles, restricted=spec.restricted,
            status=AWAITING if spec.restricted else ACTIVE, drift_settings=DriftSettings().to_dict(),
            created_by=me.username, now=now,
        )
        if spec.restricted:
            token, expires = upload_tokens.issue(conn, record.id, me.username, now)
        else:
            records.add_profile(conn, record.id, "reference", "training", "server", reference.rows,
                                 reference.to_json(), now)
            store_batch(conn, record, production, report, "initial production data", "server", now,
                        explicit_label=False)
        audit.record(conn, now, me.username, "register model", record.name,
                     f"owner={record.owner}; {'restricted' if spec.restricted else 'unrestricted'}")
        registration = Registration(model=record, drift=report, upload_token=token, token_expires=expires)
        if in_transaction is not None:
            in_transaction(conn, registration)
    if not spec.restricted:
        notification_runs.after_new_batch(ctx, registration.model.id)  # its first windows may have drifted
    if progress:
        progress(1.0, "Done")
    return registration

