"""Where a model's attention sinks are: per layer, how the residual norm of each passage's
first position compares with the median norm of its other tokens, and how many other
positions exceed `ratio` times that median (sinks elsewhere). A diagnostic for the pooling
rule that leaves sinks out of every mean (pooling.py): it shows, for any model, at which
depth the sink forms and whether the first position is the only one."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .activations import length_sorted_batches, pad_batch, run_layers, tokenize
from .architecture import architecture
from .pooling import Pooling, own_median, sink_positions


def position_norms(model, tokenizer, texts: Sequence[str], ratio: float, max_length: int = 512):
    """Per layer (1..N): [passages] ratio of the first position's norm to the median norm of
    the passage's other own tokens, and the number of those other tokens whose norm exceeds
    `ratio` times that median, and the number of other tokens."""
    arch = architecture(model)
    layers = list(range(1, arch.num_layers + 1))
    tok = tokenize(tokenizer, texts, max_length)
    first = np.zeros((len(layers), len(texts)))
    beyond = np.zeros(len(layers), dtype=np.int64)
    others = 0
    everything = Pooling(pool_from="passage_start", drop_first_position=False, sink_ratio=None)
    for indices in length_sorted_batches(tok.lengths, 16):
        batch = pad_batch(tok, indices, tokenizer.pad_token_id, everything)
        own = batch.own.to(arch.device)
        rest = own.clone()
        rest[:, 0] = False  # the first position of each passage
        others += int(rest.sum())

        def reduce(layer: int, hidden, rest=rest, indices=indices) -> None:
            norms = hidden.norm(dim=-1)
            first[layer - 1, indices] = (norms[:, 0] / own_median(norms, rest)).cpu().numpy()
            beyond[layer - 1] += int(sink_positions(norms, rest, ratio).sum())

        run_layers(model, batch, layers, reduce)
    return layers, first, beyond, others


def sink_layer(median_ratios: Sequence[float], layers: Sequence[int], ratio: float) -> int | None:
    """Where the sink forms: the first layer of the longest run of consecutive layers whose
    median first-position ratio exceeds `ratio` (None when no layer does)."""
    best, start, length = None, None, 0
    best_length = 0
    for layer, value in zip(layers, median_ratios, strict=True):
        if value > ratio:
            start, length = (layer, 1) if length == 0 else (start, length + 1)
            if length > best_length:
                best, best_length = start, length
        else:
            length = 0
    return best
