"""Registering a model: from open data through a connector, or restricted with an upload token.

Profiling — the long part — happens before the write transaction; the model,
its profiles, its drift report and the audit entry are then stored in ONE
transaction, so a failure leaves nothing behind.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vision_widgets import client
from vision_widgets.core import audit, connectors
from vision_widgets.core.catalog import records, upload_tokens
from vision_widgets.core.catalog.records import ACTIVE, AWAITING, ModelRecord
from vision_widgets.core.context import Context
from vision_widgets.core.errors import InvalidInput, PermissionDenied
from vision_widgets.core.identity import users
from vision_widgets.core.identity.principal import Principal
from vision_widgets.core.identity.rbac import Permission, has
from vision_widgets.core.stats.drift import DriftReport, DriftSettings, drift
from vision_widgets.services.profiling import (
    Progress,
    check_labels,
    client_roles,
    profile_production,
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


@dataclass(frozen=True)
class Registration:
    model: ModelRecord
    drift: DriftReport | None = None
    #: For restricted models: shown once to the owner, never stored in clear.
    upload_token: str | None = field(default=None, repr=False)
    token_expires: datetime | None = None


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
    profiler_roles = client_roles(roles, spec.task)  # validates role combinations early
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
        reference = client.profile(str(training_path), profiler_roles, k=ctx.settings.privacy_k,
                                   progress=step(progress, 0.0, 0.5, "Profiling training data"))
        check_labels(reference, spec.task, roles["target"])
        production = profile_production(ctx, production_path, reference, roles["timestamp"], progress, 0.5)
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
            store_batch(conn, record, production, report, "initial production data", "server", now)
        audit.record(conn, now, me.username, "register model", record.name,
                     f"owner={record.owner}; {'restricted' if spec.restricted else 'unrestricted'}")
    if progress:
        progress(1.0, "Done")
    return Registration(model=record, drift=report, upload_token=token, token_expires=expires)
