"""The logit lens on a toy norm and unembedding, and the "form of the word" rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emotion_vectors.lens import content_words, is_form_of, logit_changes, logit_lens, word_stem


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
    result = logit_lens(["x"], logit_changes(v, norm, unembed), str, top_k=2)
    assert [t for t, _, _ in result.promoted[0]] == [1, 0]
    assert [t for t, _, _ in result.suppressed[0]] == [3, 2]


def test_post_norm_vectors_are_not_normed_again():
    norm, unembed = _toy()
    v = np.array([[0.0, 0.0, 1.0]])
    # Already post-norm: dim 2 reaches token 2 directly, with weight 5.
    np.testing.assert_allclose(
        logit_changes(v, norm, unembed, post_norm=True)[0], [0, 0, 5.0, 0], atol=1e-6
    )


@pytest.mark.parametrize(
    ("token", "emotion"),
    [
        ("happiness", "happy"),
        ("Happily", "happy"),
        ("anger", "angry"),
        ("sadness", "sad"),
        (" sad", "sad"),
        ("love", "loving"),
        ("desperately", "desperate"),
        ("desperation", "desperate"),
        ("nostalgia", "nostalgic"),
        ("panic", "panicked"),
        ("excitement", "excited"),
        ("loneliness", "lonely"),
        ("ease", "at ease"),
        ("grief", "grief-stricken"),
    ],
)
def test_forms_of_an_emotion_word(token, emotion):
    assert is_form_of(token, emotion)


@pytest.mark.parametrize(
    ("token", "emotion"),
    [
        ("fear", "afraid"),
        ("afraid", "scared"),
        ("said", "sad"),
        ("side", "sad"),
        ("sa", "sad"),
        ("at", "at ease"),
        ("happen", "happy"),
        ("", "calm"),
    ],
)
def test_other_words_are_not_forms(token, emotion):
    assert not is_form_of(token, emotion)


def test_stems_and_content_words():
    assert word_stem("happy") == word_stem("happiness") == "happ"
    assert word_stem("angry") == word_stem("anger") == "angr"
    assert word_stem("afraid") != word_stem("fear")
    assert content_words("worn out") == ["worn"]
    assert content_words("self-confident") == ["confident"]


def test_hit_rate_counts_emotions_with_a_form_among_the_top_tokens():
    vocab = ["joy", "happiness", "table", "gloom"]
    changes = np.array([[3.0, 2.0, 1.0, 0.0], [0.0, 1.0, 3.0, 2.0]])
    result = logit_lens(["happy", "sad"], changes, lambda i: vocab[i], top_k=2)
    assert result.hits == [True, False]
    assert result.hit_rate == 0.5


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
    full = logit_lens(["happy", "sad", "joyful"], changes, lambda i: vocab[i], top_k=3)
    lean = logit_lens(
        ["happy", "sad", "joyful"], changes, lambda i: vocab[i], top_k=3, suppressed=False
    )
    assert lean.promoted == full.promoted and lean.hits == full.hits
    assert lean.suppressed == [[], [], []] and all(len(s) == 3 for s in full.suppressed)
