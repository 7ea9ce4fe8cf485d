"""New production data for a model: server-side batches, and client submissions of profiles.

A restricted model's client posts pooled profiles with a single-use upload
token (the HTTP API) or its owner uploads the file the client notebook wrote.
Everything is validated before the one write transaction that stores it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from vision_widgets.client import Profile
from vision_widgets.core import audit
from vision_widgets.core.catalog import records, upload_tokens
from vision_widgets.core.catalog.records import ACTIVE, ModelRecord
from vision_widgets.core.catalog.submissions import Submission, parse
from vision_widgets.core.context import Context
from vision_widgets.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from vision_widgets.core.identity.principal import Principal
from vision_widgets.core.identity.rbac import Permission
from vision_widgets.core.stats.drift import DriftReport, drift
from vision_widgets.services import connectors as stored_connectors
from vision_widgets.services import notification_runs
from vision_widgets.services.profiling import (
    Progress,
    check_labels,
    drift_settings_of,
    profile_production,
    published,
    record_for,
    store_batch,
)
from vision_widgets.services.sessions import acting


@dataclass(frozen=True)
class SubmissionResult:
    model: ModelRecord
    drift: DriftReport
    #: How the production profile was stored: "production" (a new batch) or "labels" (the labels
    #: of a batch stored earlier without them; its drift is not added to the history).
    stored_as: str = records.PRODUCTION

    def summary(self) -> dict[str, Any]:
        """The JSON the submission API answers with."""
        return {
            "model": self.model.name,
            "status": self.model.status,
            "stored_as": self.stored_as,
            "dataset_drift": self.drift.dataset_drift,
            "drift_share": self.drift.drift_share,
            "drifted_features": self.drift.drifted_features,
        }


def add_production_batch(ctx: Context, principal: Principal, name: str, data: str, label: str = "",
                         progress: Progress | None = None, connector: str = "") -> DriftReport:
    """Profile new production data of an unrestricted model and add it to the drift history.

    ``data`` is a file, folder or table under the model's stored connector, or under
    ``connector`` — another stored connector the account may use.
    """
    me = acting(ctx, principal, Permission.REGISTER_MODEL)
    with ctx.store.read() as conn:
        record = record_for(conn, me, name, manage=True)
        refs = records.profiles_of(conn, record.id, "reference")
    if record.restricted:
        raise InvalidInput("This model's data is restricted: add production data with the client notebook.")
    if not refs:
        raise InvalidInput("This model has no training profile yet.")
    data = (data or "").strip()
    if not data or "\x00" in data:
        raise InvalidInput("Give the production data: a file, folder or table under the connector.", field="data")
    reference = Profile.from_json(refs[-1].body)
    connection = stored_connectors.connect(ctx, me, (connector or "").strip() or record.connector)
    try:
        production = profile_production(ctx, connection.open(data), reference, record.roles.get("timestamp"),
                                        progress, 0.0)
    finally:
        connection.close()
    report = drift(reference, published(production), drift_settings_of(record))
    now = ctx.now()
    what = PurePosixPath(data.replace("\\", "/")).name or data
    with ctx.store.write() as conn:
        record = records.lock(conn, record.id)  # still there? (NotFound if deleted meanwhile)
        kind = store_batch(conn, record, production, report, label.strip() or what[:120], "server", now,
                           explicit_label=bool(label.strip()))
        records.set_status(conn, record.id, ACTIVE, now)
        audit.record(conn, now, me.username, "add labels" if kind == records.LABELS else "add production batch",
                     record.name, what)
    notification_runs.after_new_batch(ctx, record.id)  # after the commit; never fails the upload
    if progress:
        progress(1.0, "Done")
    return report


def issue_upload_token(ctx: Context, principal: Principal, name: str) -> tuple[str, datetime]:
    """A new 24-hour, single-use upload token for a restricted model (owner or admin)."""
    me = acting(ctx, principal, Permission.REGISTER_MODEL)
    now = ctx.now()
    with ctx.store.write() as conn:
        record = record_for(conn, me, name, manage=True)
        if not record.restricted:
            raise InvalidInput("Upload tokens are for restricted models; add data to this model from a file path.")
        records.lock(conn, record.id)  # two owners asking at once still leave one live token
        upload_tokens.revoke_unused(conn, record.id)  # one live token per model
        token, expires = upload_tokens.issue(conn, record.id, me.username, now)
        audit.record(conn, now, me.username, "issue upload token", record.name)
    return token, expires


def _validate_for(record: ModelRecord, sub: Submission, stored_reference: Profile | None) -> Profile:
    """The reference to compare with; refuses profiles that belong to another model."""
    if sub.model.lower() != record.name.lower():
        raise InvalidInput(
            f'Field "model": these profiles are for {sub.model!r}, not {record.name!r}; '
            "submit them to the right model.", field="model"
        )
    if sub.reference is not None:
        if stored_reference is not None:
            raise InvalidInput('Field "reference": this model already has a training profile; send production only.',
                               field="reference")
        ref_roles = sub.reference.roles
        for role in ("target", "prediction", "timestamp"):
            want = record.roles.get(role)
            got = getattr(ref_roles, role)
            if want and got != want:
                raise InvalidInput(
                    f'Field "reference": the profile\'s {role} column is {got!r} but the model was registered with '
                    f"{want!r}; profile the data with the model's column roles.", field=f"reference.roles.{role}"
                )
        reference = sub.reference
        check_labels(reference, record.task, record.roles.get("target"))
    else:
        if stored_reference is None:
            raise InvalidInput('Field "reference" is missing: the first submission must carry the training profile.',
                               field="reference")
        reference = stored_reference
    if sub.production.reference_id != reference.fingerprint():
        raise InvalidInput(
            'Field "production": it was not profiled against this model\'s training profile '
            "(its bin edges differ); profile production data with reference=<the training profile>.",
            field="production.reference_id"
        )
    return reference


def _accept(ctx: Context, record: ModelRecord, sub: Submission, actor: str, token_digest: str | None) -> SubmissionResult:
    with ctx.store.read() as conn:
        refs = records.profiles_of(conn, record.id, "reference")
    stored = Profile.from_json(refs[-1].body) if refs else None
    reference = _validate_for(record, sub, stored)
    report = drift(reference, sub.production, drift_settings_of(record))
    now = ctx.now()
    with ctx.store.write() as conn:
        # Checked again under the model's lock: another submission may have landed meanwhile.
        record = records.lock(conn, record.id)
        if len(records.profiles_of(conn, record.id, "reference")) != len(refs):
            raise Conflict("Another submission for this model was stored meanwhile; submit again "
                           "(production profiles only if the training profile is now there).")
        if token_digest is not None:
            upload_tokens.check_hash(conn, token_digest, record.id, now)
            upload_tokens.spend(conn, token_digest, now)
        if sub.reference is not None:
            records.add_profile(conn, record.id, "reference", "training", "client", sub.reference.rows,
                                 sub.reference.to_json(), now)
        kind = store_batch(conn, record, sub.production, report, sub.label or "client submission", "client", now,
                           explicit_label=bool((sub.label or "").strip()))
        records.set_status(conn, record.id, ACTIVE, now)
        audit.record(conn, now, actor, "submit labels" if kind == records.LABELS else "submit profiles", record.name,
                     sub.label)
        record = records.get_by_id(conn, record.id)
    notification_runs.after_new_batch(ctx, record.id)  # after the commit; never fails the submission
    return SubmissionResult(record, report, kind)


def upload_target(ctx: Context, token: str, name: str) -> tuple[str, ModelRecord]:
    """The model an upload token may submit to, checked from the request's headers alone.

    Returns ``(token hash, model record)`` without spending the token. The token is
    checked before the model is looked up (``AuthenticationError``, 401, reveals
    nothing), then ``NotFound`` (404) for an unknown model and ``PermissionDenied``
    (403) for a token of another model. The HTTP API calls this before it reads a
    single byte of the body, so an unauthenticated upload costs no memory.
    """
    now = ctx.now()
    with ctx.store.read() as conn:
        digest, model_id = upload_tokens.holder(conn, token, now)
        record = records.find(conn, name)
    if record is None:
        raise NotFound(f"There is no model named {name!r}.")
    if record.id != model_id:
        raise PermissionDenied("This upload token belongs to another model; use the token issued for this model.")
    return digest, record


def submit_with_token(ctx: Context, token: str, name: str, body: bytes | str) -> SubmissionResult:
    """The submission API: a restricted client posts profiles with its model's upload token.

    The token is checked as in ``upload_target``; a refused body (``InvalidInput``)
    stores nothing and does not spend the token.
    """
    digest, record = upload_target(ctx, token, name)
    sub = parse(body, ctx.settings.upload_limit_bytes)
    return _accept(ctx, record, sub, "upload token", digest)


def submit_file(ctx: Context, principal: Principal, name: str, content: bytes) -> SubmissionResult:
    """The owner uploads the JSON file the client notebook wrote (FileUpload on the model page)."""
    me = acting(ctx, principal, Permission.REGISTER_MODEL)
    with ctx.store.read() as conn:
        record = record_for(conn, me, name, manage=True)
    if not record.restricted:
        raise InvalidInput("This model's data is not restricted: add production data from a file path instead.")
    sub = parse(content, ctx.settings.upload_limit_bytes)
    return _accept(ctx, record, sub, me.username, None)
