"""Residual-stream activations, mean-pooled over each passage at every requested layer as
`pooling.Pooling` describes; the mean residual norm per layer (the steering unit); the
input embeddings of emotion words.

Layer L is the output of decoder block L (1-based; see architecture.py); layer 0 is the
input embedding. Pooling happens inside forward hooks: each hook reduces its block's
`[batch, tokens, width]` output to `[batch, width]` straight away, so memory does not grow
with the number of layers, and the forward pass stops after the deepest requested layer.

Which tokens enter each mean, and which positions are left out as attention sinks, is
pooling.py's; how many sinks were left out is counted per layer.

Shared prefixes. In a template passage every token before the emotion word is the same for
every emotion, and under causal attention their states do not depend on what follows. With
`Pooling.share_prefix`, `extract` forwards each distinct prefix once (alone, so its states
do not depend on which passages a job holds), keeps its keys and values, and forwards each
passage from its emotion word on with that cache: the pooled tokens all lie after the
prefix, and the attention-sink rule still sees the prefix's norms. The pooled numbers equal
the full pass up to float rounding (tests/test_activations.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, cast

import numpy as np

from .architecture import architecture
from .pooling import Pooling, pool_weights, sink_positions
from .progress import progress

# torch and transformers only inside the functions (imported when a model runs); for types here.
if TYPE_CHECKING:
    import torch
    from transformers.cache_utils import Cache, CacheLayerMixin, DummyLayer

# ---------------------------------------------------------------- tokens and weights


class _StopForward(Exception):
    """Raised by the deepest hook: nothing after it is needed."""


@dataclass
class Tokenized:
    input_ids: list[list[int]]
    special: list[list[int]]  # 1 where the tokenizer added a special token (BOS, ...)
    starts: list[list[int]] | None = None  # character offset where each token starts
    ends: list[list[int]] | None = None  # ... and just after it ends

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
    if not offsets:
        return Tokenized(enc["input_ids"], enc["special_tokens_mask"])
    starts = [[a for a, _ in row] for row in enc["offset_mapping"]]
    ends = [[b for _, b in row] for row in enc["offset_mapping"]]
    return Tokenized(enc["input_ids"], enc["special_tokens_mask"], starts, ends)


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length, so padding wastes little compute."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


@dataclass
class Prefix:
    """The first tokens of a passage, forwarded once: their keys and values at every decoder
    layer up to the deepest requested one, and their residual norms at the requested
    layers (the sink rule compares against the median over the whole passage)."""

    ids: tuple[int, ...]
    own: torch.Tensor  # [p] bool: not a special token
    kv: list  # per decoder layer: (keys, values), each [1, kv_heads, p, head_dim]
    norms: dict  # layer -> [p] float32

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class Batch:
    """One right-padded batch: right padding keeps each passage's position ids those of an
    unpadded run. `own` marks the passages' own tokens (not special, not padding). A batch
    that continues shared prefixes holds, per row, the tokens after its prefix and
    `prefixes`, one per row (rows of one batch may have prefixes of different lengths)."""

    ids: torch.Tensor  # [batch, tokens] long
    mask: torch.Tensor  # attention mask
    own: torch.Tensor  # [batch, tokens] bool
    weights: torch.Tensor  # [batch, tokens] float32 pooling weights (before per-layer sinks)
    prefixes: list[Prefix] | None = None

    @property
    def prefix_width(self) -> int:
        return max(len(p) for p in self.prefixes) if self.prefixes else 0

    def prefix_rows(self, values: Callable, fill) -> torch.Tensor:
        """[batch, prefix_width, ...]: `values(prefix)` of each row, right-padded with `fill`."""
        import torch

        if self.prefixes is None:
            raise ValueError("prefix_rows of a batch without prefixes")
        rows, width = [], self.prefix_width
        for prefix in self.prefixes:
            row = values(prefix)
            pad = torch.full((width - len(prefix), *row.shape[1:]), fill, dtype=row.dtype)
            rows.append(torch.cat([row, pad.to(row.device)]))
        return torch.stack(rows)


def passage_weights(
    tok: Tokenized, i: int, pooling: Pooling, from_chars: Sequence[int] | None
) -> np.ndarray:
    """Pooling weights of passage i's tokens (pooling.pool_weights)."""
    return pool_weights(
        tok.special[i],
        pooling.pool_start,
        tok.starts[i] if tok.starts is not None else None,
        from_chars[i] if from_chars is not None else 0,
        pooling.drop_first_position,
    )


def pad_batch(
    tok: Tokenized,
    indices: Sequence[int],
    pad_id: int,
    pooling: Pooling,
    from_chars: Sequence[int] | None = None,
    prefixes: Sequence[Prefix] | None = None,
) -> Batch:
    """The passages `indices` as one batch; with `prefixes` (one per passage), only the
    tokens after each passage's prefix."""
    import torch

    skip = [len(p) for p in prefixes] if prefixes else [0] * len(indices)
    width = max(tok.lengths[i] - k for i, k in zip(indices, skip, strict=True))
    ids = torch.full((len(indices), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(indices), width), dtype=torch.long)
    own = torch.zeros((len(indices), width), dtype=torch.bool)
    weights = torch.zeros((len(indices), width), dtype=torch.float32)
    for row, (i, k) in enumerate(zip(indices, skip, strict=True)):
        n = tok.lengths[i] - k
        ids[row, :n] = torch.tensor(tok.input_ids[i][k:])
        mask[row, :n] = 1
        own[row, :n] = ~torch.tensor(tok.special[i][k:], dtype=torch.bool)
        weights[row, :n] = torch.from_numpy(passage_weights(tok, i, pooling, from_chars)[k:])
    return Batch(ids, mask, own, weights, list(prefixes) if prefixes else None)


# ---------------------------------------------------------------- sinks and hooks


def run_layers(model, batch: Batch, layers: Sequence[int], reduce: Callable, cache=None) -> None:
    """Run one batch, calling `reduce(layer, hidden)` with each requested layer's
    [batch, tokens, width] states (float32), and stop after the deepest one. Layer 0 is the
    input embedding. A batch with prefixes continues them from their keys and values;
    `cache`, a transformers Cache, collects the batch's own keys and values."""
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

    inputs = {"input_ids": batch.ids, "attention_mask": batch.mask, "use_cache": False}
    if batch.prefixes:
        inputs = _continuation(model, batch)
    if cache is not None:
        inputs.update({arch.cache_argument: cache, "use_cache": True})
    modules = {layer: arch.embedding if layer == 0 else arch.block(layer) for layer in layers}
    handles = [modules[layer].register_forward_hook(make_hook(layer)) for layer in layers]
    try:
        with torch.inference_mode():
            arch.base(
                **{k: v.to(arch.device) if torch.is_tensor(v) else v for k, v in inputs.items()}
            )
    except _StopForward:
        pass
    finally:
        for handle in handles:
            handle.remove()


def cache_over(kv: Sequence[tuple], config):
    """A DynamicCache that holds `kv` ([(keys, values)] per block) by reference. The
    constructor would copy every tensor (it appends each to an empty one), and a pass only
    reads these entries and appends its own to new tensors. Sliding-window layers keep
    counters of their own, so a cache with any (or a transformers without `layers`) is
    built by the constructor."""
    from transformers import DynamicCache

    cache = DynamicCache(config=config)
    layers = _plain_layers(cache, len(kv))
    if layers is None:
        return DynamicCache(list(kv), config=config)
    for layer, (keys, values) in zip(layers, kv, strict=True):
        layer.lazy_initialization(keys, values)
        layer.keys, layer.values = keys, values
    return cache


def _plain_layers(cache, count: int) -> list | None:
    """The cache's `count` layers when all are plain DynamicLayers (whose tensors may be
    set directly), else None: sliding-window layers keep counters of their own, and a
    transformers without `Cache.layers` has none to set."""
    from transformers.cache_utils import DynamicLayer

    layers = getattr(cache, "layers", None)
    if layers is None or len(layers) != count or any(type(x) is not DynamicLayer for x in layers):
        return None
    return layers


class PrefixWithRoom:
    """A batch's cached keys and values ([(keys, values)] per block, [batch, kv_heads,
    tokens, head_dim]) copied once into buffers with room for `room` more tokens. A cache
    from `cache()` holds the prefix, and its blocks write new keys and values into that
    room instead of concatenating them to the whole cache (DynamicLayer.update copies
    every cached key and value once per block and pass). Two uses: many passes of up to
    `room` tokens over the same prefix (steered passes; a fresh cache each, run one after
    another, since each overwrites the room), or one cache that decoding grows token by
    token."""

    def __init__(self, kv: Sequence[tuple], room: int) -> None:
        self.length = int(kv[0][0].shape[2])
        self.room = room
        self.buffers = []
        for keys, values in kv:
            pair = []
            for x in (keys, values):
                b, h, n, d = x.shape
                buffer = x.new_empty((b, h, n + room, d))
                buffer[:, :, :n] = x
                pair.append(buffer)
            self.buffers.append(tuple(pair))

    def cache(self, config):
        """A DynamicCache over the buffers that holds the prefix and appends into the room.
        A model with sliding-window layers (which keep counters of their own) gets the
        constructor's cache over a copy of the prefix instead, as `cache_over` does."""
        from transformers import DynamicCache

        cache = DynamicCache(config=config)
        n = self.length
        if _plain_layers(cache, len(self.buffers)) is None:
            return DynamicCache([(k[:, :, :n], v[:, :, :n]) for k, v in self.buffers],
                                config=config)  # fmt: skip
        cache.layers = [_layer_with_room()(k, v, n) for k, v in self.buffers]
        return cache


@functools.cache
def _layer_with_room():
    """The DynamicLayer of `PrefixWithRoom` (a class made once, when transformers is first
    needed: this module does not import it at import time)."""
    from transformers.cache_utils import DynamicLayer

    class LayerWithRoom(DynamicLayer):
        """Holds the first `length` tokens of buffers `keys` and `values`; `update` writes
        the new tokens after them, in place, while they fit (else it concatenates)."""

        def __init__(self, keys, values, length: int) -> None:
            super().__init__()
            self.lazy_initialization(keys, values)
            self.buffers = (keys, values)
            self.keys, self.values = keys[:, :, :length], values[:, :, :length]

        def update(self, key_states, value_states, *args, **kwargs):
            keys, values = self.buffers
            n = self.keys.shape[-2]
            end = n + key_states.shape[-2]
            if end > keys.shape[-2] or self.keys.data_ptr() != keys.data_ptr():
                return super().update(key_states, value_states, *args, **kwargs)
            keys[:, :, n:end] = key_states
            values[:, :, n:end] = value_states
            self.keys, self.values = keys[:, :, :end], values[:, :, :end]
            return self.keys, self.values

        def batch_select_indices(self, indices) -> None:
            # Rows that ended leave with their room: the rest keep writing in place.
            keys, values = self.buffers
            if self.keys is None or self.keys.data_ptr() != keys.data_ptr():
                super().batch_select_indices(indices)
                return
            n = self.keys.shape[-2]
            self.buffers = (keys[indices], values[indices])
            self.keys, self.values = self.buffers[0][:, :, :n], self.buffers[1][:, :, :n]

    return LayerWithRoom


def _continuation(model, batch: Batch) -> dict:
    """Model inputs that continue each row's prefix: its keys and values right-padded to
    the longest prefix of the batch (the padding masked out), and position ids that go on
    from the row's own prefix length, as in an unpadded pass of the whole passage."""
    import torch

    if batch.prefixes is None:  # run_layers continues only a batch with prefixes
        raise ValueError("a continuation needs a batch with prefixes")
    width = batch.prefix_width
    kv = []
    for layer in range(len(batch.prefixes[0].kv)):
        keys = batch.prefix_rows(lambda p, i=layer: p.kv[i][0][0].transpose(0, 1), 0.0)
        values = batch.prefix_rows(lambda p, i=layer: p.kv[i][1][0].transpose(0, 1), 0.0)
        # Kept as [batch, tokens, heads, head_dim] memory seen through a transpose, not
        # copied here: the pass that continues them concatenates (a copy), and passes that
        # reuse them copy them once into a PrefixWithRoom.
        kv.append((keys.transpose(1, 2), values.transpose(1, 2)))
    prefix_mask = torch.zeros((len(batch.prefixes), width), dtype=torch.long)
    for row, prefix in enumerate(batch.prefixes):
        prefix_mask[row, : len(prefix)] = 1
    lengths = torch.tensor([len(p) for p in batch.prefixes])
    positions = lengths[:, None] + torch.arange(batch.ids.shape[1])[None, :]
    device = architecture(model).device
    return {
        "input_ids": batch.ids,
        "attention_mask": torch.cat([prefix_mask, batch.mask], dim=1),
        "position_ids": positions,
        architecture(model).cache_argument: cache_over(
            [(k.to(device), v.to(device)) for k, v in kv], model.config
        ),
        "use_cache": True,
    }


def attention_layers(cache: Cache) -> list[CacheLayerMixin | DummyLayer]:
    """A transformers cache's layers, as the attention layers they are here. Cache.layers is
    typed to admit linear-attention layers too, which hold no keys or values (one would fail
    where its keys are read, as before); the decoders this package runs have none."""
    return cast("list[CacheLayerMixin | DummyLayer]", cache.layers)


def forward_prefix(model, ids: Sequence[int], special: Sequence[int], layers: Sequence[int]):
    """Forward the first tokens of a passage alone (batch of one, so the result does not
    depend on other passages) and keep what continuing from them needs."""
    import torch
    from transformers import DynamicCache

    cache = DynamicCache(config=model.config)
    norms: dict[int, object] = {}

    def reduce(layer: int, hidden) -> None:
        norms[layer] = hidden[0].norm(dim=-1)

    own = ~torch.tensor(list(special), dtype=torch.bool)
    row = torch.tensor([list(ids)], dtype=torch.long)
    batch = Batch(row, torch.ones_like(row), own[None], torch.zeros(row.shape))
    run_layers(model, batch, layers, reduce, cache=cache)
    kv = [(layer.keys, layer.values) for layer in attention_layers(cache) if layer.is_initialized]
    return Prefix(tuple(ids), own, kv, norms)


def prefix_length(tok: Tokenized, i: int, shared_until: int, weights: np.ndarray) -> int:
    """How many leading tokens of passage i lie wholly before character `shared_until` (the
    text passages share, e.g. up to the emotion slot) and before the first pooled token."""
    if tok.ends is None or shared_until <= 0:
        return 0
    inside = 0
    for end, special in zip(tok.ends[i], tok.special[i], strict=True):
        if end > shared_until and not special:
            break
        inside += 1
    first_pooled = int(np.flatnonzero(weights)[0])
    # At least one token must follow the prefix, and a prefix of one token saves nothing.
    inside = min(inside, first_pooled, tok.lengths[i] - 1)
    return inside if inside > 1 else 0


def pooled_forward(
    model, batch: Batch, layers: Sequence[int], sink_ratio: float | None
) -> tuple[dict[int, np.ndarray], dict[int, int]]:
    """({layer: [batch, width] float32 mean over the pooled tokens}, {layer: pooled
    positions left out as sinks})."""
    import torch

    device = architecture(model).device
    base, own = batch.weights.to(device), batch.own.to(device)
    if batch.prefixes:  # the sink rule's median runs over the whole passage
        prefix_own = batch.prefix_rows(lambda p: p.own, False).to(device)
        own_all = torch.cat([prefix_own, own], dim=1)
    pooled: dict[int, np.ndarray] = {}
    sinks: dict[int, int] = {}

    def reduce(layer: int, hidden) -> None:
        if sink_ratio is None:
            pooled[layer], sinks[layer] = _weighted_mean(hidden, base, None)
            return
        norms = hidden.norm(dim=-1)
        if batch.prefixes:
            before = batch.prefix_rows(lambda p: p.norms[layer], float("nan"))
            norms_all = torch.cat([before.to(device), norms], dim=1)
            sink = sink_positions(norms_all, own_all, sink_ratio)[:, -norms.shape[1] :]
        else:
            sink = sink_positions(norms, own, sink_ratio)
        pooled[layer], sinks[layer] = _weighted_mean(hidden, base, sink)

    run_layers(model, batch, layers, reduce)
    return pooled, sinks


def _weighted_mean(hidden, base, sink) -> tuple[np.ndarray, int]:
    """([batch, width] mean of `hidden` under the pooling weights `base`, with the `sink`
    positions left out; how many pooled positions were left out). A passage whose every
    pooled token is a sink keeps them rather than nothing."""
    import torch

    if sink is None:
        w, left_out = base, 0
    else:
        sink = sink & (base > 0)
        w = torch.where(sink, torch.zeros_like(base), base)
        empty = w.sum(dim=1) == 0
        w = torch.where(empty[:, None], base, w)
        left_out = int((sink & ~empty[:, None]).sum())
    summed = torch.einsum("btd,bt->bd", hidden, w)
    return (summed / w.sum(dim=1, keepdim=True)).cpu().numpy(), left_out


def extract_from_starts(
    model,
    tokenizer,
    texts: Sequence[str],
    layer: int,
    pooling: Pooling,
    starts: Sequence[int],
    label: str | None = None,
) -> dict[int, np.ndarray]:
    """{start: [passages, width] float32}: whole passages pooled at one layer as
    `pooling` pools them with its `pool_start` set to each of `starts`, from one forward
    pass per batch (the same numbers as `extract` once per start, tested). The sink rule
    does not depend on the start: the median runs over all of a passage's own tokens."""
    import torch

    pooling = replace(pooling, pool_from="passage_start")
    tok = tokenize(tokenizer, texts, pooling.max_length)
    width = architecture(model).hidden_size
    out = {s: np.zeros((len(texts), width), dtype=np.float32) for s in starts}
    batches = length_sorted_batches(tok.lengths, pooling.batch_size)
    for indices in batches if label is None else progress(batches, label):
        batch = pad_batch(tok, indices, tokenizer.pad_token_id, pooling)
        weights = {}
        for s in starts:
            w = torch.zeros_like(batch.weights)
            for row, i in enumerate(indices):
                w[row, : tok.lengths[i]] = torch.from_numpy(
                    passage_weights(tok, i, replace(pooling, pool_start=s), None)
                )
            weights[s] = w
        for s, by_layer in _means_under(model, batch, [layer], weights, pooling.sink_ratio).items():
            out[s][indices] = by_layer[layer]
    return out


def _means_under(
    model, batch: Batch, layers: Sequence[int], weight_sets: Mapping, ratio: float | None
) -> dict:
    """{name: {layer: [batch, width]}}: one batch's mean under each set of pooling weights
    ([batch, tokens]), the sink positions (found once per layer, over each row's own tokens)
    left out; NaN for a row whose weights are all zero."""
    device = architecture(model).device
    own = batch.own.to(device)
    weight_sets = {name: w.to(device) for name, w in weight_sets.items()}
    out: dict = {name: {} for name in weight_sets}

    def reduce(layer: int, hidden) -> None:
        sink = None if ratio is None else sink_positions(hidden.norm(dim=-1), own, ratio)
        for name, w in weight_sets.items():
            out[name][layer] = _weighted_mean(hidden, w, sink)[0]

    run_layers(model, batch, layers, reduce)
    return out


def span_weights(tok: Tokenized, i: int, ranges: Sequence[tuple[int, int]]) -> np.ndarray:
    """[tokens] 1.0 where text i's own token overlaps one of the character `ranges`
    ([start, end)), else 0.0."""
    if tok.starts is None or tok.ends is None:
        raise ValueError("span weights need token offsets: tokenize(..., offsets=True)")
    starts, ends = np.asarray(tok.starts[i]), np.asarray(tok.ends[i])
    inside = np.zeros(len(starts), dtype=bool)
    for a, b in ranges:
        inside |= (starts < b) & (ends > a)
    return (inside & ~np.asarray(tok.special[i], dtype=bool)).astype(np.float32)


def span_means(
    states: np.ndarray, own: np.ndarray, weights: Mapping[str, np.ndarray], ratio: float | None
) -> dict[str, np.ndarray]:
    """{name: [width]}: one text's states ([tokens, width]) averaged under each of its
    named pooling weights ([tokens]), the sink positions (own tokens over `ratio` x the
    median norm of the text's own tokens) left out as every pooled mean leaves them; NaN
    for weights that are all zero."""
    import torch

    hidden = torch.from_numpy(np.ascontiguousarray(states, dtype=np.float32))[None]
    norms = hidden.norm(dim=-1)
    sink = None if ratio is None else sink_positions(norms, torch.from_numpy(own)[None], ratio)
    out = {}
    for name, w in weights.items():
        base = torch.from_numpy(np.asarray(w, dtype=np.float32))[None]
        if not bool(base.any()):
            out[name] = np.full(states.shape[1], np.nan, np.float32)
            continue
        out[name] = _weighted_mean(hidden, base, sink)[0][0]
    return out


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
    shared_until: Sequence[int] | None = None,
    prefixes: dict | None = None,
    label: str | None = None,
) -> PooledPassages:
    """Mean-pooled residual stream of every passage at every layer in `layers`.

    Passages are batched by length. The result for a passage depends only on the passages
    it is batched with, so callers that batch per emotion get the same numbers whether an
    emotion is computed alone or with others. `from_chars[i]`, if given and
    `pooling.pool_from` is after_emotion, is the character offset in text i from which
    tokens are pooled. `shared_until[i]`, with `pooling.share_prefix`, is where the text
    that passage i shares with others ends (the emotion slot): its tokens before that are
    forwarded once per distinct prefix, kept in `prefixes` (pass the same dict to every
    call of a job to share them across calls). `on_batch(passages, tokens)` counts the
    tokens actually forwarded. With a `label`, a progress line counts the batches."""
    if pooling.pool_from != "after_emotion":
        from_chars = None
    use_offsets = from_chars is not None and any(c > 0 for c in from_chars)
    tok = tokenize(tokenizer, texts, pooling.max_length, offsets=use_offsets)
    chars = from_chars if use_offsets else None
    share = use_offsets and pooling.share_prefix and shared_until is not None and max(layers) > 0
    prefixes = {} if prefixes is None else prefixes
    width = architecture(model).hidden_size
    out = {layer: np.zeros((len(texts), width), dtype=np.float32) for layer in layers}
    sinks = dict.fromkeys(layers, 0)
    batches = length_sorted_batches(tok.lengths, pooling.batch_size)
    for indices in batches if label is None else progress(batches, label):
        row_prefixes = None
        if share:
            row_prefixes = _prefixes_of(
                model, tok, indices, layers, pooling, chars, shared_until, prefixes, on_batch
            )
        batch = pad_batch(tok, indices, tokenizer.pad_token_id, pooling, chars, row_prefixes)
        result, left_out = pooled_forward(model, batch, layers, pooling.sink_ratio)
        for layer in layers:
            out[layer][indices] = result[layer]
            sinks[layer] += left_out[layer]
        if on_batch is not None:
            on_batch(len(indices), int(batch.mask.sum()))
    return PooledPassages(out, tok.lengths, sinks)


def _prefixes_of(model, tok, indices, layers, pooling, chars, shared_until, known, on_batch):
    """The prefix of each passage of a batch, forwarding those not yet in `known`; None,
    the plain path, unless every passage of the batch has one worth sharing."""
    lengths = [
        prefix_length(tok, i, shared_until[i], passage_weights(tok, i, pooling, chars))
        for i in indices
    ]
    if not all(lengths):
        return None
    rows = []
    for i, k in zip(indices, lengths, strict=True):
        ids = tuple(tok.input_ids[i][:k])
        if ids not in known:
            known[ids] = forward_prefix(model, ids, tok.special[i][:k], layers)
            if on_batch is not None:
                on_batch(0, k)
        rows.append(known[ids])
    return rows


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
    batches = length_sorted_batches(tok.lengths, pooling.batch_size)
    for indices in progress(batches, f"residual norms: {len(texts)} passages, batches"):
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
