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

Scoring: each passage's pooled activation minus a fixed reference, the mean of the neutral
passages pooled the same way (the headline; `transductive`: minus the mean of the scenario
passages themselves, which uses the test set's own statistics), projected on each
unit-length denoised vector; the highest projection is the prediction. The lexical baseline
scores the same way with the passages' input embeddings (layer 0) against the input
embeddings of the emotion words: what the words of a passage alone say about its emotion.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .stats import binomial_p, measure, wilson_interval


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
    order = np.argsort(-scores, axis=1)
    return np.argmax(order == truth[:, None], axis=1), order[:, :3]


def accuracy(ranks: np.ndarray, candidates: int) -> dict:
    """Top-1 and top-3 accuracy with Wilson intervals, chance and the binomial p."""
    n = len(ranks)
    out = {"passages": n, "candidates": candidates}
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
    from .norms import norms_for

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
