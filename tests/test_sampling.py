"""The batched sampler: the nucleus it draws from, the shared prompt prefix, and rows that
do not depend on one another (the real embedded model, float32)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emotion_vectors.sampling import (
    SHORTLIST,
    common_prefix_length,
    greedy_with_states,
    nucleus_choice,
    row_seed,
    sample_rows,
)


def _draws(logits: torch.Tensor, n: int, top_p: float, temperature: float = 1.0) -> np.ndarray:
    g = torch.Generator().manual_seed(0)
    rows = logits.expand(n, -1)
    return nucleus_choice(rows, temperature, top_p, [g] * n).numpy()


def test_the_nucleus_holds_top_p_of_the_mass_and_is_sampled_in_proportion():
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
    draws = _draws(probs.log()[None], 20000, top_p=0.9)
    # 0.5 + 0.3 < 0.9, so the third token is in the nucleus and the fourth is not.
    assert set(draws) == {0, 1, 2}
    share = np.bincount(draws, minlength=4) / len(draws)
    np.testing.assert_allclose(share[:3], [0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95], atol=0.015)
    # top_p at the first token's mass keeps that token alone.
    assert set(_draws(probs.log()[None], 200, top_p=0.5)) == {0}


def test_temperature_sharpens():
    logits = torch.tensor([[2.0, 1.0, 0.0]])
    hot = np.bincount(_draws(logits, 5000, 1.0, temperature=2.0), minlength=3)
    cold = np.bincount(_draws(logits, 5000, 1.0, temperature=0.5), minlength=3)
    assert cold[0] > hot[0] and cold[2] < hot[2]


def test_a_flat_distribution_beyond_the_shortlist_is_sorted_in_full():
    vocab = 4 * SHORTLIST
    draws = _draws(torch.zeros(1, vocab), 4000, top_p=0.95)
    assert draws.max() >= SHORTLIST  # tokens the shortlist does not hold are drawn
    assert len(set(draws)) > 0.5 * vocab


def test_row_seeds_and_common_prefix():
    assert row_seed(0, "proud", 3, 1) == row_seed(0, "proud", 3, 1)
    assert row_seed(0, "proud", 3, 1) != row_seed(0, "proud", 3, 2)
    assert common_prefix_length([[1, 2, 3, 4], [1, 2, 5]]) == 2
    # Each row keeps at least one token of its own.
    assert common_prefix_length([[1, 2, 3], [1, 2, 3]]) == 2
    assert common_prefix_length([[1], [1, 2]]) == 0


@pytest.fixture(scope="module")
def rows(smollm2):
    tok = smollm2.tokenizer
    texts = [
        "Write one sentence about the sea.",
        "Write one sentence about a long train journey through the mountains at night.",
        "Write one sentence about bread.",
    ]
    out = []
    for text in texts:
        chat = tok.apply_chat_template(
            [{"role": "user", "content": text}], add_generation_prompt=True, tokenize=False
        )
        out.append(tok(chat, add_special_tokens=False)["input_ids"])
    return out


def _sample(smollm2, rows, seeds, max_new_tokens=20):
    tok = smollm2.tokenizer
    return sample_rows(
        smollm2.model,
        rows,
        seeds,
        max_new_tokens=max_new_tokens,
        temperature=0.8,
        top_p=0.95,
        stop_ids=[tok.eos_token_id],
        pad_id=tok.pad_token_id,
    )


def test_rows_do_not_depend_on_each_other(smollm2, rows):
    together = _sample(smollm2, rows, [11, 12, 13])
    for i in range(3):
        alone = _sample(smollm2, [rows[i]], [11 + i])[0]
        assert alone.tokens == together[i].tokens
    swapped = _sample(smollm2, [rows[2], rows[0]], [13, 11])
    assert swapped[0].tokens == together[2].tokens and swapped[1].tokens == together[0].tokens
    assert together[0].tokens != _sample(smollm2, [rows[0]], [99])[0].tokens


def test_the_first_draw_follows_the_unpadded_models_distribution(smollm2, rows):
    """The shared-prefix, middle-padded pass gives each row the logits of a plain forward
    pass of its own prompt: with top_p tiny the sampler picks the plain pass's argmax."""
    model = smollm2.model
    tok = smollm2.tokenizer
    picked = sample_rows(
        model,
        rows,
        [1, 2, 3],
        max_new_tokens=1,
        temperature=1.0,
        top_p=1e-6,
        stop_ids=[],
        pad_id=tok.pad_token_id,
    )
    with torch.inference_mode():
        for row, got in zip(rows, picked, strict=True):
            logits = model(input_ids=torch.tensor([row])).logits[0, -1]
            assert got.tokens == [int(logits.argmax())]


def test_rows_that_stop_leave_the_batch(smollm2, rows):
    """A row stops at its stop token (not included) while the others go on."""
    tok = smollm2.tokenizer
    first = _sample(smollm2, rows, [11, 12, 13], max_new_tokens=30)
    stop = first[1].tokens[3]
    out = sample_rows(
        smollm2.model,
        rows,
        [11, 12, 13],
        max_new_tokens=30,
        temperature=0.8,
        top_p=0.95,
        stop_ids=[stop, tok.eos_token_id],
        pad_id=tok.pad_token_id,
    )
    assert out[1].stopped and out[1].tokens == first[1].tokens[: first[1].tokens.index(stop)]
    for i in (0, 2):
        cut = first[i].tokens.index(stop) if stop in first[i].tokens else len(first[i].tokens)
        assert out[i].tokens == first[i].tokens[:cut]


def test_greedy_with_states_decodes_as_sample_rows_and_reads_every_token(smollm2, rows):
    """The decoding passes give the states a plain pass over prompt + new tokens gives (the
    shared chat header run once, the tails padded, every new token fed back, the last one
    too), and the tokens of sample_rows at temperature 0; a row that stops early stays in
    the batch without changing the others."""
    tok = smollm2.tokenizer
    stop = [tok.eos_token_id]
    sampled = sample_rows(smollm2.model, rows, [0, 0, 0], max_new_tokens=10, temperature=0.0,
                          top_p=1.0, stop_ids=stop, pad_id=tok.pad_token_id)  # fmt: skip
    # One row ends at its third token (kept), the others run to the limit.
    end = sampled[1].tokens[2]
    got = greedy_with_states(smollm2.model, rows, [0, 1, 20], max_new_tokens=10, stop_ids=stop,
                             pad_id=tok.pad_token_id, end_ids=[end])  # fmt: skip
    assert common_prefix_length(rows) > 0
    assert got[1].stopped and got[1].tokens == sampled[1].tokens[:3]
    for i in (0, 2):
        cut = sampled[i].tokens.index(end) + 1 if end in sampled[i].tokens else 10
        assert got[i].tokens == sampled[i].tokens[:cut]
    with torch.inference_mode():
        for row, out in zip(rows, got, strict=True):
            hidden = smollm2.model(
                input_ids=torch.tensor([list(row) + out.tokens]), output_hidden_states=True
            ).hidden_states
            for layer in (0, 1, 20):
                assert out.states[layer].shape == (len(row) + len(out.tokens), hidden[0].shape[-1])
                np.testing.assert_allclose(
                    out.states[layer], hidden[layer][0].numpy(), rtol=1e-4, atol=2e-4
                )
