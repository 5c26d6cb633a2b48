"""Intervals, nulls and p-values for the headline numbers: Wilson intervals for proportions,
Fisher intervals for correlations, permutation nulls, empirical p-values against a set of
control draws, percentile bootstrap intervals. scipy.stats where it has the computation in
the form the callers hold (Wilson intervals of whole counts, binomial p); the Fisher interval
from r and n (tested equal to scipy's from the data); the rest is a few lines of numpy over
draws the callers make themselves (their unit of resampling is theirs to choose: emotions,
items, templates), tested against known values in tests/test_stats.py.
Every random draw comes from a seeded generator the caller passes in.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

CONFIDENCE = 0.95


def _z(confidence: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(0.5 + confidence / 2))


def wilson_interval(
    successes: float, n: int, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """Wilson score interval of a proportion successes / n (good at 0 and 1 and small n).
    Whole counts go to scipy's `binomtest(...).proportion_ci`; `successes` may also be a sum
    of partial credits (the story judge's), which scipy does not take, and then the same
    score formula is evaluated here (equal to scipy's at whole counts: tests/test_stats.py)."""
    if n <= 0:
        return (math.nan, math.nan)
    if float(successes).is_integer():
        from scipy.stats import binomtest

        ci = binomtest(int(successes), int(n)).proportion_ci(confidence, method="wilson")
        return (float(ci.low), float(ci.high))
    return _wilson_formula(float(successes), n, confidence)


def _wilson_formula(successes: float, n: int, confidence: float) -> tuple[float, float]:
    z = _z(confidence)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def fisher_interval(r: float, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Interval of a Pearson correlation by Fisher's z transform (needs n > 3). scipy
    computes it only from the data (`pearsonr(x, y).confidence_interval()`), while the
    callers hold r and n (r may be a best-of-components or sign-oriented correlation); the
    two agree on data (tests/test_stats.py)."""
    if n <= 3 or not math.isfinite(r) or abs(r) >= 1:
        return (math.nan, math.nan)
    z, se = math.atanh(r), 1 / math.sqrt(n - 3)
    q = _z(confidence)
    return (math.tanh(z - q * se), math.tanh(z + q * se))


def empirical_p(observed: float, null: ArrayLike, greater: bool = True) -> float:
    """Share of the control draws at least as extreme as the observed value, with the +1
    correction (the observed value counts as one draw), so p is never 0: with N draws the
    smallest p is 1 / (N + 1)."""
    values = np.asarray(null, dtype=np.float64)
    values = values[np.isfinite(values)]
    hits = (values >= observed).sum() if greater else (values <= observed).sum()
    return float((hits + 1) / (len(values) + 1))


def binomial_p(successes: int, n: int, chance: float) -> float:
    """One-sided p of at least `successes` of `n` at success rate `chance`."""
    from scipy.stats import binomtest

    if n <= 0:
        return math.nan
    return float(binomtest(int(successes), int(n), chance, alternative="greater").pvalue)


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    x = np.asarray(x, dtype=np.float64) - np.mean(x)
    y = np.asarray(y, dtype=np.float64) - np.mean(y)
    denominator = math.sqrt(float(x @ x) * float(y @ y))
    return float(x @ y / denominator) if denominator > 0 else math.nan


def permutation_null_r(
    x: np.ndarray, y: np.ndarray, permutations: int, rng: np.random.Generator
) -> np.ndarray:
    """|Pearson r| of x against `permutations` shuffles of y (the shuffled-label null);
    pairs with a NaN are dropped first."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    known = np.isfinite(x) & np.isfinite(y)
    x, y = x[known] - x[known].mean(), y[known] - y[known].mean()
    x = x / np.linalg.norm(x)
    y = y / np.linalg.norm(y)
    shuffled = np.stack([rng.permutation(y) for _ in range(permutations)])
    return np.abs(shuffled @ x)


def percentile_interval(values: ArrayLike, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Percentile bootstrap interval of the finite values."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return (math.nan, math.nan)
    tail = 100 * (1 - confidence) / 2
    return (float(np.percentile(v, tail)), float(np.percentile(v, 100 - tail)))


def derangement(n: int, rng: np.random.Generator) -> np.ndarray:
    """A random permutation with no fixed point (n >= 2): item i is paired with another."""
    if n < 2:
        raise ValueError("a derangement needs at least two items")
    while True:
        order = rng.permutation(n)
        if not (order == np.arange(n)).any():
            return order


def measure(
    value: float | None,
    interval: tuple[float, float] | None = None,
    method: str | None = None,
    **more: Any,
) -> dict:
    """A headline number as JSON: the value, its interval and how it was obtained, and any
    control figures (`more`), with NaN written as null."""

    def clean(x):
        if isinstance(x, float | np.floating):
            return float(x) if math.isfinite(x) else None
        return x

    out = {"value": clean(value)}
    if interval is not None:
        out["ci"] = [clean(interval[0]), clean(interval[1])]
        out["ci_method"] = method
    out.update({k: clean(v) for k, v in more.items()})
    return out


RIDGE_ALPHAS = np.logspace(-3, 5, 33)


def ridge_loo_predict(
    train_x: np.ndarray,
    train_y: np.ndarray,
    new_x: np.ndarray,
    alphas: ArrayLike = RIDGE_ALPHAS,
) -> np.ndarray:
    """Predictions for `new_x` of a ridge regression with an unpenalised intercept, fitted
    on the training rows with the penalty of least leave-one-out squared error among
    `alphas` (the first on a tie): scikit-learn's RidgeCV, in closed form from one
    eigendecomposition of the centred rows' Gram matrix, every penalty at once (3x faster
    here, where rows are emotions and far fewer than the width; equal to 1e-12)."""
    x = np.asarray(train_x, dtype=np.float64)
    y = np.asarray(train_y, dtype=np.float64)
    a = np.asarray(alphas, dtype=np.float64)
    x_mean, y_mean = x.mean(axis=0), y.mean()
    xc, yc = x - x_mean, y - y_mean
    eigenvalues, basis = np.linalg.eigh(xc @ xc.T)
    inverse = 1.0 / (np.clip(eigenvalues, 0.0, None)[:, None] + a[None, :])
    dual = basis @ (inverse * (basis.T @ yc)[:, None])  # [rows, alphas]: (K + aI)^-1 yc
    # Hat matrix diagonal 1/n + diag(K (K + aI)^-1) = 1/n + 1 - a diag((K + aI)^-1); the
    # residual yc - K dual is a * dual.
    leverage = 1.0 / len(y) + 1.0 - a * ((basis**2) @ inverse)
    loo_error = np.mean((a * dual / (1.0 - leverage)) ** 2, axis=0)
    best = int(np.argmin(loo_error))
    return (np.asarray(new_x, dtype=np.float64) - x_mean) @ (xc.T @ dual[:, best]) + y_mean


def holm(p: ArrayLike) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN stays NaN)."""
    p = np.asarray(p, dtype=np.float64)
    out = np.full(len(p), np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite])]
    running = 0.0
    for rank, k in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p[k]))
        out[k] = running
    return out
