"""Profiling: exact aggregates, readers (DataFrame/CSV/Parquet), windows, labels, bad input."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from stats_data import mixed_frame, numeric_frame

from vision_widgets.client import (
    SCHEMA_VERSION,
    InvalidInput,
    NumericStats,
    Profile,
    Roles,
    merge,
    profile,
)

ROLES = Roles(target="label", prediction="score", timestamp="ts", exclude=("id",))


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return mixed_frame(20_000, seed=1)


@pytest.fixture(scope="module")
def ref(frame: pd.DataFrame) -> Profile:
    return profile(frame, ROLES)


def test_numeric_moments_and_counts_match_numpy(frame, ref):
    col = ref.columns["x2"]
    assert isinstance(col, NumericStats)
    assert col.count == len(frame) and col.missing == 0
    assert col.mean == pytest.approx(frame["x2"].mean(), rel=1e-12)
    assert col.variance == pytest.approx(frame["x2"].var(ddof=0), rel=1e-10)
    assert int(col.counts.sum()) == len(frame)
    edges = col.grid.edges
    expected = np.bincount(np.searchsorted(edges, frame["x2"].to_numpy(), side="right"), minlength=edges.size + 1)
    # grid binning agrees with plain comparisons except possibly for values within 1 ulp of an edge
    assert np.abs(expected - col.counts).sum() <= 2


def test_types_inferred_and_roles_respected(ref):
    assert ref.types() == {"x1": "numeric", "x2": "numeric", "color": "categorical", "flag": "binary"}
    assert "id" not in ref.columns and "label" not in ref.columns
    assert ref.model is not None and ref.model.task == "classification"
    assert ref.model.prediction_kind == "score" and ref.model.positive_class == "1"


def test_reference_edges_are_open_ended_quantiles(frame, ref):
    col = ref.columns["x1"]
    edges = col.grid.edges
    assert 90 <= edges.size <= 99  # 100 quantile bins, outer bins open
    # no edge is the exact minimum or maximum
    assert edges[0] > frame["x1"].min() and edges[-1] < frame["x1"].max()
    share = col.counts / col.counts.sum()
    assert share.max() < 0.03  # roughly equal-mass bins


def test_confusion_and_class_balance(frame, ref):
    m = ref.model
    assert m.target.counts == {str(k): int(v) for k, v in frame["label"].value_counts().items()}
    pred = (frame["score"] >= 0.5).astype(int).astype(str)
    truth = frame["label"].astype(str)
    for (t, p), c in m.confusion.items():
        assert c == int(((truth == t) & (pred == p)).sum())
    assert sum(m.confusion.values()) == len(frame)


def test_roc_auc_from_score_histograms(frame, ref):
    y, s = frame["label"].to_numpy(), frame["score"].to_numpy()
    ranks = pd.Series(s).rank().to_numpy()
    n1, n0 = y.sum(), (1 - y).sum()
    exact = (ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)
    assert ref.roc_auc() == pytest.approx(exact, abs=0.01)
    assert Profile.from_json(ref.to_json()).roc_auc() == pytest.approx(exact, abs=0.01)


def test_regression_errors():
    rng = np.random.default_rng(3)
    x = rng.normal(size=5000)
    y = 2 * x + rng.normal(size=5000)
    df = pd.DataFrame({"x": x, "y": y, "pred": 2 * x})
    p = profile(df, Roles(target="y", prediction="pred"))
    assert p.model.task == "regression"
    e = p.model.errors
    assert e["sum_abs"] / e["n"] == pytest.approx(np.abs(2 * x - y).mean())
    assert p.surrogate is not None and p.surrogate.kind == "linear"


def test_json_round_trip_is_exact(ref):
    text = ref.to_json()
    back = Profile.from_json(text)
    assert back.to_json() == text
    d = json.loads(text)
    assert d["schema_version"] == SCHEMA_VERSION and d["k"] == 10


@pytest.mark.parametrize("chunk_rows", [997, 4096, 50_000])
def test_chunked_equals_whole_frame(frame, ref, chunk_rows):
    p = profile(frame, ROLES, chunk_rows=chunk_rows)
    for name, col in ref.columns.items():
        other = p.columns[name]
        if isinstance(col, NumericStats):
            assert np.array_equal(col.counts, other.counts)
            assert other.mean == pytest.approx(col.mean, rel=1e-12, abs=1e-12)
            assert other.m2 == pytest.approx(col.m2, rel=1e-10)
        else:
            assert col.counts == other.counts
    assert p.model.confusion == ref.model.confusion
    assert p.surrogate.coefficients == pytest.approx(ref.surrogate.coefficients, rel=1e-9)


def test_csv_and_parquet_files_equal_the_dataframe(tmp_path, frame, ref):
    csv, pq = tmp_path / "d.csv", tmp_path / "d.parquet"
    frame.to_csv(csv, index=False)
    frame.to_parquet(pq)
    seen = []
    from_csv = profile(csv, ROLES, chunk_rows=3000, progress=seen.append)
    from_pq = profile(pq, ROLES, chunk_rows=3000)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) > 3
    for p in (from_csv, from_pq):
        assert p.rows == ref.rows
        assert np.array_equal(p.columns["x1"].counts, ref.columns["x1"].counts)
        assert p.columns["color"].counts == ref.columns["color"].counts
        assert p.columns["flag"].counts == ref.columns["flag"].counts
        assert p.columns["x2"].mean == pytest.approx(ref.columns["x2"].mean, rel=1e-9)


def test_current_profile_takes_reference_edges(frame, ref):
    cur = profile(frame.iloc[:5000], reference=Profile.from_json(ref.to_json()))
    assert cur.reference_id == ref.fingerprint()
    assert cur.columns["x1"].grid.same(Profile.from_json(ref.to_json()).columns["x1"].grid)


def test_time_windows(frame):
    p = profile(frame, ROLES, window="7D")
    assert 4 <= len(p.windows) <= 6
    assert sum(w.rows for w in p.windows.values()) == len(frame)
    merged = None
    for w in p.windows.values():
        merged = w if merged is None else merge(merged, w)
    assert np.array_equal(merged.columns["x1"].counts, p.columns["x1"].counts)
    day = profile(frame, ROLES, window="1D")
    assert len(day.windows) == 30
    month = profile(frame, ROLES, window="1M")
    assert list(month.windows) == ["2024-01"]
    rows = profile(frame, ROLES, window=5000)
    assert [w.rows for w in rows.windows.values()] == [5000] * 4
    d = json.loads(p.to_json())
    assert len(d["windows"]) == len(p.windows)


# ----------------------------------------------------------------- bad input ----------

def _raises(match: str, fn, *args, **kwargs) -> str:
    with pytest.raises(InvalidInput, match=match) as info:
        fn(*args, **kwargs)
    return str(info.value)


def test_empty_file_and_header_only(tmp_path):
    empty = tmp_path / "e.csv"
    empty.write_text("")
    _raises("empty", profile, empty)
    head = tmp_path / "h.csv"
    head.write_text("a,b\n")
    _raises("no rows", profile, head)
    pq = tmp_path / "h.parquet"
    pd.DataFrame({"a": pd.Series([], dtype=float)}).to_parquet(pq)
    _raises("no rows", profile, pq)


def test_missing_column_named():
    df = numeric_frame(100, 2, seed=1)
    msg = _raises("'label'", profile, df, Roles(target="label"))
    assert "f00" in msg  # lists the columns that exist


def test_all_missing_and_constant_columns():
    df = numeric_frame(200, 2, seed=1)
    _raises("'gone'.*no values.*exclude", profile, df.assign(gone=np.nan))
    _raises("'flat'.*constant.*exclude", profile, df.assign(flat=3.0))
    _raises("'word'.*constant", profile, df.assign(word="same"))


def test_mixed_types_in_dataframe_and_in_a_later_csv_chunk(tmp_path):
    df = numeric_frame(300, 1, seed=1)
    mixed = df.assign(m=pd.Series([1, "two"] * 150, dtype=object))
    _raises("'m'.*mixes numbers and text", profile, mixed)
    csv = tmp_path / "m.csv"
    values = [str(v) for v in np.arange(20_000, dtype=float)]
    values[15_000] = "oops"
    pd.DataFrame({"a": np.arange(20_000.0), "b": values}).to_csv(csv, index=False)
    msg = _raises("'b'.*oops", profile, csv, chunk_rows=4000)
    assert "row 15001" in msg


def test_not_utf8(tmp_path):
    p = tmp_path / "latin.csv"
    p.write_bytes("name,v\n".encode() + "Zoë,1\n".encode("latin-1") * 20)
    _raises("not UTF-8", profile, p)


def test_unparseable_timestamp():
    df = numeric_frame(50, 1, seed=1).assign(ts=["2024-01-01"] * 49 + ["yesterday"])
    _raises("'ts'.*yesterday", profile, df, Roles(timestamp="ts"), window="1D")


def test_current_must_match_reference(frame, ref):
    _raises("lacks the reference's column", profile, frame.drop(columns=["x2"]), reference=ref)
    bad = frame.assign(x1=["a"] * len(frame))
    _raises("'x1'", profile, bad, reference=ref)


@pytest.mark.parametrize("edit, match", [
    (lambda d: d.update(schema_version=99), "schema version 99"),
    (lambda d: d["columns"]["x1"]["histogram"]["counts"].__setitem__(3, 123456), "add up"),
    (lambda d: d["columns"]["color"].update(counts={"red": "many"}), "whole number"),
    (lambda d: d["columns"]["x1"].update(type="weird"), "type"),
    (lambda d: d["columns"]["x1"]["histogram"].update(step=-1), "step"),
    (lambda d: d.pop("k"), "k is missing"),
    (lambda d: d.update(schema="other"), "not a Vision profile"),
])
def test_hand_edited_json_is_refused(ref, edit, match):
    d = json.loads(ref.to_json())
    edit(d)
    _raises(match, Profile.from_json, json.dumps(d))


def test_not_json():
    _raises("not valid JSON", Profile.from_json, "{nope")
