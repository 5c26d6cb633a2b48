"""Do the vectors carry the emotion concept or only its word? The maths of three measurements
(the job is jobs/generalisation.py, the figures render/generalisation.py):

- corpus agreement: the cosine between each emotion's template vector and its story vector
  (the diagonal) against the cosines between different emotions (off the diagonal), and
  how often an emotion's nearest story vector is its own;
- implicit scenarios: passages that evoke an emotion without naming any emotion of the run
  (checked when the config is read) are pooled by the model and scored against every
  candidate emotion's vector: top-1 and top-3 accuracy with Wilson intervals, against
  chance and against a lexical baseline;
- valence: PC1 of the vectors against human valence ratings (VADER), on the emotions the
  corpora share, so the corpora are compared on the same words.

Scoring: each passage's pooled activation minus a fixed reference, projected on each
unit-length denoised vector; the highest projection is the prediction. The headline
reference is the mean of neutral *narrative* passages (same genre as the scenarios, pooled
the same way): a reference of another genre (the expository neutral set) adds a genre
difference to every passage, which projects on some emotions more than others. The second
reference is the template grand mean (the mean over emotions of their template passages:
the centre the vectors themselves are taken from); `transductive` centres on the scenarios'
own mean, which uses the test set's statistics.

Uncertainty: the unit the claim generalises over is the emotion, so intervals come from a
hierarchical bootstrap (emotions resampled, then passages within each drawn emotion).
Controls: lexical baselines scored on the same passages with the same candidates, each a
nearest centroid by cosine: the input embeddings of the emotion words, a TF-IDF model
fitted on the template passages only, and the pooled states at layer 1. The vectors are
compared with every baseline on the same passages (McNemar's exact test and a bootstrap
interval of the paired accuracy difference, resampled as above).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .stats import binomial_p, measure, percentile_interval, wilson_interval


def unit(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float64)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


def corpus_agreement(a: np.ndarray, b: np.ndarray) -> dict:
    """Rows of `a` and `b` are the same emotions in the same order (two corpora). Returns
    the cosine matrix and its diagonal / off-diagonal means, and the share of emotions whose
    most similar row of `b` is their own (chance: 1 / n)."""
    cos = unit(a) @ unit(b).T
    n = cos.shape[0]
    off = ~np.eye(n, dtype=bool)
    return {
        "cosine": cos,
        "diagonal_mean": float(np.diag(cos).mean()),
        "off_diagonal_mean": float(cos[off].mean()) if n > 1 else None,
        "matched_share": float((cos.argmax(axis=1) == np.arange(n)).mean()),
        "chance": 1.0 / n,
        "n": n,
    }


def scenario_ranks(
    activations: np.ndarray,
    labels: Sequence[str],
    emotions: Sequence[str],
    vectors: np.ndarray,
    reference: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(rank of the true emotion per passage, 0 = top-1; [passages, 3] top-3 predictions),
    for the passages whose emotion is a candidate. `reference`: the vector subtracted from
    every passage (None: the mean of the passages, the transductive centring)."""
    keep = np.array([lab in emotions for lab in labels])
    acts = np.asarray(activations, dtype=np.float64)
    centre = acts.mean(axis=0) if reference is None else np.asarray(reference, dtype=np.float64)
    scores = (acts[keep] - centre) @ unit(vectors).T
    truth = np.array([list(emotions).index(lab) for lab in labels if lab in emotions])
    return ranks_of(scores, truth)


def ranks_of(scores: np.ndarray, truth: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(rank of the true column per row, 0 = top-1; [rows, 3] best columns) of a score
    matrix. Exact ties (a bag-of-words model that sees no word of a passage scores every
    candidate alike) are broken at random with a fixed seed, not in favour of the first
    candidate."""
    scores = np.asarray(scores, dtype=np.float64)
    tiebreak = np.random.default_rng(seed).random(scores.shape)
    order = np.lexsort((tiebreak, -scores), axis=-1)
    return np.argmax(order == np.asarray(truth)[:, None], axis=1), order[:, :3]


def accuracy(ranks: np.ndarray, candidates: int) -> dict:
    """Top-1 and top-3 accuracy with Wilson intervals, chance and the binomial p."""
    n = len(ranks)
    out: dict[str, Any] = {"passages": n, "candidates": candidates}
    for k in (1, 3):
        hits = int((ranks < k).sum())
        chance = min(k, candidates) / candidates
        out[f"top{k}"] = measure(
            hits / n if n else None,
            wilson_interval(hits, n),
            "wilson",
            hits=hits,
            n=n,
            chance=chance,
            p=binomial_p(hits, n, chance),
        )
    return out


def split_halves(labels: Sequence[str]) -> np.ndarray:
    """Half 0 or 1 of each passage: alternate passages within each emotion, in file order
    (fixed in advance, no randomness)."""
    seen: dict[str, int] = {}
    halves = []
    for label in labels:
        halves.append(seen.get(label, 0) % 2)
        seen[label] = seen.get(label, 0) + 1
    return np.array(halves)


def held_out_layer(ranks_by_layer: Mapping[int, np.ndarray], halves: np.ndarray) -> dict:
    """Choose the layer on one half of the passages (best top-1, ties to the lower layer),
    score it on the other half, and the other way round: the top-1 accuracy of a layer
    chosen without looking at the passages it is scored on."""
    layers = sorted(ranks_by_layer)
    hits = 0
    chosen = {}
    for half in (0, 1):
        train, test = halves != half, halves == half
        best = max(layers, key=lambda L: ((ranks_by_layer[L][train] == 0).mean(), -L))
        chosen[f"chosen_on_half_{1 - half}"] = best
        hits += int((ranks_by_layer[best][test] == 0).sum())
    n = len(halves)
    return {
        "top1": measure(hits / n, wilson_interval(hits, n), "wilson", hits=hits, n=n),
        **chosen,
        "method": "layer chosen on one half of the scenarios (alternate passages per "
        "emotion), top-1 scored on the other half, both ways",
    }


def valence_pc1(emotions: Sequence[str], vectors: np.ndarray, valence: Mapping[str, float]) -> dict:
    """Pearson r between PC1 of the (centred) vectors and human valence, on the rated
    emotions; the PC's sign is arbitrary, so r is reported with PC1 oriented to positive."""
    from .human_norms import norms_for

    x = np.asarray(vectors, dtype=np.float64)
    x = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    pc1 = x @ vt[0]
    ratings = norms_for(emotions, valence)
    rated = ~np.isnan(ratings)
    if rated.sum() < 3:
        return {"r": None, "n": int(rated.sum())}
    r = float(np.corrcoef(pc1[rated], ratings[rated])[0, 1])
    return {"r": abs(r), "n": int(rated.sum())}


# ---------------------------------------------------------------- lexical baselines


def nearest_centroid_ranks(
    passages: np.ndarray,
    labels: Sequence[str],
    emotions: Sequence[str],
    centroids: np.ndarray,
) -> np.ndarray:
    """Rank of the true emotion per passage when each passage goes to the centroid (rows of
    `centroids`, in `emotions` order) of highest cosine; passages whose emotion is not a
    candidate are left out. Centring, if any, is the caller's."""
    keep = np.array([lab in emotions for lab in labels])
    scores = unit(np.asarray(passages, dtype=np.float64)[keep]) @ unit(centroids).T
    truth = np.array([list(emotions).index(lab) for lab in labels if lab in emotions])
    return ranks_of(scores, truth)[0]


def fit_tfidf_centroids(texts: Sequence[str], labels: Sequence[str], emotions: Sequence[str]):
    """A TF-IDF model fitted on the template passages (`texts`, their emotions `labels`)
    and nothing else, and each candidate emotion's centroid (mean of its passages' rows).
    Returns (vectorizer, [emotions, vocabulary] centroids)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(sublinear_tf=True)
    matrix = vectorizer.fit_transform(list(texts))
    label = np.asarray(labels)
    centroids = np.vstack([np.asarray(matrix[label == e].mean(axis=0)).ravel() for e in emotions])
    return vectorizer, centroids


def tfidf_ranks(vectorizer, centroids: np.ndarray, texts, labels, emotions) -> np.ndarray:
    """The scenarios scored by a fitted TF-IDF model: nearest centroid by cosine. Words the
    templates never use have no column, so they count for nothing."""
    rows = vectorizer.transform(list(texts)).toarray()
    return nearest_centroid_ranks(rows, labels, emotions, centroids)


# ---------------------------------------------------------------- intervals and tests


def hierarchical_indices(
    labels: Sequence[str], replicates: int, seed: int
) -> tuple[np.ndarray, ...]:
    """Passage indices of each bootstrap replicate: the emotions (unique labels) drawn with
    replacement, then, within each drawn emotion, its passages drawn with replacement.
    The same (labels, replicates, seed) give the same draws, so every statistic of a run
    (vectors, references, baselines, differences) is resampled alike; computed once."""
    return _hierarchical_indices(tuple(labels), int(replicates), int(seed))


@functools.lru_cache(maxsize=8)
def _hierarchical_indices(labels: tuple, replicates: int, seed: int) -> tuple[np.ndarray, ...]:
    array = np.asarray(labels)
    groups = [np.flatnonzero(array == e) for e in dict.fromkeys(labels)]
    sizes = np.array([len(g) for g in groups])
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(replicates):
        chosen = rng.integers(len(groups), size=len(groups))
        within = [groups[g][rng.integers(sizes[g], size=sizes[g])] for g in chosen]
        draws.append(np.concatenate(within))
    return tuple(draws)


def hierarchical_bootstrap(
    values: np.ndarray, labels: Sequence[str], replicates: int, seed: int
) -> np.ndarray:
    """Means of `values` ([passages] or [passages, k]: k statistics resampled together,
    so differences between them are paired) over hierarchical resamples."""
    values = np.asarray(values, dtype=np.float64)
    return np.stack(
        [values[idx].mean(axis=0) for idx in hierarchical_indices(labels, replicates, seed)]
    )


def accuracy_interval(
    hits: np.ndarray, labels: Sequence[str], replicates: int, seed: int
) -> tuple[float, float]:
    """95 % percentile interval of the accuracy under the hierarchical bootstrap."""
    return percentile_interval(hierarchical_bootstrap(hits, labels, replicates, seed))


def mcnemar_exact(hits_a: np.ndarray, hits_b: np.ndarray) -> dict:
    """McNemar's exact test on paired right/wrong outcomes: passages only `a` gets right
    against those only `b` gets right, two-sided binomial at 1/2."""
    from scipy.stats import binomtest

    a, b = np.asarray(hits_a, dtype=bool), np.asarray(hits_b, dtype=bool)
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    n = only_a + only_b
    p = 1.0 if n == 0 else float(binomtest(only_a, n, 0.5).pvalue)
    return {"only_vectors": only_a, "only_baseline": only_b, "p": p}


def paired_comparison(
    hits_a: np.ndarray, hits_b: np.ndarray, labels: Sequence[str], replicates: int, seed: int
) -> dict:
    """Accuracy of `a` minus that of `b` on the same passages, with its hierarchical
    bootstrap interval (both resampled together) and McNemar's exact test."""
    a, b = np.asarray(hits_a, dtype=np.float64), np.asarray(hits_b, dtype=np.float64)
    draws = hierarchical_bootstrap(np.column_stack([a, b]), labels, replicates, seed)
    return measure(
        float(a.mean() - b.mean()),
        percentile_interval(draws[:, 0] - draws[:, 1]),
        "bootstrap over emotions, passages within them (paired)",
        mcnemar=mcnemar_exact(a, b),
    )


def confusion_counts(
    truth: Sequence[str], predicted: Sequence[str], emotions: Sequence[str]
) -> np.ndarray:
    """[true emotion, predicted emotion] counts of passages, rows and columns in `emotions`
    order."""
    index = {e: i for i, e in enumerate(emotions)}
    counts = np.zeros((len(emotions), len(emotions)), dtype=int)
    for t, p in zip(truth, predicted, strict=True):
        counts[index[t], index[p]] += 1
    return counts
