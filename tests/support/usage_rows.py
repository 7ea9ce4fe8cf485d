"""Usage records written straight into ``usage_records`` for tests of what reads them (the Business
Metrics page), independent of the ingestion service."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import select

from vision_widgets.core.storage import schema


def add_usage(ctx, model: str, rows: Iterable[tuple], source: str = "demo") -> None:
    """``rows``: (day 'YYYY-MM-DD' or datetime, predictions, compute_hours, cpu, memory, gpu) — shares may be None."""
    with ctx.store.write() as conn:
        model_id = conn.execute(select(schema.models.c.id).where(schema.models.c.name == model)).scalar_one()
        for at, predictions, hours, cpu, mem, gpu in rows:
            when = at if isinstance(at, datetime) else datetime.fromisoformat(at).replace(hour=12, tzinfo=UTC)
            conn.execute(schema.usage_records.insert().values(
                model_id=model_id, at=when, predictions=predictions, compute_hours=hours, cpu_share=cpu,
                memory_share=mem, gpu_share=gpu, source=source, received_at=ctx.now()))
