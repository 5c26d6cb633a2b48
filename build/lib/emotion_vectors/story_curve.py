"""Why story vectors lose to template vectors, measured: the implicit-scenario top-1 of
story vectors rebuilt from n stories per emotion (n = 6, 12, 24, ...), from several pooling
starts, centred two ways, against the template vectors on the same scenarios.

The unit the claim generalises over is twofold: the stories (which n of them an emotion's
vector is built from) and the scenarios (emotions, then passages within them). So every
point is the mean over `draws` random story subsets, and its interval resamples both: each
bootstrap replicate takes one subset at random and one hierarchical resample of the
scenarios (generalisation.hierarchical_indices). The difference from the templates is
paired: the same scenario resample scores both. Nothing here is chosen on the scenarios;
every start, centring and size is reported.

Subsets are balanced over topics (each topic contributes as evenly as n allows), so a small
n does not also mean a few topics, and a subset of size n is drawn independently per
emotion and per draw (seeded). Plain numpy over [stories, width] matrices; the job is
jobs/story_curve.py, the figure render/story_curve.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .generalisation import hierarchical_indices, scenario_ranks, valence_pc1
from .stats import percentile_interval
from .vectors import center, neutral_subspace, project_out

# How an emotion's mean story state is centred before the neutral subspace is projected out:
# the vectors' own definition (the mean over the run's emotions), or the mean of the
# story corpus's neutral set pooled the same way (no emotion at all).
CENTRINGS = ("emotions", "neutral")


def balanced_subset(topics: Sequence[str], n: int, rng: np.random.Generator) -> np.ndarray:
    """n indices of one emotion's stories, spread over topics as evenly as possible: whole
    rounds of one story per topic (topics in random order, a random story of each not yet
    taken), until n are chosen. All of them when n >= len(topics)."""
    topic = np.asarray(topics)
    if n >= len(topic):
        return np.arange(len(topic))
    pools = {t: list(rng.permutation(np.flatnonzero(topic == t))) for t in np.unique(topic)}
    chosen: list[int] = []
    while len(chosen) < n:
        for t in rng.permutation(sorted(pools)):
            if pools[t] and len(chosen) < n:
                chosen.append(int(pools[t].pop()))
    return np.sort(np.array(chosen))


def story_vectors(
    states: Mapping[str, np.ndarray],
    subsets: Mapping[str, np.ndarray],
    neutral: np.ndarray,
    components: np.ndarray,
    centring: str,
) -> np.ndarray:
    """[emotions, width]: each emotion's mean state over its subset, centred (`centring`,
    CENTRINGS) and with the neutral subspace `components` projected out."""
    means = np.stack([states[e][subsets[e]].astype(np.float64).mean(axis=0) for e in states])
    if centring == "emotions":
        centred = center(means)
    elif centring == "neutral":
        centred = means - neutral.astype(np.float64).mean(axis=0)
    else:
        raise ValueError(f"centring must be one of {CENTRINGS}: {centring}")
    return project_out(centred, components)


def subset_draws(
    topics: Mapping[str, Sequence[str]], n: int, draws: int, seed: int
) -> list[dict[str, np.ndarray]]:
    """`draws` subsets of n stories per emotion (balanced_subset), the same for every
    start and centring (so their curves are paired)."""
    rng = np.random.default_rng([seed, n])
    return [{e: balanced_subset(t, n, rng) for e, t in topics.items()} for _ in range(draws)]


def subset_sizes(sizes: Sequence[int], counts: Mapping[str, int]) -> list[int]:
    """The requested sizes that are a subset for some emotion and that every emotion has
    stories for; the curve's last point, every story of every emotion (the run's own
    vectors), comes on top of them."""
    fewest, most = min(counts.values()), max(counts.values())
    return sorted({n for n in sizes if n <= fewest and n < most})


def every_story(counts: Mapping[str, int]) -> dict[str, np.ndarray]:
    """The subset of the curve's last point: all of each emotion's stories."""
    return {e: np.arange(n) for e, n in counts.items()}


def scenario_hits(
    vectors: np.ndarray,
    scenarios: np.ndarray,
    labels: Sequence[str],
    candidates: Sequence[str],
    reference: np.ndarray | None,
) -> np.ndarray:
    """[passages] bool: the true emotion ranked first (generalisation.scenario_ranks)."""
    return scenario_ranks(scenarios, labels, candidates, vectors, reference)[0] == 0


def curve_point(
    hits: np.ndarray,
    template_hits: np.ndarray | None,
    labels: Sequence[str],
    replicates: int,
    seed: int,
) -> dict:
    """One point of the curve from its [draws, passages] hits: the mean top-1, its 95 %
    interval over story subsets and scenario resamples together, the spread over subsets
    alone, and (with the templates' [passages] hits) the paired difference from them."""
    hits = np.asarray(hits, dtype=np.float64)
    rng = np.random.default_rng(seed)
    resamples = hierarchical_indices(labels, replicates, seed)
    pick = rng.integers(hits.shape[0], size=len(resamples))
    values = np.array([hits[d, idx].mean() for d, idx in zip(pick, resamples, strict=True)])
    per_draw = hits.mean(axis=1)
    out = {
        "top1": float(per_draw.mean()),
        "ci": list(percentile_interval(values)),
        "subset_range": [float(per_draw.min()), float(per_draw.max())],
        "draws": int(hits.shape[0]),
    }
    if template_hits is not None:
        t = np.asarray(template_hits, dtype=np.float64)
        diffs = np.array(
            [hits[d, idx].mean() - t[idx].mean() for d, idx in zip(pick, resamples, strict=True)]
        )
        out["minus_templates"] = float(per_draw.mean() - t.mean())
        out["minus_templates_ci"] = list(percentile_interval(diffs))
    return out


def valence_point(
    emotions: Sequence[str], vectors_by_draw: Sequence[np.ndarray], valence: Mapping[str, float]
) -> dict:
    """|r| of PC1 with human valence over the draws: mean and 95 % range over subsets."""
    found = [valence_pc1(emotions, v, valence)["r"] for v in vectors_by_draw]
    rs = np.array([r for r in found if r is not None], dtype=np.float64)
    if not len(rs):
        return {"abs_r": None, "range": None}
    return {"abs_r": float(rs.mean()), "range": list(percentile_interval(rs))}


def neutral_components(neutral: np.ndarray, variance: float) -> np.ndarray:
    """The neutral subspace the run's vectors project out (vectors.neutral_subspace)."""
    return neutral_subspace(neutral, variance).components
