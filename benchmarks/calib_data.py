"""Samples for the calibration benchmark, numpy only (so Evidently's own interpreter can import it).

One repetition is one column: ``sample(kind, n, reps, ...)`` returns an ``n × reps`` block whose
columns are independent draws, so a single ``profile`` call and a single ``drift`` call test every
repetition at once. Every block comes from its own seed sequence, named by what it is (kind, n,
categories, shift, side), so the reference and current sides, and every configuration, are
independent and reproducible — and the Evidently runner, given the same names, draws the same data.
"""
from __future__ import annotations

import numpy as np
from math import erf, sqrt

KINDS = ("numeric", "categorical", "binary")
#: Share of the value ``"yes"`` in binary samples.
BINARY_P = 0.3


def rng_for(seed: int, kind: str, n: int, categories: int, shift: float, side: int) -> np.random.Generator:
    """The generator of one block: independent for every (kind, n, categories, shift, side)."""
    return np.random.default_rng([seed, KINDS.index(kind), n, categories, int(round(shift * 10_000)), side])


def _normal_cuts(categories: int) -> np.ndarray:
    """Cut points giving ``categories`` equally likely bins of a standard normal (by bisection)."""
    cdf = lambda x: 0.5 * (1.0 + erf(x / sqrt(2.0)))  # noqa: E731
    cuts = []
    for i in range(1, categories):
        lo, hi, target = -10.0, 10.0, i / categories
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if cdf(mid) < target else (lo, mid)
        cuts.append(0.5 * (lo + hi))
    return np.array(cuts)


def sample(kind: str, n: int, reps: int, seed: int, side: int, categories: int = 0, shift: float = 0.0) -> np.ndarray:
    """An ``n × reps`` block of one side.

    numeric
        standard normal plus ``shift`` (in σ).
    categorical
        ``categories`` equally likely values, as integer codes: a standard normal latent plus
        ``shift`` cut at the unshifted latent's equal-probability points (so a shift moves mass
        between neighbouring categories, and ``shift = 0`` is the same distribution on both sides).
    binary
        booleans, ``True`` with probability ``BINARY_P`` (shift: added to the probability, in units of
        its standard deviation).
    """
    rng = rng_for(seed, kind, n, categories, shift, side)
    if kind == "numeric":
        return rng.standard_normal((n, reps)) + shift
    if kind == "categorical":
        latent = rng.standard_normal((n, reps)) + shift
        return np.searchsorted(_normal_cuts(categories), latent).astype(np.int32)
    if kind == "binary":
        p = BINARY_P + shift * sqrt(BINARY_P * (1 - BINARY_P))
        return rng.random((n, reps)) < p
    raise ValueError(kind)
