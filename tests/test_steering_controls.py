"""The steering controls' maths: seeded random directions that do not depend on how many are
drawn (so a word's null can be cached), shuffled partners, per-word p-values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emotion_vectors.steering_controls import (
    random_directions,
    shuffled_partners,
    summarise,
    word_table,
)


def test_random_directions_are_unit_seeded_and_stable_in_number():
    ten = random_directions(10, 64, seed=3)
    np.testing.assert_allclose(np.linalg.norm(ten, axis=1), 1.0)
    np.testing.assert_array_equal(random_directions(4, 64, seed=3), ten[:4])
    assert not np.allclose(random_directions(4, 64, seed=4), ten[:4])
    # Nearly orthogonal in a wide space, as random directions should be.
    cos = ten @ ten.T - np.eye(10)
    assert np.abs(cos).max() < 0.6


def test_shuffled_partners_never_pair_a_word_with_its_own_vector():
    emotions = [f"e{i}" for i in range(7)]
    partners = shuffled_partners(emotions, seed=0)
    assert sorted(partners.values()) == emotions
    assert all(partners[e] != e for e in emotions)
    assert partners == shuffled_partners(emotions, seed=0)


def test_word_p_values_and_the_headline():
    null = pd.DataFrame(
        {
            "word": ["a"] * 19 + ["b"] * 19,
            "direction": list(range(19)) * 2,
            "change": list(np.linspace(-1, 1, 19)) * 2,
        }
    )
    own = {"a": 5.0, "b": 0.0}  # a beats every random direction, b about half
    table = word_table(own, {"a": -1.0, "b": 0.5}, null).set_index("emotion")
    assert table.loc["a", "p"] == pytest.approx(1 / 20)
    assert table.loc["b", "p"] == pytest.approx(11 / 20)  # 10 of 19 at least as high
    headline = summarise(table.reset_index(), alpha=0.06)
    assert headline["beats_random"]["value"] == 0.5
    assert headline["own_positive"]["value"] == 0.5  # 0.0 is not a rise
    assert headline["shuffled_positive"]["value"] == 0.5
    assert headline["smallest_p"] == pytest.approx(1 / 20)
