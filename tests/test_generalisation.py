"""The generalisation measurements on data with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from emotion_vectors.generalisation import corpus_agreement, score_scenarios, valence_pc1


def test_agreement_of_identical_and_unrelated_corpora():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(6, 50))
    same = corpus_agreement(a, 3 * a)
    assert same["diagonal_mean"] == pytest.approx(1.0)
    assert same["matched_share"] == 1.0
    assert same["chance"] == pytest.approx(1 / 6)
    other = corpus_agreement(a, rng.normal(size=(6, 50)))
    assert abs(other["diagonal_mean"]) < 0.5
    assert other["off_diagonal_mean"] == pytest.approx(
        (other["cosine"].sum() - np.trace(other["cosine"])) / 30
    )


def test_scenarios_scored_by_projection_with_ranks():
    emotions = ["a", "b", "c", "d"]
    vectors = np.eye(4, 8) * np.array([[1.0], [2.0], [3.0], [4.0]])  # norms must not matter
    # Passage i points mostly along emotion i's direction; the last one along 'c' but
    # labelled 'a' (a miss whose true emotion ranks second).
    acts = np.eye(4, 8) * 5 + 10  # a common offset, removed by centring
    acts = np.vstack([acts, 10 + 5 * np.eye(1, 8, 2) + 2 * np.eye(1, 8, 0)])
    labels = ["a", "b", "c", "d", "a"]
    s = score_scenarios(acts, labels, emotions, vectors)
    assert s["passages"] == 5 and s["candidates"] == 4
    assert s["top1"] == pytest.approx(4 / 5)
    assert s["top3"] == 1.0
    assert s["chance_top1"] == 0.25 and s["chance_top3"] == 0.75
    assert list(s["rank"]) == [0, 0, 0, 0, 1]


def test_scenarios_of_emotions_outside_the_candidates_are_left_out():
    s = score_scenarios(np.eye(3, 4), ["a", "b", "zz"], ["a", "b"], np.eye(2, 4))
    assert s["passages"] == 2


def test_valence_pc1_finds_a_planted_axis():
    rng = np.random.default_rng(1)
    emotions = ["happy", "sad", "calm", "angry", "proud", "lonely", "grateful", "bored"]
    valence = {"happy": 2.7, "sad": -2.1, "calm": 1.3, "angry": -2.3, "proud": 2.1}
    valence |= {"lonely": -2.0, "grateful": 2.0, "bored": -1.3}
    axis = rng.normal(size=40)
    vectors = np.outer([valence[e] for e in emotions], axis) + 0.05 * rng.normal(size=(8, 40))
    out = valence_pc1(emotions, vectors, valence)
    assert out["n"] == 8 and out["r"] > 0.99
    assert valence_pc1(emotions, -vectors, valence)["r"] > 0.99  # PC1's sign does not matter
    assert valence_pc1(["x", "y"], vectors[:2], valence)["r"] is None
