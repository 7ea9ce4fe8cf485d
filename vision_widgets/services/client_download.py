"""The client notebook a person downloads from a model's page, filled in for that model.

Its parameters cell already holds where to send the profiles (``public_url``), the model's
name and the column roles it was registered with, so the person only adds their data paths.
The upload token goes in only when asked for: it is issued by ``issue_upload_token`` (owner or
admin, audited, one live token per model), written into the file, and returned to no one else —
the caller gets the file's bytes and the token's expiry, never the token on its own.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime

import nbformat

from vision_widgets.core.catalog.client_notebook import prefill
from vision_widgets.core.catalog.records import ModelRecord
from vision_widgets.core.config import CLIENT_NOTEBOOK
from vision_widgets.core.context import Context
from vision_widgets.core.identity.principal import Principal
from vision_widgets.core.identity.rbac import Permission
from vision_widgets.services.profiling import client_task, record_for
from vision_widgets.services.sessions import acting
from vision_widgets.services.submissions import issue_upload_token


@dataclass(frozen=True)
class ClientNotebook:
    """A downloadable notebook: its file name and content (which may hold an upload token)."""

    filename: str
    content: bytes = field(repr=False)
    #: When the upload token written into it expires; None when it holds none.
    token_expires: datetime | None = None


def parameters_for(record: ModelRecord, server_url: str, token: str = "") -> dict:
    """The parameters cell's values for ``record``: where to send, what, and which column is which."""
    roles = record.roles or {}
    return {
        "SERVER_URL": server_url,
        "UPLOAD_TOKEN": token,
        "MODEL_NAME": record.name,
        "TARGET": roles.get("target"),
        "PREDICTION": roles.get("prediction"),
        "TIMESTAMP": roles.get("timestamp"),
        "FEATURES": list(roles["features"]) if roles.get("features") else None,
        "EXCLUDE": list(roles.get("exclude") or ()),
        "TASK": client_task(record.task),
    }


def _filename(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").lower()[:60] or "model"
    return f"vision_client_{slug}.ipynb"


def client_notebook(ctx: Context, principal: Principal, name: str, server_url: str,
                    include_token: bool = False) -> ClientNotebook:
    """The client notebook filled in for model ``name``, sending to ``server_url``.

    Anyone who may open the model gets it without a token; ``include_token`` issues a new
    upload token (owner or admin only, and it replaces the model's unused one) and writes it
    into the parameters cell.
    """
    me = acting(ctx, principal, Permission.VIEW_OWN_MODELS)
    with ctx.store.read() as conn:
        record = record_for(conn, me, name)
    token, expires = ("", None)
    if include_token:
        token, expires = issue_upload_token(ctx, me, record.name)
    nb = prefill(nbformat.read(str(CLIENT_NOTEBOOK), as_version=4), parameters_for(record, server_url, token))
    content = (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode("utf-8")
    return ClientNotebook(_filename(record.name), content, expires)
