"""The maths of the speakers experiment (the paper's present-speaker and other-speaker
probes, as difference-of-means vectors): vectors read from dialogue tokens, decoded on
held-out templates, their cosines across halves of the templates, and the colon's reading
of the reply to come. Plain numpy; jobs/speakers.py runs it on a model.

Vectors. For token kind X (the feeler's later lines `own`, the other person's lines
`other`), the vector of emotion e is the mean of X's states over e's dialogues minus the
mean over emotions (the run's definition, without denoising). A state is read by the cosine
of (state - the mean state of its template, kind and next speaker over all emotions) with
each vector; its prediction is the emotion of the largest.

Everything scored is held out by template: the vectors come from the other templates
(leave one template out), and every interval resamples emotions and templates together (a
crossed bootstrap), the units the claims are about.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .stats import pearson
from .steering import unit_rows


@dataclass(frozen=True)
class Index:
    """Per dialogue row: its emotion (index into the emotions), template (index), and who
    replies next ("feeler" or "other")."""

    emotion: np.ndarray
    template: np.ndarray
    next: np.ndarray
    n_emotions: int
    n_templates: int


@dataclass(frozen=True)
class Read:
    """What is decoded: the states of `tokens` (own, other, colon, reply) of the rows whose
    next speaker is `next` (own and other tokens do not depend on it: the feeler rows),
    against the vectors of token kind `vectors` (own, other) or the run's (`run`)."""

    name: str
    vectors: str
    tokens: str
    next: str = "feeler"


def difference_vectors(states: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """[k, width]: per emotion the mean state minus the mean over emotions."""
    means = np.stack([states[labels == e].mean(axis=0) for e in range(k)])
    return means - means.mean(axis=0)


def cosines(states: np.ndarray, centre: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """[rows, k] cosine of each centred state with each vector."""
    return unit_rows(states - centre) @ unit_rows(vectors).T


def margins(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """[rows] each row's cosine with its own emotion's vector minus its mean cosine with
    the others'."""
    own = scores[np.arange(len(labels)), labels]
    others = (scores.sum(axis=1) - own) / (scores.shape[1] - 1)
    return own - others


def fold_vectors(
    states: Mapping[str, np.ndarray], index: Index, held_out: int
) -> dict[str, np.ndarray]:
    """{own, other: [k, width]} vectors from the templates other than `held_out`."""
    train = (index.template != held_out) & (index.next == "feeler")
    return {
        kind: difference_vectors(states[kind][train], index.emotion[train], index.n_emotions)
        for kind in ("own", "other")
    }


def fold_scores(
    states: Mapping[str, np.ndarray],
    index: Index,
    read: Read,
    held_out: int,
    vectors: Mapping[str, np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """(test rows, [rows, k] cosines) of one read on the held-out template, each state
    centred on the mean of the held-out template's rows of its next speaker. That mean runs
    over every emotion alike (each template is built with each) and uses no label: it takes
    out what the template's own wording adds to every state of it, which the training
    templates' mean would leave in, the same for all its emotions."""
    test = np.flatnonzero((index.next == read.next) & (index.template == held_out))
    x = states[read.tokens][test]
    centre = np.nanmean(x, axis=0)  # replies: a row without one is NaN
    return test, cosines(x, centre, vectors[read.vectors])


def held_out_scores(
    states: Mapping[str, np.ndarray],
    index: Index,
    read: Read,
    run_vectors: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(rows, [rows, k] cosines) of one read, every template held out in turn."""
    rows, scores = [], []
    for t in range(index.n_templates):
        vectors = fold_vectors(states, index, t)
        if run_vectors is not None:
            vectors["run"] = run_vectors
        test, s = fold_scores(states, index, read, t, vectors)
        rows.append(test)
        scores.append(s)
    return np.concatenate(rows), np.concatenate(scores)


def cell_means(values: np.ndarray, rows: np.ndarray, index: Index) -> np.ndarray:
    """[emotions, templates] mean of a per-row value over each cell's rows."""
    out = np.full((index.n_emotions, index.n_templates), np.nan)
    e, t = index.emotion[rows], index.template[rows]
    for i in range(index.n_emotions):
        for j in range(index.n_templates):
            here = (e == i) & (t == j)
            if here.any():
                out[i, j] = values[here].mean()
    return out


def crossed_draws(
    n_emotions: int, n_templates: int, reps: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Bootstrap draws of emotions and templates, each with replacement (crossed)."""
    rng = np.random.default_rng(seed)
    return [
        (rng.integers(0, n_emotions, n_emotions), rng.integers(0, n_templates, n_templates))
        for _ in range(reps)
    ]


def crossed_interval(
    cells: np.ndarray, draws: Sequence[tuple[np.ndarray, np.ndarray]], confidence: float = 0.95
) -> tuple[float, float]:
    """Percentile interval of the mean of an [emotions, templates] matrix under the draws."""
    values = [np.nanmean(cells[np.ix_(e, t)]) for e, t in draws]
    lo, hi = np.nanpercentile(values, [50 * (1 - confidence), 50 * (1 + confidence)])
    return float(lo), float(hi)


def cross_half_cosines(
    states: Mapping[str, np.ndarray], index: Index, splits: int, seed: int
) -> dict[str, np.ndarray]:
    """Per emotion, averaged over `splits` random halvings of the templates: the cosine of
    its own vector from one half with its own vector from the other (`own_own`, the
    reliability a matched pair can reach), own with other across halves (`own_other`, both
    directions averaged), other with other (`other_other`), and own with the other
    emotions' other vectors (`own_other_null`, the level of unrelated directions)."""
    rng = np.random.default_rng(seed)
    feeler = index.next == "feeler"
    k, n_t = index.n_emotions, index.n_templates
    acc = {key: np.zeros(k) for key in ("own_own", "own_other", "other_other", "own_other_null")}
    off = ~np.eye(k, dtype=bool)
    for _ in range(splits):
        half = rng.permutation(n_t)[: n_t // 2]
        a = feeler & np.isin(index.template, half)
        b = feeler & ~np.isin(index.template, half)
        v = {
            (kind, side): unit_rows(difference_vectors(states[kind][rows], index.emotion[rows], k))
            for kind in ("own", "other")
            for side, rows in (("a", a), ("b", b))
        }
        cross_ab = v["own", "a"] @ v["other", "b"].T
        cross_ba = v["own", "b"] @ v["other", "a"].T
        acc["own_own"] += np.sum(v["own", "a"] * v["own", "b"], axis=1)
        acc["other_other"] += np.sum(v["other", "a"] * v["other", "b"], axis=1)
        acc["own_other"] += (np.diag(cross_ab) + np.diag(cross_ba)) / 2
        null = np.where(off, cross_ab, 0).sum(axis=1) + np.where(off, cross_ba, 0).sum(axis=1)
        acc["own_other_null"] += null / (2 * (k - 1))
    return {key: value / splits for key, value in acc.items()}


def emotion_interval(
    values: np.ndarray, reps: int, seed: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval over emotions of the mean of a per-emotion value."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(values), (reps, len(values)))
    means = values[draws].mean(axis=1)
    lo, hi = np.percentile(means, [50 * (1 - confidence), 50 * (1 + confidence)])
    return float(lo), float(hi)


def residualised(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Each value minus the mean of its group."""
    out = values.astype(np.float64).copy()
    for g in np.unique(groups):
        here = groups == g
        out[here] -= out[here].mean()
    return out


def crossed_r(
    x: np.ndarray, y: np.ndarray, rows: np.ndarray, index: Index,
    draws: Sequence[tuple[np.ndarray, np.ndarray]],
) -> np.ndarray:  # fmt: skip
    """Pearson r of x and y (per-row values of `rows`) under each crossed draw: the rows of
    every drawn (emotion, template) cell, as often as the cell is drawn."""
    e, t = index.emotion[rows], index.template[rows]
    cells = {
        (i, j): np.flatnonzero((e == i) & (t == j))
        for i in range(index.n_emotions)
        for j in range(index.n_templates)
    }
    out = []
    for de, dt in draws:
        picked = np.concatenate([cells[i, j] for i in de for j in dt])
        out.append(pearson(x[picked], y[picked]))
    return np.asarray(out)
