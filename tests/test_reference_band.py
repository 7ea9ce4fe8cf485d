"""The data-driven band (threshold_mode="reference_chunks") against the same band on raw data.

NannyML's band is mean + 3 std of the statistic between each reference chunk and the whole
reference, and a chunk alerts when its own statistic, computed the same way, is above it. Ours
compares published (privacy-pooled) histograms, and a current profile's windows share jointly
pooled bins: one sparse window coarsens the bins of all. A band learnt on the reference's finer
bins then judges a statistic computed on coarser ones — for Jensen–Shannon, whose value grows with
the number of bins, far too high a band (NannyML's car loan data: a drifted chunk missed). The
band must be learnt on the partition the comparison it judges uses; these tests compute that band
with NumPy/SciPy from the raw rows binned on the published edges.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon

from vision_widgets.client import Profile, profile
from vision_widgets.core.stats.drift import DriftSettings, drift

CHUNK = 5000


def _hist(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    counts = np.histogram(x, np.concatenate([[-np.inf], edges, [np.inf]]))[0]
    return counts / counts.sum()


def _raw_ks(a: np.ndarray, b: np.ndarray, edges: np.ndarray) -> float:
    return float(np.max(np.abs(np.cumsum(_hist(a, edges)) - np.cumsum(_hist(b, edges)))))


def _raw_js(a: np.ndarray, b: np.ndarray, edges: np.ndarray) -> float:
    return float(jensenshannon(_hist(a, edges), _hist(b, edges)))


RAW = {"ks": _raw_ks, "jensenshannon": _raw_js}


@pytest.fixture(scope="module")
def coarsened():
    """A chunked reference, and a current whose second window coarsens the bins of both windows."""
    x = np.random.default_rng(910).normal(0, 1, 10 * CHUNK)
    ref = Profile.from_json(profile(pd.DataFrame({"x": x}), window=CHUNK).to_json())
    rng = np.random.default_rng(0)
    # window 1: a 0.1 sigma shift; window 2: far off, so the reference's left bins hold 1..k-1 of its rows
    cur_x = np.concatenate([rng.normal(0.1, 1, CHUNK), rng.normal(2.0, 1, CHUNK)])
    cur = Profile.from_json(profile(pd.DataFrame({"x": cur_x}), reference=ref, window=CHUNK).to_json())
    return x, ref, cur_x, cur


@pytest.mark.parametrize("method", ["ks", "jensenshannon"])
def test_band_is_learnt_on_the_bins_the_current_window_is_compared_on(coarsened, method):
    x, ref, cur_x, cur = coarsened
    edges = next(iter(cur.windows.values())).columns["x"].grid.edges
    assert edges.size < ref.columns["x"].grid.edges.size  # the premise: the windows' bins are coarser
    chunks = [RAW[method](x, x[i * CHUNK:(i + 1) * CHUNK], edges) for i in range(10)]
    upper = np.mean(chunks) + 3 * np.std(chunks)  # ddof=0, as NannyML's StandardDeviationThreshold
    report = drift(ref, cur, DriftSettings(type_methods={"numeric": method}, threshold_mode="reference_chunks"))
    first = report.windows[0].features[0]
    assert first.statistic == pytest.approx(RAW[method](x, cur_x[:CHUNK], edges), rel=1e-9)
    assert first.threshold == pytest.approx(upper, rel=1e-9)


def test_a_small_shift_is_not_hidden_by_a_band_learnt_on_finer_bins(coarsened):
    x, ref, cur_x, cur = coarsened
    edges = next(iter(cur.windows.values())).columns["x"].grid.edges
    chunks = [_raw_js(x, x[i * CHUNK:(i + 1) * CHUNK], edges) for i in range(10)]
    raw_alert = _raw_js(x, cur_x[:CHUNK], edges) > np.mean(chunks) + 3 * np.std(chunks)
    assert raw_alert  # on raw rows the 0.1 sigma shift leaves the band (0.050 > 0.046)
    report = drift(ref, cur, DriftSettings(type_methods={"numeric": "jensenshannon"}, threshold_mode="reference_chunks"))
    assert report.windows[0].features[0].drifted  # the band learnt on the finer bins said 0.057: missed


def test_categorical_band_is_learnt_on_the_categories_the_current_window_publishes():
    rng = np.random.default_rng(911)
    values, shares = np.array(["a", "b", "c", "r"]), [0.5, 0.3, 0.19, 0.01]
    x = rng.choice(values, 10 * CHUNK, p=shares)
    ref = Profile.from_json(profile(pd.DataFrame({"c": x}), window=CHUNK).to_json())
    cur_x = rng.choice(values, CHUNK, p=[0.5, 0.3, 0.199, 0.001])  # 'r' in 1..k-1 rows: pooled into other
    cur = Profile.from_json(profile(pd.DataFrame({"c": cur_x}), reference=ref, window=CHUNK).to_json())
    published = next(iter(cur.windows.values())).columns["c"]
    kept = sorted(set(ref.columns["c"].counts) & set(published.counts))
    assert "r" not in kept and published.other > 0  # the premise: the window pooled what the reference shows

    def shares_of(v: np.ndarray) -> np.ndarray:
        merged = np.where(np.isin(v, kept), v, "(other)")
        return np.array([np.sum(merged == k) for k in kept + ["(other)"]]) / v.size

    chunks = [jensenshannon(shares_of(x), shares_of(x[i * CHUNK:(i + 1) * CHUNK])) for i in range(10)]
    report = drift(ref, cur, DriftSettings(type_methods={"categorical": "jensenshannon"},
                                           threshold_mode="reference_chunks"))
    first = report.windows[0].features[0]
    assert first.statistic == pytest.approx(jensenshannon(shares_of(x), shares_of(cur_x)), rel=1e-9)
    assert first.threshold == pytest.approx(np.mean(chunks) + 3 * np.std(chunks), rel=1e-9)
