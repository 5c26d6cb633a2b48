"""Residual-stream activations, mean-pooled over each passage at every requested layer as
`pooling.Pooling` describes; the mean residual norm per layer (the steering unit); the
input embeddings of emotion words.

Layer L is the output of decoder block L (1-based; see architecture.py); layer 0 is the
input embedding. Pooling happens inside forward hooks: each hook reduces its block's
`[batch, tokens, width]` output to `[batch, width]` straight away, so memory does not grow
with the number of layers, and the forward pass stops after the deepest requested layer.

Which tokens enter each mean, and which positions are left out as attention sinks, is
pooling.py's; how many sinks were left out is counted per layer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .architecture import architecture
from .pooling import Pooling, pool_weights, sink_positions

# ---------------------------------------------------------------- tokens and weights


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


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length, so padding wastes little compute."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


@dataclass
class Batch:
    """One right-padded batch: right padding keeps each passage's position ids those of an
    unpadded run. `own` marks the passages' own tokens (not special, not padding)."""

    ids: object  # [batch, tokens] long
    mask: object  # attention mask
    own: object  # [batch, tokens] bool
    weights: object  # [batch, tokens] float32 pooling weights (before per-layer sinks)


def pad_batch(
    tok: Tokenized,
    indices: Sequence[int],
    pad_id: int,
    pooling: Pooling,
    from_chars: Sequence[int] | None = None,
) -> Batch:
    import torch

    width = max(tok.lengths[i] for i in indices)
    ids = torch.full((len(indices), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(indices), width), dtype=torch.long)
    own = torch.zeros((len(indices), width), dtype=torch.bool)
    weights = torch.zeros((len(indices), width), dtype=torch.float32)
    for row, i in enumerate(indices):
        n = tok.lengths[i]
        ids[row, :n] = torch.tensor(tok.input_ids[i])
        mask[row, :n] = 1
        own[row, :n] = ~torch.tensor(tok.special[i], dtype=torch.bool)
        w = pool_weights(
            tok.special[i],
            pooling.pool_start,
            tok.starts[i] if tok.starts is not None else None,
            from_chars[i] if from_chars is not None else 0,
            pooling.drop_first_position,
        )
        weights[row, :n] = torch.from_numpy(w)
    return Batch(ids, mask, own, weights)


# ---------------------------------------------------------------- sinks and hooks


def run_layers(model, batch: Batch, layers: Sequence[int], reduce: Callable) -> None:
    """Run one batch, calling `reduce(layer, hidden)` with each requested layer's
    [batch, tokens, width] states (float32), and stop after the deepest one. Layer 0 is the
    input embedding."""
    import torch

    arch = architecture(model)
    deepest = max(layers)

    def make_hook(layer: int) -> Callable:
        def hook(_module, _inputs, output):
            hidden = output[0] if isinstance(output, tuple) else output
            reduce(layer, hidden.float())
            if layer == deepest:
                raise _StopForward

        return hook

    modules = {layer: arch.embedding if layer == 0 else arch.block(layer) for layer in layers}
    handles = [modules[layer].register_forward_hook(make_hook(layer)) for layer in layers]
    try:
        with torch.inference_mode():
            arch.base(
                input_ids=batch.ids.to(arch.device),
                attention_mask=batch.mask.to(arch.device),
                use_cache=False,
            )
    except _StopForward:
        pass
    finally:
        for handle in handles:
            handle.remove()


def pooled_forward(
    model, batch: Batch, layers: Sequence[int], sink_ratio: float | None
) -> tuple[dict[int, np.ndarray], dict[int, int]]:
    """({layer: [batch, width] float32 mean over the pooled tokens}, {layer: pooled
    positions left out as sinks})."""
    import torch

    device = architecture(model).device
    base, own = batch.weights.to(device), batch.own.to(device)
    pooled: dict[int, np.ndarray] = {}
    sinks: dict[int, int] = {}

    def reduce(layer: int, hidden) -> None:
        w = base
        if sink_ratio is not None:
            sink = sink_positions(hidden.norm(dim=-1), own, sink_ratio) & (base > 0)
            w = torch.where(sink, torch.zeros_like(base), base)
            # A passage whose every pooled token is a sink keeps them rather than nothing.
            empty = w.sum(dim=1) == 0
            w = torch.where(empty[:, None], base, w)
            sinks[layer] = int((sink & ~empty[:, None]).sum())
        else:
            sinks[layer] = 0
        summed = torch.einsum("btd,bt->bd", hidden, w)
        pooled[layer] = (summed / w.sum(dim=1, keepdim=True)).cpu().numpy()

    run_layers(model, batch, layers, reduce)
    return pooled, sinks


@dataclass
class PooledPassages:
    pooled: dict[int, np.ndarray]  # layer -> [passages, width], in input order
    n_tokens: list[int]
    sinks: dict[int, int] = field(default_factory=dict)  # layer -> positions left out


def extract(
    model,
    tokenizer,
    texts: Sequence[str],
    layers: Sequence[int],
    pooling: Pooling,
    from_chars: Sequence[int] | None = None,
    on_batch: Callable[[int, int], None] | None = None,
) -> PooledPassages:
    """Mean-pooled residual stream of every passage at every layer in `layers`.

    Passages are batched by length. The result for a passage depends only on the passages
    it is batched with, so callers that batch per emotion get the same numbers whether an
    emotion is computed alone or with others. `from_chars[i]`, if given and
    `pooling.pool_from` is after_emotion, is the character offset in text i from which
    tokens are pooled."""
    if pooling.pool_from != "after_emotion":
        from_chars = None
    use_offsets = from_chars is not None and any(c > 0 for c in from_chars)
    tok = tokenize(tokenizer, texts, pooling.max_length, offsets=use_offsets)
    width = architecture(model).hidden_size
    out = {layer: np.zeros((len(texts), width), dtype=np.float32) for layer in layers}
    sinks = dict.fromkeys(layers, 0)
    for indices in length_sorted_batches(tok.lengths, pooling.batch_size):
        batch = pad_batch(
            tok, indices, tokenizer.pad_token_id, pooling, from_chars if use_offsets else None
        )
        result, left_out = pooled_forward(model, batch, layers, pooling.sink_ratio)
        for layer in layers:
            out[layer][indices] = result[layer]
            sinks[layer] += left_out[layer]
        if on_batch is not None:
            on_batch(len(indices), int(batch.mask.sum()))
    return PooledPassages(out, tok.lengths, sinks)


# ---------------------------------------------------------------- residual norms


def residual_norms(model, tokenizer, texts: Sequence[str], pooling: Pooling) -> dict[str, dict]:
    """Mean L2 norm of the residual stream at every layer over the passages' tokens, token
    weighted: `mean_norm` over the tokens `pooling` keeps (sinks left out: the steering
    unit), `mean_norm_with_sinks` over every own token, and `sinks`, the positions left out."""
    import torch

    arch = architecture(model)
    layers = list(range(1, arch.num_layers + 1))
    keys = ("with_sum", "with_count", "sum", "count", "sinks")
    totals = {key: np.zeros(len(layers)) for key in keys}
    tok = tokenize(tokenizer, texts, pooling.max_length)
    for indices in length_sorted_batches(tok.lengths, pooling.batch_size):
        batch = pad_batch(tok, indices, tokenizer.pad_token_id, pooling)
        own, kept = batch.own.to(arch.device), batch.weights.to(arch.device)

        def reduce(layer: int, hidden, own=own, kept=kept) -> None:
            norms = hidden.norm(dim=-1)
            sink = sink_positions(norms, own, pooling.sink_ratio) & (kept > 0)
            w = torch.where(sink, torch.zeros_like(kept), kept)
            i = layer - 1
            totals["with_sum"][i] += float((norms * own).sum())
            totals["with_count"][i] += float(own.sum())
            totals["sum"][i] += float((norms * w).sum())
            totals["count"][i] += float(w.sum())
            totals["sinks"][i] += float((kept > 0).sum() - w.sum())

        run_layers(model, batch, layers, reduce)
    return {
        "mean_norm": dict(zip(layers, totals["sum"] / totals["count"], strict=True)),
        "mean_norm_with_sinks": dict(
            zip(layers, totals["with_sum"] / totals["with_count"], strict=True)
        ),
        "sinks": {layer: int(n) for layer, n in zip(layers, totals["sinks"], strict=True)},
    }


def word_embeddings(model, tokenizer, words: Sequence[str]) -> np.ndarray:
    """[words, width] float32: the mean input embedding (layer 0) of the tokens of
    " " + word, as the word is tokenised in the middle of a sentence."""
    import torch

    arch = architecture(model)
    rows = []
    with torch.inference_mode():
        for word in words:
            ids = tokenizer(" " + word, add_special_tokens=False)["input_ids"]
            embedded = arch.embedding(torch.tensor([ids], device=arch.device))[0]
            rows.append(embedded.float().mean(dim=0).cpu().numpy())
    return np.stack(rows).astype(np.float32)
