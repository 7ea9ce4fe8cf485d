"""Usage summed per model and UTC day in SQL (core/usage/metrics_data.daily_usage_of), on SQLite and on a
throw-away PostgreSQL (tests/support/postgres.py): the same numbers as summing the records in pandas, days
cut at UTC midnight, shares weighted by the hours of the records that give them."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from helpers import ADMIN, USER, USERS_JSON

from tests.support.postgres import postgres_cluster  # noqa: F401 - the session fixture
from vision_widgets.core.config import load_settings
from vision_widgets.core.storage import schema
from vision_widgets.core.usage import metrics, metrics_data
from vision_widgets.services import business_metrics


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request, tmp_path):  # overrides conftest's: the same ctx, on each backend
    env = {"VISION_HOME": str(tmp_path / "home"), "VISION_USERS_FILE": str(USERS_JSON)}
    if request.param == "postgresql":
        env["VISION_DATABASE_URL"] = request.getfixturevalue("postgres_cluster").new_database()
    return load_settings(env)


def _insert(ctx, model_id: int, rows: list[tuple]) -> None:
    with ctx.store.write() as conn:
        conn.execute(schema.usage_records.insert(), [
            {"model_id": model_id, "at": at, "predictions": p, "compute_hours": h, "cpu_share": c,
             "memory_share": m, "gpu_share": g, "source": "api", "received_at": ctx.now()}
            for at, p, h, c, m, g in rows])


def test_sql_daily_sums_equal_the_records_summed_in_pandas(ctx, register_restricted):
    register_restricted("Model A")
    with ctx.store.read() as conn:
        ids = [r.id for r in conn.execute(schema.models.select().order_by(schema.models.c.id))]
    rng = np.random.default_rng(3)
    start = datetime(2026, 9, 1, 22, 0, tzinfo=UTC)  # every 7 minutes across five UTC midnights
    rows = []
    for i in range(900):
        share = None if i % 5 == 0 else float(rng.uniform(0, 1))
        rows.append((start + timedelta(minutes=7 * i), int(rng.integers(0, 1000)), float(rng.uniform(0, 0.2)),
                     share, None if i % 2 else 0.5, None))
    _insert(ctx, ids[0], rows)
    with ctx.store.read() as conn:
        got = metrics_data.daily_usage_of(conn, ids)
        want = metrics.daily_usage(metrics_data.usage_of(conn, ids))
    assert list(got.columns) == list(metrics.DAILY_COLUMNS)
    assert list(got["day"].dt.strftime("%Y-%m-%d")) == list(want["day"].dt.strftime("%Y-%m-%d"))
    assert got["day"].min() == pd.Timestamp("2026-09-01") and len(got) == 6  # 22:00 + 900 × 7 min
    assert list(got["predictions"]) == list(want["predictions"])
    for col in metrics.DAILY_COLUMNS[3:]:
        np.testing.assert_allclose(got[col], want[col], rtol=1e-12, err_msg=col)


def test_a_record_stored_outside_the_timestamp_window_is_not_read(ctx, login, register_restricted):
    # stored before timestamps were bounded: it must neither break the page nor land on another day
    register_restricted("Model A")
    with ctx.store.read() as conn:
        model_id = conn.execute(schema.models.select()).first().id
    _insert(ctx, model_id, [(datetime(2026, 9, 1, 12, tzinfo=UTC), 1000, 1.0, None, None, None),
                            (datetime(2611, 3, 23, 12, tzinfo=UTC), 999_999, 50.0, None, None, None)])
    for who in (USER, ADMIN):
        got = business_metrics.business_metrics(ctx, login(who), date(2026, 8, 30), date(2026, 9, 3))
        assert got.kpis.predictions == 1000 and list(np.nan_to_num(got.volume_usage)) == [0, 0, 1000, 0, 0]
