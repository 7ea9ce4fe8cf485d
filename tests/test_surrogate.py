"""The linear surrogate matches statsmodels: coefficients within 1e-4, variances within 1% (HC0 for a score)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from stats_data import mixed_frame

from vision_widgets.client import Profile, Roles, profile


def _design(df: pd.DataFrame, terms: list[str]) -> np.ndarray:
    """Rebuild the surrogate's design independently: standardised numerics (ddof=0), one-hots."""
    cols = []
    for t in terms:
        if t == "(intercept)":
            cols.append(np.ones(len(df)))
        elif "=" in t:
            c, v = t.split("=", 1)
            cols.append((df[c].astype(str) == v).to_numpy(dtype=float))
        else:
            x = df[t].to_numpy(dtype=float)
            cols.append((x - x.mean()) / x.std())
    return np.column_stack(cols)


def test_logistic_surrogate_matches_statsmodels():
    df = mixed_frame(8000, seed=21)
    prof = profile(df, Roles(target="label", exclude=("id", "score", "ts")))
    s = prof.surrogate
    assert s.kind == "logistic" and s.converged and s.response == "label"
    assert set(s.terms) >= {"(intercept)", "x1", "x2"} and any(t.startswith("color=") for t in s.terms)
    assert not any("rare" in t for t in s.terms)  # fewer than k rows: no one-hot term
    X = _design(df, s.terms)
    fit = sm.Logit(df["label"].to_numpy(), X).fit(disp=0, method="newton", tol=1e-12, maxiter=100)
    assert np.allclose(s.coefficients, fit.params, atol=1e-4, rtol=0)
    assert np.allclose(s.variances, np.diag(fit.cov_params()), rtol=0.01, atol=0)
    # the signs recover the generating model (x1 up, x2 down)
    coef = dict(zip(s.terms, s.coefficients))
    assert coef["x1"] > 0 > coef["x2"]


def test_surrogate_explains_the_prediction_when_there_is_one():
    df = mixed_frame(4000, seed=22)
    prof = profile(df, Roles(target="label", prediction="score", exclude=("id", "ts")))
    s = prof.surrogate
    assert s.response == "score"
    # A fractional logit of the score: statsmodels' binomial GLM on the score as a proportion,
    # with sandwich (HC0) variances — the Bernoulli variance does not hold for a fraction.
    y = df["score"].to_numpy(dtype=float)
    fit = sm.GLM(y, _design(df, s.terms), family=sm.families.Binomial()).fit(tol=1e-12, maxiter=100, cov_type="HC0")
    assert s.variance_kind == "HC0"
    assert np.allclose(s.coefficients, fit.params, atol=1e-4, rtol=0)
    assert np.allclose(s.variances, np.diag(fit.cov_params()), rtol=0.01)


def test_a_rare_event_score_gives_a_converged_surrogate():
    # Thresholding a rare-event score at 0.5 would leave whole categories without a positive
    # (quasi-separation) and the fit would diverge; the score as response does not.
    rng = np.random.default_rng(5)
    n = 8000
    df = pd.DataFrame({"x": rng.normal(0, 1, n), "g": rng.choice(list("abcd"), n)})
    logit = -4.5 + 0.8 * df["x"] + 0.7 * (df["g"] == "b")
    df["score"] = 1 / (1 + np.exp(-(logit + rng.normal(0, 0.5, n))))
    df["label"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    s = profile(df, Roles(target="label", prediction="score")).surrogate
    assert s.converged
    assert all(v > 0 for v in s.variances) and max(abs(c) for c in s.coefficients) < 10


def test_linear_surrogate_matches_statsmodels_ols():
    rng = np.random.default_rng(23)
    n = 5000
    df = pd.DataFrame({"a": rng.normal(3, 2, n), "b": rng.exponential(1, n), "g": rng.choice(list("xyz"), n)})
    df["y"] = 1.5 * df["a"] - 2 * df["b"] + (df["g"] == "z") * 0.7 + rng.normal(0, 1, n)
    s = profile(df, Roles(target="y")).surrogate
    assert s.kind == "linear"
    fit = sm.OLS(df["y"].to_numpy(), _design(df, s.terms)).fit()
    assert np.allclose(s.coefficients, fit.params, atol=1e-4, rtol=0)
    assert np.allclose(s.variances, np.diag(fit.cov_params()), rtol=0.01)


def test_only_coefficients_and_variances_travel():
    df = mixed_frame(3000, seed=24)
    prof = profile(df, Roles(target="label", exclude=("id", "score", "ts")))
    d = json.loads(prof.to_json())["surrogate"]
    assert set(d["terms"][0]) == {"term", "coefficient", "variance"}
    back = Profile.from_json(prof.to_json()).surrogate
    assert back.coefficients == prof.surrogate.coefficients and back.variances == prof.surrogate.variances
    assert list(back.to_df().columns) == ["term", "coefficient", "variance", "std_error"]


def test_the_surrogate_samples_the_held_rows_evenly_not_the_first_ones(monkeypatch):
    # A training file sorted by its label: the first rows hold one class only.
    import vision_widgets.client as client_module

    monkeypatch.setattr(client_module, "SURROGATE_ROWS", 2_000)
    rng = np.random.default_rng(9)
    n = 10_000
    df = pd.DataFrame({"x": rng.normal(0, 1, n)})
    df["label"] = (rng.random(n) < 1 / (1 + np.exp(-1.5 * df["x"]))).astype(int)
    df = df.sort_values("label", kind="stable").reset_index(drop=True)
    s = profile(df, Roles(target="label"), chunk_rows=1_000).surrogate
    assert s is not None and s.rows == 2_000
    coef = dict(zip(s.terms, s.coefficients))
    assert coef["x"] > 0.5


def test_a_hand_edited_surrogate_field_names_the_field():
    from vision_widgets.client import InvalidInput, Surrogate

    good = {"kind": "logistic", "response": "y", "rows": 10, "terms": []}
    with pytest.raises(InvalidInput, match="iterations"):
        Surrogate.from_dict(dict(good, iterations="many"), "profile.surrogate")
    with pytest.raises(InvalidInput, match="positive_class"):
        Surrogate.from_dict(dict(good, positive_class=[1]), "profile.surrogate")


def _noisy_score_frame(n: int, seed: int) -> pd.DataFrame:
    """A model's score: a logistic function of the features plus noise on the logit scale."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"x1": rng.normal(0, 1, n), "x2": rng.exponential(2.0, n),
                       "x3": rng.uniform(-1, 1, n), "g": rng.choice(list("abc"), n, p=[0.5, 0.3, 0.2])})
    logit = -0.4 + 0.9 * df["x1"] - 0.35 * df["x2"] + 0.2 * df["x3"] + 0.6 * (df["g"] == "b")
    df["score"] = 1 / (1 + np.exp(-(logit + rng.normal(0, 0.3, n))))
    df["label"] = (rng.random(n) < df["score"]).astype(int)
    return df


def test_a_score_response_carries_robust_hc0_variances_like_statsmodels():
    # Defect 8 of issue 8: with a fraction as the response the Bernoulli variance does not hold,
    # so the inverse Fisher information overstated the standard errors ~6-8x. The fractional
    # logit (Papke & Wooldridge 1996) reports the sandwich (HC0) covariance, as statsmodels'
    # GLM(Binomial).fit(cov_type="HC0") does.
    df = _noisy_score_frame(5000, seed=81)
    s = profile(df, Roles(target="label", prediction="score")).surrogate
    assert s.kind == "logistic" and s.converged and s.variance_kind == "HC0"
    assert any(t.startswith("g=") for t in s.terms)
    X = _design(df, s.terms)
    y = df["score"].to_numpy(dtype=float)
    robust = sm.GLM(y, X, family=sm.families.Binomial()).fit(tol=1e-14, maxiter=100, cov_type="HC0")
    model = sm.GLM(y, X, family=sm.families.Binomial()).fit(tol=1e-14, maxiter=100)
    assert np.allclose(s.coefficients, robust.params, rtol=1e-10, atol=1e-12)
    ours = np.sqrt(s.variances)
    np.testing.assert_allclose(ours, robust.bse, rtol=1e-8, atol=0)
    # and the model-based errors really are far off here: the fix matters
    assert np.min(model.bse / robust.bse) > 3


def test_a_zero_one_target_and_ols_keep_model_based_variances():
    df = _noisy_score_frame(5000, seed=82)
    s = profile(df, Roles(target="label", exclude=("score",))).surrogate
    assert s.variance_kind == "model"
    fit = sm.Logit(df["label"].to_numpy(), _design(df, s.terms)).fit(disp=0, method="newton", tol=1e-12)
    np.testing.assert_allclose(s.variances, np.diag(fit.cov_params()), rtol=1e-6)
    lin = profile(df.assign(y=df["x1"] * 2 + df["score"]), Roles(target="y", exclude=("score", "label"))).surrogate
    assert lin.kind == "linear" and lin.variance_kind == "model"


def test_the_variance_kind_travels_and_older_json_reads_as_model():
    df = _noisy_score_frame(2000, seed=83)
    prof = profile(df, Roles(target="label", prediction="score"))
    text = prof.to_json()
    assert json.loads(text)["surrogate"]["variance_kind"] == "HC0"
    assert Profile.from_json(text).surrogate.variance_kind == "HC0"
    # a profile written before the field existed: same schema version, no variance_kind
    old = json.loads(text)
    del old["surrogate"]["variance_kind"]
    back = Profile.from_json(json.dumps(old)).surrogate
    assert back.variance_kind == "model" and back.variances == prof.surrogate.variances
    from vision_widgets.client import InvalidInput, Surrogate

    with pytest.raises(InvalidInput, match="variance_kind"):
        Surrogate.from_dict(dict(old["surrogate"], variance_kind="HC9"), "profile.surrogate")
