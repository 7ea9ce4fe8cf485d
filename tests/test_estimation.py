"""CBPE on profiles (core/stats/estimation.py): exact where the calibrated truth is known, close to
NannyML's own CBPE on its shipped dataset (figures frozen by benchmarks/bench_cbpe.py), and a clear
reason wherever it cannot run."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vision_widgets import client
from vision_widgets.core.stats.estimation import CBPE, METRICS, cannot_estimate, realised

FIXTURE = Path(__file__).parent / "fixtures" / "cbpe_nannyml.json"
ROLES = client.Roles(target="y", prediction="score")
CENTERS = (np.arange(100) + 0.5) / 100


def _calibrated_reference(per_bin: int = 200) -> client.Profile:
    """Scores at every bin's centre c_b with exactly c_b of their rows positive: P(y=1 | bin) = c_b exactly."""
    rows = []
    for b, c in enumerate(CENTERS):
        pos = int(round(per_bin * c))  # 2b + 1 of 200: exact
        rows.append(pd.DataFrame({"x": np.linspace(0, 1, per_bin) + b, "score": c,
                                  "y": np.r_[np.ones(pos, int), np.zeros(per_bin - pos, int)]}))
    return client.profile(pd.concat(rows, ignore_index=True), ROLES, k=1)


def _current_at_centres(counts: np.ndarray, reference: client.Profile) -> client.Profile:
    df = pd.DataFrame({"x": np.linspace(0, 100, int(counts.sum())), "score": np.repeat(CENTERS, counts)})
    return client.profile(df, reference=reference, k=1)


def _closed_form(n: np.ndarray, c: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """The expected metrics of rows with calibrated probabilities ``c`` (``n`` rows each)."""
    up = c >= threshold
    tp, fp = (n * c)[up].sum(), (n * (1 - c))[up].sum()
    fn, tn = (n * c)[~up].sum(), (n * (1 - c))[~up].sum()
    pos, neg = n * c, n * (1 - c)
    below = np.concatenate([[0.0], np.cumsum(neg)[:-1]])
    return {"accuracy": (tp + tn) / n.sum(), "precision": tp / (tp + fp), "recall": tp / (tp + fn),
            "f1": 2 * tp / (2 * tp + fp + fn), "roc_auc": (pos * (below + 0.5 * neg)).sum() / (pos.sum() * neg.sum())}


def test_estimates_equal_the_closed_form_when_the_calibration_is_known_exactly():
    reference = _calibrated_reference()
    est = CBPE().fit(reference)
    assert est.reason == ""
    np.testing.assert_allclose(est.calibration.p, CENTERS, atol=1e-12)  # already monotone: isotonic keeps it
    rng = np.random.default_rng(3)
    for shape in ("uniform", "low scores", "high scores"):
        weights = {"uniform": np.ones(100), "low scores": np.linspace(3, 0.1, 100),
                   "high scores": np.linspace(0.1, 3, 100)}[shape]
        counts = rng.multinomial(20_000, weights / weights.sum())
        got = est.estimate(_current_at_centres(counts, reference))
        want = _closed_form(counts.astype(float), CENTERS)
        assert got.rows == counts.sum() and got.unseen_share == 0.0
        for m in METRICS:
            assert got.metrics[m] == pytest.approx(want[m], abs=1e-12), (shape, m)


def test_estimates_match_realised_labels_drawn_from_calibrated_scores():
    """Scores drawn calibrated (y ~ Bernoulli(score)): the estimate is the expectation of what labels realise."""
    rng = np.random.default_rng(7)

    def frame(n: int, a: float, b: float) -> pd.DataFrame:
        s = rng.beta(a, b, n)
        return pd.DataFrame({"x": rng.normal(size=n), "score": s, "y": (rng.random(n) < s).astype(int)})

    reference = client.Profile.from_json(client.profile(frame(200_000, 1, 1), ROLES).to_json())
    est = CBPE().fit(reference)
    for a, b in ((1, 1), (2, 5), (5, 2)):  # the score distribution shifts; P(y | score) does not
        cur = frame(100_000, a, b)
        labelled = client.Profile.from_json(client.profile(cur, reference=reference).to_json())
        unlabelled = client.Profile.from_json(client.profile(cur.drop(columns="y"), reference=reference).to_json())
        got = est.estimate(unlabelled).metrics
        real = realised(labelled)
        s = cur["score"].to_numpy()
        truth = {"accuracy": np.where(s >= 0.5, s, 1 - s).mean()}  # expected accuracy in closed form
        assert got["accuracy"] == pytest.approx(truth["accuracy"], abs=0.004)
        for m in METRICS:  # 100k rows: sampling error of a realised metric ~0.003
            assert got[m] == pytest.approx(real[m], abs=0.012), (a, b, m)


def test_a_label_free_window_gets_an_estimate_and_no_realised_value():
    rng = np.random.default_rng(1)
    s = rng.random(5_000)
    df = pd.DataFrame({"x": rng.normal(size=5_000), "score": s, "y": (rng.random(5_000) < s).astype(int)})
    reference = client.Profile.from_json(client.profile(df, ROLES).to_json())
    current = client.Profile.from_json(client.profile(df.drop(columns="y"), reference=reference).to_json())
    assert current.model.target is None and current.model.confusion == {} and current.model.score_hist == {}
    assert realised(current) == {m: None for m in METRICS}
    assert CBPE().fit(reference).estimate(current).metrics["accuracy"] == pytest.approx(0.75, abs=0.02)


def test_the_band_comes_from_reference_chunks_or_resampled_chunks_and_holds_a_steady_estimate():
    rng = np.random.default_rng(5)
    s = rng.beta(2, 3, 20_000)
    df = pd.DataFrame({"x": rng.normal(size=s.size), "score": s, "y": (rng.random(s.size) < s).astype(int)})
    chunked = client.Profile.from_json(client.profile(df, ROLES, window=2_000).to_json())
    whole = client.Profile.from_json(client.profile(df, ROLES).to_json())
    band_c, source_c = CBPE().fit(chunked).band()
    band_r, source_r = CBPE().fit(whole).band(rows=2_000)
    assert "10 chunks" in source_c and "resampled" in source_r
    for m in METRICS:
        for lo, hi in (band_c[m], band_r[m]):
            assert 0.0 <= lo < hi <= 1.0
        # the two ways of measuring the chunk-to-chunk spread agree on its size
        assert (band_r[m][1] - band_r[m][0]) == pytest.approx(band_c[m][1] - band_c[m][0], rel=0.5)
    est = CBPE().fit(chunked)
    steady = est.estimate(client.Profile.from_json(client.profile(df.iloc[:2000].drop(columns="y"),
                                                                  reference=chunked).to_json()))
    for m in METRICS:
        assert band_c[m][0] <= steady.metrics[m] <= band_c[m][1]


@pytest.mark.parametrize("case, expected", [
    ("regression", "regression model"),
    ("classes", "class labels, not probability scores"),
    ("no labels", "training profile has no labels"),
    ("multiclass", "binary classification"),
])
def test_estimation_says_why_it_cannot_run(case, expected):
    rng = np.random.default_rng(0)
    n = 2_000
    x = rng.normal(size=n)
    if case == "regression":
        prof = client.profile(pd.DataFrame({"x": x, "y": x * 2.5 + rng.normal(size=n), "pred": x * 2.4}),
                              client.Roles(target="y", prediction="pred"))
    elif case == "classes":
        y = (x + rng.normal(size=n) > 0).astype(int)
        prof = client.profile(pd.DataFrame({"x": x, "y": y, "pred": (x > 0.1).astype(int)}),
                              client.Roles(target="y", prediction="pred"))
    elif case == "no labels":
        prof = client.profile(pd.DataFrame({"x": x, "score": rng.random(n)}), client.Roles(prediction="score"))
    else:
        prof = client.profile(pd.DataFrame({"x": x, "y": rng.integers(0, 3, n), "score": rng.random(n)}),
                              client.Roles(target="y", prediction="score", task="classification"))
    prof = client.Profile.from_json(prof.to_json())
    reason = cannot_estimate(prof)
    assert expected in reason
    est = CBPE().fit(prof)
    assert est.reason == reason and est.estimate(prof) is None
    assert cannot_estimate(None).startswith("The model has no training profile")


def test_agreement_with_nannyml_cbpe_on_its_shipped_dataset():
    """Per-chunk estimates within the stated tolerance of NannyML 0.13's CBPE and of the realised values.

    The fixture is written by ``benchmarks/bench_cbpe.py --write-fixture`` from NannyML's
    ``load_synthetic_binary_classification_dataset``: per chunk of 5,000 rows our estimate (from
    profiles only), NannyML's (isotonic calibration on the raw reference rows) and the realised
    value. Tolerance (``tolerance`` in the fixture): the two calibrations differ only by binning
    scores at 0.01 (and the privacy guard's pooling) — the benchmark measured the largest gap;
    we allow twice NannyML's own mean gap to the realised values, which is the accuracy anyone can
    claim for CBPE on this data.
    """
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    # Pinned here, not read from the fixture the benchmark writes: a rerun that measured a wider gap
    # must fail this test rather than widen its own tolerance.
    tol = {"vs_nannyml": 0.01, "vs_realised": 0.035}
    assert data["nannyml_version"].startswith("0.13")
    # recomputed from the profiles (the reference with labels, the analysis without), not read back
    reference = client.Profile.from_json(data["profiles"]["reference"])
    analysis = client.Profile.from_json(data["profiles"]["analysis_unlabelled"])
    assert analysis.model.target is None and len(analysis.windows) == len(data["chunks"])
    est = CBPE().fit(reference)
    for row, window in zip(data["chunks"], analysis.windows.values()):
        got = est.estimate(window)
        assert got.rows == row["rows"]
        for m in data["metrics"]:
            ours, theirs, real = got.metrics[m], row["nannyml"][m], row["realised"][m]
            assert ours == pytest.approx(row["ours"][m], abs=1e-9)  # what the benchmark measured
            assert abs(ours - theirs) <= tol["vs_nannyml"], (row["chunk"], m, ours, theirs)
            assert abs(ours - real) <= tol["vs_realised"], (row["chunk"], m, ours, real)


# -- a bin straddling the threshold: a metric is told only when the bin cannot move it ----------------
def _fraud_like(rows: int, seed: int = 3) -> pd.DataFrame:
    """A rare positive class whose scores stay low: few rows score near 0.5."""
    rng = np.random.default_rng(seed)
    y = (rng.random(rows) < 0.05).astype(int)
    score = np.clip(rng.beta(1.2, 12, rows) + 0.12 * y, 0, 1)
    return pd.DataFrame({"x": rng.normal(size=rows), "y": y, "p": score})


def test_a_metric_is_unknown_when_the_guard_merged_the_score_bins_around_the_threshold():
    roles = client.Roles(target="y", prediction="p")
    reference = client.profile(_fraud_like(20_000), roles)
    window = client.profile(_fraud_like(600, seed=4), reference=reference).private()
    hist = window.model.prediction
    assert not any(abs(e - 0.5) < 1e-9 for e in hist.grid.edges), "the guard merged the bins around 0.5"
    est = CBPE().fit(reference).estimate(window)
    # The old width split of the merged top bin gave numbers for a metric no one can know from this profile.
    assert {m: est.metrics[m] for m in ("precision", "recall", "f1")} == {"precision": None, "recall": None, "f1": None}
    assert est.merged_at_threshold and est.metrics["roc_auc"] is not None
    # Realised values come from the confusion counts the guard published (exact), never from the merged bins.
    conf = window.model.confusion
    assert conf, "this window's confusion counts are published"
    tp, fn = conf.get(("1", "1"), 0), conf.get(("1", "0"), 0)
    assert realised(window)["recall"] == pytest.approx(tp / (tp + fn))


def test_a_narrow_bin_around_the_threshold_still_gives_every_metric():
    from vision_widgets.core.stats.estimation import AMBIGUITY, _split_metrics

    # 10,000 rows in ten bins, 20 of them in a bin [0.49, 0.51) straddling 0.5
    lo = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.49, 0.51, 0.6, 0.7, 0.8])
    hi = np.array([0.1, 0.2, 0.3, 0.4, 0.49, 0.51, 0.6, 0.7, 0.8, 1.0])
    n = np.array([3000, 2500, 1500, 1000, 500, 20, 480, 400, 300, 300], dtype=float)
    p = np.array([0.05, 0.12, 0.2, 0.3, 0.42, 0.5, 0.55, 0.65, 0.75, 0.9])
    got, unknown = _split_metrics(n * p, n * (1 - p), lo, hi, 0.5)
    assert not unknown and all(got[m] is not None for m in METRICS)
    # the bin's rows sent wholly to either side move no metric by more than AMBIGUITY
    for share in (0.0, 1.0):
        s = np.where((lo < 0.5) & (hi > 0.5), share, (lo >= 0.5) * 1.0)
        tp, fp = float((n * p * s).sum()), float((n * (1 - p) * s).sum())
        assert abs(tp / (tp + fp) - got["precision"]) <= AMBIGUITY
    # the same rows in one bin [0.4, 0.6): now the threshold metrics cannot be told
    wide_lo = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8])
    wide_hi = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 1.0])
    m = np.array([3000, 2500, 1500, 1000, 1000, 400, 300, 300], dtype=float)
    q = np.array([0.05, 0.12, 0.2, 0.3, 0.48, 0.65, 0.75, 0.9])
    wide, unknown = _split_metrics(m * q, m * (1 - q), wide_lo, wide_hi, 0.5)
    assert unknown and wide["recall"] is None and wide["roc_auc"] is not None


def test_the_guard_keeps_the_threshold_edge_of_score_histograms_when_each_side_can_be_pooled():
    """Windows of ~800 rows with a fifth positive: pooled jointly, the score bins used to close at
    whatever edge the greedy reached (one at 0.25 in the churn demo), and no threshold metric could be
    told. The 0.5 edge is now kept when both sides hold 0 or >= k rows in every histogram."""
    rng = np.random.default_rng(11)
    n = 5_000  # eight weeks of ~370 rows: the greedy alone closes the score bins off 0.5 here
    y = (rng.random(n) < 0.2).astype(int)
    score = np.clip(rng.beta(2, 5, n) + 0.3 * y, 0, 1)
    frame = pd.DataFrame({"x": rng.normal(size=n), "y": y, "p": score,
                          "t": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 56, n), unit="D")})
    roles = client.Roles(target="y", prediction="p", timestamp="t")
    reference = client.profile(frame.iloc[:2000], roles)
    published = client.profile(frame.iloc[2000:], reference=reference, window="7D", k=10).private()
    k = 10
    for part in (published, *published.windows.values()):
        m = part.model
        for h in (m.prediction, *m.score_hist.values()):
            assert any(abs(e - 0.5) < 1e-12 for e in h.grid.edges), "the decision threshold is an edge"
            assert all(c == 0 or c >= k for c in h.counts), "and every bin still holds 0 or >= k rows"
    est = CBPE().fit(reference).estimate(next(iter(published.windows.values())))
    assert not est.merged_at_threshold and all(est.metrics[m] is not None for m in METRICS)


def test_roc_auc_is_not_told_when_most_pairs_tie_in_a_score_bin():
    from vision_widgets.client import MAX_TIED_PAIRS, binned_auc

    # one bin holding every row: the old half-ties rule gave exactly 0.5 for any model
    assert binned_auc(np.array([30.0]), np.array([470.0])) is None
    # fine bins: the usual rank statistic (scipy's Mann–Whitney U / (P·N) on the binned scores)
    from scipy.stats import mannwhitneyu

    pos, neg = np.array([1.0, 2, 5, 12, 20]), np.array([30.0, 25, 10, 4, 1])
    tied = float((pos * neg).sum() / (pos.sum() * neg.sum()))
    assert tied <= MAX_TIED_PAIRS
    x = np.repeat(np.arange(5), pos.astype(int))
    y = np.repeat(np.arange(5), neg.astype(int))
    assert binned_auc(pos, neg) == pytest.approx(mannwhitneyu(x, y).statistic / (x.size * y.size))
