"""The data every connector-type test reads: one deterministic frame, written where each source wants it.

``frame(n)`` has the mix a model's data has: numbers (with a few missing), categories (text), a
binary target and a score. ``profile_of(data)`` profiles it as a reference with those roles, and
``same_profile(a, b)`` compares two profiles' serialised forms.
"""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from vision_widgets import client

ROLES = dict(target="churned", prediction="score")


def frame(n: int = 3000, seed: int = 7) -> pd.DataFrame:
    """``n`` rows: 3 numeric features (one with missing values), 2 categorical, a target and a score."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 90, n).astype("int64")
    income = rng.lognormal(10, 0.5, n)
    income[rng.random(n) < 0.05] = np.nan
    tenure = rng.normal(24, 8, n)
    plan = rng.choice(["basic", "plus", "pro"], n, p=[0.5, 0.3, 0.2])
    region = rng.choice(["north", "south", "east", "west"], n)
    score = 1 / (1 + np.exp(-(0.03 * (age - 50) + (plan == "pro") * 0.8 + rng.normal(0, 1, n))))
    churned = (rng.random(n) < score).astype("int64")
    return pd.DataFrame({"age": age, "income": income, "tenure": tenure, "plan": plan, "region": region,
                         "churned": churned, "score": score})


def roles() -> client.Roles:
    return client.Roles(**ROLES)


def profile_of(data, reference: client.Profile | None = None) -> client.Profile:
    """``data`` profiled (a reference, or a current profile against ``reference``)."""
    return client.profile(data, roles=None if reference is not None else roles(), reference=reference, k=1)


def profiles_equal(a: client.Profile, b: client.Profile) -> bool:
    return a.to_dict() == b.to_dict()


def encoded(df: pd.DataFrame, fmt: str) -> bytes:
    """``df`` as the bytes of a Parquet or CSV file (what an object store holds)."""
    if fmt == "csv":
        return df.to_csv(index=False).encode()
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


# -- fixtures the connector-type tests share (import them into the test module) ------------------
SAMPLE_ROWS = 20_000


@pytest.fixture(scope="module")
def sample_frame() -> pd.DataFrame:
    """The frame every connector-type test stores in its source."""
    return frame(SAMPLE_ROWS)


@pytest.fixture(scope="module")
def file_profile(sample_frame, tmp_path_factory) -> client.Profile:
    """The profile of ``sample_frame`` read from a local Parquet file: what every source must give."""
    path = tmp_path_factory.mktemp("local") / "data.parquet"
    sample_frame.to_parquet(path, index=False)
    return profile_of(path)
