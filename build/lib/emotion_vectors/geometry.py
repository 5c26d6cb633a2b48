"""The geometry of the emotion vectors: principal components against human valence and
arousal, cosine similarities ordered by clustering, the seed's sanity pairs, and how all
of it changes with depth.

Plain numpy on [emotions, width] matrices (the job is jobs/geometry.py, the figures
render/geometry.py). Everything is deterministic: exact SVD, a fixed sign convention,
average-linkage clustering with scipy's optimal leaf ordering, and seeded permutations.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from .stats import fisher_interval, measure, pearson, permutation_null_r, ridge_loo_predict

# Fewer rated emotions than this and a correlation (and a sign taken from it) means nothing.
MIN_RATED = 3


@dataclass(frozen=True)
class PCA:
    scores: np.ndarray  # [emotions, k]: each emotion's coordinate on each component
    components: np.ndarray  # [k, width], orthonormal rows
    explained: np.ndarray  # [k]: share of the total variance of the emotion vectors


def _singular(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(u, s) of the centred matrix x, singular values descending. With fewer rows than
    columns (emotions < width, the usual case) from the exact eigendecomposition of the
    rows' Gram matrix x x^T: the same components as the SVD, several times faster, which
    the bootstrap (a PCA per replicate) needs; otherwise by SVD."""
    if x.shape[0] > x.shape[1]:
        u, s, _ = np.linalg.svd(x, full_matrices=False)
        return u, s
    eigenvalues, u = np.linalg.eigh(x @ x.T)
    order = np.argsort(eigenvalues)[::-1]
    return u[:, order], np.sqrt(np.clip(eigenvalues[order], 0.0, None))


def pca(vectors: np.ndarray, n_components: int) -> PCA:
    """Top principal components of the rows of `vectors`, exactly, in float64.

    A decomposition fixes each component only up to sign; we make each component's
    largest-magnitude score positive so that the same input always gives the same output.
    The signs that mean something (PC1 = valence) are set afterwards by `orient`.
    """
    x = np.asarray(vectors, dtype=np.float64)
    n, width = x.shape
    if not 1 <= n_components <= min(n - 1, width):
        raise ValueError(
            f"{n_components} components asked of {n} emotion vectors of width {width}; "
            f"at most {min(n - 1, width)} (centered vectors have rank <= emotions - 1)"
        )
    x = x - x.mean(axis=0, keepdims=True)
    u, s = _singular(x)
    total = float((s**2).sum())
    scores = u[:, :n_components] * s[:n_components]
    top = s[:n_components]
    components = (u[:, :n_components].T @ x) / np.where(top > 0, top, 1.0)[:, None]
    biggest = np.abs(scores).argmax(axis=0)
    signs = np.sign(scores[biggest, np.arange(n_components)])
    signs[signs == 0] = 1
    explained = s[:n_components] ** 2 / total if total > 0 else np.zeros(n_components)
    return PCA(scores * signs, components * signs[:, None], explained)


def flip(result: PCA, index: int) -> PCA:
    """The same PCA with component `index` (0-based) pointing the other way."""
    signs = np.ones(result.scores.shape[1])
    signs[index] = -1
    return replace(
        result, scores=result.scores * signs, components=result.components * signs[:, None]
    )


@dataclass(frozen=True)
class Correlation:
    pearson: float
    spearman: float
    n: int


def _ranks(x: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(x)


def correlate(x: ArrayLike, y: ArrayLike) -> Correlation:
    """Pearson and Spearman r over the pairs where both values are known (not NaN)."""
    xa, ya = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    known = np.isfinite(xa) & np.isfinite(ya)
    n = int(known.sum())
    if n < MIN_RATED:
        return Correlation(math.nan, math.nan, n)
    xa, ya = xa[known], ya[known]
    return Correlation(pearson(xa, ya), pearson(_ranks(xa), _ranks(ya)), n)


def orient(
    result: PCA,
    emotions: Sequence[str],
    valence: np.ndarray,
    arousal: np.ndarray | None = None,
    positive_anchors: Sequence[str] = ("happy",),
) -> tuple[PCA, str]:
    """Give the components signs that mean something, and say how PC1's was chosen.

    PC1 is turned to correlate positively with human valence, as in the paper's figures.
    Where fewer than MIN_RATED emotions have a valence, the first of `positive_anchors`
    present in the run gets a positive PC1 score instead. With arousal norms, every later
    component is turned to correlate positively with arousal: a component's sign is
    arbitrary, so this only makes "PC2 tracks arousal" read as r > 0.
    """
    r = correlate(result.scores[:, 0], valence).pearson
    if not math.isnan(r) and r != 0:
        how = "PC1 oriented to correlate positively with human valence"
        if r < 0:
            result = flip(result, 0)
    else:
        anchor = next((a for a in positive_anchors if a in emotions), None)
        if anchor is None:
            how = "PC1 sign arbitrary: no valence norms and no positive anchor in the run"
        else:
            how = f"PC1 oriented so that {anchor!r} scores positive (too few valence norms)"
            if result.scores[list(emotions).index(anchor), 0] < 0:
                result = flip(result, 0)
    if arousal is not None:
        for k in range(1, result.scores.shape[1]):
            if correlate(result.scores[:, k], arousal).pearson < 0:
                result = flip(result, k)
    return result, how


def cluster_order(cosines: np.ndarray) -> np.ndarray:
    """Row order that puts similar vectors together: average-linkage clustering on
    1 - cosine, leaves in scipy's optimal order (adjacent leaves as similar as possible)."""
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    n = cosines.shape[0]
    if n < 3:
        return np.arange(n)
    distance = 1.0 - np.asarray(cosines, dtype=np.float64)
    # Float noise leaves a non-zero diagonal and slight asymmetry; squareform wants neither.
    distance = np.clip((distance + distance.T) / 2, 0.0, 2.0)
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(distance, checks=False), method="average", optimal_ordering=True)
    return leaves_list(tree)


def sanity_table(
    emotions: Sequence[str], cosines: np.ndarray, pairs: Sequence[Mapping[str, str]]
) -> pd.DataFrame:
    """The seed's check: for each pair, the cosine of the two vectors and whether its sign
    is the expected one. Pairs with an emotion outside the run are kept, marked skipped."""
    index = {e: i for i, e in enumerate(emotions)}
    rows = []
    for pair in pairs:
        a, b, expected = pair["a"], pair["b"], pair["expected"]
        absent = [e for e in (a, b) if e not in index]
        if absent:
            rows.append((a, b, expected, math.nan, "skipped", f"not in run: {', '.join(absent)}"))
            continue
        cos = float(cosines[index[a], index[b]])
        ok = cos > 0 if expected == "positive" else cos < 0
        rows.append((a, b, expected, cos, "pass" if ok else "fail", ""))
    return pd.DataFrame(
        rows, columns=["emotion_a", "emotion_b", "expected_sign", "cosine", "result", "note"]
    )


def component_correlations(
    result: PCA, norms: Mapping[str, np.ndarray | None], sources: Mapping[str, str | None]
) -> pd.DataFrame:
    """Pearson and Spearman r (with n) of every component against every norm given."""
    rows = []
    for name, values in norms.items():
        if values is None:
            continue
        for k in range(result.scores.shape[1]):
            c = correlate(result.scores[:, k], values)
            rows.append((name, f"PC{k + 1}", c.pearson, c.spearman, c.n, sources[name]))
    return pd.DataFrame(rows, columns=["norm", "component", "pearson", "spearman", "n", "source"])


def best_component(correlations: pd.DataFrame, norm: str, candidates: Sequence[str]) -> pd.Series:
    """The row of the candidate component that tracks `norm` best (largest |Pearson r|)."""
    rows = correlations[(correlations.norm == norm) & correlations.component.isin(candidates)]
    return rows.loc[rows.pearson.abs().idxmax()]


def layer_summary(
    emotions: Sequence[str],
    vectors: np.ndarray,
    valence: np.ndarray,
    arousal: np.ndarray | None,
    n_components: int,
    positive_anchors: Sequence[str],
) -> dict:
    """One row of the layer sweep: variance shares and norm correlations at one layer."""
    result, _ = orient(pca(vectors, n_components), emotions, valence, arousal, positive_anchors)
    row: dict[str, float | str] = {
        f"pc{k + 1}_variance": float(v) for k, v in enumerate(result.explained)
    }
    c = correlate(result.scores[:, 0], valence)
    row |= {"valence_pearson": c.pearson, "valence_spearman": c.spearman, "valence_n": c.n}
    # At some depths valence may sit on another component; say where it is strongest.
    rs = [abs(correlate(result.scores[:, k], valence).pearson) for k in range(n_components)]
    best = int(np.nanargmax(rs)) if not all(math.isnan(r) for r in rs) else 0
    row |= {"valence_best_pc": f"PC{best + 1}", "valence_best_abs_pearson": rs[best]}
    if arousal is not None:
        c2 = correlate(result.scores[:, 1], arousal)
        row |= {"arousal_pearson_pc2": c2.pearson, "arousal_n": c2.n}
        c3 = correlate(result.scores[:, 2], arousal)
        best_k = 2 if c3.pearson > c2.pearson else 1
        row |= {
            "arousal_best_pc": f"PC{best_k + 1}",
            "arousal_pearson_best": max(c2.pearson, c3.pearson),
        }
    return row


def valence_axis_r(
    vectors: np.ndarray,
    emotions: Sequence[str],
    valence: np.ndarray,
    n_components: int,
    positive_anchors: Sequence[str] = ("happy",),
) -> float:
    """Pearson r of PC1 (oriented to correlate positively) with human valence."""
    result, _ = orient(pca(vectors, n_components), emotions, valence, None, positive_anchors)
    return correlate(result.scores[:, 0], valence).pearson


def probe_r(x: np.ndarray, y: np.ndarray, folds: int = 10, seed: int = 0) -> float:
    """Pearson r between human valence and its cross-validated prediction by a ridge
    regression from `x` (the ridge penalty chosen inside each training fold): how much
    valence `x` carries linearly, in any direction, not only along its first component."""
    from sklearn.model_selection import KFold

    known = np.isfinite(y)
    x, y = np.asarray(x, dtype=np.float64)[known], y[known]
    if len(y) < 2 * folds:
        return math.nan
    predicted = np.empty(len(y))
    for train, test in KFold(n_splits=folds, shuffle=True, random_state=seed).split(x):
        predicted[test] = ridge_loo_predict(x[train], y[train], x[test])
    return pearson(predicted, y)


def valence_controls(
    r: float,
    scores: np.ndarray,
    valence: np.ndarray,
    vectors: np.ndarray,
    word_vectors: np.ndarray | None,
    emotions: Sequence[str],
    permutations: int,
    rng: np.random.Generator,
) -> dict:
    """The valence axis against its controls: the Fisher interval of r; the shuffled-label
    null (|r| of PC1 against `permutations` shuffles of the ratings: its 95th percentile
    and the permutation p); the same PCA on the input embeddings of the emotion words
    (layer 0); and a cross-validated linear probe of valence from the vectors and from the
    word embeddings, which says how much valence the vocabulary alone already carries in
    any direction."""
    known = np.isfinite(valence)
    n = int(known.sum())
    null = permutation_null_r(scores[:, 0], valence, permutations, rng)
    p = float((1 + (null >= abs(r) - 1e-12).sum()) / (1 + len(null)))
    out = {
        "r": measure(r, fisher_interval(r, n), "fisher", n=n),
        "null": null,
        "null_p95": float(np.percentile(null, 95)),
        "null_mean": float(null.mean()),
        "permutations": permutations,
        "p": p,
    }
    out["probe_r"] = probe_r(vectors, valence)
    if word_vectors is not None:
        k = min(3, len(emotions) - 1)
        r0 = valence_axis_r(word_vectors - word_vectors.mean(axis=0), emotions, valence, k)
        out["word_embedding_r"] = measure(r0, fisher_interval(r0, n), "fisher", n=n)
        out["word_embedding_probe_r"] = probe_r(word_vectors, valence)
    return out
