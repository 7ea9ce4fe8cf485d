"""Synthetic monitoring data for the statistics benchmarks: 20 numeric + 5 categorical columns."""
from __future__ import annotations

import numpy as np
import pandas as pd

CATEGORIES = [f"level_{i}" for i in range(8)]
CAT_WEIGHTS = np.array([0.3, 0.2, 0.15, 0.1, 0.1, 0.08, 0.05, 0.02])


def make_frame(rows: int, seed: int, shift: dict[str, float] | None = None) -> pd.DataFrame:
    """``rows`` rows; ``shift`` adds ``s`` standard deviations to the named numeric columns.

    Numeric columns mix shapes (normal, lognormal, exponential, uniform, Student t)
    with different scales, so the edges are not all alike.
    """
    rng = np.random.default_rng(seed)
    shift = shift or {}
    cols: dict[str, object] = {}
    for i in range(20):
        shape = i % 5
        if shape == 0:
            x, sd = rng.normal(10.0 * i, 1.0 + i, rows), 1.0 + i
        elif shape == 1:
            x = rng.lognormal(0.0, 0.5, rows)
            sd = float(np.sqrt((np.exp(0.25) - 1) * np.exp(0.25)))
        elif shape == 2:
            x, sd = rng.exponential(2.0, rows), 2.0
        elif shape == 3:
            x, sd = rng.uniform(-5, 5, rows), 10 / np.sqrt(12)
        else:
            x, sd = rng.standard_t(5, rows), float(np.sqrt(5 / 3))
        name = f"num_{i:02d}"
        cols[name] = x + shift.get(name, 0.0) * sd
    for j in range(5):
        idx = rng.choice(len(CATEGORIES), size=rows, p=CAT_WEIGHTS)
        cols[f"cat_{j}"] = pd.Categorical.from_codes(idx, categories=CATEGORIES).astype(str)
    return pd.DataFrame(cols)
