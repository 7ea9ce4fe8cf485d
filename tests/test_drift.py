"""Drift on profiles vs. the same tests on raw data (scipy), detection, defaults, edge cases."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from stats_data import numeric_frame
from statsmodels.stats.proportion import proportions_ztest

from vision_widgets.client import CategoryStats, InvalidInput, Profile, Roles, profile
from vision_widgets.core.stats.drift import DriftSettings, _pair, drift
from vision_widgets.core.stats.drift_methods import (
    chi2_sf,
    get_method,
    kolmogorov_sf,
    methods,
)


def _pair_of(a: np.ndarray, b: np.ndarray):
    ref = profile(pd.DataFrame({"x": a}))
    cur = profile(pd.DataFrame({"x": b}), reference=Profile.from_json(ref.to_json()))
    ref = Profile.from_json(ref.to_json())
    return ref, cur, _pair("x", ref.columns["x"], cur.columns["x"])


CASES = [
    ("normal, shift 0.1", lambda r, n: r.normal(0, 1, n), lambda r, n: r.normal(0.1, 1, n)),
    ("normal, shift 0.25", lambda r, n: r.normal(0, 1, n), lambda r, n: r.normal(0.25, 1, n)),
    ("normal, scale 1.3", lambda r, n: r.normal(0, 1, n), lambda r, n: r.normal(0, 1.3, n)),
    ("exponential, shift", lambda r, n: r.exponential(2, n), lambda r, n: r.exponential(2, n) + 0.5),
    ("uniform vs normal", lambda r, n: r.uniform(-2, 2, n), lambda r, n: r.normal(0, 1, n)),
    ("lognormal, scale", lambda r, n: r.lognormal(0, 0.5, n), lambda r, n: 1.3 * r.lognormal(0, 0.5, n)),
]


@pytest.mark.parametrize("name, gen_a, gen_b", CASES, ids=[c[0] for c in CASES])
def test_ks_and_wasserstein_match_scipy_on_raw_data(name, gen_a, gen_b):
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    a, b = gen_a(rng, 12_000), gen_b(rng, 10_000)
    ref, cur, pair = _pair_of(a, b)
    ks = get_method("ks").compute(pair).statistic
    assert abs(ks - stats.ks_2samp(a, b).statistic) <= 0.02
    w = get_method("wasserstein").compute(pair).statistic
    raw = stats.wasserstein_distance(a, b) / ref.columns["x"].std
    assert w == pytest.approx(raw, rel=0.05)


def test_ks_p_value_close_to_scipy_asymptotic():
    rng = np.random.default_rng(2)
    a, b = rng.normal(0, 1, 800), rng.normal(0.15, 1, 700)
    _, _, pair = _pair_of(a, b)
    res = get_method("ks").compute(pair)
    ref = stats.ks_2samp(a, b, method="asymp")
    assert abs(res.statistic - ref.statistic) < 0.02
    assert res.p_value == pytest.approx(ref.pvalue, abs=0.05)


def test_chisquare_matches_scipy_on_the_same_counts():
    rng = np.random.default_rng(3)
    cats = ["a", "b", "c", "d", "e"]
    a = rng.choice(cats, 900, p=[0.3, 0.3, 0.2, 0.1, 0.1])
    b = rng.choice(cats, 700, p=[0.25, 0.3, 0.2, 0.15, 0.1])
    ref = profile(pd.DataFrame({"c": a}))
    cur = profile(pd.DataFrame({"c": b}), reference=ref)
    pair = _pair("c", ref.columns["c"], cur.columns["c"])
    res = get_method("chisquare").compute(pair)
    table = np.array([[np.sum(x == c) for c in cats] for x in (a, b)])
    sp = stats.chi2_contingency(table, correction=False)  # two samples: a test of homogeneity
    assert res.statistic == pytest.approx(sp.statistic, rel=1e-12)
    assert res.p_value == pytest.approx(sp.pvalue, rel=1e-9)
    report = drift(ref, cur)
    assert report.features[0].method == "chisquare"  # small reference -> chi-square


def test_jensenshannon_and_psi_reference_values():
    from scipy.spatial.distance import jensenshannon

    rng = np.random.default_rng(4)
    a = rng.choice(list("abc"), 5000, p=[0.5, 0.3, 0.2])
    b = rng.choice(list("abc"), 5000, p=[0.4, 0.3, 0.3])
    ref = profile(pd.DataFrame({"c": a}))
    cur = profile(pd.DataFrame({"c": b}), reference=ref)
    pair = _pair("c", ref.columns["c"], cur.columns["c"])
    p = np.array([np.mean(a == v) for v in "abc"])
    q = np.array([np.mean(b == v) for v in "abc"])
    assert get_method("jensenshannon").compute(pair).statistic == pytest.approx(jensenshannon(p, q), rel=1e-9)
    assert get_method("psi").compute(pair).statistic == pytest.approx(np.sum((q - p) * np.log(q / p)), rel=1e-9)


def test_special_functions():
    for x, df in [(0.5, 1), (3.0, 2), (12.0, 7), (40.0, 20), (150.0, 99)]:
        assert chi2_sf(x, df) == pytest.approx(stats.chi2.sf(x, df), rel=1e-8)
    for lam in (0.3, 0.8, 1.36, 2.0):
        assert kolmogorov_sf(lam) == pytest.approx(stats.kstwobign.sf(lam), rel=1e-8)


def test_ztest_for_binary_matches_statsmodels():
    rng = np.random.default_rng(5)
    a, b = rng.integers(0, 2, 4000), (rng.random(3000) < 0.55).astype(int)
    ref = profile(pd.DataFrame({"b": a}))
    cur = profile(pd.DataFrame({"b": b}), reference=ref)
    f = drift(ref, cur).features[0]
    assert f.type == "binary" and f.method == "z"
    top = str(int(np.argmax(np.bincount(a))))
    count = [int(np.sum(b.astype(str) == top)), int(np.sum(a.astype(str) == top))]
    z, p = proportions_ztest(count, [len(b), len(a)])
    assert f.statistic == pytest.approx(z, rel=1e-9) and f.p_value == pytest.approx(p, rel=1e-6)
    assert f.drifted == (p < 0.05)


# ------------------------------------------------------------------ detection ---------

@pytest.fixture(scope="module")
def reference20() -> Profile:
    return Profile.from_json(profile(numeric_frame(50_000, 20, seed=10)).to_json())


def test_quarter_sigma_shift_flagged_on_that_feature_alone(reference20):
    cur = profile(numeric_frame(50_000, 20, seed=11, shift={7: 0.25}), reference=reference20)
    report = drift(reference20, Profile.from_json(cur.to_json()))
    assert report.drifted_features == ["f07"]
    assert not report.dataset_drift and report.drift_share == pytest.approx(1 / 20)
    assert {f.method for f in report.features} == {"wasserstein"}


def test_independent_samples_flag_nothing(reference20):
    for seed in (12, 13, 14):
        cur = profile(numeric_frame(50_000, 20, seed=seed), reference=reference20)
        report = drift(reference20, cur)
        assert report.drifted_features == []
        assert max(f.psi for f in report.features) < 0.01


def test_new_category_in_production_is_flagged():
    rng = np.random.default_rng(6)
    a = rng.choice(["web", "store", "phone"], 20_000, p=[0.5, 0.3, 0.2])
    b = np.concatenate([rng.choice(["web", "store", "phone"], 16_000, p=[0.5, 0.3, 0.2]), ["app"] * 4000])
    ref = profile(pd.DataFrame({"channel": a}))
    cur = profile(pd.DataFrame({"channel": b}), reference=ref)
    f = drift(ref, cur).features[0]
    assert f.method == "jensenshannon" and f.drifted
    # small samples: chi-square, and a category unseen in the reference does not break it
    ref_s = profile(pd.DataFrame({"channel": a[:800]}))
    cur_s = profile(pd.DataFrame({"channel": np.concatenate([a[800:1400], ["app"] * 60])}), reference=ref_s)
    fs = drift(ref_s, cur_s).features[0]
    assert fs.method == "chisquare" and fs.drifted and math.isfinite(fs.statistic) and "unseen" in fs.note
    assert math.isfinite(fs.psi)


def test_defaults_by_type_and_size():
    small = profile(numeric_frame(1000, 1, seed=1))
    big = profile(numeric_frame(1001, 1, seed=1))
    assert drift(small, profile(numeric_frame(500, 1, seed=2), reference=small)).features[0].method == "ks"
    assert drift(big, profile(numeric_frame(500, 1, seed=2), reference=big)).features[0].method == "wasserstein"


def test_settings_override_methods_thresholds_and_share(reference20):
    cur = profile(numeric_frame(20_000, 20, seed=15, shift={0: 0.3, 1: 0.3}), reference=reference20)
    s = DriftSettings(drift_share=0.1, methods={"f00": "psi", "f02": "ks"}, thresholds={"wasserstein": 0.5})
    report = drift(reference20, cur, s)
    by = {f.feature: f for f in report.features}
    assert by["f00"].method == "psi" and by["f02"].method == "ks"
    assert by["f01"].threshold == 0.5 and not by["f01"].drifted
    assert report.threshold_share == 0.1 and report.dataset_drift == (report.drift_share >= 0.1)
    assert DriftSettings.from_dict(s.to_dict()) == s
    with pytest.raises(InvalidInput, match="unknown drift method"):
        DriftSettings(methods={"f00": "magic"})


def test_registry_lists_methods():
    assert {"ks", "wasserstein", "psi", "jensenshannon", "chisquare", "z"} <= set(methods())


def test_report_json_shape_and_dataframe(reference20):
    cur = profile(numeric_frame(5000, 20, seed=16), reference=reference20)
    report = drift(reference20, cur)
    d = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert list(d) == ["dataset_drift", "drift_share", "threshold_share", "features", "windows"]
    assert list(d["features"][0]) == ["feature", "type", "method", "statistic", "p_value", "threshold", "psi",
                                      "drifted", "note", "score"]
    df = report.to_df()
    assert len(df) == 20 and df["drifted"].dtype == bool


def test_windows_give_a_series():
    rng = np.random.default_rng(7)
    ref = profile(pd.DataFrame({"x": rng.normal(0, 1, 5000), "c": rng.choice(list("ab"), 5000)}))
    days = pd.Timestamp("2024-03-01") + pd.to_timedelta(np.repeat(np.arange(4), 2000), unit="D")
    x = rng.normal(0, 1, 8000)
    x[6000:] += 1.0  # the last day drifts
    cur = profile(pd.DataFrame({"x": x, "c": rng.choice(list("ab"), 8000), "ts": days}),
                  Roles(timestamp="ts"), reference=ref, window="1D")
    report = drift(ref, Profile.from_json(cur.to_json()))
    assert [w.rows for w in report.windows] == [2000] * 4
    assert [w.features[0].drifted for w in report.windows] == [False, False, False, True]
    assert len(report.windows_df()) == 8


def test_all_missing_and_constant_current_columns_give_defined_results():
    rng = np.random.default_rng(8)
    ref = profile(pd.DataFrame({"x": rng.normal(size=3000), "y": rng.normal(size=3000), "c": rng.choice(list("ab"), 3000)}))
    cur = profile(pd.DataFrame({"x": np.full(2000, np.nan), "y": np.full(2000, 1.5), "c": ["a"] * 2000}), reference=ref)
    report = drift(ref, Profile.from_json(cur.to_json()))
    text = json.dumps(report.to_dict(), allow_nan=False)  # no NaN anywhere
    by = {f.feature: f for f in report.features}
    assert by["x"].drifted and "missing" in by["x"].note
    assert by["y"].drifted and by["c"].drifted
    assert "NaN" not in text


def test_constant_reference_from_json_is_defined():
    ref = profile(pd.DataFrame({"x": np.r_[np.zeros(2000), [1.0] * 20, [2.0] * 20]}))
    d = json.loads(ref.to_json())
    d["columns"]["x"]["variance"] = 0.0
    ref_c = Profile.from_json(json.dumps(d))
    cur = profile(pd.DataFrame({"x": np.zeros(500)}), reference=ref_c)
    f = drift(ref_c, cur).features[0]
    assert math.isfinite(f.statistic) and f.note


def test_incomparable_profiles_are_refused(reference20):
    other = profile(numeric_frame(2000, 20, seed=17))
    with pytest.raises(InvalidInput, match="bin edges|different reference"):
        drift(reference20, other)
    fewer = profile(numeric_frame(2000, 3, seed=17))
    with pytest.raises(InvalidInput, match="lacks the reference's column"):
        drift(reference20, fewer)
    d = json.loads(reference20.to_json())
    d["columns"]["f00"] = {"type": "categorical", "count": 50_000, "missing": 0, "counts": {"a": 50_000}, "other": 0}
    d.pop("fingerprint")
    with pytest.raises(InvalidInput, match="'f00' is numeric in the reference but categorical"):
        drift(reference20, Profile.from_json(json.dumps(d)))


def test_two_hundred_features():
    rng = np.random.default_rng(9)
    cols = {f"f{i:03d}": rng.normal(size=3000) for i in range(200)}
    ref = profile(pd.DataFrame(cols))
    cur = profile(pd.DataFrame(cols).iloc[::-1], reference=ref)
    report = drift(Profile.from_json(ref.to_json()), Profile.from_json(cur.to_json()))
    assert len(report.features) == 200 and not report.dataset_drift
    assert all(f.statistic == pytest.approx(0.0, abs=1e-9) for f in report.features)


# ------------------------------------------- two-sample tests, calibration (issue 8) --

def _cats(counts: np.ndarray, kind: str = "categorical") -> CategoryStats:
    return CategoryStats({f"v{i}": int(c) for i, c in enumerate(counts) if c}, kind=kind)


def test_chisquare_is_the_contingency_test_of_scipy():
    rng = np.random.default_rng(31)
    for n_ref, n_cur in ((900, 700), (5000, 300)):
        a = rng.multinomial(n_ref, [0.3, 0.3, 0.2, 0.1, 0.1])
        b = rng.multinomial(n_cur, [0.25, 0.3, 0.2, 0.15, 0.1])
        res = get_method("chisquare").compute(_pair("c", _cats(a), _cats(b)))
        sp = stats.chi2_contingency(np.vstack([a, b]), correction=False)
        assert res.statistic == pytest.approx(sp.statistic, rel=1e-9)
        assert res.p_value == pytest.approx(sp.pvalue, rel=1e-9)


def test_ztest_is_the_two_sample_test_of_statsmodels():
    rng = np.random.default_rng(34)
    for n_ref, n_cur in ((4000, 3000), (800, 12_000)):
        a, b = rng.multinomial(n_ref, [0.45, 0.55]), rng.multinomial(n_cur, [0.5, 0.5])
        res = get_method("z").compute(_pair("b", _cats(a, "binary"), _cats(b, "binary")))
        top = int(np.argmax(a))
        z, p = proportions_ztest([b[top], a[top]], [n_cur, n_ref])
        assert res.statistic == pytest.approx(z, rel=1e-9) and res.p_value == pytest.approx(p, rel=1e-9)


def _false_positive_rate(method: str, probs: list[float], kind: str, seed: int) -> float:
    rng = np.random.default_rng(seed)
    flagged = 0
    for _ in range(200):
        a, b = rng.multinomial(1000, probs), rng.multinomial(1000, probs)
        flagged += get_method(method).compute(_pair("c", _cats(a, kind), _cats(b, kind))).p_value < 0.05
    return flagged / 200


#: nominal 5 % plus three Monte-Carlo standard errors of a rate estimated from 200 pairs
FPR_BOUND = 0.05 + 3 * math.sqrt(0.05 * 0.95 / 200)


def test_chisquare_false_positive_rate_is_nominal():
    # the goodness of fit to the reference shares flagged 65 of these 200 pairs (0.325); now 10 (0.05)
    rate = _false_positive_rate("chisquare", [0.4, 0.25, 0.15, 0.12, 0.08], "categorical", seed=32)
    assert rate <= FPR_BOUND


def test_ztest_false_positive_rate_is_nominal():
    # the pooled two-proportion test: 10 of 200 (0.05)
    rate = _false_positive_rate("z", [0.3, 0.7], "binary", seed=33)
    assert rate <= FPR_BOUND


# ------------------------------- categories pooled on one side only (issue 8) ---------

def _skewed_categories(seed: int, n: int = 20_000, shift: bool = False) -> np.ndarray:
    """200 categories with Zipf-like shares: a few dozen sit near k = 10 rows."""
    w = 1.0 / np.arange(1, 201) ** 1.2
    if shift:
        w[:5] = w[:5][::-1]  # the five most frequent values swap their shares
    return np.random.default_rng(seed).choice(np.array([f"c{i:03d}" for i in range(200)]), n, p=w / w.sum())


def _pooled_profiles(a: np.ndarray, b: np.ndarray) -> tuple[Profile, Profile]:
    ref = Profile.from_json(profile(pd.DataFrame({"c": a}), k=10).to_json())
    cur = Profile.from_json(profile(pd.DataFrame({"c": b}), reference=ref, k=10).to_json())
    return ref, cur


def test_categories_pooled_on_one_side_only_are_compared_like_with_like():
    from scipy.spatial.distance import jensenshannon

    a, b = _skewed_categories(41), _skewed_categories(42)
    ref, cur = _pooled_profiles(a, b)
    rc, cc = ref.columns["c"], cur.columns["c"]
    assert set(rc.counts) != set(cc.counts) and rc.other > 0 and cc.other > 0  # the case of the defect
    pair = _pair("c", rc, cc)
    labels = sorted(set(a) | set(b))
    ca = np.array([np.sum(a == v) for v in labels])
    cb = np.array([np.sum(b == v) for v in labels])
    raw_p = stats.chi2_contingency(np.vstack([ca, cb]), correction=False).pvalue
    raw_js = jensenshannon(ca / ca.sum(), cb / cb.sum())
    res = get_method("chisquare").compute(pair)
    js = get_method("jensenshannon").compute(pair).statistic
    # before the alignment: chi-square p 3e-26 (goodness of fit: 0.0), JS 0.087, against raw p 0.35, JS 0.051
    assert raw_p > 0.05 and res.p_value > 0.05
    # merging the categories near k removes some of their sampling noise: JS a little below the raw one
    assert abs(js - raw_js) < 0.015
    assert not drift(ref, cur).features[0].drifted


def test_a_new_category_still_counts_when_the_reference_pooled_others():
    a = _skewed_categories(45)
    b = np.concatenate([_skewed_categories(46, n=16_000), np.full(4000, "app")])
    ref, cur = _pooled_profiles(a, b)
    assert ref.columns["c"].other > 0 and "app" not in ref.columns["c"].counts
    f = drift(ref, cur).features[0]
    assert f.drifted and f.statistic > 0.1


def test_categorical_shift_is_still_detected_after_alignment():
    ref, cur = _pooled_profiles(_skewed_categories(43), _skewed_categories(44, shift=True))
    pair = _pair("c", ref.columns["c"], cur.columns["c"])
    assert get_method("chisquare").compute(pair).p_value < 1e-6
    f = drift(ref, cur).features[0]
    assert f.method == "jensenshannon" and f.drifted


# ------------------------- Jensen–Shannon against its noise floor (issue 8, defect 4) -----

def _shares(k: int, zipf: bool) -> np.ndarray:
    w = 1.0 / np.arange(1, k + 1) if zipf else np.ones(k)
    return w / w.sum()


JS_CASES = [(k, zipf) for k in (5, 50, 500) for zipf in (False, True)]


@pytest.mark.parametrize("k, zipf", JS_CASES, ids=[f"{k}-{'zipf' if z else 'uniform'}" for k, z in JS_CASES])
def test_jensenshannon_false_positive_rate_is_nominal_whatever_the_categories(k, zipf):
    from vision_widgets.core.stats.drift import _feature

    rng = np.random.default_rng(800 + k + zipf)
    shares = _shares(k, zipf)
    above, flagged = 0, 0
    for _ in range(200):
        a, b = rng.multinomial(10_000, shares), rng.multinomial(10_000, shares)
        f = _feature("c", _cats(a), _cats(b), DriftSettings())
        assert f.method == "jensenshannon"
        above += f.statistic >= f.threshold  # the verdict before the noise floor
        flagged += f.drifted
    # before: 0/200 at 5 and 50 categories, 200/200 at 500 (uniform and Zipf)
    if k == 500:
        assert above == 200
    assert flagged / 200 <= FPR_BOUND


def test_jensenshannon_noise_floor_keeps_a_real_shift_at_500_categories():
    from vision_widgets.core.stats.drift import _feature

    rng = np.random.default_rng(850)
    for zipf in (False, True):
        shares = _shares(500, zipf)
        moved = shares.copy()
        half = np.arange(500) % 2 == 0  # 20 % of the mass moves from the odd to the even categories
        moved[half] += 0.2 * shares[~half].sum() * shares[half] / shares[half].sum()
        moved[~half] *= 1 - 0.2 * shares[~half].sum() / shares[~half].sum()
        moved = moved / moved.sum()
        a, b = rng.multinomial(10_000, shares), rng.multinomial(10_000, moved)
        f = _feature("c", _cats(a), _cats(b), DriftSettings())
        assert f.drifted and f.statistic > 0.1, f


def test_jensenshannon_noise_floor_matches_its_simulated_null_quantile():
    from vision_widgets.core.stats.drift_methods import jensenshannon_noise

    rng = np.random.default_rng(860)
    shares = _shares(500, True)
    a, b = rng.multinomial(10_000, shares), rng.multinomial(10_000, shares)
    floor = jensenshannon_noise(_pair("c", _cats(a), _cats(b)))
    # an independent simulation from the true shares: the 95 % quantile of the distance
    from scipy.spatial.distance import jensenshannon
    sims = [jensenshannon(rng.multinomial(10_000, shares) / 1e4, rng.multinomial(10_000, shares) / 1e4)
            for _ in range(400)]
    assert floor.floor == pytest.approx(np.quantile(sims, 0.95), rel=0.03)
    # the asymptotic form 8·N·JSD ~ chi2(K-1) is too low for sparse cells: 0.1175 here
    assert floor.floor > math.sqrt(stats.chi2.ppf(0.95, 499) / (8 * 5000)) + 0.002


# ------------------- data-driven thresholds from reference chunks (issue 8, defect 5) -----

def _chunked_reference() -> Profile:
    rng = np.random.default_rng(900)
    return Profile.from_json(profile(pd.DataFrame({"x": rng.normal(0, 1, 50_000)}), window=5000).to_json())


def _production(ref: Profile, shift: float, seed: int) -> Profile:
    x = np.random.default_rng(seed).normal(shift, 1, 25_000)
    return Profile.from_json(profile(pd.DataFrame({"x": x}), reference=ref, window=5000).to_json())


def test_reference_chunk_band_flags_a_small_shift_the_fixed_threshold_misses():
    ref = _chunked_reference()
    chunks = DriftSettings(threshold_mode="reference_chunks")
    shifted = _production(ref, 0.07, seed=901)
    fixed = drift(ref, shifted)
    assert not any(w.features[0].drifted for w in fixed.windows)  # Wasserstein 0.05-0.09 < 0.1
    banded = drift(ref, shifted, chunks)
    assert all(w.features[0].drifted for w in banded.windows) and banded.features[0].drifted
    same = drift(ref, _production(ref, 0.0, seed=902), chunks)
    assert not any(w.features[0].drifted for w in same.windows) and not same.features[0].drifted


def test_reference_chunk_band_is_mean_plus_three_std_of_the_chunk_statistics():
    from vision_widgets.core.stats.drift import reference_band

    ref = _chunked_reference()
    band = reference_band(ref, "x", DriftSettings(threshold_mode="reference_chunks"))
    direct = [get_method("wasserstein").compute(_pair("x", ref.columns["x"], w.columns["x"])).statistic
              for w in ref.windows.values()]
    assert len(direct) == 10 and band.chunk_statistics == pytest.approx(direct, rel=1e-12)
    assert band.lower is None  # a larger distance only means more drift: upper bound only
    assert band.upper == pytest.approx(np.mean(direct) + 3 * np.std(direct), rel=1e-12)  # ddof=0, as NannyML
    report = drift(ref, _production(ref, 0.0, seed=903), DriftSettings(threshold_mode="reference_chunks"))
    assert report.features[0].threshold == pytest.approx(band.upper) and "10 reference chunks" in report.features[0].note


def test_signed_statistic_gets_a_two_sided_band():
    from vision_widgets.core.stats.drift import reference_band

    rng = np.random.default_rng(904)
    ref = profile(pd.DataFrame({"b": rng.choice(["y", "n"], 20_000, p=[0.3, 0.7])}), window=2000)
    band = reference_band(ref, "b", DriftSettings(threshold_mode="reference_chunks"))
    z = np.array(band.chunk_statistics)
    assert band.lower == pytest.approx(z.mean() - 3 * z.std()) and band.upper == pytest.approx(z.mean() + 3 * z.std())


def test_reference_chunks_without_reference_windows_is_refused_with_what_to_do(reference20):
    cur = profile(numeric_frame(2000, 20, seed=17), reference=reference20)
    with pytest.raises(InvalidInput, match="window=") as err:
        drift(reference20, cur, DriftSettings(threshold_mode="reference_chunks"))
    assert err.value.field == "threshold_mode"
    with pytest.raises(InvalidInput):
        DriftSettings(threshold_mode="nannyml")


def test_threshold_mode_round_trips_and_old_settings_read_as_fixed():
    s = DriftSettings(threshold_mode="reference_chunks")
    assert DriftSettings.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    old = {k: v for k, v in DriftSettings().to_dict().items() if k != "threshold_mode"}
    assert DriftSettings.from_dict(old).threshold_mode == "fixed"


def test_a_current_profile_of_another_reference_is_refused_by_name(reference20):
    cur = profile(numeric_frame(500, 20, seed=18), reference=reference20)
    cur.reference_id = "0123456789abcdef"  # same edges, but made against another reference (e.g. re-registered)
    with pytest.raises(InvalidInput) as info:
        drift(reference20, cur)
    assert info.value.field == "reference_id"
    assert "0123456789abcdef" in str(info.value) and reference20.fingerprint() in str(info.value)


# ------------------- one drift score, computed where the rule is known (review of issue 10, 1.3) -----

def _binary(p_yes: float, n: int, seed: int, window: int | None = None, reference: Profile | None = None) -> Profile:
    b = np.random.default_rng(seed).choice(["y", "n"], n, p=[p_yes, 1 - p_yes])
    return Profile.from_json(profile(pd.DataFrame({"b": b}), reference=reference, window=window).to_json())


def test_a_signed_band_scores_past_one_exactly_when_the_z_test_leaves_the_band():
    # The band is on the Z statistic's scale (upper > 1 here), never a significance level: the old
    # page score read it as one (log(p) / log(upper)) and gave 0.0 to a feature that had drifted.
    ref = _binary(0.3, 20_000, seed=904, window=2000)
    chunks = DriftSettings(threshold_mode="reference_chunks")
    from vision_widgets.core.stats.drift import reference_band

    band = reference_band(ref, "b", chunks)
    for p_yes, seed, drifted in ((0.36, 905, True), (0.24, 906, True), (0.3, 907, False)):
        f = drift(ref, _binary(p_yes, 5000, seed, reference=ref), chunks).features[0]
        assert f.method == "z" and f.threshold == pytest.approx(band.upper) and f.threshold > 1
        assert f.drifted is drifted
        centre, half = (band.upper + band.lower) / 2, (band.upper - band.lower) / 2
        assert f.score == pytest.approx(abs(f.statistic - centre) / half)
        assert (f.score > 1) is drifted, (p_yes, f.statistic, band)
    moved = sorted(drift(ref, _binary(p_yes, 5000, seed, reference=ref), chunks).features[0].statistic
                   for p_yes, seed in ((0.36, 905), (0.24, 906)))
    assert moved[0] < band.lower < 0 < band.upper < moved[1], "one left below the band: the lower edge counts too"


def test_a_p_value_method_in_a_band_is_scored_on_its_statistic_and_a_fixed_one_on_its_p_value():
    ref = _binary(0.3, 20_000, seed=904, window=2000)
    cur = _binary(0.36, 5000, 905, reference=ref)
    fixed = drift(ref, cur).features[0]
    assert fixed.score == pytest.approx(math.log(max(fixed.p_value, 1e-300)) / math.log(0.05))
    # KS on a numeric column: the band's upper is a D statistic, the score D / upper
    ref_x = _chunked_reference()
    ks = DriftSettings(threshold_mode="reference_chunks", type_methods={"numeric": "ks"})
    for shift, drifted in ((0.15, True), (0.0, False)):
        f = drift(ref_x, _production(ref_x, shift, seed=908), ks).features[0]
        assert f.method == "ks" and f.p_value is not None and f.drifted is drifted
        assert f.score == pytest.approx(f.statistic / f.threshold) and (f.score > 1) is drifted


def test_the_score_round_trips_and_a_report_stored_without_it_gets_the_same_on_read():
    from vision_widgets.core.stats.drift_summary import stored_score

    ref = _binary(0.3, 20_000, seed=904, window=2000)
    for settings in (DriftSettings(), DriftSettings(threshold_mode="reference_chunks")):
        f = drift(ref, _binary(0.36, 5000, 905, reference=ref), settings).features[0]
        d = json.loads(json.dumps(f.to_dict()))
        assert d["score"] == pytest.approx(f.score) and stored_score(d) == pytest.approx(f.score)
        old = {k: v for k, v in d.items() if k != "score"}  # stored before the score was kept
        # the band's edges come back from its note at 4 significant digits
        assert stored_score(old) == pytest.approx(f.score, rel=1e-3)
