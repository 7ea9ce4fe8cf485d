"""merge() is exact, associative and commutative; chunking does not change a profile."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vision_widgets.client import (
    CategoryStats,
    NumericStats,
    Profile,
    Roles,
    merge,
    profile,
)

ROLES = Roles(target="y", prediction="p")
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _frame(rng: np.random.Generator, n: int) -> pd.DataFrame:
    x = rng.normal(0, 1, n)
    x[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame({
        "x": x,
        "z": rng.exponential(3, n),
        "c": rng.choice(["a", "b", "c", "d"], size=n),
        "y": rng.integers(0, 2, n),
        "p": rng.random(n),
    })


@pytest.fixture(scope="module")
def reference() -> Profile:
    return Profile.from_json(profile(_frame(np.random.default_rng(0), 3000), ROLES).to_json())


def assert_same(a: Profile, b: Profile) -> None:
    assert a.rows == b.rows
    for name, col in a.columns.items():
        other = b.columns[name]
        assert col.missing == other.missing
        if isinstance(col, NumericStats):
            assert col.count == other.count
            assert np.array_equal(col.counts, other.counts)
            assert other.mean == pytest.approx(col.mean, rel=1e-9, abs=1e-12)
            assert other.m2 == pytest.approx(col.m2, rel=1e-9, abs=1e-9)
            assert np.allclose(col.sums, other.sums, rtol=1e-9, atol=1e-9)
        else:
            assert isinstance(col, CategoryStats)
            assert col.counts == other.counts and col.other == other.other
    assert a.model.confusion == b.model.confusion
    assert a.model.target.counts == b.model.target.counts
    for key, h in a.model.score_hist.items():
        assert np.array_equal(h.counts, b.model.score_hist[key].counts)


cuts = st.lists(st.integers(min_value=1, max_value=799), min_size=2, max_size=2, unique=True).map(sorted)


@SETTINGS
@given(seed=st.integers(0, 10_000), cut=cuts)
def test_merge_is_exact_associative_and_commutative(reference, seed, cut):
    df = _frame(np.random.default_rng(seed), 800)
    i, j = cut
    a, b, c = (profile(part, reference=reference) for part in (df.iloc[:i], df.iloc[i:j], df.iloc[j:]))
    whole = profile(df, reference=reference)
    assert_same(merge(merge(a, b), c), whole)
    assert_same(merge(a, merge(b, c)), whole)
    assert_same(merge(b, a), merge(a, b))
    assert_same(merge(c, merge(a, b)), whole)


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(50, 600), chunk=st.integers(1, 700))
def test_chunked_profiling_equals_whole_frame(seed, n, chunk):
    df = _frame(np.random.default_rng(seed), n)
    assert_same(profile(df, ROLES, chunk_rows=chunk), profile(df, ROLES, chunk_rows=10_000))


def test_merge_refuses_profiles_with_different_edges():
    rng = np.random.default_rng(1)
    a = profile(_frame(rng, 500), ROLES)
    b = profile(_frame(rng, 500), ROLES)
    with pytest.raises(ValueError, match="different bin edges"):
        merge(a, b)


def test_merged_windows_keep_labels(reference):
    df = _frame(np.random.default_rng(5), 1000)
    a = profile(df.iloc[:500], reference=reference, window=100)
    b = profile(df.iloc[500:], reference=reference, window=100)
    m = merge(a, b)
    assert m.rows == 1000 and set(m.windows) == set(a.windows)
    assert m.windows["rows 0-99"].rows == 200
