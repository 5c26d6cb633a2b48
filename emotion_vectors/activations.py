"""Residual-stream activations, mean-pooled over each passage, at every requested layer.

Layer L is the output of decoder block L (1-based), i.e. `hidden_states[L]` in
transformers for L < num_layers. For the last layer transformers' `hidden_states[-1]` is
taken after the final norm; we read the block's own output there too, so every layer is
the same kind of quantity (the un-normed residual stream).

Pooling happens inside forward hooks: each hook reduces its block's `[batch, tokens,
width]` output to `[batch, width]` straight away, so memory does not grow with the number
of layers, and the forward pass stops after the deepest requested layer (no LM head).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .models import decoder_layers


class _StopForward(Exception):
    """Raised by the deepest hook: nothing after it is needed."""


@dataclass
class Tokenized:
    input_ids: list[list[int]]
    special: list[list[int]]  # 1 where the tokenizer added a special token (BOS, ...)
    starts: list[list[int]] | None = None  # character offset where each token starts

    @property
    def lengths(self) -> list[int]:
        return [len(ids) for ids in self.input_ids]


def tokenize(tokenizer, texts: Sequence[str], max_length: int, offsets: bool = False) -> Tokenized:
    """Tokenise once, without padding; batches are padded later, per batch. `offsets` also
    records where each token starts in its text (needs a fast tokenizer)."""
    if offsets and not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            "pooling from a character position (extraction.pool_from: after_emotion) needs a "
            "fast tokenizer; this model has a slow one: set extraction.pool_from: passage_start"
        )
    enc = tokenizer(
        list(texts),
        add_special_tokens=True,
        truncation=True,
        max_length=max_length,
        return_special_tokens_mask=True,
        return_offsets_mapping=offsets,
    )
    starts = [[a for a, _ in row] for row in enc["offset_mapping"]] if offsets else None
    return Tokenized(enc["input_ids"], enc["special_tokens_mask"], starts)


def pool_weights(
    special: Sequence[int],
    pool_start: int,
    starts: Sequence[int] | None = None,
    from_char: int = 0,
) -> np.ndarray:
    """Which tokens of one (unpadded) passage enter its mean: the passage's own tokens
    (not BOS or other added special tokens) from its `pool_start`-th token on and, given
    token start offsets, only those that start at or after character `from_char` (e.g. after
    the emotion word, so the word's own tokens do not enter the mean). A passage with no such
    token falls back to its last own token rather than to nothing."""
    special = np.asarray(special, dtype=bool)
    own = ~special
    position = np.cumsum(own) - 1  # index among the passage's own tokens
    weights = own & (position >= pool_start)
    if starts is not None and from_char > 0:
        weights &= np.asarray(starts) >= from_char
    if not weights.any():
        idx = np.flatnonzero(own)
        weights[idx[-1] if idx.size else len(special) - 1] = True
    return weights.astype(np.float32)


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length, so padding wastes little compute."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def pad_batch(
    tok: Tokenized,
    indices: Sequence[int],
    pad_id: int,
    pool_start: int,
    from_chars: Sequence[int] | None = None,
):
    """Right-padded input ids, attention mask and pooling weights for one batch.
    Right padding keeps each passage's position ids equal to those of an unpadded run."""
    import torch

    width = max(tok.lengths[i] for i in indices)
    ids = torch.full((len(indices), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(indices), width), dtype=torch.long)
    weights = torch.zeros((len(indices), width), dtype=torch.float32)
    for row, i in enumerate(indices):
        n = tok.lengths[i]
        ids[row, :n] = torch.tensor(tok.input_ids[i])
        mask[row, :n] = 1
        w = pool_weights(
            tok.special[i],
            pool_start,
            tok.starts[i] if tok.starts is not None else None,
            from_chars[i] if from_chars is not None else 0,
        )
        weights[row, :n] = torch.from_numpy(w)
    return ids, mask, weights


def pooled_forward(model, ids, mask, weights, layers: Sequence[int]) -> dict[int, np.ndarray]:
    """Run one batch and return {layer: [batch, width] float32 mean over weighted tokens}."""
    import torch

    blocks = decoder_layers(model)
    deepest = max(layers)
    device = next(model.parameters()).device
    w = weights.to(device)
    denom = w.sum(dim=1, keepdim=True)
    pooled: dict[int, np.ndarray] = {}

    def make_hook(layer: int) -> Callable:
        def hook(_module, _inputs, output):
            hidden = output[0] if isinstance(output, tuple) else output
            summed = torch.einsum("btd,bt->bd", hidden.float(), w)
            pooled[layer] = (summed / denom).cpu().numpy()
            if layer == deepest:
                raise _StopForward

        return hook

    handles = [blocks[layer - 1].register_forward_hook(make_hook(layer)) for layer in layers]
    try:
        with torch.inference_mode():
            model.base_model(
                input_ids=ids.to(device), attention_mask=mask.to(device), use_cache=False
            )
    except _StopForward:
        pass
    finally:
        for handle in handles:
            handle.remove()
    return pooled


@dataclass
class PooledPassages:
    pooled: dict[int, np.ndarray]  # layer -> [passages, width], in input order
    n_tokens: list[int]


def extract(
    model,
    tokenizer,
    texts: Sequence[str],
    layers: Sequence[int],
    *,
    batch_size: int,
    max_length: int,
    pool_start: int,
    from_chars: Sequence[int] | None = None,
    on_batch: Callable[[int, int], None] | None = None,
) -> PooledPassages:
    """Mean-pooled residual stream of every passage at every layer in `layers`.

    Passages are batched by length. The result for a passage depends only on the passages
    it is batched with, so callers that batch per emotion get the same numbers whether an
    emotion is computed alone or with others. `from_chars[i]`, if given, is the character
    offset in text i from which tokens are pooled."""
    use_offsets = from_chars is not None and any(c > 0 for c in from_chars)
    tok = tokenize(tokenizer, texts, max_length, offsets=use_offsets)
    width = model.config.get_text_config().hidden_size
    out = {layer: np.zeros((len(texts), width), dtype=np.float32) for layer in layers}
    pad_id = tokenizer.pad_token_id
    for batch in length_sorted_batches(tok.lengths, batch_size):
        ids, mask, weights = pad_batch(
            tok, batch, pad_id, pool_start, from_chars if use_offsets else None
        )
        result = pooled_forward(model, ids, mask, weights, layers)
        for layer in layers:
            out[layer][batch] = result[layer]
        if on_batch is not None:
            on_batch(len(batch), int(mask.sum()))
    return PooledPassages(out, tok.lengths)
