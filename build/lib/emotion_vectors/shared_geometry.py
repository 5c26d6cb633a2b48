"""Do two models share one emotion geometry? The correlation between their emotion-emotion
cosine matrices over the emotions both ran (a Mantel test: the null permutes one model's
emotion labels, rows and columns together, so every pair keeps its own structure), with a
bootstrap interval over emotions, and the same statistic on the input embeddings of the
emotion words: what the vocabulary alone already shares across the two models."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .stats import empirical_p, pearson, percentile_interval
from .vectors import cosine_matrix


def centred_cosines(vectors: np.ndarray) -> np.ndarray:
    """[n, n] cosines of the rows after subtracting their mean: emotion vectors are centred
    on the mean over the run's emotions, and centring both sides over the shared emotions
    keeps one common offset (large in input embeddings) from passing for shared geometry."""
    v = np.asarray(vectors, dtype=np.float64)
    return cosine_matrix(v - v.mean(axis=0))


def off_diagonal(matrix: np.ndarray) -> np.ndarray:
    """The entries above the diagonal, row by row (each pair once)."""
    i, j = np.triu_indices(matrix.shape[0], k=1)
    return matrix[i, j]


@dataclass(frozen=True)
class MatrixCorrelation:
    r: float
    interval: tuple[float, float]  # percentile bootstrap over emotions
    p: float  # permutation p of r (one-sided: as large or larger)
    null_p95: float  # 95th percentile of r under the permutation null
    emotions: int

    def as_dict(self, prefix: str) -> dict:
        return {
            f"{prefix}_r": self.r,
            f"{prefix}_r_low": self.interval[0],
            f"{prefix}_r_high": self.interval[1],
            f"{prefix}_p": self.p,
            f"{prefix}_null_p95": self.null_p95,
        }


def mantel_null(a: np.ndarray, b: np.ndarray, permutations: int, rng) -> np.ndarray:
    """r between a's pairs and those of b with its emotion labels shuffled."""
    x = off_diagonal(a)
    i, j = np.triu_indices(a.shape[0], k=1)
    null = np.empty(permutations)
    for k in range(permutations):
        order = rng.permutation(a.shape[0])
        null[k] = pearson(x, b[order][:, order][i, j])
    return null


def bootstrap_r(a: np.ndarray, b: np.ndarray, resamples: int, rng) -> np.ndarray:
    """r over emotions drawn with replacement; a pair of two draws of one emotion (its
    cosine with itself, always 1) is left out."""
    n = a.shape[0]
    i, j = np.triu_indices(n, k=1)
    values = np.empty(resamples)
    for k in range(resamples):
        pick = rng.integers(0, n, n)
        keep = pick[i] != pick[j]
        values[k] = pearson(a[pick[i], pick[j]][keep], b[pick[i], pick[j]][keep])
    return values


def correlate_geometries(
    a: np.ndarray, b: np.ndarray, permutations: int, seed: int
) -> MatrixCorrelation:
    """How alike two [n, n] cosine matrices over the same n emotions (same order) are."""
    n = a.shape[0]
    if n < 4:
        nan = math.nan
        return MatrixCorrelation(nan, (nan, nan), nan, nan, n)
    rng = np.random.default_rng(seed)
    r = pearson(off_diagonal(a), off_diagonal(b))
    null = mantel_null(a, b, permutations, rng)
    interval = percentile_interval(bootstrap_r(a, b, permutations, rng))
    return MatrixCorrelation(r, interval, empirical_p(r, null), float(np.percentile(null, 95)), n)


def shared_emotions(*lists: Sequence[str]) -> list[str]:
    """Emotions present in every list, in the first list's order."""
    common = set(lists[0]).intersection(*map(set, lists[1:]))
    return [e for e in lists[0] if e in common]
