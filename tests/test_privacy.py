"""The privacy guard: nothing backed by fewer than k rows, no excluded column, in a profile's JSON."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from stats_data import mixed_frame

from vision_widgets.client import Grid, NumericStats, Profile, Roles, privacy_report, profile


def _people(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "customer_id": [f"CUST-{i:07d}" for i in rng.permutation(10**6)[:n]],
        "email": [f"person{i}@example.org" for i in range(n)],
        "city": rng.choice(["Paris", "Lyon", "Nice", "Brest", "Tulle"], n, p=[0.5, 0.3, 0.19, 0.008, 0.002]),
        "income": rng.lognormal(10, 1, n),
        "age": rng.integers(18, 90, n),
        "churn": rng.integers(0, 2, n),
    })


@pytest.mark.parametrize("k", [5, 10, 25])
def test_nothing_with_fewer_than_k_rows_appears(k):
    df = _people(3000, seed=1)
    prof = profile(df, Roles(target="churn", exclude=("customer_id",)), k=k)
    d = json.loads(prof.to_json())
    assert d["k"] == k
    counts = df["city"].value_counts()
    city = d["columns"]["city"]
    for value, c in counts.items():  # a rare value is never named; a frequent one may join a small "other"
        assert value not in city["counts"] or c >= k
    assert city["other"] == 0 or city["other"] >= k
    for name, col in d["columns"].items():
        if col["type"] == "numeric":
            assert all(c == 0 or c >= k for c in col["histogram"]["counts"]), name
        else:
            assert all(c >= k for c in col["counts"].values()), name
    assert all(c >= k for c in d["model"]["target"]["counts"].values())


def test_pooling_never_leaves_a_small_last_bin():
    # the last few values once joined the empty bin before them and were published as a bin of 8
    h = NumericStats(Grid(0.0, 1.0, np.arange(1, 6)), count=28, counts=np.array([20, 0, 1, 4, 1, 2]),
                     sums=np.zeros(6))
    p = h.pooled(10)
    assert p.counts.tolist() == [28] and p.grid.index.size == 0
    assert p.pooled(10).counts.tolist() == [28]


def test_emails_and_excluded_ids_never_leave():
    df = _people(2000, seed=2)
    prof = profile(df, Roles(target="churn", exclude=("customer_id",)))
    text = prof.to_json()
    assert "customer_id" not in json.loads(text)["columns"]
    assert not any(cid in text for cid in df["customer_id"])
    assert "@" not in text  # every address is unique, so all are pooled into "other"
    assert json.loads(text)["columns"]["email"]["other"] == 2000


def _numbers(obj) -> set[float]:
    if isinstance(obj, dict):
        return set().union(*(_numbers(v) for v in obj.values())) if obj else set()
    if isinstance(obj, list):
        return set().union(*(_numbers(v) for v in obj)) if obj else set()
    return {float(obj)} if isinstance(obj, (int, float)) and not isinstance(obj, bool) else set()


def test_no_exact_minimum_or_maximum():
    df = _people(2000, seed=3)
    d = json.loads(profile(df, Roles(exclude=("customer_id", "email"))).to_json())
    numbers = _numbers(d)
    assert df["income"].min() not in numbers and df["income"].max() not in numbers
    for col in ("income", "age"):
        h = d["columns"][col]["histogram"]
        # the outer bins are open-ended and hold at least k rows: only their mean is given
        for pos in (0, -1):
            assert h["counts"][pos] == 0 or h["counts"][pos] >= 10
        lo, hi = h["tail_means"]
        # an outer mean equals an extreme only when at least k rows share that value
        assert lo is None or lo > df[col].min() or (df[col] == df[col].min()).sum() >= 10
        assert hi is None or hi < df[col].max() or (df[col] == df[col].max()).sum() >= 10
    assert d["columns"]["income"]["histogram"]["counts"][0] >= 10


def test_small_columns_and_windows_are_suppressed():
    rng = np.random.default_rng(4)
    df = pd.DataFrame({"x": np.r_[rng.normal(size=7), np.full(993, np.nan)], "y": rng.normal(size=1000),
                       "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.r_[np.zeros(995), [40] * 5], unit="D")})
    prof = profile(df, Roles(timestamp="ts", features=("y",)), window="1D")
    d = json.loads(prof.to_json())
    # the 5-row window is merged with its neighbour, not dropped (dropped, it is the whole minus the rest)
    assert len(d["windows"]) == 1 and "merged" in " ".join(d["notes"]) and d["windows"][0]["rows"] == 1000
    cur = profile(df[["x", "y"]].iloc[:20], reference=profile(pd.DataFrame({"x": rng.normal(size=500), "y": rng.normal(size=500)})))
    dc = json.loads(cur.to_json())
    assert dc["columns"]["x"].get("suppressed") is True and "mean" not in dc["columns"]["x"]


def test_privacy_report_lists_everything_in_plain_language():
    df = mixed_frame(3000, seed=5)
    prof = profile(df, Roles(target="label", prediction="score", exclude=("id", "ts")))
    lines = privacy_report(prof)
    text = "\n".join(lines)
    assert "no individual row" in text and "fewer than 10 rows" in text
    assert "Excluded columns" in text and "id" in text
    for col in ("x1", "x2", "color", "flag"):
        assert f"'{col}'" in text
    assert "surrogate" in text and "confusion" in text
    assert "'rare'" not in text  # pooled values are not named
    assert privacy_report(Profile.from_json(prof.to_json())) == lines
