"""The logit lens on a toy norm and unembedding, and the "form of the word" rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emotion_vectors.lens import (
    FormIndex,
    hit_rate_measure,
    hit_rate_permutation_p,
    logit_changes,
    logit_lens,
)


class ScaledRMSNorm(torch.nn.Module):
    """Gemma-style RMSNorm: x / rms(x) * (1 + weight)."""

    def __init__(self, weight):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.tensor(weight, dtype=torch.float32))

    def forward(self, x):
        rms = x.pow(2).mean(-1, keepdim=True).add(1e-6).rsqrt()
        return x * rms * (1 + self.weight)


def _toy():
    # Three dims, four tokens; the norm's gain turns dim 2 off and doubles dim 1.
    norm = ScaledRMSNorm([0.0, 1.0, -1.0])
    unembed = torch.nn.Linear(3, 4, bias=True)
    with torch.no_grad():
        unembed.weight.copy_(torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 5.0], [-1.0, -1.0, 0]]))
        unembed.bias.copy_(torch.tensor([10.0, -3.0, 0.0, 7.0]))
    return norm, unembed


def test_logit_changes_go_through_the_norm_gain_and_drop_the_bias():
    norm, unembed = _toy()
    v = np.array([[3.0, 4.0, 100.0]])
    rms = np.sqrt((9 + 16 + 100**2) / 3 + 1e-6)
    normed = np.array([3.0, 8.0, 0.0]) / rms
    expected = np.array([normed[0], normed[1], 0.0, -normed[0] - normed[1]])
    np.testing.assert_allclose(logit_changes(v, norm, unembed)[0], expected, rtol=1e-5)
    # Ranking: token 1 (dim 1, doubled) first; dim 2 is huge but the gain removes it.
    result = logit_lens(["x"], logit_changes(v, norm, unembed), str, FormIndex(["x"], {}), 2)
    assert [t for t, _, _ in result.promoted[0]] == [1, 0]
    assert [t for t, _, _ in result.suppressed[0]] == [3, 2]


def test_post_norm_vectors_are_not_normed_again():
    norm, unembed = _toy()
    v = np.array([[0.0, 0.0, 1.0]])
    # Already post-norm: dim 2 reaches token 2 directly, with weight 5.
    np.testing.assert_allclose(
        logit_changes(v, norm, unembed, post_norm=True)[0], [0, 0, 5.0, 0], atol=1e-6
    )


FORMS = {
    "happy": frozenset({"happy", "happiness", "happily"}),
    "sad": frozenset({"sad", "sadness"}),
    "joyful": frozenset({"joyful", "joy"}),
}


def _index(emotions):
    return FormIndex(emotions, FORMS)


def test_hit_rate_counts_emotions_with_a_form_among_the_top_tokens():
    vocab = ["joy", "Happiness", "table", "gloom"]
    changes = np.array([[3.0, 2.0, 1.0, 0.0], [0.0, 1.0, 3.0, 2.0]])
    result = logit_lens(["happy", "sad"], changes, lambda i: vocab[i], _index(["happy", "sad"]), 2)
    assert result.hits == [True, False]
    assert result.hit_rate == 0.5


def test_the_chance_rate_scores_the_same_tokens_against_other_emotions_forms():
    """Row e, column e': e's top tokens hold a form of e'. The hit rate is the diagonal's
    mean, the chance rate the off-diagonal's: here happy's tokens also name joyful."""
    vocab = ["happiness", "joy", "table", "sadness", "x"]
    emotions = ["happy", "sad", "joyful"]
    changes = np.array(
        [
            [3.0, 2.0, 0.5, 0.1, 0.2],  # happiness, joy: names happy and joyful
            [0.1, 0.2, 3.0, 0.3, 2.0],  # table, x: names nothing
            [0.1, 3.0, 2.0, 0.3, 0.2],  # joy, table: names joyful
        ]
    )
    result = logit_lens(emotions, changes, lambda i: vocab[i], _index(emotions), top_k=2)
    assert result.hit_matrix.tolist() == [
        [True, False, True],
        [False, False, False],
        [False, False, True],
    ]
    assert result.hits == [True, False, True]
    assert result.chance_rate == pytest.approx(1 / 6)


def test_the_permutation_p_of_a_perfect_lens_is_small_and_of_a_blind_one_large():
    rng = np.random.default_rng(0)
    n = 20
    perfect = np.eye(n, dtype=bool)
    assert hit_rate_permutation_p(perfect, 999, rng) == pytest.approx(1 / 1000)
    everything = np.ones((n, n), dtype=bool)  # every token names every emotion
    assert hit_rate_permutation_p(everything, 999, rng) == 1.0
    m = hit_rate_measure(
        logit_lens(["happy"] * 1, np.array([[1.0, 0.0]]), lambda i: ["happy", "x"][i],
                   _index(["happy"]), 1),
        10,
        0,
    )  # fmt: skip
    assert m["value"] == 1.0 and m["ci_method"] == "wilson" and m["n"] == 1


def test_top_indices_match_a_full_sort_ties_included():
    from emotion_vectors.lens import top_indices

    rng = np.random.default_rng(0)
    changes = rng.normal(size=(6, 500)).astype(np.float32)
    changes[:, 100:140] = changes[:, 7:8]  # a block of ties around one value
    changes[2, :] = 0.0  # a row of nothing but ties
    for k in (1, 10, 45, 500):
        for largest in (True, False):
            got = top_indices(changes, k, largest)
            for row, idx in zip(changes, got, strict=True):
                key = -row if largest else row
                expected = np.lexsort((np.arange(len(row)), key))[:k]
                np.testing.assert_array_equal(idx, expected)


def test_skipping_the_suppressed_tokens_keeps_the_promoted_ones_and_hits():
    rng = np.random.default_rng(1)
    vocab = ["happy", "happiness", "sad", "gloom", "x", "y", "z", "joy"]
    changes = rng.normal(size=(3, len(vocab)))
    index = _index(["happy", "sad", "joyful"])
    full = logit_lens(["happy", "sad", "joyful"], changes, lambda i: vocab[i], index, top_k=3)
    lean = logit_lens(
        ["happy", "sad", "joyful"], changes, lambda i: vocab[i], index, top_k=3, suppressed=False
    )
    assert lean.promoted == full.promoted and lean.hits == full.hits
    assert lean.suppressed == [[], [], []] and all(len(s) == 3 for s in full.suppressed)
