"""The generalisation measurements on data with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from emotion_vectors import generalisation as g


def test_agreement_of_identical_and_unrelated_corpora():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(6, 50))
    same = g.corpus_agreement(a, 3 * a)
    assert same["diagonal_mean"] == pytest.approx(1.0)
    assert same["matched_share"] == 1.0
    assert same["chance"] == pytest.approx(1 / 6)
    other = g.corpus_agreement(a, rng.normal(size=(6, 50)))
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
    rank, predicted = g.scenario_ranks(acts, labels, emotions, vectors)
    assert list(rank) == [0, 0, 0, 0, 1]
    assert predicted[4, 0] == 2
    s = g.accuracy(rank, len(emotions))
    assert s["passages"] == 5 and s["candidates"] == 4
    assert s["top1"]["value"] == pytest.approx(4 / 5) and s["top1"]["hits"] == 4
    assert s["top3"]["value"] == 1.0
    assert s["top1"]["chance"] == 0.25 and s["top3"]["chance"] == 0.75
    low, high = s["top1"]["ci"]
    assert low < 0.8 < high  # Wilson, 4 of 5
    assert 0 < s["top1"]["p"] < 0.05  # 4 of 5 at chance 1/4: p = 0.0156


def test_a_fixed_reference_replaces_the_passages_own_mean():
    """Centred on a reference the passages lie beside, scoring sees the common offset: with
    the passages' own mean (transductive) it vanishes."""
    emotions = ["a", "b"]
    vectors = np.eye(2, 3)
    acts = np.array([[1.0, 0, 0], [0, 1.0, 0]]) + np.array([0, 5.0, 0])  # all lean toward b
    own, _ = g.scenario_ranks(acts, ["a", "b"], emotions, vectors)
    fixed, _ = g.scenario_ranks(acts, ["a", "b"], emotions, vectors, reference=np.zeros(3))
    assert list(own) == [0, 0]
    assert list(fixed) == [1, 0]


def test_scenarios_of_emotions_outside_the_candidates_are_left_out():
    rank, _ = g.scenario_ranks(np.eye(3, 4), ["a", "b", "zz"], ["a", "b"], np.eye(2, 4))
    assert len(rank) == 2


def test_the_layer_is_chosen_on_one_half_and_scored_on_the_other():
    labels = ["a", "a", "b", "b", "a", "b"]
    halves = g.split_halves(labels)
    assert list(halves) == [0, 1, 0, 1, 0, 0]
    # Layer 3 is perfect on half 0 only, layer 7 on half 1 only: each half's layer is the
    # other's best, so the held-out score is what those layers get on the unseen half.
    ranks = {
        3: np.array([0, 2, 0, 2, 0, 0]),
        7: np.array([1, 0, 1, 0, 1, 1]),
    }
    out = g.held_out_layer(ranks, halves)
    assert out["chosen_on_half_1"] == 7 and out["chosen_on_half_0"] == 3
    # Half 0 is scored at layer 7 (0 of 4 right), half 1 at layer 3 (0 of 2 right).
    assert out["top1"]["value"] == 0.0 and out["top1"]["n"] == 6


def test_valence_pc1_finds_a_planted_axis():
    rng = np.random.default_rng(1)
    emotions = ["happy", "sad", "calm", "angry", "proud", "lonely", "grateful", "bored"]
    valence = {"happy": 2.7, "sad": -2.1, "calm": 1.3, "angry": -2.3, "proud": 2.1}
    valence |= {"lonely": -2.0, "grateful": 2.0, "bored": -1.3}
    axis = rng.normal(size=40)
    vectors = np.outer([valence[e] for e in emotions], axis) + 0.05 * rng.normal(size=(8, 40))
    out = g.valence_pc1(emotions, vectors, valence)
    assert out["n"] == 8 and out["r"] > 0.99
    assert g.valence_pc1(emotions, -vectors, valence)["r"] > 0.99  # PC1's sign does not matter
    assert g.valence_pc1(["x", "y"], vectors[:2], valence)["r"] is None
