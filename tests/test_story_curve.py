"""The story curve's maths: topic-balanced subsets, vectors built as the run builds them,
intervals that resample subsets and scenarios, paired differences."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from emotion_vectors.generalisation import scenario_ranks
from emotion_vectors.story_curve import (
    balanced_subset,
    curve_point,
    scenario_hits,
    story_vectors,
    subset_draws,
    subset_sizes,
)
from emotion_vectors.vectors import layer_vectors

TOPICS = [t for t in ("bus", "bread", "exam", "flat") for _ in range(4)]  # 4 topics x 4


@pytest.mark.parametrize("n", [1, 3, 4, 6, 8, 15])
def test_subsets_are_spread_over_topics_as_evenly_as_n_allows(n):
    rng = np.random.default_rng(1)
    for _ in range(20):
        chosen = balanced_subset(TOPICS, n, rng)
        assert len(chosen) == len(set(chosen)) == n
        per_topic = Counter(TOPICS[i] for i in chosen)
        counts = [per_topic.get(t, 0) for t in ("bus", "bread", "exam", "flat")]
        assert max(counts) - min(counts) <= 1


def test_a_subset_as_large_as_the_stories_is_all_of_them_and_draws_are_seeded():
    assert balanced_subset(TOPICS, 16, np.random.default_rng(0)).tolist() == list(range(16))
    topics = {"happy": TOPICS, "sad": TOPICS[:8]}
    a, b = subset_draws(topics, 3, 5, seed=7), subset_draws(topics, 3, 5, seed=7)
    assert all(np.array_equal(x[e], y[e]) for x, y in zip(a, b, strict=True) for e in topics)
    c = subset_draws(topics, 3, 5, seed=8)
    assert any(not np.array_equal(x["happy"], y["happy"]) for x, y in zip(a, c, strict=True))


def test_subset_sizes_stop_at_the_fewest_stories_an_emotion_has():
    assert subset_sizes([6, 12, 24, 48, 96], {"a": 96, "b": 90}) == [6, 12, 24, 48]
    assert subset_sizes([96, 6], {"a": 96, "b": 96}) == [6]  # 96: every story, the last point
    assert subset_sizes([6, 12, 24], {"a": 24, "b": 30}) == [6, 12, 24]
    assert subset_sizes([6, 12], {"a": 2, "b": 30}) == []


def test_vectors_from_every_story_are_the_runs_vectors():
    rng = np.random.default_rng(0)
    states = {e: rng.normal(size=(10, 6)) + i for i, e in enumerate(("a", "b", "c"))}
    neutral = rng.normal(size=(12, 6))
    run = layer_vectors(states, neutral, 0.5)
    everything = {e: np.arange(10) for e in states}
    ours = story_vectors(states, everything, neutral, run.subspace.components, "emotions")
    np.testing.assert_allclose(ours, run.denoised, atol=1e-12)
    centred = story_vectors(states, everything, neutral, run.subspace.components, "neutral")
    assert not np.allclose(centred, ours)
    with pytest.raises(ValueError, match="centring"):
        story_vectors(states, everything, neutral, run.subspace.components, "median")


def test_hits_are_the_scenario_ranks_top1():
    rng = np.random.default_rng(2)
    vectors, acts = rng.normal(size=(3, 5)), rng.normal(size=(9, 5))
    labels = ["a", "b", "c"] * 3
    ranks, _ = scenario_ranks(acts, labels, ["a", "b", "c"], vectors, acts[0])
    np.testing.assert_array_equal(
        scenario_hits(vectors, acts, labels, ["a", "b", "c"], acts[0]), ranks == 0
    )


def test_the_interval_covers_subset_and_scenario_variation_and_the_difference_is_paired():
    labels = [e for e in ("a", "b", "c", "d") for _ in range(5)]
    constant = np.tile(np.array([1, 0] * 10, dtype=bool), (8, 1))
    point = curve_point(constant, constant[0], labels, 400, 0)
    # Identical hits: no spread over subsets, and the paired difference is exactly 0.
    assert point["subset_range"] == [0.5, 0.5]
    assert point["minus_templates"] == 0 and point["minus_templates_ci"] == [0.0, 0.0]
    assert point["ci"][0] < 0.5 < point["ci"][1]  # the scenarios still vary
    rng = np.random.default_rng(3)
    varied = rng.random((8, 20)) < np.linspace(0.2, 0.8, 8)[:, None]  # subsets differ a lot
    wide = curve_point(varied, None, labels, 400, 0)
    assert wide["subset_range"][0] < wide["top1"] < wide["subset_range"][1]
    assert wide["ci"][1] - wide["ci"][0] > point["ci"][1] - point["ci"][0]
    assert "minus_templates" not in wide
