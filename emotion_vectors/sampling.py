"""Batched nucleus sampling in which every row draws from its own generator, so that a
story depends on its own prompt and seed and not on the rows it happens to share a batch
with (in float32 bit for bit; in bfloat16 up to the rare near-tie that a kernel's rounding
decides).

Faster than `model.generate` on a CPU for the story corpus, measured in bench/RESULTS.md:

- the prompts' common token prefix (chat header, instructions) is run once at batch 1 and
  its keys and values shared by every row; each row's own tail follows after padding
  placed *between* the prefix and the tail, so a padded query still sees the prefix (no
  fully masked attention row) and positions run on from the prefix;
- the nucleus is found among the 512 most likely tokens, which hold `top_p` of the mass
  almost always, instead of sorting the whole vocabulary for every row at every step (the
  row falls back to the full sort when they do not);
- rows that have ended leave the batch and its cache.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# Tokens examined before the full sort: Qwen's and SmolLM2's vocabularies are 49k-152k,
# while a nucleus of 0.95 at temperature 0.8 holds a few dozen tokens.
SHORTLIST = 512


def row_seed(*parts: object) -> int:
    """A 63-bit seed from the parts' text (the same in every process and Python)."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") % (2**63)


def nucleus_choice(logits, temperature: float, top_p: float, generators: Sequence):
    """One token per row of `logits` [rows, vocab]: softmax at `temperature`, the smallest
    set of most likely tokens whose mass reaches `top_p` (the nucleus), one uniform draw
    from the row's own generator placed on the nucleus' cumulative mass. Temperature 0:
    the most likely token (greedy; the generators are not drawn from)."""
    import torch

    if temperature == 0:
        return logits.argmax(dim=-1).cpu()
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    k = min(SHORTLIST, probs.shape[-1])
    top, order = (t.cpu() for t in probs.topk(k, dim=-1))  # the generators are on the cpu
    chosen = []
    for r, generator in enumerate(generators):
        p, idx = top[r], order[r]
        if float(p.sum()) < top_p and k < probs.shape[-1]:
            p, idx = (t.cpu() for t in probs[r].sort(descending=True))
        cumulative = p.cumsum(0)
        # Keep each token whose preceding mass is still below top_p (at least the first).
        size = max(1, int((cumulative - p < top_p).sum()))
        kept = cumulative[:size]
        u = torch.rand((), generator=generator, dtype=torch.float64).item() * float(kept[-1])
        pick = min(int(torch.searchsorted(kept, torch.tensor(u, dtype=kept.dtype))), size - 1)
        chosen.append(int(idx[pick]))
    return torch.tensor(chosen, dtype=torch.long)


def common_prefix_length(rows: Sequence[Sequence[int]]) -> int:
    """Tokens every row starts with, leaving each row at least one of its own (the pass
    over a row's tail gives the distribution of its first new token)."""
    shortest = min(len(r) for r in rows)
    n = 0
    while n < shortest - 1 and all(r[n] == rows[0][n] for r in rows):
        n += 1
    return n


@dataclass
class Sampled:
    """One row's new tokens (stop token excluded) and whether it stopped on its own."""

    tokens: list[int]
    stopped: bool


def _tail_inputs(rows: Sequence[Sequence[int]], prefix: int, pad_id: int):
    """Inputs for the rows' tails after a shared prefix of `prefix` tokens: tails left-padded
    to a common width, the mask covering prefix, padding and tail, positions going on from
    the prefix for each row's own tokens."""
    import torch

    tails = [list(r[prefix:]) for r in rows]
    width = max(len(t) for t in tails)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), prefix + width), dtype=torch.long)
    mask[:, :prefix] = 1
    positions = torch.full((len(rows), width), prefix, dtype=torch.long)
    for r, tail in enumerate(tails):
        start = width - len(tail)
        ids[r, start:] = torch.tensor(tail)
        mask[r, prefix + start :] = 1
        positions[r, start:] = torch.arange(prefix, prefix + len(tail))
    return ids, mask, positions


def _prefill(model, rows: Sequence[Sequence[int]], pad_id: int):
    """One pass over the rows: their common prefix once at batch 1, then every row's tail.
    Returns the last position's logits per row, the cache, the attention mask and each
    row's next position."""
    import torch

    from .activations import cache_over
    from .architecture import architecture

    arch = architecture(model)
    device = arch.device
    prefix = common_prefix_length(rows)
    cache = None
    if prefix:
        head = torch.tensor([list(rows[0][:prefix])], device=device)
        out = model(input_ids=head, use_cache=True, logits_to_keep=1)
        n = len(rows)
        kv = [(k.expand(n, -1, -1, -1), v.expand(n, -1, -1, -1)) for k, v in _kv(out)]
        cache = cache_over(kv, model.config)
    ids, mask, positions = _tail_inputs(rows, prefix, pad_id)
    mask = mask.to(device)
    out = model(
        input_ids=ids.to(device),
        attention_mask=mask,
        position_ids=positions.to(device),
        use_cache=True,
        logits_to_keep=1,
        **{arch.cache_argument: cache},
    )
    return out.logits[:, -1], _returned_cache(out), mask, positions[:, -1:].to(device) + 1


def _with_room(model, cache, room: int):
    """`cache` (after a prefill) in buffers with room for `room` decoded tokens, which each
    decoding pass writes in place of concatenating the whole cache in every block."""
    from .activations import PrefixWithRoom

    return PrefixWithRoom(_kv_of(cache), room).cache(model.config)


def _returned_cache(out):
    """The cache a forward pass returns (`cache` in recent transformers)."""
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values


def next_token_log_probs(model, rows: Sequence[Sequence[int]], pad_id: int, batch_size: int = 16):
    """log P(next token | row) for every row [rows, vocab] (float32), in batches that
    share their common prefix."""
    import torch

    out = []
    with torch.inference_mode():
        for b in range(0, len(rows), batch_size):
            logits, *_ = _prefill(model, rows[b : b + batch_size], pad_id)
            out.append(torch.log_softmax(logits.float(), dim=-1).cpu())
    return torch.cat(out)


def sample_rows(
    model,
    rows: Sequence[Sequence[int]],
    seeds: Sequence[int],
    *,
    max_new_tokens: int,
    temperature: float,
    top_p: float,
    stop_ids: Sequence[int],
    pad_id: int,
    end_ids: Sequence[int] = (),
) -> list[Sampled]:
    """Sample a continuation of every token row, each from its own seed. A row stops at a
    token of `stop_ids` (left out) or of `end_ids` (kept as its last)."""
    import torch

    generators = [torch.Generator().manual_seed(int(s)) for s in seeds]
    stops = set(int(s) for s in stop_ids)
    ends = set(int(s) for s in end_ids)
    with torch.inference_mode():
        logits, cache, mask, next_position = _prefill(model, rows, pad_id)
        cache = _with_room(model, cache, max_new_tokens)
        live = list(range(len(rows)))  # which original row each batch row is
        result = [Sampled([], False) for _ in rows]
        for step in range(max_new_tokens):
            tokens = nucleus_choice(logits, temperature, top_p, [generators[r] for r in live])
            keep = []
            for b, (r, token) in enumerate(zip(live, tokens.tolist(), strict=True)):
                if token in stops:
                    result[r].stopped = True
                elif token in ends:
                    result[r].tokens.append(token)
                    result[r].stopped = True
                else:
                    result[r].tokens.append(token)
                    keep.append(b)
            if not keep or step == max_new_tokens - 1:
                break
            if len(keep) < len(live):
                index = torch.tensor(keep, device=mask.device)
                cache.batch_select_indices(index)
                mask, next_position = mask[index], next_position[index]
                tokens = tokens[keep]
                live = [live[b] for b in keep]
            logits, cache, mask, next_position = _step(model, tokens, cache, mask, next_position)
    return result


def _step(model, tokens, cache, mask, next_position):
    """One decoding pass: each row's new token ([rows]) after its cache; returns the next
    logits [rows, vocab] and the cache, mask and positions one token on."""
    import torch

    from .architecture import architecture

    mask = torch.cat([mask, mask.new_ones((len(tokens), 1))], dim=1)
    out = model(
        input_ids=tokens[:, None].to(mask.device),
        attention_mask=mask,
        position_ids=next_position,
        use_cache=True,
        **{architecture(model).cache_argument: cache},
    )
    return out.logits[:, -1], _returned_cache(out), mask, next_position + 1


def _kv(out) -> list[tuple]:
    """[(keys, values)] per block of a forward pass's cache."""
    return _kv_of(_returned_cache(out))


def _kv_of(cache) -> list[tuple]:
    """[(keys, values)] per block of a cache."""
    layers = getattr(cache, "layers", None)
    if layers is not None:
        return [(layer.keys, layer.values) for layer in layers]
    return [(cache.key_cache[i], cache.value_cache[i]) for i in range(len(cache.key_cache))]


@dataclass
class Continued:
    """One row's greedy continuation and its residual states: `tokens` as sample_rows gives
    them (a stop token left out, an end token kept as the last), and per requested layer
    [len(row) + len(tokens), width] float32 states of the row's own tokens followed by each
    new token's, as a single pass over the whole sequence would read them."""

    tokens: list[int]
    stopped: bool
    states: dict[int, np.ndarray]


def greedy_with_states(
    model,
    rows: Sequence[Sequence[int]],
    layers: Sequence[int],
    *,
    max_new_tokens: int,
    stop_ids: Sequence[int],
    pad_id: int,
    end_ids: Sequence[int] = (),
) -> list[Continued]:
    """Greedy continuations of the rows together with the states at `layers` (0: the input
    embedding) of every prompt token and every new token, from the passes that decode: one
    prefill serves both the reply and the read of the prompt, where writing a reply and then
    reading prompt and reply again would run the prompt twice. Rows stay in the batch until
    all have ended (a finished row's later passes are discarded), and one more pass feeds
    every row's last new token, so each new token has its state. The tokens are those of
    sample_rows at temperature 0."""
    import torch

    from .architecture import architecture

    arch = architecture(model)
    stops = set(int(s) for s in stop_ids)
    ends = set(int(s) for s in end_ids)
    captured: dict[int, list] = {layer: [] for layer in layers}

    def make_hook(layer: int):
        def hook(_module, _inputs, output):
            hidden = output[0] if isinstance(output, tuple) else output
            captured[layer].append(hidden.float().cpu())

        return hook

    modules = {layer: arch.embedding if layer == 0 else arch.block(layer) for layer in layers}
    handles = [modules[layer].register_forward_hook(make_hook(layer)) for layer in layers]
    result = [Continued([], False, {}) for _ in rows]
    try:
        with torch.inference_mode():
            prefix = common_prefix_length(rows)
            logits, cache, mask, next_position = _prefill(model, rows, pad_id)
            cache = _with_room(model, cache, max_new_tokens)
            # The prefill ran the shared prefix (when there is one) at batch 1, then the
            # left-padded tails: each row's prompt states are the prefix's and its own tail's.
            width = max(len(r) for r in rows) - prefix
            prompt = {}
            for layer, parts in captured.items():
                tail = parts[-1]
                head = parts[0][0, :prefix] if prefix else tail[0, :0]
                prompt[layer] = [torch.cat([head, tail[r, width - (len(row) - prefix) :]])
                                 for r, row in enumerate(rows)]  # fmt: skip
                parts.clear()
            live = [True] * len(rows)
            for _ in range(max_new_tokens):
                added = False
                for r, token in enumerate(logits.argmax(dim=-1).tolist()):
                    if not live[r]:
                        continue
                    if token in stops:
                        result[r].stopped, live[r] = True, False
                        continue
                    result[r].tokens.append(token)
                    added = True
                    if token in ends:
                        result[r].stopped, live[r] = True, False
                if not added:
                    break
                # Every row feeds its newest token, so that token's state is read (pass k
                # holds new token k of every row that has one); an ended row repeats its
                # last token and that pass is discarded.
                fed = torch.tensor([row.tokens[-1] if row.tokens else pad_id for row in result])
                logits, cache, mask, next_position = _step(model, fed, cache, mask, next_position)
    finally:
        for handle in handles:
            handle.remove()
    # captured[layer]: one [rows, 1, width] entry per decoding pass; new token k of a row was
    # fed at pass k.
    for r, row in enumerate(result):
        for layer in layers:
            new = [captured[layer][k][r] for k in range(len(row.tokens))]
            row.states[layer] = torch.cat([prompt[layer][r], *new]).numpy()
    return result
