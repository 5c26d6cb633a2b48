"""The story checks: what counts as code, a list, a refusal or a near-duplicate, and how
the judge's answers are credited and compared with chance."""

from __future__ import annotations

import numpy as np
import pytest

from emotion_vectors.story_checks import (
    agreement_table,
    form_problems,
    judge_prompt,
    judged,
    near_duplicates,
    rotated,
)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("I walked home. I can't believe the rain stopped.", []),
        ("Tom opened his laptop and typed def solve(x): return x;", ["code"]),
        ("```python print('hi') ```", ["code"]),
        ("She listed her chores: 1. Laundry 2. Dishes 3. Sleep.", ["list"]),
        ("As an AI language model, I cannot write that story.", ["refusal"]),
        ("I'm sorry, but I can't help with that.", ["refusal"]),
        ("Here is a short story about Maya. Maya waited.", ["refusal"]),
    ],
)
def test_form_problems(text, found):
    assert form_problems(text) == found


def test_near_duplicates_need_half_the_five_grams():
    base = "the old man walked slowly to the station and waited for the last train home"
    texts = [
        base,
        base + " that night",  # almost all 5-grams shared
        "the old man walked slowly to the market and bought bread for his wife",  # a few
        "nothing here resembles any other story at all in this small list",
    ]
    assert near_duplicates(texts) == [1, 0, -1, -1]


def test_the_judge_credits_the_likeliest_emotion_and_splits_ties():
    scores = np.log(np.array([[0.5, 0.3, 0.2], [0.4, 0.4, 0.2]]))
    np.testing.assert_allclose(judged(scores), [[1, 0, 0], [0.5, 0.5, 0]])


def test_agreement_against_chance_and_shuffled_labels():
    emotions = ["happy", "sad", "calm", "angry"]
    rng = np.random.default_rng(0)
    intended = [emotions[i % 4] for i in range(80)]
    perfect = np.eye(4)[[i % 4 for i in range(80)]]
    table = agreement_table(intended, perfect, emotions)
    assert table["agreement"] == 1.0 and table["emotions_above_chance"] == 4
    assert table["p_permutation"] < 0.01
    # A judge that always answers "happy" agrees on a quarter: chance, and no better than
    # the shuffled labels.
    always = np.tile([1.0, 0, 0, 0], (80, 1))
    table = agreement_table(intended, always, emotions)
    assert table["agreement"] == pytest.approx(0.25)
    assert table["p_permutation"] > 0.5
    assert table["per_emotion"]["happy"]["agreement"] == 1.0
    assert table["per_emotion"]["happy"]["judged_as_this"] == 80
    noise = rng.dirichlet(np.ones(4), size=80)
    assert 0 <= agreement_table(intended, judged(np.log(noise)), emotions)["agreement"] <= 1


def test_options_rotate_and_the_story_comes_last():
    assert rotated(["a", "b", "c"], 1) == ["b", "c", "a"]
    assert rotated(["a", "b", "c"], 4) == ["b", "c", "a"]
    prompt = judge_prompt("Tom sighed.", ["sad", "calm"])
    assert "sad, calm" in prompt and prompt.endswith("Story: Tom sighed.")
