"""The linear surrogate matches statsmodels: coefficients within 1e-4, variances within 1%."""
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
    # A fractional logit of the score: statsmodels' binomial GLM on the score as a proportion.
    y = df["score"].to_numpy(dtype=float)
    fit = sm.GLM(y, _design(df, s.terms), family=sm.families.Binomial()).fit(tol=1e-12, maxiter=100)
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
