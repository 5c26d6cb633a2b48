"""Controls that could make the valence and arousal claims fail (issue 21): correlations
within each sign of valence, a bootstrap over emotions, the best of PC2/PC3 with the choice
made inside every shuffle and replicate, and the layer-wise lexical control: the same
cross-validated probe of a human rating at every layer, layer 0 (the input embeddings of
the emotion words) included, with near-synonyms kept in one fold.

The unit we generalise over is the emotion: every interval resamples emotions. The probe's
intervals resample the emotions' out-of-fold predictions (the fits are not redone per
replicate), so they carry the sampling of emotions, not the variance of the fits.
Plain numpy (sklearn for the probe's group folds); every draw comes from a seeded generator.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from .stats import measure, pearson, percentile_interval, ridge_loo_predict

# Fewer emotions than this on one side of the valence scale and a within-sign r means nothing.
MIN_WITHIN = 5


def _r_known(x: np.ndarray, y: np.ndarray) -> tuple[float, int]:
    """Pearson r over the pairs where both are finite, and their number."""
    known = np.isfinite(x) & np.isfinite(y)
    n = int(known.sum())
    return (pearson(x[known], y[known]) if n >= 3 else math.nan), n


def bootstrap_rs(
    columns: Sequence[np.ndarray], y: np.ndarray, replicates: int, rng: np.random.Generator
) -> np.ndarray:
    """[replicates, columns]: Pearson r of each column with y over the same resample of the
    rated emotions in every replicate (so differences between columns are paired)."""
    known = np.isfinite(y) & np.all([np.isfinite(c) for c in columns], axis=0)
    x = np.stack([np.asarray(c, dtype=np.float64)[known] for c in columns], axis=1)
    y = np.asarray(y, dtype=np.float64)[known]
    out = np.full((replicates, x.shape[1]), math.nan)
    for i in range(replicates):
        pick = rng.integers(0, len(y), len(y))
        xs, ys = x[pick] - x[pick].mean(axis=0), y[pick] - y[pick].mean()
        denominator = np.sqrt((xs**2).sum(axis=0) * (ys @ ys))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[i] = (ys @ xs) / denominator
    return out


def r_with_interval(
    x: np.ndarray, y: np.ndarray, replicates: int, rng: np.random.Generator, **more
) -> dict:
    """Pearson r of x with y and its percentile bootstrap interval over emotions."""
    r, n = _r_known(np.asarray(x, float), np.asarray(y, float))
    if n < 3:
        return measure(math.nan, (math.nan, math.nan), "bootstrap over emotions", n=n, **more)
    draws = bootstrap_rs([x], y, replicates, rng)[:, 0]
    return measure(r, percentile_interval(draws), "bootstrap over emotions", n=n, **more)


def within_sign(
    scores: np.ndarray,
    ratings: np.ndarray,
    neutral: float,
    replicates: int,
    rng: np.random.Generator,
) -> dict:
    """PC1 against the ratings among the emotions rated above the scale's middle
    (`positive`) and among those below it (`negative`), each with its bootstrap interval
    over the emotions of that side; and (`sign_only`) PC1 against the sign of the rating
    alone: how much of the overall r the two clusters give by themselves."""
    scores, ratings = np.asarray(scores, float), np.asarray(ratings, float)
    out = {}
    for side, mask in (("positive", ratings > neutral), ("negative", ratings < neutral)):
        if mask.sum() < MIN_WITHIN:
            out[side] = measure(math.nan, (math.nan, math.nan), None, n=int(mask.sum()))
            continue
        out[side] = r_with_interval(scores[mask], ratings[mask], replicates, rng)
    sign = np.where(np.isfinite(ratings), np.sign(ratings - neutral), np.nan)
    sign[sign == 0] = np.nan
    out["sign_only"] = r_with_interval(scores, sign, replicates, rng)
    return out


def best_of_components(
    scores: np.ndarray,
    ratings: np.ndarray,
    permutations: int,
    replicates: int,
    rng: np.random.Generator,
) -> dict:
    """The component (column of `scores`) with the largest |r| against the ratings, its
    |r|, and a permutation p and bootstrap interval that repeat the choice inside every
    shuffle and every replicate, so that picking the best of several is paid for."""
    scores, ratings = np.asarray(scores, float), np.asarray(ratings, float)
    known = np.isfinite(ratings) & np.isfinite(scores).all(axis=1)
    x, y = scores[known], ratings[known]
    if len(y) < 3:
        return measure(math.nan, (math.nan, math.nan), None, n=len(y), component=None, p=None)
    rs = np.abs([pearson(x[:, k], y) for k in range(x.shape[1])])
    best = int(np.argmax(rs))
    xc = (x - x.mean(axis=0)) / np.linalg.norm(x - x.mean(axis=0), axis=0)
    yc = (y - y.mean()) / np.linalg.norm(y - y.mean())
    shuffled = np.stack([rng.permutation(yc) for _ in range(permutations)])
    null = np.abs(shuffled @ xc).max(axis=1)
    p = float((1 + (null >= rs[best] - 1e-12).sum()) / (1 + permutations))
    draws = np.abs(bootstrap_rs(list(x.T), y, replicates, rng)).max(axis=1)
    return measure(
        float(rs[best]),
        percentile_interval(draws),
        "bootstrap over emotions, best component chosen in each replicate",
        n=len(y),
        component=best,
        p=p,
        permutations=permutations,
    )


def synonym_groups(
    emotions: Sequence[str],
    synonyms: Mapping[str, Sequence[str]],
    forms: Mapping[str, Sequence[str]],
) -> np.ndarray:
    """A group label per emotion: two emotions share a group when one is listed as the
    other's synonym (config/corpus/synonyms.yaml), when a listed synonym is one of the
    other's word forms, or when their word forms overlap (hope / hopeful); groups are
    closed under these links. A probe whose folds keep each group together never tests on
    a near-synonym of a training word."""
    from .wordforms import forms_of

    words = {e: set(forms_of(e, forms)) | {e.lower()} for e in emotions}
    parent = list(range(len(emotions)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(emotions):
        linked = set(s.lower() for s in synonyms.get(a, ())) | words[a]
        for j, b in enumerate(emotions):
            if j != i and words[b] & linked:
                parent[root(i)] = root(j)
    roots = [root(i) for i in range(len(emotions))]
    labels = {r: k for k, r in enumerate(dict.fromkeys(roots))}
    return np.array([labels[r] for r in roots])


def grouped_probe_predictions(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, folds: int = 10
) -> np.ndarray:
    """Out-of-fold predictions of y from x by a ridge regression (penalty chosen inside
    each training fold by leave-one-out: stats.ridge_loo_predict), with GroupKFold: the
    emotions of one synonym group are never split between training and test. NaN where y
    is unknown."""
    from sklearn.model_selection import GroupKFold

    known = np.isfinite(y)
    out = np.full(len(y), math.nan)
    n_groups = len(set(groups[known]))
    if known.sum() < 2 * folds or n_groups < folds:
        return out
    xs, ys, gs = np.asarray(x, np.float64)[known], y[known], groups[known]
    predicted = np.empty(len(ys))
    for train, test in GroupKFold(n_splits=folds).split(xs, ys, gs):
        predicted[test] = ridge_loo_predict(xs[train], ys[train], xs[test])
    out[known] = predicted
    return out


def probe_difference(
    vectors_pred: np.ndarray,
    words_pred: np.ndarray,
    y: np.ndarray,
    replicates: int,
    rng: np.random.Generator,
) -> dict:
    """Probe r from the vectors minus probe r from the words (layer 0), with the paired
    bootstrap interval over emotions (both r on the same resample in each replicate)."""
    r_vectors, n = _r_known(vectors_pred, y)
    r_words, _ = _r_known(words_pred, y)
    if n < 3 or not (math.isfinite(r_vectors) and math.isfinite(r_words)):
        return measure(math.nan, (math.nan, math.nan), None, n=n)
    draws = bootstrap_rs([vectors_pred, words_pred], y, replicates, rng)
    return measure(
        r_vectors - r_words,
        percentile_interval(draws[:, 0] - draws[:, 1]),
        "paired bootstrap over emotions",
        n=n,
    )
