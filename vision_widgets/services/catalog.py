"""The model catalog: the models a principal may see, filtered, with their latest drift; deleting one."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from vision_widgets.core import audit
from vision_widgets.core.catalog import records
from vision_widgets.core.catalog.records import ModelRecord
from vision_widgets.core.context import Context
from vision_widgets.core.errors import PermissionDenied
from vision_widgets.core.identity import sessions
from vision_widgets.core.identity.principal import Principal
from vision_widgets.core.identity.rbac import Permission, has
from vision_widgets.services.profiling import record_for
from vision_widgets.services.sessions import acting


@dataclass(frozen=True)
class ModelSummary:
    """A row of the model list."""

    model: ModelRecord
    dataset_drift: bool | None
    drift_share: float | None
    last_update: datetime


def list_models(ctx: Context, principal: Principal, text: str = "", lob: str = "", platform: str = "",
                status: str = "") -> list[ModelSummary]:
    """The models the principal may see (own, or all for admins), filtered, with their latest drift."""
    me = sessions.authenticate(ctx, principal)
    if not (has(me, Permission.VIEW_ALL_MODELS) or has(me, Permission.VIEW_OWN_MODELS)):
        raise PermissionDenied("Your role may not view models.")
    owner = None if has(me, Permission.VIEW_ALL_MODELS) else me.username
    with ctx.store.read() as conn:
        rows = records.list_with_latest_drift(conn, owner=owner, text=text, lob=lob, platform=platform,
                                              status=status)
    return [ModelSummary(record, dataset_drift, drift_share, at or record.updated_at)
            for record, dataset_drift, drift_share, at in rows]


def filter_choices(ctx: Context, principal: Principal) -> dict[str, tuple[str, ...]]:
    """The lines of business, platforms and statuses present among the principal's models."""
    models = [s.model for s in list_models(ctx, principal)]
    return {
        "lob": tuple(sorted({m.lob for m in models if m.lob})),
        "platform": tuple(sorted({m.platform for m in models if m.platform})),
        "status": tuple(sorted({m.status for m in models})),
    }


def delete_model(ctx: Context, principal: Principal, name: str) -> None:
    """Delete a model with everything stored for it (owner or admin)."""
    me = acting(ctx, principal, Permission.REGISTER_MODEL)
    now = ctx.now()
    with ctx.store.write() as conn:
        # held before its rows go: a write storing into it holds the same lock first
        record = record_for(conn, me, name, manage=True, lock=True)
        records.remove(conn, record.id)
        audit.record(conn, now, me.username, "delete model", record.name)
