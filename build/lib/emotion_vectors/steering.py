"""Steering: add an emotion direction to the residual stream and measure what changes.

The hook adds `strength x unit(v) x (mean residual norm at layer L)` to the output of
decoder block L (layer L, 1-based, as everywhere in this package), one vector per batch
row, at the positions a mask selects (all positions when there is no mask). The hook is
always removed afterwards, whatever happens inside the `with` block.

"He feels ___": the log-probability of each emotion word (" " + word, all of its tokens,
teacher-forced) after a fixed prompt, steered on the prompt positions only, minus the
same log-probability unsteered. The steered prompt is run once per steering vector and
its key/value cache is shared by every word scored after it, so a 30 x 30 matrix costs
31 prompt passes plus one short pass for the words of more than one token.

Below the steered layer every steered prompt pass is the unsteered one: steering only
changes what block L outputs. So the unsteered prompt is run once (`prompt_prefix`), and
each steered pass replays its recorded block outputs and key/value entries for blocks
1..L and computes only blocks L+1..N (`word_logprobs(..., prefix=...)`); the numbers are
those of the full pass up to float rounding (tests pin the two against each other).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .architecture import architecture
from .progress import progress

if TYPE_CHECKING:  # for the annotation only: steering does not import models when it runs
    from .models import LoadedModel

log = logging.getLogger("emotion_vectors")


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    v = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(norms == 0, 1, norms)


def steering_deltas(vectors: np.ndarray, strengths, residual_norm: float) -> np.ndarray:
    """[rows, width] additions: strength x unit(vector) x the layer's mean residual norm."""
    strengths = np.broadcast_to(np.asarray(strengths, dtype=np.float64), (len(vectors),))
    return unit_rows(vectors) * strengths[:, None] * residual_norm


@contextlib.contextmanager
def steer(model, layer: int, deltas, positions=None) -> Iterator[None]:
    """Add `deltas` ([width] for every row, or [batch, width], one per row) to the output
    of decoder block `layer` (1-based) at `positions` ([batch, tokens] bool, or None for
    every position of every forward pass, including the new tokens of a generation)."""
    import torch

    block = architecture(model).block(layer)

    def hook(_module, _inputs, output):
        hidden = output[0] if isinstance(output, tuple) else output
        delta = torch.as_tensor(deltas, dtype=hidden.dtype, device=hidden.device)
        delta = delta.expand(hidden.shape[0], -1) if delta.dim() == 1 else delta
        if delta.shape[0] != hidden.shape[0]:
            raise ValueError(f"{delta.shape[0]} steering rows for a batch of {hidden.shape[0]}")
        add = delta[:, None, :].expand_as(hidden)
        if positions is not None:
            mask = torch.as_tensor(positions, device=hidden.device, dtype=torch.bool)
            if mask.shape != hidden.shape[:2]:
                raise ValueError(f"positions {tuple(mask.shape)} for states {hidden.shape[:2]}")
            add = add * mask[..., None].to(hidden.dtype)
        steered = hidden + add
        return (steered, *output[1:]) if isinstance(output, tuple) else steered

    handle = block.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


# ---------------------------------------------------------------- "He feels ___"


def he_feels_prompt(tokenizer, chat: bool, question: str, answer_prefix: str) -> list[int]:
    """Token ids of the prompt: for a chat model the chat template with the user's question
    and the assistant's answer begun; for a base model the raw answer prefix."""
    if chat:
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": question}], add_generation_prompt=True, tokenize=False
        )
        return tokenizer(text + answer_prefix, add_special_tokens=False)["input_ids"]
    return tokenizer(answer_prefix, add_special_tokens=True)["input_ids"]


def word_ids(tokenizer, word: str) -> list[int]:
    """Token ids of ' ' + word as it continues the prompt."""
    return tokenizer(" " + word, add_special_tokens=False)["input_ids"]


def _cache_of(output):
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values


@dataclass
class PromptPrefix:
    """The unsteered prompt pass (batch of one): every block's output and every key/value
    entry a block wrote to the cache, as (layer index, args, kwargs) of `Cache.update`."""

    prompt_ids: list[int]
    outputs: list  # per block: its output (a tensor, or the tuple the block returns)
    updates: list[list[tuple[tuple, dict]]]  # per block: its cache updates


def prompt_prefix(model, prompt_ids: Sequence[int]) -> PromptPrefix:
    """Run the prompt once, unsteered, recording what `word_logprobs` replays below the
    steered layer."""
    import torch

    device = architecture(model).device
    ids = torch.tensor([list(prompt_ids)], device=device)
    outputs, updates, _ = recorded_pass(model, {"input_ids": ids, "use_cache": True})
    return PromptPrefix(list(prompt_ids), outputs, updates)


def recorded_pass(model, inputs: Mapping) -> tuple[list, list[list], Any]:
    """One unsteered forward pass of the decoder stack on `inputs` (any batch, any cache)
    that records every block's output and every key/value entry a block wrote to the
    cache, as (layer index, args, kwargs) of `Cache.update`: what `replaying` feeds a later
    steered pass over the same rows. The cache's `update` is wrapped on this one cache
    object only. Returns (outputs, updates, the model's output)."""
    import torch

    arch = architecture(model)
    blocks = arch.blocks
    outputs: list = [None] * len(blocks)
    updates: list[list] = [[] for _ in blocks]
    handles = []

    def find_cache(kwargs):
        return kwargs.get("cache", kwargs.get("past_key_values"))

    def make_pre(i):
        def pre(_module, _args, kwargs):
            cache = find_cache(kwargs)
            if i == 0 and cache is not None and not hasattr(cache, "_ev_recording"):
                original = cache.update

                def recording(*args, **kw):
                    layer_idx = args[2] if len(args) > 2 else kw.get("layer_idx")
                    updates[layer_idx].append((args, kw))
                    return original(*args, **kw)

                cache.update = recording
                cache._ev_recording = True

        return pre

    def make_post(i):
        def post(_module, _args, output):
            outputs[i] = output

        return post

    for i, block in enumerate(blocks):
        handles.append(block.register_forward_pre_hook(make_pre(i), with_kwargs=True))
        handles.append(block.register_forward_hook(make_post(i)))
    try:
        with torch.inference_mode():
            result = arch.base(**inputs)
    finally:
        for h in handles:
            h.remove()
    return outputs, updates, result


def _expand_rows(x, batch: int, _axis: int = 1):
    import torch

    if isinstance(x, torch.Tensor) and x.dim() > 0 and x.shape[0] == 1:
        return x.expand(batch, *x.shape[1:])
    return x


def _replay_block(prefix: PromptPrefix, index: int, block, write_cache: bool = True):
    """A stand-in for decoder block `index` (0-based) during a steered pass: it writes the
    unsteered pass's key/value entries of that block into this pass's cache (one copy per
    batch row; skipped when `write_cache` is false) and returns the block's unsteered
    output, so blocks 1..L cost nothing."""
    updates = prefix.updates[index] if write_cache else []
    return _replay(prefix.outputs[index], updates, block, _expand_rows)


def _replay(output, updates: list, block, select: Callable):
    """A module that stands in for `block`: it writes `updates` (the recorded key/value
    entries of the block) into the pass's cache and returns the recorded `output`, each
    tensor through `select(tensor, batch rows, sequence axis)`."""
    import torch

    class Replay(torch.nn.Module):
        def forward(self, hidden_states, *args, **kwargs):
            batch = hidden_states.shape[0]
            cache = kwargs.get("cache", kwargs.get("past_key_values"))
            if cache is not None:
                for (key, value, *rest), up_kwargs in updates:
                    cache.update(select(key, batch, 2), select(value, batch, 2), *rest, **up_kwargs)
            if isinstance(output, tuple):
                return (select(output[0], batch, 1), *output[1:])
            return select(output, batch, 1)

    replay = Replay()
    # Some models read a block's attributes (e.g. its attention type) in their layer loop.
    for name in ("attention_type", "layer_idx"):
        if hasattr(block, name):
            setattr(replay, name, getattr(block, name))
    return replay


@contextlib.contextmanager
def replaying(model, prefix: PromptPrefix, layer: int, write_cache: bool = True) -> Iterator[None]:
    """Blocks 1..layer replay `prefix` for the duration of the block; restored after.
    `write_cache=False` for a single pass whose cache is thrown away after it: the
    replayed blocks' new keys and values would be read by no later token, and appending
    them copies every cached key and value of those blocks."""
    blocks = architecture(model).blocks
    originals = [blocks[i] for i in range(layer)]
    try:
        for i in range(layer):
            blocks[i] = _replay_block(prefix, i, originals[i], write_cache)
        yield
    finally:
        for i, block in enumerate(originals):
            blocks[i] = block


@dataclass
class ContinuationPrefix:
    """The unsteered pass of the words' tokens after the first (teacher-forced, one row per
    distinct word, right-padded to the longest) through the blocks below the steered
    layer, after the unsteered prompt. Steering changes only the prompt's states above
    that layer, so every steered continuation of a word computes exactly this below it:
    `_add_continuations` replays it there and runs only the blocks above."""

    rows: dict[tuple[int, ...], int]  # a word's token ids -> its row
    layer: int
    outputs: list  # per block below `layer`: its output
    updates: list[list[tuple[tuple, dict]]]  # per block below `layer`: its cache updates


def continuation_prefix(
    model, prompt_ids: Sequence[int], words: Sequence[Sequence[int]], layer: int
) -> ContinuationPrefix | None:
    """The `ContinuationPrefix` of the words of several tokens among `words`, or None when
    there is none or nothing to replay (layer 0)."""
    import torch

    distinct = list(dict.fromkeys(tuple(w) for w in words if len(w) > 1))
    if not distinct or layer < 1:
        return None
    arch = architecture(model)
    device = arch.device
    with torch.inference_mode():
        prompt = arch.base(
            input_ids=torch.tensor([list(prompt_ids)], device=device), use_cache=True
        )
    cache = _cache_of(prompt)
    cache.reorder_cache(torch.zeros(len(distinct), dtype=torch.long, device=device))
    width = max(len(w) for w in distinct) - 1
    feed = torch.zeros((len(distinct), width), dtype=torch.long, device=device)
    for j, w in enumerate(distinct):
        feed[j, : len(w) - 1] = torch.tensor(w[:-1])
    mask = torch.ones((len(distinct), len(prompt_ids) + width), device=device)
    inputs = {"input_ids": feed, "attention_mask": mask, "use_cache": False,
              arch.cache_argument: cache}  # fmt: skip
    outputs, updates, _ = recorded_pass(model, inputs)
    return ContinuationPrefix(
        {w: j for j, w in enumerate(distinct)}, layer, outputs[:layer], updates[:layer]
    )


@contextlib.contextmanager
def replaying_continuation(
    model, below: ContinuationPrefix, words: Sequence[Sequence[int]], width: int
) -> Iterator[None]:
    """Blocks 1..below.layer replay the recorded continuation of each row's word (`words`,
    one per row of the pass, right-padded to `width`); restored after."""
    import torch

    blocks = architecture(model).blocks
    index = torch.tensor([below.rows[tuple(w)] for w in words])

    def select(x, _batch: int, axis: int):
        if not isinstance(x, torch.Tensor) or x.dim() <= axis:
            return x
        return x.index_select(0, index.to(x.device)).narrow(axis, 0, width)

    originals = [blocks[i] for i in range(below.layer)]
    try:
        for i in range(below.layer):
            blocks[i] = _replay(below.outputs[i], below.updates[i], originals[i], select)
        yield
    finally:
        for i, block in enumerate(originals):
            blocks[i] = block


def _log_softmax_of(model, hidden):

    return architecture(model).log_probs(hidden)


def word_logprobs(
    model,
    prompt_ids: Sequence[int],
    words: Sequence[Sequence[Sequence[int]]],
    layer: int | None = None,
    deltas: np.ndarray | None = None,
    batch_size: int = 32,
    prefix: PromptPrefix | None = None,
) -> list[list[float]]:
    """Log-probability of each word (a token-id list, teacher-forced) after the prompt,
    for each condition: condition i steers the prompt positions at `layer` by `deltas[i]`
    and scores the words `words[i]`. With `deltas=None` there is one unsteered condition
    per entry of `words`. Returns one list of log-probs per condition. Given the
    unsteered `prefix` of this prompt, steered passes compute only the blocks above
    `layer` (same numbers up to float rounding)."""
    import torch

    n = len(words)
    arch = architecture(model)
    device = arch.device
    cache_arg = architecture(model).cache_argument
    if prefix is not None and list(prefix.prompt_ids) != list(prompt_ids):
        raise ValueError("the prompt prefix was computed for another prompt")
    out: list[list[float]] = [[] for _ in range(n)]
    below = None
    if deltas is not None and prefix is not None and layer is not None:
        below = continuation_prefix(model, prompt_ids, [w for ws in words for w in ws], layer)
    what = "unsteered" if deltas is None else f"steered at layer {layer}"
    for start in progress(range(0, n, batch_size), f"steering: {n} conditions {what}, batches"):
        rows = list(range(start, min(n, start + batch_size)))
        ids = torch.tensor([list(prompt_ids)] * len(rows), device=device)
        ctx = contextlib.ExitStack()
        if deltas is not None:
            if layer is None:
                raise ValueError("steered conditions (deltas) need the layer to steer")
            if prefix is not None:
                ctx.enter_context(replaying(model, prefix, layer))
            ctx.enter_context(steer(model, layer, np.asarray(deltas)[rows]))
        with torch.inference_mode():
            with ctx:  # every position of this pass is a prompt position
                prompt = arch.base(input_ids=ids, use_cache=True)
            first = _log_softmax_of(model, prompt.last_hidden_state[:, -1])
            # The first token of every word comes from the prompt's last position.
            pairs = [(r, w) for r in range(len(rows)) for w in words[rows[r]]]
            lps = [float(first[r, w[0]]) for r, w in pairs]
            _add_continuations(model, prompt, pairs, lps, len(prompt_ids), cache_arg, below)
        for (r, _), lp in zip(pairs, lps, strict=True):
            out[rows[r]].append(lp)
    return out


# Rows of one continuation pass: each row holds a copy of the prompt's key/value cache.
CONTINUATION_ROWS = 256


def _add_continuations(
    model, prompt, pairs, lps: list[float], prompt_len: int, cache_arg,
    below: ContinuationPrefix | None = None,
):  # fmt: skip
    """Add to `lps[k]` the log-probability of tokens 2.. of word k (pairs[k] = (prompt row,
    token ids)), teacher-forced after that row's (steered) prompt cache, unsteered: later
    positions are never steered. Rows are sorted by word length, so a chunk pads little,
    and only the positions that predict a word token go through the unembedding; in
    chunks, so many words per prompt stay in memory. With `below`, the blocks below the
    steered layer replay it (a third of the work at two thirds of the depth)."""
    import copy

    import torch

    arch = architecture(model)
    longer = sorted(
        (k for k, (_, w) in enumerate(pairs) if len(w) > 1), key=lambda k: len(pairs[k][1])
    )
    for start in range(0, len(longer), CONTINUATION_ROWS):
        chunk = longer[start : start + CONTINUATION_ROWS]
        width = max(len(pairs[k][1]) - 1 for k in chunk)
        feed = torch.zeros((len(chunk), width), dtype=torch.long, device=arch.device)
        for j, k in enumerate(chunk):
            feed[j, : len(pairs[k][1]) - 1] = torch.tensor(pairs[k][1][:-1])
        cache = _cache_of(prompt)
        cache = copy.deepcopy(cache) if len(longer) > len(chunk) else cache
        cache.reorder_cache(torch.tensor([pairs[k][0] for k in chunk], device=arch.device))
        mask = torch.ones((len(chunk), prompt_len + width), device=arch.device)
        replay: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
        if below is not None:
            replay = replaying_continuation(model, below, [pairs[k][1] for k in chunk], width)
        with replay:
            rest = arch.base(
                input_ids=feed, attention_mask=mask, use_cache=False, **{cache_arg: cache}
            )
        # Right padding: position t of row j predicts token t + 1 of its word.
        rows = [(j, t) for j, k in enumerate(chunk) for t in range(len(pairs[k][1]) - 1)]
        hidden = rest.last_hidden_state[[j for j, _ in rows], [t for _, t in rows]]
        logp = _log_softmax_of(model, hidden)
        targets = [pairs[chunk[j]][1][t + 1] for j, t in rows]
        picked = logp[torch.arange(len(rows)), torch.tensor(targets)].tolist()
        for (j, _), value in zip(rows, picked, strict=True):
            lps[chunk[j]] += value


@dataclass
class SteeringRun:
    """One batch of steering conditions at one layer: which vector (emotion) at which
    strength, and which words to score after it."""

    layer: int
    emotions: list[str]
    strengths: list[float]
    words: list[list[str]]


def steering_effects(
    model,
    tokenizer,
    prompt_ids: Sequence[int],
    run: SteeringRun,
    vectors: Mapping[str, np.ndarray],
    residual_norm: float,
    baseline: Mapping[str, float],
    batch_size: int = 32,
    prefix: PromptPrefix | None = None,
) -> list[dict]:
    """Rows (emotion, strength, word, logprob, change) for every condition and word, the
    change being steered minus the unsteered `baseline[word]`. `prefix`: see
    `word_logprobs`."""
    ids = {w: word_ids(tokenizer, w) for ws in run.words for w in ws}
    deltas = steering_deltas(
        np.stack([vectors[e] for e in run.emotions]), run.strengths, residual_norm
    )
    lps = word_logprobs(
        model,
        prompt_ids,
        [[ids[w] for w in ws] for ws in run.words],
        run.layer,
        deltas,
        batch_size,
        prefix,
    )
    return effect_rows(run, lps, baseline)


def effect_rows(
    run: SteeringRun, logprobs: Sequence[Sequence[float]], baseline: Mapping[str, float]
) -> list[dict]:
    """One row per condition and word of `run`, given its steered log-probabilities."""
    rows = []
    for emotion, strength, ws, lp in zip(
        run.emotions, run.strengths, run.words, logprobs, strict=True
    ):
        for word, value in zip(ws, lp, strict=True):
            rows.append(
                {
                    "layer": run.layer,
                    "emotion": emotion,
                    "strength": strength,
                    "word": word,
                    "logprob": value,
                    "change": value - baseline[word],
                }
            )
    return rows


def baseline_logprobs(
    model, tokenizer, prompt_ids: Sequence[int], words: Sequence[str]
) -> dict[str, float]:
    """Unsteered log-probability of every word after the prompt (one prompt pass)."""
    words = list(dict.fromkeys(words))
    lps = word_logprobs(model, prompt_ids, [[word_ids(tokenizer, w) for w in words]])[0]
    return dict(zip(words, lps, strict=True))


# ---------------------------------------------------------------- generations


def steered_generations(
    model,
    tokenizer,
    prompts: Sequence[str],
    chat: bool,
    layer: int,
    conditions: Sequence[tuple[str, np.ndarray | None]],
    max_new_tokens: int,
) -> list[dict]:
    """Greedy completions of each prompt under each (label, delta) condition (None =
    unsteered), steering every position, prompt and new tokens alike. Every (prompt,
    condition) pair is one row of a single left-padded batch: decoding a small model on a
    CPU is bound by reading the weights once per step, so one batch of all rows costs about
    what one prompt's batch did."""
    import torch

    arch = architecture(model)
    device, width = arch.device, arch.hidden_size
    deltas = np.stack([np.zeros(width) if d is None else d for _, d in conditions])
    texts = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
        )
        if chat
        else prompt
        for prompt in prompts
    ]
    # Left padding puts every prompt's last token in the last column; generate takes the
    # positions from the mask (load_model gives every tokenizer a pad token).
    enc = tokenizer(
        texts, add_special_tokens=not chat, padding=True, padding_side="left", return_tensors="pt"
    )
    # Row p * len(conditions) + c: prompt p under condition c.
    ids = enc["input_ids"].repeat_interleave(len(conditions), dim=0)
    mask = enc["attention_mask"].repeat_interleave(len(conditions), dim=0)
    with torch.inference_mode(), steer(model, layer, np.tile(deltas, (len(prompts), 1))):
        generated = model.generate(
            input_ids=ids.to(device),
            attention_mask=mask.to(device),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
        )
    new_tokens = generated[:, ids.shape[1] :]
    rows = []
    for p, prompt in enumerate(prompts):
        for c, (label, _) in enumerate(conditions):
            completion = tokenizer.decode(
                new_tokens[p * len(conditions) + c], skip_special_tokens=True
            )
            rows.append({"prompt": prompt, "steering": label, "completion": completion.strip()})
    return rows


# ---------------------------------------------------------------- a session of experiments


@dataclass
class SteeringSession:
    """One loaded model and one "He feels" prompt, shared by the steering experiments of a
    job. It remembers the unsteered baselines and every steered log-probability it has
    computed, keyed by (vector file, layer, emotion, strength, word), so an experiment
    that repeats a condition of another reads it instead of running it again."""

    loaded: LoadedModel
    prompt: list[int]
    prefix: PromptPrefix
    residual_norms: dict[int, float]  # the steering unit per layer
    batch_size: int
    baselines: dict[str, float] = field(default_factory=dict)
    memo: dict[tuple, float] = field(default_factory=dict)

    @classmethod
    def open(
        cls, loaded, settings: Mapping, residual_norms: Mapping[int, float]
    ) -> SteeringSession:
        prompt = he_feels_prompt(
            loaded.tokenizer, loaded.spec.chat, settings["question"], settings["answer_prefix"]
        )
        prefix = prompt_prefix(loaded.model, prompt)
        return cls(loaded, prompt, prefix, dict(residual_norms), int(settings["batch_size"]))

    def baseline(self, words: Sequence[str]) -> dict[str, float]:
        """Unsteered log-probability of each word, the missing ones in one prompt pass."""
        missing = [w for w in dict.fromkeys(words) if w not in self.baselines]
        if missing:
            ids = [word_ids(self.loaded.tokenizer, w) for w in missing]
            lps = word_logprobs(self.loaded.model, self.prompt, [ids])[0]
            self.baselines.update(zip(missing, lps, strict=True))
        return {w: self.baselines[w] for w in words}

    def effects(
        self, source: str, vectors: Mapping[str, np.ndarray], run: SteeringRun
    ) -> list[dict]:
        """`steering_effects` rows of `run` (vectors from the file `source`), computing only
        the conditions this session has not computed before."""
        baseline = self.baseline([w for ws in run.words for w in ws])

        def key(emotion, strength, word):
            return (source, run.layer, emotion, float(strength), word)

        todo = [
            (e, s, [w for w in ws if key(e, s, w) not in self.memo])
            for e, s, ws in zip(run.emotions, run.strengths, run.words, strict=True)
        ]
        todo = [(e, s, ws) for e, s, ws in todo if ws]
        if todo:
            fresh = SteeringRun(
                run.layer, [e for e, _, _ in todo], [s for _, s, _ in todo], [w for *_, w in todo]
            )
            for row in steering_effects(
                self.loaded.model,
                self.loaded.tokenizer,
                self.prompt,
                fresh,
                vectors,
                self.residual_norms[run.layer],
                baseline,
                self.batch_size,
                self.prefix,
            ):
                self.memo[key(row["emotion"], row["strength"], row["word"])] = row["logprob"]
        logprobs = [
            [self.memo[key(e, s, w)] for w in ws]
            for e, s, ws in zip(run.emotions, run.strengths, run.words, strict=True)
        ]
        return effect_rows(run, logprobs, baseline)
