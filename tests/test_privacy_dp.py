"""The optional differential-privacy mode (issue 8, defect 6): noisy counts, one release per budget.

The noise is checked against its definition (a Laplace distribution of scale q/ε, whose variance
is 2·scale²), the budget against its ledger, and the refusals by the cause they name.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from vision_widgets.client import InvalidInput, Noise, Profile, Roles, merge, privacy_report, profile

ROLES = Roles(target="y", prediction="p")


def _frame(n: int = 20_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"x": rng.normal(0, 1, n), "c": rng.choice(list("abcde"), n), "y": rng.integers(0, 2, n)})
    df["p"] = np.clip(0.3 * df["y"] + rng.random(n) * 0.7, 0, 1)
    return df


@pytest.fixture()
def ledger(tmp_path):
    return str(tmp_path / "ledger.json")


@pytest.fixture(scope="module")
def reference():
    return profile(_frame(seed=1), ROLES)


def test_a_noisy_release_is_noisy_published_once_and_says_so(reference, ledger):
    df = _frame()
    exact = json.loads(profile(df, ROLES, reference=reference).to_json())
    prof = profile(df, ROLES, reference=reference, noise=Noise(1.0, ledger=ledger, seed=3))
    text = prof.to_json()
    assert prof.to_json() == text  # the same release again, not fresh noise to average out
    d = json.loads(text)
    q = 2 + 3 + 1  # two columns; target, prediction, confusion and score histograms
    assert d["privacy"] == {"mechanism": "laplace", "epsilon": 1.0, "delta": 1e-6, "queries": q, "scale": q / 1.0,
                            "spent": 1.0, "budget": 1.0}
    noisy, true = np.array(d["columns"]["x"]["histogram"]["counts"]), np.array(exact["columns"]["x"]["histogram"]["counts"])
    if noisy.size == true.size:
        assert not np.array_equal(noisy, true) and np.abs(noisy - true).max() < 30 * q
    assert abs(d["columns"]["c"]["counts"]["a"] - exact["columns"]["c"]["counts"]["a"]) < 30 * q
    assert d["columns"]["x"]["mean"] == pytest.approx(exact["columns"]["x"]["mean"], abs=0.05)
    assert "surrogate" not in d or d["surrogate"] is None
    back = Profile.from_json(text)
    assert back.dp == d["privacy"] and json.loads(back.to_json()) == d
    assert any("Differentially private (ε=1" in line for line in privacy_report(prof))
    assert "privacy" not in exact


def test_the_noise_is_laplace_of_scale_q_over_epsilon(reference, tmp_path):
    """Across releases (each its own ledger), a large count's noise has mean 0 and variance 2·scale²."""
    df = _frame(5_000, seed=4)
    true = profile(df, ROLES, reference=reference).columns["c"].counts
    eps, q = 2.0, 6
    draws = []
    for seed in range(400):
        p = profile(df, ROLES, reference=reference, noise=Noise(eps, ledger=str(tmp_path / f"l{seed}"), seed=seed))
        counts = json.loads(p.to_json())["columns"]["c"]["counts"]
        draws += [counts[key] - true[key] for key in "abcde" if key in counts]
    noise = np.array(draws, dtype=float)
    scale = q / eps
    assert abs(noise.mean()) < 4 * np.sqrt(2) * scale / np.sqrt(noise.size)
    assert noise.var() == pytest.approx(2 * scale ** 2 + 1 / 12, rel=0.1)  # + rounding's uniform variance


def test_a_rare_category_is_not_named_in_a_noisy_release(reference, ledger):
    df = _frame(seed=5)
    df.loc[:39, "c"] = "rare"  # 40 rows: named by the k-guard alone; at ε = 0.1 a name needs a noisy ~132
    exact = json.loads(profile(df, Roles(features=("c",))).to_json())
    assert "rare" in exact["columns"]["c"]["counts"]
    d = json.loads(profile(df, Roles(features=("c",)), noise=Noise(0.1, ledger=ledger, seed=1)).to_json())
    assert "rare" not in d["columns"]["c"]["counts"]  # P(named) = exp(-(132 - 40) / 10) / 2 ~ 5e-5
    assert set(d["columns"]["c"]["counts"]) == set("abcde")


def test_the_budget_is_kept_in_the_ledger_and_a_spent_one_is_refused(reference, ledger):
    df = _frame(seed=6)
    for seed in (1, 2):  # a budget of 2 allows two releases of ε = 1 of the same data ...
        d = json.loads(profile(df, ROLES, reference=reference, noise=Noise(1.0, budget=2.0, ledger=ledger, seed=seed)).to_json())
        assert d["privacy"]["spent"] == seed
    with pytest.raises(InvalidInput, match=r"privacy budget of this data is spent: earlier releases used ε=2 of its budget ε=2") as info:
        profile(df, ROLES, reference=reference, noise=Noise(1.0, budget=2.0, ledger=ledger, seed=3)).to_json()
    assert info.value.field == "privacy.budget"
    other = _frame(seed=7)  # ... and other data has its own budget
    profile(other, ROLES, reference=reference, noise=Noise(1.0, budget=2.0, ledger=ledger)).to_json()
    saved = open(ledger, encoding="utf-8").read()
    assert "0." not in saved.replace("1.0", "").replace("2.0", "")  # hashes and spends only, no statistic


def test_a_profile_released_past_its_budget_is_refused_by_the_server(reference, ledger):
    d = json.loads(profile(_frame(seed=8), ROLES, reference=reference, noise=Noise(1.0, ledger=ledger)).to_json())
    d["privacy"]["spent"] = 3.0
    with pytest.raises(InvalidInput, match="released after its data's privacy budget was spent") as info:
        Profile.from_json(d)
    assert info.value.field == "profile.privacy.spent"


def test_noisy_and_exact_profiles_do_not_merge_and_noisy_ones_do(reference, ledger):
    df = _frame(seed=9)
    a, b = df.iloc[:10_000], df.iloc[10_000:]
    na = Profile.from_json(profile(a, ROLES, reference=reference, noise=Noise(1.0, ledger=ledger)).to_json())
    nb = Profile.from_json(profile(b, ROLES, reference=reference, noise=Noise(0.5, ledger=ledger)).to_json())
    ea = Profile.from_json(profile(a, ROLES, reference=reference).to_json())
    with pytest.raises(InvalidInput, match="one profile is differentially private") as info:
        merge(na, ea)
    assert info.value.field == "privacy"
    both = merge(na, nb)  # disjoint parts: the larger ε of the two is what a row in either spent
    assert both.dp["epsilon"] == 1.0 and both.rows == na.rows + nb.rows


def test_invalid_noise_settings_say_what_to_give():
    with pytest.raises(InvalidInput, match="epsilon=0 must be a positive number"):
        Noise(0)
    with pytest.raises(InvalidInput, match="budget=0.5 must be at least epsilon=1"):
        Noise(1.0, budget=0.5)


def _columns25(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """20 numeric columns of five shapes + 5 categorical of 8 levels (benchmarks/stats_data.py's kind);
    ``shift`` moves the first five numeric columns by that many standard deviations and half of
    cat_0's most frequent level to its rarest."""
    rng = np.random.default_rng(seed)
    cols: dict[str, object] = {}
    for i in range(20):
        x = [rng.normal(10.0 * i, 1 + i, n), rng.lognormal(0, 0.5, n), rng.exponential(2, n),
             rng.uniform(-5, 5, n), rng.standard_t(5, n)][i % 5]
        cols[f"num_{i:02d}"] = x + (shift * np.std(x) if i < 5 else 0.0)
    weights = np.array([0.3, 0.2, 0.15, 0.1, 0.1, 0.08, 0.05, 0.02])
    for j in range(5):
        cols[f"cat_{j}"] = np.array([f"level_{v}" for v in rng.choice(8, n, p=weights)], dtype=object)
    df = pd.DataFrame(cols)
    if shift:
        lv0 = np.flatnonzero(df["cat_0"].to_numpy() == "level_0")
        df.loc[lv0[: lv0.size // 2], "cat_0"] = "level_7"
    return df


def test_at_epsilon_one_the_drift_verdicts_are_the_exact_ones(tmp_path):
    """25 columns (q = 25) at 20,000 rows: what docs/statistics.md's table says, on fixed seeds."""
    import copy

    from vision_widgets.core.stats.drift import drift

    def release(cur: Profile, ref: Profile, eps: float | None, seed: int) -> Profile:
        p = copy.copy(cur)  # as if profiled with noise=Noise(eps) against ref
        p._release, p._like = None, ref
        p.noise = None if eps is None else Noise(eps, ledger=str(tmp_path / f"{seed}-{eps}.json"), seed=seed)
        return Profile.from_json(p.to_json())

    ref = Profile.from_json(profile(_columns25(20_000, 1)).to_json())
    for i, frame in enumerate((_columns25(20_000, 2), _columns25(20_000, 3, shift=0.2))):
        cur = profile(frame, reference=ref)
        exact = drift(ref, release(cur, ref, None, i))
        noisy = drift(ref, release(cur, ref, 1.0, i))
        assert noisy.drifted_features == exact.drifted_features
        by = {f.feature: f for f in noisy.features}
        for f in exact.features:  # the noise takes a small part of each decision margin
            assert abs(by[f.feature].statistic - f.statistic) < 0.25 * f.threshold, f.feature
    assert {f"num_{i:02d}" for i in range(5)} | {"cat_0"} <= set(exact.drifted_features)
