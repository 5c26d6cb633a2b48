"""The run's emotion axes on text that people labelled: EmoBank sentences (datasets.py),
each pooled like every passage of the workflow, projected on the valence axis (PC1 of the
emotion vectors) and the arousal axis (PC2, or the better of PC2/PC3 on the training
sentences), and correlated with the readers' valence and arousal ratings.

Nothing is fitted on the sentences it is scored on: every choice (an axis's sign, PC2 or
PC3, a probe's weights and penalty) is made on a seeded subsample of the train split, and
every r is measured on the test split. Sentences are the unit the claim generalises over,
so the intervals resample sentences, and a comparison of two methods resamples the same
sentences for both (a paired bootstrap of the difference of their r).

Plain numpy over [sentences, width] matrices; the job is jobs/emobank.py, the figure
render/emobank.py.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .stats import pearson, percentile_interval

# A word of a sentence, as the word lexicons spell them (lower case, inner ' or -).
WORD = re.compile(r"[a-z]+(?:['-][a-z]+)*")


def subsample(n_total: int, count: int, seed: int) -> np.ndarray:
    """`count` of `n_total` indices drawn without replacement by a seeded generator, in
    ascending order (all of them when count >= n_total)."""
    if count >= n_total:
        return np.arange(n_total)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_total, size=count, replace=False))


@dataclass(frozen=True)
class FittedAxis:
    """A direction chosen and oriented on the training sentences."""

    component: int  # 0-based index among the candidate directions' rows
    sign: float  # +1 or -1: the sign that makes the training r positive
    train_r: float  # Pearson r on the training sentences, after the sign


def fit_axis(
    train_states: np.ndarray,
    train_labels: np.ndarray,
    directions: np.ndarray,
    candidates: Sequence[int],
) -> FittedAxis:
    """Of the rows `candidates` of `directions` ([k, width]), the one whose projection
    correlates most (in |r|) with the training labels, turned so that r > 0."""
    best: FittedAxis | None = None
    for index in candidates:
        r = pearson(train_states @ directions[index], train_labels)
        r = 0.0 if not math.isfinite(r) else r
        if best is None or abs(r) > abs(best.train_r):
            best = FittedAxis(index, 1.0 if r >= 0 else -1.0, r)
    assert best is not None, "no candidate direction"
    return FittedAxis(best.component, best.sign, abs(best.train_r))


def project(states: np.ndarray, directions: np.ndarray, axis: FittedAxis) -> np.ndarray:
    """[sentences]: each state's coordinate on the fitted axis (float64)."""
    direction = np.asarray(directions[axis.component], dtype=np.float64)
    return axis.sign * (np.asarray(states, dtype=np.float64) @ direction)


def lexicon_scores(texts: Sequence[str], lexicon: Mapping[str, float]) -> np.ndarray:
    """[sentences]: the mean rating of a sentence's words that the lexicon rates (every
    occurrence counts); NaN where it rates none."""
    out = np.full(len(texts), np.nan)
    for i, text in enumerate(texts):
        values = [lexicon[w] for w in WORD.findall(text.lower()) if w in lexicon]
        if values:
            out[i] = float(np.mean(values))
    return out


def fill_unrated(scores: np.ndarray, fill: float) -> np.ndarray:
    """NaN scores (no rated word) replaced by `fill` (the training sentences' mean), so
    every method is scored on the same sentences."""
    scores = np.asarray(scores, dtype=np.float64)
    return np.where(np.isfinite(scores), scores, fill)


def vader_compound(texts: Sequence[str]) -> np.ndarray:
    """[sentences]: VADER's compound sentence score (-1..1; rules over a human-rated
    lexicon, with negation, intensifiers and punctuation)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyser = SentimentIntensityAnalyzer()
    return np.array([analyser.polarity_scores(t)["compound"] for t in texts])


def ridge_probe(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    alphas: Sequence[float],
    folds: int = 5,
) -> tuple[np.ndarray, float]:
    """(test predictions, chosen penalty) of a ridge regression on standardised features,
    its penalty chosen by `folds`-fold cross-validation (r of the held-out predictions) on
    the training rows only."""
    x = np.asarray(train_x, dtype=np.float64)
    y = np.asarray(train_y, dtype=np.float64)
    fold = np.arange(len(y)) % folds  # the rows are a seeded random subsample already
    held = np.empty((len(alphas), len(y)))
    for k in range(folds):
        inside = fold != k
        held[:, ~inside] = _ridge_path(x[inside], y[inside], x[~inside], alphas)
    scores = [pearson(row, y) for row in held]
    best = int(np.nanargmax(scores))
    predictions = _ridge_path(x, y, np.asarray(test_x, dtype=np.float64), [alphas[best]])[0]
    return predictions, float(alphas[best])


def _ridge_path(
    x: np.ndarray, y: np.ndarray, new: np.ndarray, alphas: Sequence[float]
) -> np.ndarray:
    """[alphas, new rows]: predictions of ridge fits on standardised x, one per penalty
    (scaled by the number of rows), from one eigendecomposition of the smaller of the
    feature covariance and the rows' Gram matrix."""
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    z, z_new = (x - mean) / scale, (new - mean) / scale
    centred = y - y.mean()
    n, width = z.shape
    primal = n >= width
    eigenvalues, basis = np.linalg.eigh(z.T @ z if primal else z @ z.T)
    along = basis.T @ (z.T @ centred if primal else centred)
    rows = []
    for alpha in alphas:
        coefficients = basis @ (along / (eigenvalues + alpha * n))
        weights = coefficients if primal else z.T @ coefficients
        rows.append(z_new @ weights)
    return np.stack(rows) + y.mean()


def rowwise_pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """[rows]: Pearson r of each row of x with the same row of y."""
    x = x - x.mean(axis=1, keepdims=True)
    y = y - y.mean(axis=1, keepdims=True)
    denominator = np.sqrt((x * x).sum(axis=1) * (y * y).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (x * y).sum(axis=1) / denominator


def bootstrap_r(
    scores: Mapping[str, np.ndarray], labels: np.ndarray, replicates: int, seed: int
) -> dict[str, np.ndarray]:
    """{method: [replicates] r}: every method's r with the labels over the same resampled
    sentences in each replicate (so differences between methods are paired)."""
    labels = np.asarray(labels, dtype=np.float64)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(labels), size=(replicates, len(labels)))
    y = labels[draws]
    return {
        name: rowwise_pearson(np.asarray(s, np.float64)[draws], y) for name, s in scores.items()
    }


@dataclass(frozen=True)
class Comparison:
    """One method's r on the test sentences, its interval, and its difference from the
    emotion axis it is compared with (paired bootstrap; positive: the axis is ahead)."""

    r: float
    ci: tuple[float, float]
    difference: float | None = None
    difference_ci: tuple[float, float] | None = None


def compare(
    scores: Mapping[str, np.ndarray],
    labels: np.ndarray,
    reference: str,
    replicates: int,
    seed: int,
) -> dict[str, Comparison]:
    """Every method's test r with a percentile bootstrap interval over sentences, and for
    every other method the paired-bootstrap interval of r(reference) - r(method)."""
    draws = bootstrap_r(scores, labels, replicates, seed)
    observed = {name: pearson(s, labels) for name, s in scores.items()}
    out = {}
    for name in scores:
        comparison = Comparison(observed[name], percentile_interval(draws[name]))
        if name != reference:
            comparison = Comparison(
                comparison.r,
                comparison.ci,
                observed[reference] - observed[name],
                percentile_interval(draws[reference] - draws[name]),
            )
        out[name] = comparison
    return out


def strongest(comparisons: Mapping[str, Comparison], names: Sequence[str]) -> str:
    """The baseline among `names` with the highest test r (the hardest one to beat)."""

    def r_of(name: str) -> float:
        r = comparisons[name].r
        return r if math.isfinite(r) else -math.inf

    return max(names, key=r_of)
