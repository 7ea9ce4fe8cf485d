"""What the Business Metrics page reads from the database: the models in scope and their usage records.

Only reads (the usage records are written by ``services/usage.py``). Filters are applied in SQL so an
admin's filtered view never loads every model's records, and usage is summed per model and day in SQL
(``daily_usage_of``) so the page never loads the records themselves.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sqlalchemy import Connection, case, func, select

from vision_widgets.core.storage import schema
from vision_widgets.core.usage import metrics
from vision_widgets.core.usage import records as usage_records
from vision_widgets.core.usage.metrics import DAILY_COLUMNS, USAGE_COLUMNS

__all__ = ["MODEL_COLUMNS", "daily_usage_of", "models_in_scope", "usage_of"]

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


def _day(conn: Connection, at):
    """SQL for the UTC day of ``at`` (SQLite keeps UTC wall time as text; PostgreSQL a timestamptz)."""
    if conn.dialect.name == "postgresql":
        return func.date(func.timezone("UTC", at))
    return func.date(at)


def daily_usage_of(conn: Connection, model_ids: Sequence[int]) -> pd.DataFrame:
    """The usage of ``model_ids`` summed per model and UTC day in SQL (``metrics.daily_usage``'s columns).

    The database returns one row per model and day, not one per record: a model sending a record a
    minute is 1,440 records but one row a day. The shares come as hour-weighted sums (Σ share × hours
    and Σ hours over the records that give the share), so the page's means are those of the records.
    Only records inside the usage timestamp window (``records.EARLIEST`` .. ``LATEST``) are read: one
    stored before it was enforced would not fit the page's days.
    """
    u = schema.usage_records
    cols = list(DAILY_COLUMNS)
    if not model_ids:
        return metrics.daily_usage(pd.DataFrame(columns=list(USAGE_COLUMNS)))
    day = _day(conn, u.c.at).label("day")
    shares = []
    for s in metrics.SHARES:
        share = u.c[f"{s}_share"]
        shares += [func.sum(case((share.is_not(None), share * u.c.compute_hours), else_=0.0)).label(f"{s}_weighted"),
                   func.sum(case((share.is_not(None), u.c.compute_hours), else_=0.0)).label(f"{s}_hours")]
    ids = [int(i) for i in model_ids]
    rows: list[tuple] = []
    for i in range(0, len(ids), 500):  # bound the IN list
        part = ids[i:i + 500]
        query = (select(u.c.model_id, day, func.sum(u.c.predictions).label("predictions"),
                        func.sum(u.c.compute_hours).label("compute_hours"), *shares)
                 .where(u.c.model_id.in_(part), u.c.at >= usage_records.EARLIEST, u.c.at < usage_records.LATEST)
                 .group_by(u.c.model_id, day))
        rows.extend(tuple(r) for r in conn.execute(query).all())
    if not rows:
        return metrics.daily_usage(pd.DataFrame(columns=list(USAGE_COLUMNS)))
    frame = pd.DataFrame(rows, columns=cols)
    frame["model_id"] = frame["model_id"].astype("int64")
    frame["day"] = np.array([str(d)[:10] for d in frame["day"]], dtype="datetime64[D]").astype("datetime64[ns]")
    for c in cols[2:]:
        frame[c] = frame[c].astype(float)
    return frame.sort_values(["model_id", "day"], kind="stable").reset_index(drop=True)[cols]


def usage_of(conn: Connection, model_ids: Sequence[int]) -> pd.DataFrame:
    """Every usage record of ``model_ids`` (``USAGE_COLUMNS``), oldest first (tests, exports)."""
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
