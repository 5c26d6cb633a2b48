"""Pooled activations on the real embedded model: layer numbering, pooling, padding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emotion_vectors.activations import (
    extract,
    length_sorted_batches,
    pad_batch,
    pool_weights,
    pooled_forward,
    tokenize,
)
from emotion_vectors.models import decoder_layers

TEXTS = [
    "Maria set the bags on the counter and felt calm as she read the note.",
    "The train was late again, so he sat down on the bench.",
    "I felt at ease.",
]


def test_pool_weights_skip_special_tokens_and_start_late():
    # [BOS, a, b, c, d]: BOS never pooled; pool_start counts the passage's own tokens.
    special = [1, 0, 0, 0, 0]
    assert pool_weights(special, 0).tolist() == [0, 1, 1, 1, 1]
    assert pool_weights(special, 2).tolist() == [0, 0, 0, 1, 1]
    # Shorter than pool_start: the last own token, never an empty mean.
    assert pool_weights(special, 10).tolist() == [0, 0, 0, 0, 1]


def test_length_sorted_batches_cover_everything_once():
    lengths = [5, 1, 9, 3, 7]
    batches = length_sorted_batches(lengths, 2)
    assert batches == [[1, 3], [0, 4], [2]]


def _reference(model, tokenizer, text):
    """Token-level residual stream from transformers' own output_hidden_states."""
    enc = tokenizer(text, return_tensors="pt")
    with torch.inference_mode():
        out = model(**enc, output_hidden_states=True)
    return enc, out.hidden_states


def test_layer_l_is_the_output_of_block_l(smollm2):
    model, tok = smollm2.model, smollm2.tokenizer
    n = model.config.num_hidden_layers
    _enc, hidden = _reference(model, tok, TEXTS[0])
    assert len(hidden) == n + 1  # embeddings + one per block
    result = extract(
        model, tok, [TEXTS[0]], [1, 10, n - 1], batch_size=4, max_length=64, pool_start=0
    )
    for layer in (1, 10, n - 1):
        expected = hidden[layer][0].mean(dim=0).numpy()
        np.testing.assert_allclose(result.pooled[layer][0], expected, rtol=1e-4, atol=1e-4)
    # Layer 1 is not the embeddings.
    emb = hidden[0][0].mean(dim=0).numpy()
    assert not np.allclose(result.pooled[1][0], emb, atol=1e-3)


def test_last_layer_is_the_residual_stream_before_the_final_norm(smollm2):
    model, tok = smollm2.model, smollm2.tokenizer
    n = model.config.num_hidden_layers
    captured = {}
    handle = decoder_layers(model)[n - 1].register_forward_hook(
        lambda _m, _i, out: captured.setdefault("h", (out[0] if isinstance(out, tuple) else out))
    )
    try:
        _enc, hidden = _reference(model, tok, TEXTS[1])
    finally:
        handle.remove()
    block_out = captured["h"][0]
    # transformers' last hidden state is already normed ...
    torch.testing.assert_close(model.model.norm(block_out), hidden[n][0], rtol=1e-4, atol=1e-4)
    # ... and ours is the block output itself.
    result = extract(model, tok, [TEXTS[1]], [n], batch_size=1, max_length=64, pool_start=0)
    np.testing.assert_allclose(result.pooled[n][0], block_out.mean(0).numpy(), rtol=1e-4, atol=1e-4)
    assert not np.allclose(result.pooled[n][0], hidden[n][0].mean(0).numpy(), atol=1e-2)


def test_padding_and_batching_do_not_change_a_passage(smollm2):
    model, tok = smollm2.model, smollm2.tokenizer
    alone = [
        extract(model, tok, [t], [5, 20], batch_size=1, max_length=64, pool_start=0) for t in TEXTS
    ]
    together = extract(model, tok, TEXTS, [5, 20], batch_size=3, max_length=64, pool_start=0)
    for i in range(len(TEXTS)):
        for layer in (5, 20):
            np.testing.assert_allclose(
                together.pooled[layer][i], alone[i].pooled[layer][0], rtol=1e-4, atol=1e-4
            )
    assert together.n_tokens == [a.n_tokens[0] for a in alone]


def test_pool_start_pools_only_later_tokens(smollm2):
    model, tok = smollm2.model, smollm2.tokenizer
    _enc, hidden = _reference(model, tok, TEXTS[0])
    result = extract(model, tok, [TEXTS[0]], [8], batch_size=1, max_length=64, pool_start=5)
    np.testing.assert_allclose(
        result.pooled[8][0], hidden[8][0][5:].mean(0).numpy(), rtol=1e-4, atol=1e-4
    )


def test_hooks_are_removed_even_when_the_forward_raises(smollm2):
    model, tok = smollm2.model, smollm2.tokenizer
    blocks = decoder_layers(model)
    before = [len(b._forward_hooks) for b in blocks]
    t = tokenize(tok, TEXTS[:1], 64)
    ids, mask, weights = pad_batch(t, [0], tok.pad_token_id, 0)
    with pytest.raises(RuntimeError):
        pooled_forward(model, ids[:, :0].reshape(1, 0), mask, weights, [3])  # bad shapes
    assert [len(b._forward_hooks) for b in blocks] == before
    out = pooled_forward(model, ids, mask, weights, [3])
    assert set(out) == {3}
    assert [len(b._forward_hooks) for b in blocks] == before
