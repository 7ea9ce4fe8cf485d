"""Demo usage records: one a day per demo model over its production data, through the real service.

Each day's predictions are the model's production rows of that day (what its production
windows count) with a weekday pattern (weekends quieter) and a little noise, so the Business
Metrics page's volume from usage stays close to the volume from the windows.
Compute hours follow the volume on top of an always-on base that autoscales a little; CPU and memory shares move
with the load; only the models on GPU platforms report a GPU share. Everything is seeded
(same demo, same numbers) and stored with source ``demo`` — labelled demo data like the
rest. A re-run stores nothing new: usage is idempotent per (model, timestamp).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from vision_widgets.core.catalog import records
from vision_widgets.core.context import Context
from vision_widgets.demo import datasets
from vision_widgets.services import usage
from vision_widgets.services.sessions import operator

#: Weekday factors (Monday first): a model scores fewer requests at weekends.
WEEKDAY = (1.08, 1.1, 1.1, 1.06, 1.02, 0.85, 0.79)


@dataclass(frozen=True)
class Footprint:
    """How a demo model runs: always-on hours a day, predictions one compute hour serves, GPU or not."""

    base_hours: float
    per_hour: float
    cpu: float
    memory: float
    gpu: bool = False


FOOTPRINTS = {
    "Fraud detection": Footprint(base_hours=6.0, per_hour=220.0, cpu=0.55, memory=0.62, gpu=True),
    "Customer churn": Footprint(base_hours=2.0, per_hour=600.0, cpu=0.35, memory=0.48),
    "Incident prediction": Footprint(base_hours=24.0, per_hour=900.0, cpu=0.28, memory=0.41),
    "Lead scoring": Footprint(base_hours=1.5, per_hour=400.0, cpu=0.4, memory=0.37, gpu=True),
    "Retail transactions": Footprint(base_hours=3.0, per_hour=350.0, cpu=0.47, memory=0.55),
}


def daily_rows(production: Path, timestamp: str) -> list[tuple[datetime, int]]:
    """(day, production rows with an event that day) of a demo model's production file, oldest first."""
    times = pd.to_datetime(pd.read_csv(production, usecols=[timestamp])[timestamp], utc=True)
    counts = times.dt.floor("D").value_counts().sort_index()
    return [(day.to_pydatetime(), int(n)) for day, n in counts.items()]


def records_for(model: datasets.DemoModel, days: list[tuple[datetime, int]]) -> list[dict]:
    """The daily usage records of one demo model (seeded: the same every time).

    Predictions are the day's production rows with a weekday pattern and ±5% noise on top, so the
    volume from usage stays close to the volume of the production windows.
    """
    rng = np.random.default_rng([datasets.DEMO_SEED, 12, datasets.MODELS.index(model)])
    fp = FOOTPRINTS.get(model.name, Footprint(2.0, 400.0, 0.4, 0.5))
    mean = max(1.0, float(np.mean([n for _, n in days]))) if days else 1.0
    out: list[dict] = []
    for day, rows in days:
        predictions = int(np.rint(rows * WEEKDAY[day.weekday()] * rng.normal(1.0, 0.05)))
        load = predictions / mean  # ≈ 1 on an average day
        out.append({
            "timestamp": day.isoformat(),
            "predictions": max(0, predictions),
            # the always-on part scales up and down a little (autoscaling); the rest follows the volume
            "compute_hours": round(fp.base_hours * rng.uniform(0.9, 1.1) + predictions / fp.per_hour, 3),
            "cpu_share": round(float(np.clip(fp.cpu * load + rng.normal(0, 0.04), 0.02, 0.98)), 3),
            "memory_share": round(float(np.clip(fp.memory + 0.05 * (load - 1) + rng.normal(0, 0.02), 0.05, 0.95)), 3),
            "gpu_share": round(float(np.clip(0.6 * load + rng.normal(0, 0.05), 0.01, 0.99)), 3) if fp.gpu else None,
        })
    return out


def install(ctx: Context, paths: Mapping[str, tuple[Path, Path]]) -> dict[str, int]:
    """Send the registered demo models' usage through ``services.usage.ingest``; new records per model.

    ``paths``: each demo model's (training, production) files, as ``datasets.write_files`` wrote them.
    """
    me = operator("demo")
    added: dict[str, int] = {}
    for model in datasets.MODELS:
        with ctx.store.read() as conn:
            if records.find(conn, model.name) is None or model.name not in paths:
                continue
        daily = records_for(model, daily_rows(paths[model.name][1], model.timestamp))
        if daily:
            added[model.name] = usage.ingest(ctx, me, model.name, daily, "demo").stored
    return added
