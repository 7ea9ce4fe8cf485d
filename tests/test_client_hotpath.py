"""The profiling hot path (issue 8, "speed kept"): the faster primitives give the previous results to the bit.

``NumericStats.add`` counts with ``np.add.at`` instead of ``np.bincount``, reference edges come
from a sorted sample, Arrow dictionary columns are counted in place and chunks are read
ahead in a thread. Each is compared here with the method it replaced, written out below as it
was, and with numpy on the raw values.
"""
from __future__ import annotations

import math
import threading

import numpy as np
import pandas as pd
import pytest

from vision_widgets.client import (
    DISCRETE_MAX_VALUES,
    GRID_CELLS,
    CategoryStats,
    Grid,
    NumericStats,
    _ArrowChunk,
    _chan,
    _PandasChunk,
    _ReadAhead,
    clip_bounds,
    profile,
)


def previous_add(st: NumericStats, x: np.ndarray) -> None:
    """``NumericStats.add`` before issue 8's speed work (bincount, maximum + minimum), verbatim."""
    n_all = int(x.size)
    if n_all == 0:
        return
    g = st.grid
    inv = 1.0 / g.step
    u = x * inv
    u += 1.0 - g.origin * inv
    s = float(u.sum())
    if not math.isfinite(s):
        ok = np.isfinite(x)
        x = x[ok]
        u = u[ok]
        s = float(u.sum())
    n = int(x.size)
    st.missing += n_all - n
    if n == 0:
        return
    lo, hi = clip_bounds(g.origin, g.step, g.cells)
    if float(x.min()) < lo or float(x.max()) > hi:
        x = np.clip(x, lo, hi)
        u = x * inv
        u += 1.0 - g.origin * inv
        s = float(u.sum())
    mean_u = s / n
    sq = float(np.einsum("i,i->", u, u))
    m2_u = sq - s * mean_u
    if m2_u < 1e-6 * sq:
        d = u - mean_u
        m2_u = float(np.einsum("i,i->", d, d))
    m2 = max(m2_u, 0.0) * g.step * g.step
    np.maximum(u, 0.0, out=u)
    np.minimum(u, g.cells + 1.0, out=u)
    cell = u.astype(np.intp)
    fine = np.bincount(cell, minlength=g.cells + 2)
    fine_sums = np.bincount(cell, weights=x, minlength=g.cells + 2)
    mean = g.origin + (mean_u - 1.0) * g.step
    st.counts += np.bincount(g.lut, weights=fine, minlength=g.nbins).astype(np.int64)
    st.sums += np.bincount(g.lut, weights=fine_sums, minlength=g.nbins)
    st.count, st.mean, st.m2 = _chan(st.count, st.mean, st.m2, n, mean, m2)


def previous_from_sample(sample: np.ndarray, bins: int) -> Grid:
    """``Grid.from_sample`` before issue 8's speed work: unique and quantiles of the unsorted sample."""
    values = np.unique(sample)
    if values.size <= DISCRETE_MAX_VALUES and np.all(values == np.round(values)):
        discrete = Grid.discrete_from(values)
        if discrete is not None:
            return discrete
    q = np.quantile(sample, np.linspace(0.0, 1.0, bins + 1)[1:-1])
    lo, hi = float(q[0]), float(q[-1])
    if not hi > lo:
        step = 10.0 ** math.floor(math.log10(abs(lo))) * 1e-6 if lo != 0 else 1e-6
        origin = math.floor(lo / step) * step
        return Grid(origin, step, np.array([int(round((lo - origin) / step))], dtype=np.int64))
    step = (hi - lo) / (GRID_CELLS - 1)
    origin = math.floor(lo / step) * step
    index = np.clip(np.round((q - origin) / step), 0, GRID_CELLS).astype(np.int64)
    return Grid(origin, step, np.unique(index))


def _bits(a: float | np.ndarray) -> bytes:
    return np.asarray(a, dtype=np.float64).tobytes()


def _columns() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(8)
    n = 60_000
    with_missing = rng.normal(size=n)
    with_missing[rng.random(n) < 0.05] = np.nan
    with_missing[rng.random(n) < 0.01] = np.inf
    with_missing[rng.random(n) < 0.01] = -np.inf
    outliers = rng.normal(size=n)
    outliers[::997] = 1e9  # beyond the clip bounds: winsorised
    outliers[5] = -1e300
    return {
        "normal": rng.normal(3.0, 2.0, n),
        "lognormal": rng.lognormal(0.0, 2.0, n) * 1e6,
        "student": rng.standard_t(2, n),
        "missing": with_missing,
        "outliers": outliers,
        "far": 1e12 + rng.normal(size=n),  # the cancellation branch
        "poisson": rng.poisson(3.0, n).astype(float),  # a discrete grid
        "all_missing": np.full(n, np.nan),
    }


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # inf - inf in u.sum(), as before
@pytest.mark.parametrize("name", list(_columns()))
@pytest.mark.parametrize("chunk", [60_000, 7_001])
def test_numeric_add_equals_the_previous_method_to_the_bit(name: str, chunk: int) -> None:
    x = _columns()[name]
    fit = x[np.isfinite(x)]
    grid = Grid.from_sample(fit[::3] if fit.size else np.array([0.0, 1.0]), 100)
    # the current profile's case too: the same grid applied to shifted data
    for data in (x, x * 1.5 + 0.3):
        new, old = NumericStats(grid), NumericStats(grid)
        for start in range(0, data.size, chunk):
            new.add(data[start:start + chunk])
            previous_add(old, data[start:start + chunk].copy())
        assert np.array_equal(new.counts, old.counts)
        assert _bits(new.sums) == _bits(old.sums)
        assert (new.count, new.missing) == (old.count, old.missing)
        assert _bits(new.mean) == _bits(old.mean) and _bits(new.m2) == _bits(old.m2)
        # and the raw data: moments of the winsorised finite values. Values 1e12 away from 0 lose
        # digits in u = x / step + const (as they always did): there the variance is good to 1e-6.
        lo, hi = clip_bounds(grid.origin, grid.step, grid.cells)
        raw = np.clip(data[np.isfinite(data)], lo, hi)
        assert new.count == raw.size and new.missing == data.size - raw.size
        if raw.size:
            rel = 1e-6 if name == "far" else 1e-9
            assert new.mean == pytest.approx(raw.mean(), rel=1e-12, abs=1e-12 * grid.step)
            assert new.variance == pytest.approx(raw.var(), rel=rel, abs=1e-6 if name == "far" else 1e-12 * grid.step ** 2)
            assert float(new.sums.sum()) == pytest.approx(raw.sum(), rel=1e-12, abs=1e-9 * grid.step)


@pytest.mark.parametrize("name", ["normal", "lognormal", "student", "far", "poisson", "ties", "few_fractions",
                                  "constant", "zero"])
def test_edges_from_the_sorted_sample_equal_the_previous_ones(name: str) -> None:
    rng = np.random.default_rng(9)
    cols = _columns()
    sample = {
        "ties": np.round(rng.normal(size=50_000), 1),
        "few_fractions": rng.choice([0.5, 1.25, 3.75], 50_000),
        "constant": np.full(50_000, 7.25),
        "zero": np.zeros(50_000),
    }.get(name)
    if sample is None:
        sample = cols[name][:50_000]
    new, old = Grid.from_sample(sample, 100), previous_from_sample(sample, 100)
    assert (new.origin, new.step, new.cells) == (old.origin, old.step, old.cells)
    assert np.array_equal(new.index, old.index)
    assert (new.support is None) == (old.support is None)
    if new.support is not None:
        assert np.array_equal(new.support, old.support)


def test_arrow_dictionary_counts_equal_the_codes_path() -> None:
    pa = pytest.importorskip("pyarrow")
    rng = np.random.default_rng(10)
    values = rng.choice(["b", "a", "c", "d"], 10_000)
    with_nulls = pa.array([None if i % 7 == 0 else v for i, v in enumerate(values)]).dictionary_encode()
    batch = pa.RecordBatch.from_pydict({
        "dict32": pa.array(values).dictionary_encode(),
        "dict8": pa.DictionaryArray.from_arrays(pa.array(rng.integers(0, 3, 10_000), type=pa.int8()),
                                                pa.array(["x", "y", "z", "unused"])),
        "nulls": with_nulls,
        "plain": pa.array(values),
        "ints": pa.array(rng.integers(0, 5, 10_000)),
    })
    chunk = _ArrowChunk(batch, 0)
    for col in batch.schema.names:
        fast, slow = CategoryStats(), CategoryStats()
        fast.add_counts(*chunk.value_counts(col), name=col)
        slow.add_codes(*chunk.codes(col), name=col)
        assert list(fast.counts.items()) == list(slow.counts.items())  # same values, same order
        assert fast.missing == slow.missing
        pandas_side = CategoryStats()
        pandas_side.add_counts(*_PandasChunk(batch.to_pandas(), 0).value_counts(col), name=col)
        assert pandas_side.counts == slow.counts and pandas_side.missing == slow.missing


def test_parquet_profile_equals_the_dataframe_profile(tmp_path) -> None:
    pytest.importorskip("pyarrow")
    rng = np.random.default_rng(11)
    n = 30_000
    df = pd.DataFrame({"x": rng.normal(size=n), "k": rng.poisson(2.0, n), "c": rng.choice(list("pqrs"), n),
                       "m": pd.Series(rng.choice(["u", "v", None], n), dtype=object)})
    df.to_parquet(tmp_path / "d.parquet")
    for chunk_rows in (4_096, 1 << 18):
        a = profile(df, chunk_rows=chunk_rows)
        b = profile(tmp_path / "d.parquet", chunk_rows=chunk_rows)
        assert a.to_json() == b.to_json()
        assert profile(df, reference=a, chunk_rows=chunk_rows).to_json() == \
            profile(tmp_path / "d.parquet", reference=b, chunk_rows=chunk_rows).to_json()


def test_read_ahead_yields_in_order_and_raises_where_the_reader_failed() -> None:
    def chunks():
        for i in range(3):
            yield i, i / 3
        raise ValueError("chunk 3 is broken")

    got = []
    with pytest.raises(ValueError, match="chunk 3"):
        for item in _ReadAhead(chunks()):
            got.append(item)
    assert got == [(0, 0.0), (1, 1 / 3), (2, 2 / 3)]


def test_read_ahead_close_stops_the_reader_and_closes_the_source() -> None:
    closed = threading.Event()

    def endless():
        try:
            i = 0
            while True:
                yield i, 0.0
                i += 1
        finally:
            closed.set()

    reader = _ReadAhead(endless())
    assert next(reader) == (0, 0.0)
    reader.close()
    assert closed.is_set()
    assert not reader._thread.is_alive()


def test_read_ahead_reads_at_most_one_chunk_beyond_the_callers() -> None:
    produced = []

    def counted():
        for i in range(10):
            produced.append(i)
            yield i, 0.0

    reader = _ReadAhead(counted())
    try:
        assert next(reader) == (0, 0.0)
        deadline = threading.Event()
        deadline.wait(0.3)  # ample time for a reader that would run ahead
        assert produced == [0, 1]
        assert [item for item, _ in reader] == list(range(1, 10))
    finally:
        reader.close()
