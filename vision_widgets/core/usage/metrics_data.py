"""What the Business Metrics page reads from the database: the models in scope and their usage records.

Only reads (the usage records are written by ``services/usage.py``). Filters are applied in SQL so an
admin's filtered view never loads every model's records.
"""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from sqlalchemy import Connection, func, select

from vision_widgets.core.storage import schema
from vision_widgets.core.usage.metrics import USAGE_COLUMNS

__all__ = ["MODEL_COLUMNS", "models_in_scope", "usage_of"]

MODEL_COLUMNS = ("model_id", "name", "platform", "lob", "sub_lob", "task", "owner")


def models_in_scope(conn: Connection, owner: str | None = None, lob: str = "", sub_lob: str = "",
                    platform: str = "", name: str = "") -> pd.DataFrame:
    """The models (``MODEL_COLUMNS``) of ``owner`` (None: everyone's) matching every filter given, by name."""
    m = schema.models
    query = select(m.c.id.label("model_id"), m.c.name, m.c.platform, m.c.lob, m.c.sub_lob, m.c.task, m.c.owner)
    if owner is not None:
        query = query.where(m.c.owner == owner)
    if lob:
        query = query.where(m.c.lob == lob)
    if sub_lob:
        query = query.where(m.c.sub_lob == sub_lob)
    if platform:
        query = query.where(m.c.platform == platform)
    if name:
        query = query.where(m.c.name_key == name.strip().lower())
    rows = conn.execute(query.order_by(func.lower(m.c.name))).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=list(MODEL_COLUMNS))
    return frame.astype({"model_id": "int64"})


def usage_of(conn: Connection, model_ids: Sequence[int]) -> pd.DataFrame:
    """Every usage record of ``model_ids`` (``USAGE_COLUMNS``), oldest first."""
    u = schema.usage_records
    if not model_ids:
        return pd.DataFrame(columns=list(USAGE_COLUMNS))
    ids = [int(i) for i in model_ids]
    rows: list[tuple] = []
    for i in range(0, len(ids), 500):  # bound the IN list
        part = ids[i:i + 500]
        rows.extend(tuple(r) for r in conn.execute(
            select(u.c.model_id, u.c.at, u.c.predictions, u.c.compute_hours, u.c.cpu_share, u.c.memory_share,
                   u.c.gpu_share).where(u.c.model_id.in_(part)).order_by(u.c.at)).all())
    return pd.DataFrame(rows, columns=list(USAGE_COLUMNS))
