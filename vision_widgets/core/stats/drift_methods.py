"""Drift methods, registered by name, computed from two profiles' aggregates.

Each method takes a ``FeaturePair`` (the reference's and the current profile's
histogram or category counts on a common partition) and returns a statistic
and, where the method has one, a p-value. Methods register themselves with
``@register(...)`` so a model's drift settings can name them, and so a new
method is one function here. The special functions (Kolmogorov, chi-square and
normal tails) are implemented here so the engine needs numpy only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from vision_widgets.core.errors import InvalidInput

NUMERIC, CATEGORICAL, BINARY = "numeric", "categorical", "binary"

#: Zero proportions are replaced by this before a logarithm (as Evidently does), so PSI is finite.
PSI_EPSILON = 1e-4
#: Numeric PSI is computed on this many groups of equal reference mass (the usual deciles).
PSI_GROUPS = 10


@dataclass(frozen=True)
class FeaturePair:
    """The two sides of one feature on a common partition.

    For numeric features ``ref``/``cur`` are bin counts over ``edges`` (open outer
    bins) and ``ref_tails``/``cur_tails`` the mean value in each outer bin; for
    categorical and binary features they are counts over ``labels``. ``points`` (a
    discrete column's grid) gives, per bin, the one value it holds on both sides — a
    point mass there — or NaN where a bin is an interval (its mass spread uniformly).
    """

    name: str
    kind: str
    ref: np.ndarray
    cur: np.ndarray
    edges: np.ndarray | None = None
    labels: tuple[str, ...] = ()
    ref_tails: tuple[float, float] = (0.0, 0.0)
    cur_tails: tuple[float, float] = (0.0, 0.0)
    ref_mean: float = 0.0
    ref_std: float = 0.0
    cur_mean: float = 0.0
    cur_std: float = 0.0
    points: np.ndarray | None = None

    @property
    def n_ref(self) -> int:
        return int(self.ref.sum())

    @property
    def n_cur(self) -> int:
        return int(self.cur.sum())


@dataclass(frozen=True)
class MethodResult:
    statistic: float
    p_value: float | None = None
    note: str | None = None


@dataclass(frozen=True)
class DriftMethod:
    """A registered method: its name, what it applies to, and how to read its number."""

    name: str
    label: str
    feature_types: tuple[str, ...]
    default_threshold: float
    uses_p_value: bool
    compute: Callable[[FeaturePair], MethodResult]
    #: for an effect-size statistic whose same-distribution value grows with the number of
    #: cells (Jensen–Shannon): ``noise(pair) -> NoiseFloor``; drift needs the statistic above it too
    noise: Callable[[FeaturePair], "NoiseFloor"] | None = None
    #: the statistic has a sign (the Z-test): a data-driven band then has a lower bound too
    signed: bool = False

    def drifted(self, result: MethodResult, threshold: float) -> bool:
        if self.uses_p_value:
            return result.p_value is not None and result.p_value < threshold
        return result.statistic >= threshold


_REGISTRY: dict[str, DriftMethod] = {}


@dataclass(frozen=True)
class NoiseFloor:
    """Where a statistic stands against its own same-distribution (null) distribution.

    ``floor`` is the ``1 - NOISE_LEVEL`` quantile of the statistic between two samples of
    the observed sizes drawn from one distribution; ``p_value`` the Monte-Carlo p-value
    of the observed statistic against those draws.
    """

    floor: float
    p_value: float


def register(name: str, label: str, feature_types: tuple[str, ...], threshold: float, p_value: bool,
             noise: Callable[[FeaturePair], NoiseFloor] | None = None, signed: bool = False,
             ) -> Callable[[Callable[[FeaturePair], MethodResult]], Callable[[FeaturePair], MethodResult]]:
    """Register a drift method under ``name`` (decorator)."""

    def deco(fn: Callable[[FeaturePair], MethodResult]) -> Callable[[FeaturePair], MethodResult]:
        _REGISTRY[name] = DriftMethod(name, label, feature_types, threshold, p_value, fn, noise, signed)
        return fn

    return deco


def get_method(name: str) -> DriftMethod:
    """The method registered as ``name``; an unknown name is an ``InvalidInput``."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise InvalidInput(f"unknown drift method {name!r}; choose one of {', '.join(sorted(_REGISTRY))}.") from None


def methods() -> dict[str, DriftMethod]:
    """A copy of the registry (name -> method)."""
    return dict(_REGISTRY)


# --------------------------------------------------------------------------------------
# Special functions
# --------------------------------------------------------------------------------------


def kolmogorov_sf(lam: float) -> float:
    """P(K > lam) for the Kolmogorov distribution (the asymptotic KS p-value)."""
    if lam < 0.2:
        return 1.0
    total = 0.0
    for j in range(1, 101):
        term = 2.0 * (-1) ** (j - 1) * math.exp(-2.0 * j * j * lam * lam)
        total += term
        if abs(term) < 1e-16:
            break
    return min(1.0, max(0.0, total))


def normal_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def chi2_sf(x: float, df: int) -> float:
    """P(X > x) for a chi-square variable with ``df`` degrees of freedom."""
    if df <= 0:
        return 1.0
    if x <= 0:
        return 1.0
    return _gammaincc(df / 2.0, x / 2.0)


def _gammaincc(a: float, x: float) -> float:
    """Regularised upper incomplete gamma Q(a, x) (series below a+1, continued fraction above)."""
    gln = math.lgamma(a)
    if x < a + 1.0:
        ap, s, delta = a, 1.0 / a, 1.0 / a
        for _ in range(10_000):
            ap += 1.0
            delta *= x / ap
            s += delta
            if abs(delta) < abs(s) * 1e-15:
                break
        return max(0.0, 1.0 - s * math.exp(-x + a * math.log(x) - gln))
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return min(1.0, math.exp(-x + a * math.log(x) - gln) * h)


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def _props(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total > 0 else np.zeros_like(counts, dtype=float)


def psi_from_counts(ref: np.ndarray, cur: np.ndarray) -> float:
    """Population stability index; empty cells are smoothed so it is never infinite."""
    p = _props(ref.astype(float))
    q = _props(cur.astype(float))
    p = np.where(p == 0, PSI_EPSILON, p)
    q = np.where(q == 0, PSI_EPSILON, q)
    return float(np.sum((q - p) * np.log(q / p)))


def psi(pair: FeaturePair) -> float:
    """PSI beside every method: deciles of the reference for numeric, categories otherwise."""
    if pair.kind != NUMERIC or pair.ref.size <= PSI_GROUPS:
        return psi_from_counts(pair.ref, pair.cur)
    p = _props(pair.ref.astype(float))
    before = np.cumsum(p) - p
    group = np.clip(np.floor((before + 0.5 * p) * PSI_GROUPS), 0, PSI_GROUPS - 1).astype(np.intp)
    return psi_from_counts(np.bincount(group, weights=pair.ref, minlength=PSI_GROUPS),
                           np.bincount(group, weights=pair.cur, minlength=PSI_GROUPS))


def _quantile_knots(counts: np.ndarray, edges: np.ndarray, tails: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """The quantile function of a histogram (uniform inside bins, outer bins at their mean)."""
    p = _props(counts.astype(float))
    cum = np.cumsum(p)
    cum[-1] = 1.0
    if edges.size == 0:
        return np.array([0.0, 1.0]), np.array([tails[0], tails[0]])
    lo = tails[0] if counts[0] > 0 else float(edges[0])
    hi = tails[1] if counts[-1] > 0 else float(edges[-1])
    xp = np.concatenate([[0.0, cum[0]], cum[:-1], [cum[-2], 1.0]])
    fp = np.concatenate([[lo, lo], edges, [hi, hi]])
    return xp, fp


def _discrete_knots(counts: np.ndarray, edges: np.ndarray, tails: tuple[float, float],
                    points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The quantile function of a discrete column's histogram: a step at each bin's value.

    A bin holding one value is a point mass there (Q flat over its share); a bin that
    pooling left holding several values is spread uniformly between its edges, as for a
    continuous column; the outer bins are point masses at their means (exact for the
    distance when the reference has nothing beyond the outermost value).
    """
    p = _props(counts.astype(float))
    cum = np.cumsum(p)
    cum[-1] = 1.0
    start = np.concatenate([[0.0], cum[:-1]])
    lo = tails[0] if counts[0] > 0 else float(edges[0])
    hi = tails[1] if counts[-1] > 0 else float(edges[-1])
    left = np.concatenate([[lo], edges, [hi]])[:-1]
    right = np.concatenate([[lo], edges, [hi]])[1:]
    left[0], right[-1] = lo, hi
    atom = ~np.isnan(points)
    atom[0] = atom[-1] = True
    value = np.where(np.isnan(points), 0.0, points)
    value[0], value[-1] = lo, hi
    left = np.where(atom, value, left)
    right = np.where(atom, value, right)
    return np.column_stack([start, cum]).ravel(), np.column_stack([left, right]).ravel()


def binned_wasserstein(pair: FeaturePair) -> float:
    """Wasserstein-1 distance between the two histograms, as ∫|Q_ref(u) - Q_cur(u)| du."""
    assert pair.edges is not None
    if pair.points is not None and pair.edges.size:
        xa, fa = _discrete_knots(pair.ref, pair.edges, pair.ref_tails, pair.points)
        xb, fb = _discrete_knots(pair.cur, pair.edges, pair.cur_tails, pair.points)
    else:
        xa, fa = _quantile_knots(pair.ref, pair.edges, pair.ref_tails)
        xb, fb = _quantile_knots(pair.cur, pair.edges, pair.cur_tails)
    u = np.sort(np.concatenate([xa, xb]))  # repeated knots give zero-length pieces, dropped below
    a, b = u[:-1], u[1:]
    length = b - a
    keep = length > 0
    a, length = a[keep], length[keep]
    u1 = a + 0.25 * length
    u3 = a + 0.75 * length
    d1 = np.interp(u1, xa, fa) - np.interp(u1, xb, fb)
    d3 = np.interp(u3, xa, fa) - np.interp(u3, xb, fb)
    da = 1.5 * d1 - 0.5 * d3
    db = 1.5 * d3 - 0.5 * d1
    same = da * db >= 0
    denom = np.abs(da) + np.abs(db)
    part = np.where(same, 0.5 * (np.abs(da) + np.abs(db)),
                    (da * da + db * db) / (2.0 * np.where(denom > 0, denom, 1.0)))
    return float(np.sum(part * length))


# --------------------------------------------------------------------------------------
# The methods
# --------------------------------------------------------------------------------------


@register("ks", "Kolmogorov–Smirnov", (NUMERIC,), 0.05, p_value=True)
def ks(pair: FeaturePair) -> MethodResult:
    """Largest gap between the two binned CDFs (evaluated at the shared edges)."""
    d = float(np.max(np.abs(np.cumsum(_props(pair.ref.astype(float))) - np.cumsum(_props(pair.cur.astype(float))))))
    n, m = pair.n_ref, pair.n_cur
    en = math.sqrt(n * m / (n + m))
    return MethodResult(d, kolmogorov_sf((en + 0.12 + 0.11 / en) * d))


@register("wasserstein", "Wasserstein (normed)", (NUMERIC,), 0.1, p_value=False)
def wasserstein(pair: FeaturePair) -> MethodResult:
    """Wasserstein-1 distance divided by the reference standard deviation."""
    w = binned_wasserstein(pair)
    if pair.ref_std > 0:
        return MethodResult(w / pair.ref_std)
    if pair.cur_std > 0:
        return MethodResult(w / pair.cur_std, note="reference is constant: distance normalised by the current standard deviation")
    same = pair.ref_mean == pair.cur_mean
    return MethodResult(0.0 if same else 1.0, note="both sides are constant: 0 when equal, 1 when not")


@register("psi", "Population stability index", (NUMERIC, CATEGORICAL, BINARY), 0.1, p_value=False)
def psi_method(pair: FeaturePair) -> MethodResult:
    return MethodResult(psi(pair))


def _js_distances(ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """Jensen–Shannon distance (nats) between matching rows of two count matrices."""
    p = ref / np.maximum(ref.sum(axis=-1, keepdims=True), 1)
    q = cur / np.maximum(cur.sum(axis=-1, keepdims=True), 1)
    m = 0.5 * (p + q)
    safe = np.where(m > 0, m, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p / safe), 0.0) + np.where(q > 0, q * np.log(q / safe), 0.0)
    return np.sqrt(np.maximum(0.5 * terms.sum(axis=-1), 0.0))


#: a statistic must exceed its same-distribution quantile at 1 - NOISE_LEVEL to count as drift
NOISE_LEVEL = 0.05
#: Monte-Carlo draws behind a noise floor (399: the 5 % p-value boundary falls on a whole count)
NOISE_DRAWS = 399


def jensenshannon_noise(pair: FeaturePair, draws: int = NOISE_DRAWS, seed: int = 0) -> NoiseFloor:
    """The Jensen–Shannon distance two same-distribution samples of these sizes reach by chance.

    Under "no drift" both sides are multinomial samples from one distribution, estimated by
    the pooled shares; ``draws`` pairs of samples of the observed sizes give the null
    distribution of the distance (a parametric bootstrap). Its asymptotic form (8·N·JSD ~
    χ²_{K−1}, N = n_ref·n_cur/(n_ref + n_cur)) holds for many rows per cell but not for sparse
    ones: with 500 Zipf-shared categories and 10,000 rows a side its 95 % quantile let 27 % of
    same-distribution pairs through. The seed is fixed so a report is reproducible.
    """
    ref = pair.ref.astype(np.int64)
    cur = pair.cur.astype(np.int64)
    keep = (ref > 0) | (cur > 0)
    ref, cur = ref[keep], cur[keep]
    n_ref, n_cur = int(ref.sum()), int(cur.sum())
    observed = float(_js_distances(ref.astype(float), cur.astype(float)))
    if ref.size <= 1 or n_ref == 0 or n_cur == 0:
        return NoiseFloor(0.0, 1.0 if observed == 0 else 0.0)
    pooled = (ref + cur) / float(n_ref + n_cur)
    rng = np.random.default_rng(seed)
    block = max(1, min(draws, 2_000_000 // max(ref.size, 1)))  # bounded memory for many categories
    null = []
    for start in range(0, draws, block):
        size = min(block, draws - start)
        null.append(_js_distances(rng.multinomial(n_ref, pooled, size=size).astype(float),
                                  rng.multinomial(n_cur, pooled, size=size).astype(float)))
    dist = np.concatenate(null)
    floor = float(np.quantile(dist, 1.0 - NOISE_LEVEL))
    return NoiseFloor(floor, float((1 + np.sum(dist >= observed - 1e-12)) / (draws + 1)))


@register("jensenshannon", "Jensen–Shannon distance", (NUMERIC, CATEGORICAL, BINARY), 0.1, p_value=False,
          noise=jensenshannon_noise)
def jensenshannon(pair: FeaturePair) -> MethodResult:
    """Jensen–Shannon distance (natural logarithm, as ``scipy.spatial.distance.jensenshannon``).

    The distance between two *samples* of one distribution is not zero: it grows with the
    number of categories and shrinks with the rows (about sqrt((K − 1)/(8N)) — 0.11 for 500
    categories and 10,000 rows a side, above the 0.1 threshold). So drift also needs the
    distance above its noise floor (``jensenshannon_noise``).
    """
    return MethodResult(float(_js_distances(pair.ref.astype(float), pair.cur.astype(float))))


@register("chisquare", "Chi-square", (CATEGORICAL, BINARY, NUMERIC), 0.05, p_value=True)
def chisquare(pair: FeaturePair) -> MethodResult:
    """Pearson's chi-square test of homogeneity on the 2 × K table of reference and current counts.

    Both sides are samples, so the test is two-sample (``scipy.stats.chi2_contingency``
    without continuity correction), not a goodness of fit to the reference shares: treating
    the reference shares as known ignores their own sampling error and flagged about a third
    of same-distribution pairs at the 5 % level. A value the reference never saw is simply a
    column with a zero reference count; values absent on both sides are dropped.
    """
    ref = pair.ref.astype(float)
    cur = pair.cur.astype(float)
    keep = (ref > 0) | (cur > 0)
    ref, cur = ref[keep], cur[keep]
    unseen = int(np.sum((ref == 0) & (cur > 0)))
    note = f"{unseen} value(s) unseen in the reference" if unseen else None
    df = int(ref.size) - 1
    n_ref, n_cur = ref.sum(), cur.sum()
    if df <= 0 or n_ref == 0 or n_cur == 0:
        return MethodResult(0.0, 1.0, note="one value only on both sides")
    col = ref + cur
    n = n_ref + n_cur
    stat = 0.0
    for observed, total in ((ref, n_ref), (cur, n_cur)):
        expected = col * (total / n)
        stat += float(np.sum((observed - expected) ** 2 / expected))
    return MethodResult(stat, chi2_sf(stat, df), note)


@register("z", "Z-test (proportions)", (BINARY,), 0.05, p_value=True, signed=True)
def ztest(pair: FeaturePair) -> MethodResult:
    """Two-proportion Z-test (pooled) on the share of the reference's most frequent value."""
    i = int(np.argmax(pair.ref))
    n1, n2 = pair.n_ref, pair.n_cur
    x1, x2 = float(pair.ref[i]), float(pair.cur[i])
    p1, p2 = x1 / n1, x2 / n2
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return MethodResult(0.0, 1.0, note="one value only on both sides")
    z = (p2 - p1) / se
    return MethodResult(z, 2.0 * normal_sf(abs(z)))
