"""Usage records in: one validated service behind the API, the CSV upload, the CLI and the demo.

Who may send a model's usage:

* a logged-in account (the CSV upload on the Business Metrics page, ``vision usage import``):
  the model's owner or an admin (``rbac.can_manage_model``);
* an API key with scope ``usage`` that an admin issued (``services/api_keys.py``): any model;
* the model's upload token (the API only, for a restricted model's client): that model only.
  Usage never spends the token (profile submissions do); an expired token is refused.

Every batch is validated whole (``core/usage/records.py``) and stored in one transaction,
idempotently per (model, timestamp); a rejected batch stores nothing. Each import is
audited with its counts, never its values.

A re-send never rewrites a stored record, so correcting usage is deliberate: ``delete`` a model's
records of some days (owner or admin, audited with the counts), then send them again.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from vision_widgets.core import audit
from vision_widgets.core.catalog import records as models
from vision_widgets.core.catalog import upload_tokens
from vision_widgets.core.catalog.records import ModelRecord
from vision_widgets.core.context import Context
from vision_widgets.core.errors import (
    AuthenticationError,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from vision_widgets.core.identity import api_keys
from vision_widgets.core.identity.principal import Principal
from vision_widgets.core.identity.rbac import Permission
from vision_widgets.core.usage import records as usage
from vision_widgets.core.usage.records import UsageRecord
from vision_widgets.services.profiling import record_for
from vision_widgets.services.sessions import acting

#: The API key scope that may send usage records.
SCOPE = "usage"
#: The content types ``ingest_body`` reads (the API's 415 names them).
JSON_LINES = "application/x-ndjson"
JSON = "application/json"
CONTENT_TYPES = (JSON_LINES, JSON)


@dataclass(frozen=True)
class UsageImport:
    """What one import did: ``stored`` new records, ``unchanged`` ones already present.

    ``conflicting`` counts the unchanged ones whose values differed from the stored record
    (the first record sent for a timestamp is kept).
    """

    stored: int
    unchanged: int
    conflicting: int = 0
    model: str = ""

    def summary(self) -> dict[str, Any]:
        """The JSON the usage API answers with."""
        return {"status": "accepted", "model": self.model, "stored": self.stored, "unchanged": self.unchanged,
                "conflicting": self.conflicting}

    def message(self) -> str:
        """One sentence for a person (the page's upload, the CLI)."""
        text = f"Stored {self.stored:,} usage record(s) for {self.model}"
        if self.unchanged:
            text += f"; {self.unchanged:,} were already stored and kept as they were"
            if self.conflicting:
                text += (f" ({self.conflicting:,} of them with other values: the first record sent for a "
                         "timestamp is kept)")
        return text + "."


Credential = Principal | str


def _bearer_target(ctx: Context, conn, token: str, name: str) -> tuple[ModelRecord, str, int | None]:
    """(model, actor for the audit log, API key id) for a bearer credential: an API key or an upload token.

    The credential is checked before the model is looked up (401 reveals nothing about which models
    exist); then ``NotFound`` for an unknown model and ``PermissionDenied`` for an upload token of
    another model.
    """
    token = (token or "").strip()
    if not token:
        raise AuthenticationError("Send the model's upload token or an API key as 'Authorization: Bearer <token>'.")
    now = ctx.now()
    if api_keys.looks_like_key(token):
        key = api_keys.holder(conn, token, SCOPE, now)
        record = models.find(conn, name)
        if record is None:
            raise NotFound(f"There is no model named {name!r}; check the name in the URL.")
        return record, f"api key {key.name}", key.id
    _, model_id = upload_tokens.holder(conn, token, now, allow_used=True)
    record = models.find(conn, name)
    if record is None:
        raise NotFound(f"There is no model named {name!r}; check the name in the URL.")
    if record.id != model_id:
        raise PermissionDenied("This upload token belongs to another model; send usage with the token issued "
                               "for this model, or with an API key.")
    return record, "upload token", None


def usage_target(ctx: Context, token: str, name: str) -> ModelRecord:
    """The model a bearer credential may send usage to, decided from the request's headers alone.

    The HTTP API calls this before reading the body: 401, 403 and 404 cost no upload.
    """
    with ctx.store.read() as conn:
        return _bearer_target(ctx, conn, token, name)[0]


def _store(ctx: Context, who: Credential, name: str, batch: list[UsageRecord], source: str) -> UsageImport:
    """Check the credential again and store ``batch`` in one transaction, audited with its counts."""
    me = acting(ctx, who, Permission.REGISTER_MODEL) if isinstance(who, Principal) else None
    now = ctx.now()
    with ctx.store.write() as conn:
        if me is not None:
            record, actor, key_id = record_for(conn, me, name, manage=True), me.username, None
        else:
            record, actor, key_id = _bearer_target(ctx, conn, who, name)
        done = usage.store(conn, record.id, batch, source, now)
        if key_id is not None:
            api_keys.touch(conn, key_id, now)
        audit.record(conn, now, actor, "import usage", record.name,
                     f"{source}: {done.stored} stored, {done.unchanged} unchanged"
                     + (f" ({done.conflicting} with other values)" if done.conflicting else ""))
    return UsageImport(done.stored, done.unchanged, done.conflicting, record.name)


def _check_first(ctx: Context, who: Credential, name: str) -> None:
    """Refuse a caller who may not send this model's usage before looking at what they sent."""
    if isinstance(who, Principal):
        me = acting(ctx, who, Permission.REGISTER_MODEL)
        with ctx.store.read() as conn:
            record_for(conn, me, name, manage=True)
    else:
        usage_target(ctx, who, name)


def ingest(ctx: Context, principal_or_api_key: Credential, model_name: str,
           records: Sequence[Mapping[str, Any]], source: str) -> UsageImport:
    """Validate and store usage records given as mappings (the fields of ``core/usage/records.py``).

    ``principal_or_api_key`` is an account's principal, or a bearer credential (an API key with
    scope ``usage``, or the model's upload token). ``InvalidRecords`` names every bad record
    ("record N" counts from 1) and nothing is stored; ``NotFound`` for an unknown model.
    """
    _check_first(ctx, principal_or_api_key, model_name)
    if not records:
        raise InvalidInput("No usage records were given.", field="records")
    batch = usage.validate_batch(enumerate(records, start=1), "records", unit="record")
    return _store(ctx, principal_or_api_key, model_name, batch, source)


def import_csv(ctx: Context, principal: Principal, model_name: str, data: bytes, *,
               source: str = "csv") -> UsageImport:
    """A usage CSV (``timestamp,predictions,compute_hours[,cpu_share,memory_share,gpu_share]``).

    ``InvalidInput`` names every bad line number and column (a wrong header: the expected and the
    found columns; a file over the upload limit: the limit) and nothing from the file is stored.
    """
    _check_first(ctx, principal, model_name)
    batch = usage.parse_csv(data, ctx.settings.upload_limit_bytes)
    return _store(ctx, principal, model_name, batch, source)


def ingest_body(ctx: Context, token: str, model_name: str, body: bytes, content_type: str) -> UsageImport:
    """The usage API: a request body of JSON lines (``application/x-ndjson``) or a JSON array
    (``application/json``), sent with an upload token or an API key."""
    usage_target(ctx, token, model_name)
    limit = ctx.settings.upload_limit_bytes
    if content_type == JSON_LINES:
        batch = usage.parse_json_lines(body, limit)
    elif content_type == JSON:
        batch = usage.parse_json_list(body, limit)
    else:
        raise InvalidInput(f"Send usage as {' or '.join(CONTENT_TYPES)}.", field="Content-Type")
    return _store(ctx, token, model_name, batch, "api")


@dataclass(frozen=True)
class UsageDeletion:
    """What ``delete`` removed: how many records of ``model`` from ``start`` to ``end`` (days, inclusive)."""

    model: str
    start: date
    end: date
    deleted: int
    predictions: int

    def message(self) -> str:
        """One sentence for a person (the CLI)."""
        days = self.start.isoformat() + ("" if self.end == self.start else f" to {self.end.isoformat()}")
        if not self.deleted:
            return f"{self.model} has no usage records on {days}; nothing was deleted."
        return (f"Deleted {self.deleted:,} usage record(s) of {self.model} on {days} "
                f"({self.predictions:,} predictions); send the corrected records again.")


def _day(value: date | str, field: str) -> date:
    if isinstance(value, datetime):
        raise InvalidInput("Give whole days (YYYY-MM-DD): usage is deleted per UTC day.", field=field)
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise InvalidInput(f"The {'first' if field == 'start' else 'last'} day must be YYYY-MM-DD "
                           f"(got {str(value)[:30]!r}).", field=field) from None


def delete(ctx: Context, principal: Principal, model_name: str, start: date | str, end: date | str) -> UsageDeletion:
    """Delete the usage records of ``model_name`` from day ``start`` to day ``end`` (UTC, both included).

    The model's owner or an admin (as for importing). How to correct a day that was sent wrong: a
    re-send keeps the first record (docs/decisions.md, "Usage records"), so delete the days, then
    send them again. Audited with the days and counts. ``InvalidInput`` for a day that is not
    YYYY-MM-DD or a start after the end; ``NotFound``/``PermissionDenied`` as for an import.
    """
    me = acting(ctx, principal, Permission.REGISTER_MODEL)
    first, last = _day(start, "start"), _day(end, "end")
    if first > last:
        raise InvalidInput(f"The first day ({first.isoformat()}) is after the last ({last.isoformat()}).",
                           field="start")
    now = ctx.now()
    with ctx.store.write() as conn:
        record = record_for(conn, me, model_name, manage=True)
        deleted, predictions = usage.delete(conn, record.id, datetime.combine(first, time(0), tzinfo=UTC),
                                            datetime.combine(last + timedelta(days=1), time(0), tzinfo=UTC))
        audit.record(conn, now, me.username, "delete usage", record.name,
                     f"{first.isoformat()} to {last.isoformat()}: {deleted} record(s), {predictions} predictions")
    return UsageDeletion(record.name, first, last, deleted, predictions)
