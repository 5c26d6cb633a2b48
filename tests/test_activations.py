"""Pooled activations on the real embedded model: layer numbering, pooling, padding, and the
attention sink that SmolLM2's first token is."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emotion_vectors.activations import (
    PrefixWithRoom,
    cache_over,
    extract,
    extract_from_starts,
    length_sorted_batches,
    pad_batch,
    pooled_forward,
    residual_norms,
    tokenize,
    word_embeddings,
)
from emotion_vectors.architecture import adds_bos, architecture
from emotion_vectors.config import read_neutral
from emotion_vectors.pooling import Pooling, pool_weights

from .conftest import ROOT

TEXTS = [
    "Maria set the bags on the counter and felt calm as she read the note.",
    "The train was late again, so he sat down on the bench.",
    "I felt at ease.",
]
# Everything from token 0, nothing left out: the pooling of the tests that compare with
# transformers' own hidden states token by token.
ALL_TOKENS = Pooling(
    pool_from="passage_start", batch_size=4, max_length=64, drop_first_position=False,
    sink_ratio=None,
)  # fmt: skip


def test_pool_weights_skip_special_tokens_and_start_late():
    # [BOS, a, b, c, d]: BOS never pooled; pool_start counts the passage's own tokens.
    special = [1, 0, 0, 0, 0]
    assert pool_weights(special, 0).tolist() == [0, 1, 1, 1, 1]
    assert pool_weights(special, 2).tolist() == [0, 0, 0, 1, 1]
    # Shorter than pool_start: the last own token, never an empty mean.
    assert pool_weights(special, 10).tolist() == [0, 0, 0, 0, 1]
    # Without a BOS the first own token is position 0, the attention sink: dropped.
    assert pool_weights([0, 0, 0], 0, drop_first=True).tolist() == [0, 1, 1]
    assert pool_weights(special, 0, drop_first=True).tolist() == [0, 1, 1, 1, 1]


def test_pooling_fingerprint_holds_every_field():
    fingerprint = Pooling().fingerprint()
    assert set(fingerprint) == {"format", *Pooling.__dataclass_fields__}
    assert Pooling(sink_ratio=None).fingerprint() != fingerprint


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


def test_layer_l_is_the_output_of_block_l_and_layer_0_the_embedding(smollm2):
    model, tok = smollm2.model, smollm2.tokenizer
    n = model.config.num_hidden_layers
    _enc, hidden = _reference(model, tok, TEXTS[0])
    assert len(hidden) == n + 1  # embeddings + one per block
    result = extract(model, tok, [TEXTS[0]], [0, 1, 10, n - 1], ALL_TOKENS)
    for layer in (0, 1, 10, n - 1):
        expected = hidden[layer][0].mean(dim=0).numpy()
        np.testing.assert_allclose(result.pooled[layer][0], expected, rtol=1e-4, atol=1e-4)
    # Layer 1 is not the embeddings.
    assert not np.allclose(result.pooled[1][0], result.pooled[0][0], atol=1e-3)


def test_last_layer_is_the_residual_stream_before_the_final_norm(smollm2):
    model, tok = smollm2.model, smollm2.tokenizer
    arch = architecture(model)
    n = arch.num_layers
    captured = {}
    handle = arch.block(n).register_forward_hook(
        lambda _m, _i, out: captured.setdefault("h", (out[0] if isinstance(out, tuple) else out))
    )
    try:
        _enc, hidden = _reference(model, tok, TEXTS[1])
    finally:
        handle.remove()
    block_out = captured["h"][0]
    # transformers' last hidden state is already normed ...
    torch.testing.assert_close(arch.final_norm(block_out), hidden[n][0], rtol=1e-4, atol=1e-4)
    # ... and ours is the block output itself.
    result = extract(model, tok, [TEXTS[1]], [n], ALL_TOKENS)
    np.testing.assert_allclose(result.pooled[n][0], block_out.mean(0).numpy(), rtol=1e-4, atol=1e-4)
    assert not np.allclose(result.pooled[n][0], hidden[n][0].mean(0).numpy(), atol=1e-2)


def test_padding_and_batching_do_not_change_a_passage(smollm2):
    model, tok = smollm2.model, smollm2.tokenizer
    pooling = Pooling(pool_from="passage_start", batch_size=1, max_length=64)
    alone = [extract(model, tok, [t], [5, 20], pooling) for t in TEXTS]
    batched = Pooling(pool_from="passage_start", batch_size=3, max_length=64)
    together = extract(model, tok, TEXTS, [5, 20], batched)
    for i in range(len(TEXTS)):
        for layer in (5, 20):
            np.testing.assert_allclose(
                together.pooled[layer][i], alone[i].pooled[layer][0], rtol=1e-4, atol=1e-4
            )
    assert together.n_tokens == [a.n_tokens[0] for a in alone]


def test_pool_start_pools_only_later_tokens(smollm2):
    model, tok = smollm2.model, smollm2.tokenizer
    _enc, hidden = _reference(model, tok, TEXTS[0])
    pooling = Pooling(pool_from="passage_start", pool_start=5, sink_ratio=None)
    result = extract(model, tok, [TEXTS[0]], [8], pooling)
    np.testing.assert_allclose(
        result.pooled[8][0], hidden[8][0][5:].mean(0).numpy(), rtol=1e-4, atol=1e-4
    )


@pytest.mark.parametrize("sink_ratio", [10.0, None])
def test_pooling_from_several_starts_in_one_pass_is_extract_once_per_start(smollm2, sink_ratio):
    """The story curve pools every story from several starts in one pass: the same numbers
    as a plain extraction per start, sinks and the short passage's fallback included."""
    model, tok = smollm2.model, smollm2.tokenizer
    pooling = Pooling(pool_from="passage_start", batch_size=2, max_length=64, sink_ratio=sink_ratio)
    starts = [0, 3, 8]  # TEXTS[2] has fewer than 8 tokens: pooled from its last token
    together = extract_from_starts(model, tok, TEXTS, 20, pooling, starts)
    assert sorted(together) == starts
    for start in starts:
        alone = extract(
            model, tok, TEXTS, [20], Pooling(**{**pooling.__dict__, "pool_start": start})
        )
        np.testing.assert_allclose(together[start], alone.pooled[20], rtol=1e-4, atol=1e-4)
    assert not np.allclose(together[0], together[8], atol=1e-3)


def test_the_first_token_is_an_attention_sink_and_is_left_out(smollm2):
    """SmolLM2 adds no BOS: from layer 12 on its first token's norm is ~100x the others'.
    The ratio rule finds it on its own; dropping the first position removes it."""
    model, tok = smollm2.model, smollm2.tokenizer
    assert not adds_bos(tok)
    _enc, hidden = _reference(model, tok, TEXTS[0])
    norms = hidden[20][0].norm(dim=-1)
    assert norms[0] > 20 * norms[1:].median()
    ratio_only = Pooling(pool_from="passage_start", drop_first_position=False)
    found = extract(model, tok, [TEXTS[0]], [5, 20], ratio_only)
    assert found.sinks[20] == 1  # the first token, and no other
    np.testing.assert_allclose(
        found.pooled[20][0], hidden[20][0][1:].mean(0).numpy(), rtol=1e-4, atol=1e-3
    )
    dropped = extract(model, tok, [TEXTS[0]], [20], Pooling(pool_from="passage_start"))
    assert dropped.sinks[20] == 0  # already out: not counted again
    np.testing.assert_allclose(dropped.pooled[20][0], found.pooled[20][0], rtol=1e-5, atol=1e-4)


def test_the_steering_unit_is_the_sink_free_residual_norm(smollm2):
    """Over the 64 neutral passages at layer 20: ~224 without the sink (measured
    independently in the issue), ~573 with it."""
    texts = read_neutral(ROOT / "config" / "corpus" / "neutral.txt")
    norms = residual_norms(
        smollm2.model, smollm2.tokenizer, texts, Pooling(pool_from="passage_start")
    )
    assert abs(norms["mean_norm"][20] - 224) / 224 < 0.10
    assert norms["mean_norm_with_sinks"][20] > 2 * norms["mean_norm"][20]
    # Before the sink forms (layer 5) the two units agree within a few per cent.
    assert abs(norms["mean_norm_with_sinks"][5] / norms["mean_norm"][5] - 1) < 0.2


def test_word_embeddings_are_layer_0_of_the_word_tokens(smollm2):
    model, tok = smollm2.model, smollm2.tokenizer
    rows = word_embeddings(model, tok, ["happy", "at ease"])
    ids = tok(" at ease", add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        hidden = model(torch.tensor([ids]), output_hidden_states=True).hidden_states[0][0]
    np.testing.assert_allclose(rows[1], hidden.mean(0).numpy(), rtol=1e-5, atol=1e-6)
    assert rows.shape == (2, architecture(model).hidden_size)


def test_hooks_are_removed_even_when_the_forward_raises(smollm2):
    model, tok = smollm2.model, smollm2.tokenizer
    blocks = architecture(model).blocks
    before = [len(b._forward_hooks) for b in blocks]
    t = tokenize(tok, TEXTS[:1], 64)
    batch = pad_batch(t, [0], tok.pad_token_id, Pooling())
    bad = pad_batch(t, [0], tok.pad_token_id, Pooling())
    bad.ids = batch.ids[:, :0].reshape(1, 0)
    with pytest.raises(RuntimeError):
        pooled_forward(model, bad, [3], None)  # bad shapes
    assert [len(b._forward_hooks) for b in blocks] == before
    out, _ = pooled_forward(model, batch, [3], None)
    assert set(out) == {3}
    assert [len(b._forward_hooks) for b in blocks] == before


def test_passes_over_a_prefix_with_room_are_passes_over_the_whole_cache(smollm2):
    """Steered passes write their keys and values into the room after the prefix instead
    of concatenating: pass after pass over the same buffers, each gives the logits of a
    pass over a cache holding the prefix alone; a pass longer than the room falls back to
    concatenating; the prefix itself is never written."""
    model = smollm2.model
    arch = architecture(model)
    prefix = torch.tensor([[1, 504, 3165, 314, 260, 4032], [1, 504, 15646, 563, 253, 1234]])
    with torch.inference_mode():
        out = model(input_ids=prefix, use_cache=True)
    kv = [(layer.keys, layer.values) for layer in out.past_key_values.layers]
    before = [k.clone() for k, _ in kv]
    room = PrefixWithRoom(kv, 3)
    positions = torch.arange(6, 10)[None].expand(2, -1)
    for feed in ([[42, 43, 44], [7, 8, 9]], [[99, 98, 97], [11, 12, 13]], [[5, 6, 7, 8]] * 2):
        ids = torch.tensor(feed)
        n = ids.shape[1]
        inputs = {"input_ids": ids, "position_ids": positions[:, :n], "use_cache": True}
        with torch.inference_mode():
            got = model(**inputs, **{arch.cache_argument: room.cache(model.config)}).logits
            fresh = cache_over([(k.clone(), v.clone()) for k, v in kv], model.config)
            want = model(**inputs, **{arch.cache_argument: fresh}).logits
        assert torch.equal(got, want), feed
    for (k, _), b in zip(room.buffers, before, strict=True):
        assert torch.equal(k[:, :, :6], b)


# ---------------------------------------------------------------- shared prefixes


def _template_groups(emotions):
    import yaml

    from emotion_vectors.corpus import template_passages

    templates = yaml.safe_load((ROOT / "config/corpus/templates.yaml").read_text())["templates"]
    return [template_passages(e, templates[:6]) for e in emotions]


@pytest.mark.parametrize("sink_ratio", [10.0, 1.5])
def test_shared_prefixes_pool_what_the_full_pass_pools(smollm2, sink_ratio):
    # sink_ratio 1.5 flags many positions after the emotion word, so the sink rule's median
    # over the whole passage (prefix norms included) is exercised, not only the pooling.
    model, tok = smollm2.model, smollm2.tokenizer
    layers = [1, 5, 12, 20, 30]
    full_pool = Pooling(sink_ratio=sink_ratio, share_prefix=False)
    shared_pool = Pooling(sink_ratio=sink_ratio)
    prefixes: dict = {}
    counted = {"full": 0, "shared": 0}
    for group in _template_groups(["happy", "at ease", "furious"]):
        texts, ends = group.text.tolist(), group.emotion_end.tolist()

        def count(_n, tokens, key="full"):
            counted[key] += tokens

        full = extract(model, tok, texts, layers, full_pool, ends, count)
        shared = extract(
            model, tok, texts, layers, shared_pool, ends,
            lambda n, t: count(n, t, "shared"), group.emotion_start.tolist(), prefixes,
        )  # fmt: skip
        for layer in layers:
            np.testing.assert_allclose(
                shared.pooled[layer], full.pooled[layer],
                rtol=1e-4, atol=1e-5 * float(np.abs(full.pooled[layer]).max()),
            )  # fmt: skip
        assert shared.sinks == full.sinks
    assert len(prefixes) == 6  # one per template, shared by the three emotions
    if sink_ratio == 1.5:
        assert sum(full.sinks.values()) > 0
    # The prefixes go through once; per emotion only the word and what follows.
    assert counted["shared"] < 0.5 * counted["full"]


def test_without_a_shared_text_or_with_sharing_off_the_path_is_the_plain_one(smollm2):
    model, tok = smollm2.model, smollm2.tokenizer
    group = _template_groups(["calm"])[0]
    texts, ends = group.text.tolist(), group.emotion_end.tolist()
    prefixes: dict = {}
    plain = extract(model, tok, texts, [3], Pooling(), ends, None, [0] * len(texts), prefixes)
    off = extract(
        model, tok, texts, [3], Pooling(share_prefix=False), ends, None,
        group.emotion_start.tolist(), prefixes,
    )  # fmt: skip
    assert prefixes == {}
    np.testing.assert_array_equal(plain.pooled[3], off.pooled[3])


def test_sharing_prefixes_changes_the_cache_key_only_where_it_applies():
    after, whole = Pooling(), Pooling().from_passage_start()
    assert after.fingerprint() != Pooling(share_prefix=False).fingerprint()
    assert "share_prefix" not in whole.fingerprint()
    assert whole.fingerprint() == Pooling(share_prefix=False).from_passage_start().fingerprint()
