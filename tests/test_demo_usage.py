"""The demo's usage records (demo/usage.py): daily, for the five demo models, through services.usage."""
from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from helpers import SMALL_TRAIN_ROWS, SMALL_WEEKLY_ROWS
from sqlalchemy import select

from vision_widgets.core import audit, connectors
from vision_widgets.core.catalog import records
from vision_widgets.core.storage import schema
from vision_widgets.demo import datasets, seeding
from vision_widgets.demo import usage as demo_usage

DAYS = datasets.PROD_WEEKS * 7


@pytest.fixture
def small_demo_files(settings):
    return datasets.write_files(connectors.demo_folder(settings), SMALL_TRAIN_ROWS, SMALL_WEEKLY_ROWS)


def usage_of(ctx, name: str) -> pd.DataFrame:
    t = schema.usage_records
    with ctx.store.read() as conn:
        model_id = records.get(conn, name).id
        rows = conn.execute(select(t).where(t.c.model_id == model_id).order_by(t.c.at)).mappings().all()
    return pd.DataFrame([dict(r) for r in rows])


def test_the_five_demo_models_get_daily_usage_over_their_production_days(ctx, small_demo_files):
    said: list[str] = []
    seeding.install(ctx, say=said.append)
    assert any(line.startswith("Demo usage records: Fraud detection 56") for line in said)
    for model in datasets.MODELS:
        found = usage_of(ctx, model.name)
        assert len(found) == DAYS, model.name
        assert set(found["source"]) == {"demo"}  # labelled as demo data
        first = datasets.PROD_START.tz_localize("UTC").to_pydatetime()
        assert list(found["at"]) == [first + timedelta(days=d) for d in range(DAYS)]
        # predictions follow the production rows of the day (weekday pattern and ±5% noise on top)
        prod = pd.read_csv(small_demo_files[model.name][1], usecols=[model.timestamp])
        assert found["predictions"].sum() == pytest.approx(len(prod), rel=0.1)
        assert (found["compute_hours"] > 0).all() and found["compute_hours"].nunique() > DAYS // 2
        for share in ("cpu_share", "memory_share"):
            assert found[share].between(0, 1).all() and found[share].std() > 0
        has_gpu = demo_usage.FOOTPRINTS[model.name].gpu
        assert found["gpu_share"].notna().all() if has_gpu else found["gpu_share"].isna().all()
    weekday = usage_of(ctx, "Incident prediction").assign(weekend=lambda f: f["at"].dt.day_of_week >= 5)
    assert weekday.groupby("weekend")["predictions"].mean()[True] < weekday.groupby("weekend")["predictions"].mean()[False]

    # a second install stores nothing new (idempotent per model and timestamp)
    seeding.install(ctx, say=lambda _line: None)
    assert len(usage_of(ctx, "Fraud detection")) == DAYS
    with ctx.store.read() as conn:
        details = [e.detail for e in audit.recent(conn, 50) if e.action == "import usage"]
    assert details.count(f"demo: 0 stored, {DAYS} unchanged") == 5 and details.count(f"demo: {DAYS} stored, 0 unchanged") == 5


def test_the_demo_usage_is_the_same_every_time(small_demo_files):
    model = datasets.MODELS[0]
    days = demo_usage.daily_rows(small_demo_files[model.name][1], model.timestamp)
    assert len(days) == DAYS
    assert demo_usage.records_for(model, days) == demo_usage.records_for(model, days)
    other = demo_usage.records_for(datasets.MODELS[1], days)
    assert [r["compute_hours"] for r in other] != [r["compute_hours"] for r in demo_usage.records_for(model, days)]
