"""Small synthetic datasets shared by the statistics-engine tests."""
from __future__ import annotations

import numpy as np
import pandas as pd


def numeric_frame(rows: int, features: int, seed: int, shift: dict[int, float] | None = None) -> pd.DataFrame:
    """``features`` standard-normal columns ``f00..``; ``shift`` adds that many sigmas to column i."""
    rng = np.random.default_rng(seed)
    shift = shift or {}
    return pd.DataFrame({f"f{i:02d}": rng.normal(shift.get(i, 0.0), 1.0, rows) for i in range(features)})


def mixed_frame(rows: int, seed: int) -> pd.DataFrame:
    """Numeric, categorical, binary columns, an id, a binary target, a score and a timestamp."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(0, 1, rows)
    x2 = rng.exponential(2.0, rows)
    cat = rng.choice(["red", "green", "blue", "rare"], size=rows, p=[0.5, 0.3, 0.199, 0.001])
    flag = rng.integers(0, 2, rows)
    logit = 0.8 * x1 - 0.3 * x2 + np.where(cat == "red", 0.5, 0.0) + 0.4 * flag
    p = 1 / (1 + np.exp(-logit))
    y = (rng.random(rows) < p).astype(int)
    return pd.DataFrame({
        "id": np.arange(rows),
        "x1": x1,
        "x2": x2,
        "color": cat,
        "flag": flag,
        "label": y,
        "score": np.clip(p + rng.normal(0, 0.05, rows), 0, 1),
        "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 30 * 86400, rows), unit="s"),
    })
