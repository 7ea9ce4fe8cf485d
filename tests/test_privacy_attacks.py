"""Attacks on the privacy guard by arithmetic on published numbers (issue 8, defect 6).

Each test plays an attacker who knows every row but one (the strongest background knowledge a
k-threshold can be asked to resist) and tries to recover that row from the published JSON. On the
code before the fix each attack recovered it to ~1e-9; now the best estimate is bounded by what is
published anyway (the clipping bounds of the reference grid).
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from vision_widgets.client import InvalidInput, Profile, Roles, clip_bounds, profile

OUTLIER = 1e9


def _with_outlier(n: int = 2000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(100.0, 10.0, n)
    x[17] = OUTLIER
    return pd.DataFrame({"x": x}), x


def _published(df: pd.DataFrame, reference: Profile | None = None) -> dict:
    return json.loads(profile(df, Roles(), reference=reference).to_json())["columns"]["x"]


def _bound(col: dict) -> float:
    h = col["histogram"]
    return clip_bounds(h["origin"], h["step"], h["cells"])[1]


def _attacks(col: dict, x: np.ndarray) -> dict[str, float]:
    """The attacker's estimates of the outlier, knowing every other value exactly."""
    others = np.delete(x, 17)
    h = col["histogram"]
    top_edge = h["edges"][-1]
    top_others = others[others >= top_edge]
    n = col["count"]
    mean, var = col["mean"], col["variance"]
    # from the top bin's mean x count; from the column's mean x count; from the moments (M2)
    from_tail = h["tail_means"][1] * h["counts"][-1] - top_others.sum()
    from_mean = mean * n - others.sum()
    # n*var = sum(x^2) - n*mean^2  ->  outlier^2 = n*var + n*mean^2 - sum(others^2)
    from_m2 = float(np.sqrt(max(n * var + n * mean * mean - float(np.sum(others ** 2)), 0.0)))
    return {"tail": from_tail, "mean": from_mean, "m2": from_m2}


def test_outlier_is_not_recovered_from_a_reference_profile():
    df, x = _with_outlier()
    col = _published(df)
    bound = _bound(col)
    assert bound < OUTLIER / 1e3  # the bound is derived from the grid, far below the outlier
    for how, est in _attacks(col, x).items():
        # the best the attacker can say is "at least about the clipping bound"
        assert est <= bound + 1e-6 * abs(bound), (how, est)


def test_outlier_is_not_recovered_from_a_current_profile():
    ref_df, _ = _with_outlier(seed=1)
    ref_df.loc[17, "x"] = 100.0
    ref = profile(ref_df, Roles())
    df, x = _with_outlier(seed=2)
    col = _published(df, reference=ref)
    bound = _bound(col)
    for how, est in _attacks(col, x).items():
        assert est <= bound + 1e-6 * abs(bound), (how, est)


def test_low_outlier_is_clipped_too():
    df, x = _with_outlier(seed=3)
    df.loc[17, "x"] = -OUTLIER
    col = _published(df)
    h = col["histogram"]
    lo = clip_bounds(h["origin"], h["step"], h["cells"])[0]
    others = np.delete(x, 17)
    est = h["tail_means"][0] * h["counts"][0] - others[others < h["edges"][0]].sum()
    assert est >= lo - 1e-6 * abs(lo)
    assert col["mean"] * col["count"] - others.sum() >= lo - 1e-6 * abs(lo)


# -- (b) window differencing ------------------------------------------------------------------


def _days(seed: int = 5) -> pd.DataFrame:
    """Three busy days and a fourth with 4 rows (a VIP with an unusual value and class)."""
    rng = np.random.default_rng(seed)
    n = 1500
    df = pd.DataFrame({
        "x": rng.normal(0.0, 1.0, n),
        "tier": rng.choice(["basic", "plus"], n),
        "label": rng.integers(0, 2, n),
        "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 3, n), unit="D"),
    })
    df["pred"] = df["label"]
    small = pd.DataFrame({"x": [2.5, 2.6, 2.7, 2.8], "tier": ["vip"] * 4, "label": [1, 0, 1, 1], "pred": [0, 0, 0, 0],
                          "ts": [pd.Timestamp("2024-01-04T10:00")] * 4})
    return pd.concat([df, small], ignore_index=True)


def _counts(col: dict) -> dict[str, int]:
    return dict(col["counts"], other=col["other"], missing=col["missing"])


def test_a_small_window_is_not_the_whole_minus_the_published_windows():
    df = _days()
    d = json.loads(profile(df, Roles(target="label", prediction="pred", timestamp="ts"), window="1D").to_json())
    windows = d["windows"]
    assert all(w["rows"] >= 10 for w in windows)
    # the attacker's difference: whole minus every published window
    assert d["rows"] - sum(w["rows"] for w in windows) == 0
    whole = _counts(d["columns"]["tier"])
    parts = [_counts(w["columns"]["tier"]) for w in windows]
    common = set.intersection(*(set(p) for p in parts))
    for key in set(whole) & common - {"other"}:  # a value every window names: the difference is exactly 0
        assert whole[key] - sum(p[key] for p in parts) == 0, key
    # what the whole names and some window does not is, in every window, inside an "other" of >= k rows
    assert sum(whole[key] for key in set(whole) - common) + whole["other"] == sum(p["other"] for p in parts)
    assert all(p["other"] == 0 or p["other"] >= 10 for p in parts)
    assert d["columns"]["x"]["count"] == sum(w["columns"]["x"]["count"] for w in windows)
    # the 4 rows of 2024-01-04 are inside a published window of >= k rows, labelled with its span
    last = windows[-1]
    assert last["window"].startswith("2024-01-03") and last["window"].endswith("2024-01-04T00:00:00")
    assert "vip" not in json.dumps(d)
    assert any("merged" in note for note in d["notes"])


def test_merged_windows_round_trip_and_merge():
    from vision_widgets.client import merge

    df = _days()
    roles = Roles(target="label", prediction="pred", timestamp="ts")
    p = Profile.from_json(profile(df, roles, window="1D").to_json())
    assert sum(w.rows for w in p.windows.values()) == p.rows
    both = merge(p, p)
    assert sum(w.rows for w in both.windows.values()) == both.rows


# -- (c) small groups ----------------------------------------------------------------------------


def _small_groups() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 400
    colour = rng.choice(["red", "blue"], n).astype(object)
    colour[:5] = ["teal", "teal", "plum", "plum", "sand"]  # "other" would be 5
    colour[5:7] = None  # missing would be 2
    label = rng.choice(["a", "b"], n).astype(object)
    label[7:10] = "c"  # target "other" would be 3
    pred = label.copy()
    pred[10:13] = np.where(label[10:13] == "a", "b", "a")  # three wrong predictions: cells of 1..3
    return pd.DataFrame({"colour": colour, "label": label, "pred": pred})


def _small_published(d: dict, k: int = 10) -> list[tuple[str, int]]:
    """Every published category count, other, categorical missing and confusion cell of 1..k-1."""
    bad = []

    def cat(where: str, col: dict) -> None:
        for key, c in dict(col["counts"], other=col["other"], missing=col["missing"]).items():
            if 0 < c < k:
                bad.append((f"{where}.{key}", c))

    for part in [d] + d.get("windows", []):
        for name, col in part["columns"].items():
            if col["type"] != "numeric":
                cat(name, col)
        m = part.get("model") or {}
        if m.get("target") and m["target"]["type"] != "numeric":
            cat("target", m["target"])
        if m.get("prediction") and m["prediction"]["type"] != "numeric":
            cat("prediction", m["prediction"])
        for row in (m.get("confusion") or {}).get("matrix", []):
            bad += [("confusion", c) for c in row if 0 < c < k]
    return bad


def test_no_small_other_missing_or_confusion_cell_is_published():
    d = json.loads(profile(_small_groups(), Roles(target="label", prediction="pred")).to_json())
    assert _small_published(d) == []
    colour = d["columns"]["colour"]
    assert colour["missing"] == 0 and colour["other"] >= 10  # the 2 missing rows are counted in "other"
    assert colour["count"] + colour["missing"] == d["rows"]
    assert "confusion" not in d["model"] and d["model"]["confusion_suppressed"] is True


def test_small_groups_in_windows_are_pooled_too():
    df = _small_groups()
    df["ts"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(len(df)) % 4, unit="D")
    d = json.loads(profile(df, Roles(target="label", prediction="pred", timestamp="ts"), window="1D").to_json())
    assert len(d["windows"]) == 4
    assert _small_published(d) == []


def test_pooling_is_idempotent_and_merge_keeps_the_suppression():
    from vision_widgets.client import merge

    prof = profile(_small_groups(), Roles(target="label", prediction="pred"))
    once = Profile.from_json(prof.to_json())
    assert json.loads(once.to_json()) == json.loads(prof.to_json())
    both = merge(once, once)
    assert both.model.confusion_suppressed and not both.model.confusion
    assert _small_published(json.loads(both.to_json())) == []


# -- (b) variations: bins and per-class histograms ---------------------------------------------------


def _scored_days(seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 900
    x = rng.normal(0.0, 1.0, n)
    day = rng.integers(0, 3, n)
    x[(day == 2)] = np.clip(x[(day == 2)], -1.0, 1.0)  # day 3 is sparse in the tails: it pools them
    x[:3] = [3.1, 3.2, 3.3]
    day[:3] = 2
    label = rng.integers(0, 2, n)
    score = np.clip(rng.beta(2, 5, n) + 0.3 * label, 0, 1)
    score[:4] = 0.97  # 4 rows in a high score bin, all of class 0
    label[:4] = 0
    return pd.DataFrame({"x": x, "label": label, "score": score,
                         "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(day, unit="D")})


def test_a_bin_pooled_in_one_window_is_not_the_whole_minus_the_others():
    d = json.loads(profile(_scored_days(), Roles(target="label", prediction="score", timestamp="ts"),
                           window="1D").to_json())
    edges = [tuple(w["columns"]["x"]["histogram"]["edges"]) for w in d["windows"]]
    assert len(set(edges)) == 1  # every window on the same bins: none finer than another
    window_edges = np.array(edges[0])
    whole_edges = np.array(d["columns"]["x"]["histogram"]["edges"])
    assert np.isin(window_edges, whole_edges).all()  # each bin of the whole inside one bin of the windows
    # the attacker's difference on the windows' bins is exactly 0 ...
    pos = np.searchsorted(whole_edges, window_edges)
    bounds = np.concatenate([[0], pos + 1])
    whole_on_windows = np.add.reduceat(d["columns"]["x"]["histogram"]["counts"], bounds)
    assert (whole_on_windows == np.sum([w["columns"]["x"]["histogram"]["counts"] for w in d["windows"]], axis=0)).all()
    # ... and every window count is 0 or >= k
    for w in d["windows"]:
        assert all(c == 0 or c >= 10 for c in w["columns"]["x"]["histogram"]["counts"])


def test_a_class_score_bin_is_not_the_prediction_minus_the_other_classes():
    d = json.loads(profile(_scored_days().drop(columns="ts"), Roles(target="label", prediction="score")).to_json())
    m = d["model"]
    pred = m["prediction"]["histogram"]["edges"]
    for key, h in m["score_histograms"].items():
        assert h["histogram"]["edges"] == pred, key  # one set of edges: no bin is finer in one of them
        assert all(c == 0 or c >= 10 for c in h["histogram"]["counts"])


# -- (c) continued: numeric missing counts, unlabelled scores, residual sums, tiny profiles ---------


def _numeric_missing(d: dict, k: int = 10) -> list[tuple[str, int]]:
    """Every numeric missing count (and count) of 1..k-1 anywhere in the published profile."""
    bad = []
    for part in [d] + d.get("windows", []):
        cols = dict(part["columns"])
        m = part.get("model") or {}
        for role in ("target", "prediction"):
            if m.get(role):
                cols[role] = m[role]
        for key, h in (m.get("score_histograms") or {}).items():
            cols[f"score[{key}]"] = h
        for name, col in cols.items():
            if col["type"] == "numeric":
                bad += [(f"{part.get('window')}:{name}.{f}", col[f]) for f in ("missing", "count") if 0 < col[f] < k]
    return bad


def test_a_numeric_missing_count_below_k_is_not_published():
    rng = np.random.default_rng(21)
    n = 600
    x = rng.normal(0, 1, n)
    x[[3, 99]] = np.nan  # two rows without a value: their count is a group of 2
    sparse = np.full(n, np.nan)
    sparse[:4] = [1.0, 2.0, 3.0, 4.0]  # four values in all: fewer than k
    df = pd.DataFrame({"x": x, "sparse": sparse,
                       "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n) % 3, unit="D")})
    for window in (None, "1D"):
        d = json.loads(profile(df, Roles(timestamp="ts"), window=window).to_json())
        assert _numeric_missing(d) == [], window
        col = d["columns"]["x"]
        assert col["missing"] == 0 and col["count"] == n  # filled in at the mean: rows - count reveals nothing
        assert col["mean"] == pytest.approx(np.nanmean(x), abs=1e-3)
        assert d["columns"]["sparse"] == {"type": "numeric", "count": 0, "missing": n, "suppressed": True}
        for w in d.get("windows", []):
            assert w["columns"]["x"]["count"] + w["columns"]["x"]["missing"] == w["rows"]


def test_a_many_missing_column_still_publishes_its_missing_count():
    x = np.random.default_rng(2).normal(0, 1, 300)
    x[:40] = np.nan
    d = json.loads(profile(pd.DataFrame({"x": x}), Roles()).to_json())
    assert d["columns"]["x"]["missing"] == 40 and d["columns"]["x"]["count"] == 260


def _unlabelled(n_unlabelled: int, seed: int = 31) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 800
    label = rng.integers(0, 2, n).astype(float)
    score = np.clip(rng.beta(2, 5, n) + 0.3 * label, 0, 0.9)
    label[:n_unlabelled] = np.nan  # rows whose label has not arrived ...
    score[:n_unlabelled] = 0.995  # ... with a score no labelled row has
    return pd.DataFrame({"x": rng.normal(0, 1, n), "label": label, "score": score,
                         "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n) % 2, unit="D")})


def _unlabelled_difference(m: dict) -> tuple[int, np.ndarray, float]:
    """The attacker's difference: the prediction minus the per-class score histograms (counts, sum)."""
    pred = m["prediction"]
    classes = list(m["score_histograms"].values())
    edges = pred["histogram"]["edges"]
    assert all(h["histogram"]["edges"] == edges for h in classes)
    counts = np.array(pred["histogram"]["counts"]) - np.sum([h["histogram"]["counts"] for h in classes], axis=0)
    total = pred["mean"] * pred["count"] - sum(h["mean"] * h["count"] for h in classes)
    return pred["count"] - sum(h["count"] for h in classes), counts, total


@pytest.mark.parametrize("window", [None, "1D"])
def test_scores_of_fewer_than_k_unlabelled_rows_are_not_the_prediction_minus_the_classes(window):
    d = json.loads(profile(_unlabelled(3), Roles(target="label", prediction="score", timestamp="ts"),
                           window=window).to_json())
    leaves = d.get("windows") or [d]
    if d.get("windows"):  # the whole's difference is the windows' differences added up
        n, counts, total = _unlabelled_difference(d["model"])
        per = [_unlabelled_difference(w["model"]) for w in leaves]
        assert n == sum(p[0] for p in per) and total == pytest.approx(sum(p[2] for p in per), rel=1e-9)
    for part in leaves:
        n, counts, total = _unlabelled_difference(part["model"])
        pred = part["model"]["prediction"]
        # what is left of the difference are the missing scores filled in at the prediction's mean:
        # their number, but no score (0.995, above every labelled one, is nowhere)
        edges = np.array(pred["histogram"]["edges"])
        at_mean = np.searchsorted(edges, pred["mean"], side="right")
        assert counts.sum() == n and (counts == 0).sum() >= len(counts) - 1 and counts[at_mean] == n
        assert total == pytest.approx(n * pred["mean"], rel=1e-9)
        assert pred["histogram"]["tail_means"][1] is None or pred["histogram"]["tail_means"][1] < 0.95
    assert _numeric_missing(d) == []


def test_scores_of_k_or_more_unlabelled_rows_are_pooled_with_the_classes():
    d = json.loads(profile(_unlabelled(40).drop(columns="ts"), Roles(target="label", prediction="score")).to_json())
    n, counts, _ = _unlabelled_difference(d["model"])
    assert n == 40
    assert all(c == 0 or c >= 10 for c in counts)  # every bin of the difference is backed by >= k rows
    assert counts[-1] == 40  # and the prediction still shows the unlabelled rows' scores


def test_residual_sums_of_a_small_window_are_not_the_whole_minus_the_others():
    rng = np.random.default_rng(41)
    n = 900
    t = rng.normal(5, 2, n)
    day = np.arange(n) % 3
    t[(day == 2)] = np.nan  # day 3's labels have not arrived ...
    t[np.flatnonzero(day == 2)[:3]] = [40.0, 41.0, 42.0]  # ... except three extreme ones
    df = pd.DataFrame({"x": rng.normal(0, 1, n), "t": t, "q": rng.normal(5, 2, n),
                       "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(day, unit="D")})
    d = json.loads(profile(df, Roles(target="t", prediction="q", task="regression", timestamp="ts"),
                           window="1D").to_json())
    whole = d["model"].get("errors")
    parts = [w["model"].get("errors") for w in d["windows"]]
    assert parts[2] is None  # 3 residuals: too few to publish
    if whole:  # then what the whole adds to the published windows is backed by >= k residuals
        assert whole["n"] - sum(p["n"] for p in parts if p) >= 10


def test_a_profile_of_fewer_than_k_rows_is_refused_with_the_reason():
    small = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0]})
    with pytest.raises(InvalidInput, match=r"5 row\(s\), fewer than the privacy threshold k=10"):
        profile(small, Roles()).to_json()


# -- windows whose labels have not arrived (issue 10) ---------------------------------------------


def _labels_pending(seed: int = 41) -> pd.DataFrame:
    """Four daily windows of scored rows: day 3 has 60 labelled rows so far, day 4 none (labels pending)."""
    rng = np.random.default_rng(seed)
    n = 800
    df = pd.DataFrame({"x": rng.normal(size=n), "score": rng.random(n).round(3),
                       "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n) // 200, unit="D")})
    label = (rng.random(n) < df["score"]).astype(float)
    label[400:540] = np.nan  # day 3: 60 labels so far
    label[600:] = np.nan  # day 4: none yet
    df["label"] = pd.array(np.where(np.isnan(label), pd.NA, label), dtype="Int64")
    return df


def test_windows_without_labels_keep_the_other_windows_classes_and_hide_small_label_groups():
    df = _labels_pending()
    d = json.loads(profile(df, Roles(target="label", prediction="score", timestamp="ts"), window="1D").to_json())
    assert _small_published(d) == []
    targets = [w["model"]["target"] for w in d["windows"]]
    # days 1-3 publish their classes (a window with no label at all no longer pools them away) ...
    assert all(set(t["counts"]) == {"0", "1"} for t in targets[:3]) and targets[2]["missing"] == 140
    # ... and day 4 names nothing
    assert targets[3]["counts"] == {} and targets[3]["other"] == 0 and targets[3]["missing"] == 200
    # the whole minus the published windows reveals no group of fewer than k rows
    whole = _counts(d["model"]["target"])
    for key in set(whole):
        diff = whole[key] - sum(_counts(t).get(key, 0) for t in targets)
        assert diff == 0 or diff >= 10, (key, diff)
    for w in d["windows"][:3]:
        assert set(w["model"]["score_histograms"]) == {"0", "1"}
        for h in w["model"]["score_histograms"].values():
            assert all(c == 0 or c >= 10 for c in h["histogram"]["counts"])
