"""merge() of pooled profiles (read back from JSON): the privacy guard's coarser edges still merge.

Each configuration profiles two disjoint halves of a production frame against one reference,
reads both back with ``Profile.from_json`` (pooled), merges them and checks the result against
the exact merge of the unpooled halves (itself equal to the profile of the union, see
test_client_merge.py): what survived pooling is exact, everything published is backed by ≥ k rows,
and the merge is commutative, associative and idempotent under the guard.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vision_widgets.client import (
    CategoryStats,
    InvalidInput,
    NumericStats,
    Profile,
    Roles,
    merge,
    profile,
)

K = 10
CLS = Roles(target="y", prediction="p")
REG = Roles(target="t", prediction="q", task="regression")


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, n)
    x[rng.random(n) < 0.05] = np.nan
    y = rng.integers(0, 2, n)
    return pd.DataFrame({
        "x": x,
        "z": rng.exponential(3, n),
        "c": rng.choice(["a", "b"], size=n),
        "y": y,
        "p": np.clip(0.3 * y + rng.random(n) * 0.7, 0, 1),
        "t": rng.normal(5, 2, n),
        "q": rng.normal(5, 2, n),
        "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 4 * 86400, n), unit="s"),
    })


def _halves(n: int = 600, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    df = _frame(n, seed)
    half = n // 2
    return df.iloc[:half].reset_index(drop=True), df.iloc[half:].reset_index(drop=True)


def _pooled(p: Profile) -> Profile:
    return Profile.from_json(p.to_json())


def _reference(roles: Roles, features: tuple[str, ...]) -> Profile:
    r = Roles(features=features, target=roles.target, prediction=roles.prediction, task=roles.task)
    return _pooled(profile(_frame(3000, 0), r))


# -- checks ---------------------------------------------------------------------------


def _rebinned(h: NumericStats, index: np.ndarray) -> np.ndarray:
    """Counts of an exact histogram summed into the bins of the (coarser) edges ``index``."""
    pos = np.searchsorted(h.grid.index, index)
    assert np.array_equal(h.grid.index[pos], index), "merged edges must be reference edges"
    return np.add.reduceat(h.counts, np.concatenate([[0], pos + 1]))


def _check_numeric(m: NumericStats, exact: NumericStats, where: str) -> None:
    assert m.count + m.missing == exact.count + exact.missing, where
    if m.suppressed:
        assert m.count == 0, where  # fewer than k values are published as missing
        return
    # a part missing 1..k-1 values publishes them filled in at its mean (the privacy guard: a
    # missing count is a group of rows); each of the <= 8 parts (2 halves x 4 days) fills < k
    filled = m.count - exact.count
    assert 0 <= filled < 8 * K and (m.missing == 0 or m.missing >= K), where
    if filled == 0:
        assert m.mean == pytest.approx(exact.mean, rel=1e-9, abs=1e-12), where
        assert m.m2 == pytest.approx(exact.m2, rel=1e-9, abs=1e-9), where
    else:  # values at the parts' means: the mean moves a little, the spread shrinks a little
        assert m.mean == pytest.approx(exact.mean, abs=0.05 * exact.std), where
        assert exact.m2 * 0.9 <= m.m2 <= exact.m2 * 1.01, where
    extra = m.counts - _rebinned(exact, m.grid.index)
    assert (extra >= 0).all() and extra.sum() == filled, where
    assert all(c == 0 or c >= K for c in m.counts), where


def _check_category(m: CategoryStats, exact: CategoryStats, where: str, both: set[str]) -> None:
    assert m.count == exact.count and m.missing == exact.missing, where
    assert all(c >= K for c in m.counts.values()), where
    for key, c in m.counts.items():
        assert c <= exact.counts[key], where
        if key in both:
            assert c == exact.counts[key], where


def _check_column(m, exact, where: str, a, b) -> None:
    if isinstance(m, NumericStats):
        _check_numeric(m, exact, where)
    else:
        _check_category(m, exact, where, set(a.counts) & set(b.counts))


def _check_body(m: Profile, exact: Profile, a: Profile, b: Profile) -> None:
    assert m.rows == exact.rows
    for name, col in m.columns.items():
        _check_column(col, exact.columns[name], name, a.columns[name], b.columns[name])
    if m.model is None:
        return
    for part in ("target", "prediction"):
        _check_column(getattr(m.model, part), getattr(exact.model, part), part,
                      getattr(a.model, part), getattr(b.model, part))
    for key, h in m.model.score_hist.items():
        _check_numeric(h, exact.model.score_hist[key], f"score[{key}]")
    if m.model.errors:
        assert m.model.errors["n"] == exact.model.errors["n"]
        for key in ("sum", "sum_abs", "sum_sq"):
            assert m.model.errors[key] == pytest.approx(exact.model.errors[key], rel=1e-9, abs=1e-9)


def _published_is_private(m: Profile) -> None:
    """Every number of the merge is backed by >= k rows, and applying the guard again changes nothing."""
    assert m.pooled
    again = Profile.from_json(m.to_json())
    assert _close(m.private().to_dict(), m.to_dict())
    assert _close(again.to_dict(), m.to_dict())
    for body in [again, *again.windows.values()]:
        assert body.rows >= K
        cols = dict(body.columns)
        if body.model is not None:
            cols.update(target=body.model.target, prediction=body.model.prediction,
                        **{f"score[{k}]": h for k, h in body.model.score_hist.items()})
        for name, col in cols.items():
            if isinstance(col, NumericStats):
                assert col.suppressed or col.count == 0 or col.count >= K, name
                assert all(c == 0 or c >= K for c in col.counts), name
            elif isinstance(col, CategoryStats):
                assert all(c >= K for c in col.counts.values()), name


def _close(x, y) -> bool:
    """Equal JSON-ready structures, floats within 1e-9 (merge order changes the last bits)."""
    if isinstance(x, dict) and isinstance(y, dict):
        return set(x) == set(y) and all(_close(x[key], y[key]) for key in x)
    if isinstance(x, list) and isinstance(y, list):
        return len(x) == len(y) and all(_close(u, v) for u, v in zip(x, y))
    if isinstance(x, float) or isinstance(y, float):
        return x == pytest.approx(y, rel=1e-9, abs=1e-9)
    return x == y


def _same(p: Profile, q: Profile) -> bool:
    d, e = p.to_dict(), q.to_dict()
    d["notes"], e["notes"] = sorted(d["notes"]), sorted(e["notes"])
    return _close(d, e)


def _merge_checked(ref: Profile, parts: list[pd.DataFrame], **kw) -> Profile:
    """Profile each part against ``ref``, pool it, merge; check against the exact merge."""
    raw = [profile(part, reference=ref, **kw) for part in parts]
    pooled = [_pooled(r) for r in raw]
    m = merge(pooled[0], pooled[1])
    exact = merge(raw[0], raw[1])
    _check_body(m, exact, pooled[0], pooled[1])
    for label, w in m.windows.items():
        a, b = pooled[0].windows.get(label), pooled[1].windows.get(label)
        if a is not None and b is not None:
            _check_body(w, exact.windows[label], a, b)
        else:  # carried over from the one side that published it
            assert _close(w._dict(top=False), (a or b)._dict(top=False))
    assert set(m.windows) == set(pooled[0].windows) | set(pooled[1].windows)
    _published_is_private(m)
    assert _same(merge(pooled[1], pooled[0]), m)
    if len(parts) == 3:
        c = pooled[2]
        assert _same(merge(merge(pooled[0], pooled[1]), c), merge(pooled[0], merge(pooled[1], c)))
        assert _same(merge(c, merge(pooled[0], pooled[1])), merge(merge(pooled[0], pooled[1]), c))
    return m


def _thirds(df: pd.DataFrame) -> list[pd.DataFrame]:
    n = len(df)
    return [df.iloc[: n // 3], df.iloc[n // 3: 2 * n // 3], df.iloc[2 * n // 3:]]


# -- the five configurations ----------------------------------------------------------


def test_plain_numeric_columns_merge_after_pooling():
    ref = _reference(Roles(), ("x", "z"))
    a, b = _halves()
    assert not np.array_equal(_pooled(profile(a, reference=ref)).columns["x"].grid.index,
                              _pooled(profile(b, reference=ref)).columns["x"].grid.index)
    m = _merge_checked(ref, [a, b])
    whole = profile(pd.concat([a, b]), reference=ref)
    assert m.columns["x"].count == whole.columns["x"].count
    assert m.columns["x"].mean == pytest.approx(whole.columns["x"].mean, rel=1e-9)
    _merge_checked(ref, _thirds(pd.concat([a, b])))


def test_a_pooled_and_an_in_memory_profile_merge_into_a_private_one():
    ref = _reference(CLS, ("x", "z", "c"))
    a, b = _halves()
    raw_b = profile(b, reference=ref)
    m = merge(_pooled(profile(a, reference=ref)), raw_b)
    _published_is_private(m)
    assert m.rows == len(a) + len(b)
    # the same numbers as merging two JSON profiles, but for the tail means: in memory they use
    # the exact sums inside bins that JSON replaces by bin midpoints
    assert _close(_no_tails(m.to_dict()), _no_tails(merge(_pooled(profile(a, reference=ref)), _pooled(raw_b)).to_dict()))


def _no_tails(d):
    if isinstance(d, dict):
        return {key: _no_tails(v) for key, v in d.items() if key != "tail_means"}
    return [_no_tails(v) for v in d] if isinstance(d, list) else d


def test_a_column_suppressed_on_one_side_stays_suppressed():
    ref = _reference(Roles(), ("x", "z"))
    a, b = _halves()
    a = a.assign(x=np.r_[a["x"].to_numpy()[:5], np.full(len(a) - 5, np.nan)])
    pa, pb = _pooled(profile(a, reference=ref)), _pooled(profile(b, reference=ref))
    assert pa.columns["x"].suppressed and not pb.columns["x"].suppressed
    m = merge(pa, pb)
    x = m.columns["x"]
    assert x.suppressed and x.count == pa.columns["x"].count + pb.columns["x"].count
    assert x.missing == pa.columns["x"].missing + pb.columns["x"].missing
    assert x.count + x.missing == len(a) + len(b)
    _published_is_private(m)
    assert _same(merge(pb, pa), m)


def test_score_histograms_merge_after_pooling():
    ref = _reference(CLS, ("x",))
    a, b = _halves()
    m = _merge_checked(ref, [a, b])
    assert set(m.model.score_hist) == {"0", "1"}
    # each class's merged score histogram holds every row of that class
    assert {key: h.count for key, h in m.model.score_hist.items()} == m.model.target.counts
    # 300-row halves of random scores pool into one bin per class: no rank statistic in that (it was 0.5)
    assert all(not h.grid.edges.size for h in m.model.score_hist.values()) and m.roc_auc() is None
    _merge_checked(ref, _thirds(pd.concat([a, b])))


@pytest.mark.parametrize("window", [100, "1D"])
def test_windows_merge_after_pooling(window):
    ref = _reference(CLS, ("x", "z"))
    a, b = _halves()
    kw = {"window": window, "roles": Roles(features=("x", "z"), target="y", prediction="p", timestamp="ts")}
    m = _merge_checked(ref, [a.sort_values("ts"), b.sort_values("ts")], **kw)
    assert m.windows and m.rows == len(a) + len(b)
    _merge_checked(ref, _thirds(pd.concat([a, b]).sort_values("ts")), **kw)


def test_a_window_published_on_one_side_only_is_carried_over():
    ref = _reference(CLS, ("x",))
    a, b = _halves()
    a = a.assign(ts=pd.Timestamp("2024-01-01"))
    a.loc[:4, "ts"] = pd.Timestamp("2024-01-03")  # 5 rows: below k, merged into a's window before it
    b = b.assign(ts=pd.Timestamp("2024-01-03"))
    m = _merge_checked(ref, [a, b], window="1D", roles=Roles(features=("x",), target="y", prediction="p", timestamp="ts"))
    assert set(m.windows) == {"2024-01-01T00:00:00 … 2024-01-03T00:00:00", "2024-01-03T00:00:00"}
    assert m.windows["2024-01-03T00:00:00"].rows == len(b)  # a's 5 rows there are not recoverable
    assert m.windows["2024-01-01T00:00:00 … 2024-01-03T00:00:00"].rows == len(a)
    assert m.rows == len(a) + len(b)


def test_categories_pooled_differently_on_each_side_merge():
    ref_frame = _frame(3000, 0).assign(c=lambda d: np.resize(["a", "b", "r", "s"], len(d)))
    ref = _pooled(profile(ref_frame, Roles(features=("c", "x"))))
    a, b = _halves()
    a.loc[:11, "c"] = "r"  # r: 12 rows in a (kept), 5 in b (pooled)
    b.loc[:4, "c"] = "r"
    a.loc[20:23, "c"] = "s"  # s: 4 rows in a (pooled), 11 in b (kept)
    b.loc[20:30, "c"] = "s"
    a.loc[40:45, "c"] = "t"  # t: 6 and 5 rows, pooled on both sides ("other" holds >= k on each)
    b.loc[40:44, "c"] = "t"
    pa, pb = _pooled(profile(a, reference=ref)), _pooled(profile(b, reference=ref))
    assert "r" in pa.columns["c"].counts and "r" not in pb.columns["c"].counts
    assert "s" in pb.columns["c"].counts and "s" not in pa.columns["c"].counts
    m = _merge_checked(ref, [a, b])
    c = m.columns["c"]
    assert c.counts["r"] == 12 and c.counts["s"] == 11  # the other side's few stay in "other"
    assert c.other == 5 + 4 + 6 + 5 and c.count == len(a) + len(b)


def test_regression_target_and_prediction_merge_after_pooling():
    ref = _reference(REG, ("x",))
    a, b = _halves()
    m = _merge_checked(ref, [a, b])
    assert m.model.task == "regression" and m.model.errors["n"] == len(a) + len(b)
    _merge_checked(ref, _thirds(pd.concat([a, b])))


# -- edges that cannot be reconciled --------------------------------------------------


def test_profiles_against_different_references_say_so():
    a, b = _halves()
    ref1 = _reference(Roles(), ("x",))
    ref2 = _pooled(profile(_frame(3000, 99).assign(x=lambda d: d["x"] * 3 + 1), Roles(features=("x",))))
    pa, pb = _pooled(profile(a, reference=ref1)), _pooled(profile(b, reference=ref2))
    for left, right in ((pa, pb), (ref1, ref2)):  # current profiles, and the references themselves
        with pytest.raises(InvalidInput, match="different references") as info:
            merge(left, right)
        assert "same reference" in str(info.value)


def test_refusals_name_the_cause():
    a, b = _halves()
    ref1 = _reference(Roles(), ("x",))
    ref2 = _pooled(profile(_frame(3000, 99).assign(x=lambda d: d["x"] * 3 + 1), Roles(features=("x",))))
    pa, pb = _pooled(profile(a, reference=ref1)), _pooled(profile(b, reference=ref2))
    with pytest.raises(InvalidInput) as info:  # the two reference fingerprints, so a person can tell which is which
        merge(pa, pb)
    assert ref1.fingerprint() in str(info.value) and ref2.fingerprint() in str(info.value)
    assert info.value.field == "reference_id"
    old = _pooled(profile(b, reference=ref1))
    old.schema_version = 0
    with pytest.raises(InvalidInput, match=r"different schema versions \(1 and 0\)") as info:
        merge(pa, old)
    assert info.value.field == "schema_version"
    d = pa.to_dict()
    d["schema_version"] = 2
    with pytest.raises(InvalidInput, match="schema version 2 but this client reads version 1"):
        Profile.from_json(d)
