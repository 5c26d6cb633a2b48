"""The paper's preference experiment: which of two everyday activities would the model
rather do, how emotion directions predict that (correlation), and how steering with them
changes it (causation).

- **Pairs.** A fixed, seeded design: the union of `rounds` random Hamiltonian cycles over
  the activities (each round gives every activity two new opponents), so the comparison
  graph is connected and every activity meets the same number of opponents.
- **A comparison.** "Which would you rather do? ... A: x, B: y" in the model's chat format;
  its score is log P(A) - log P(B) of the first answer token (each letter with and without
  a leading space, summed). Every pair is asked in both orders, and the debiased log-odds
  that i is chosen over j is D_ij = (d(i, j) - d(j, i)) / 2: a constant preference for the
  first or the second letter cancels, and D_ij = -D_ji exactly.
- **Elo.** Bradley-Terry with soft outcomes: P(i over j) = sigmoid(s_i - s_j), fitted by
  Newton's method to the outcomes sigmoid(D_ij), with a weak Gaussian prior (`ridge`) that
  keeps scores finite when an activity wins every comparison; Elo = 1000 + 400/ln 10 x s.
- **Steering.** A direction is added at the analysis layer to the tokens of option B only,
  while the model reads it; every ordered prompt of the first `steer_rounds` rounds is
  steered (so each activity is steered against its opponents of those rounds, in position
  B). The shift of activity t is the difference of two one-dimensional Bradley-Terry fits
  of t against the same opponents at their unsteered scores: with its steered outcomes,
  and with its unsteered ones (the prior's pull cancels). A direction's Elo shift is the
  mean over activities.
- **Cost.** Every prompt up to option B is forwarded once per distinct first option and
  its keys and values shared; each steered pass replays blocks 1..L of the unsteered pass
  (steering changes nothing below L) and computes only the tokens of option B and after,
  through blocks L+1..N.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
from numpy.typing import ArrayLike

from .architecture import architecture
from .progress import progress

# torch and activations only inside the functions that run the model; for types here.
if TYPE_CHECKING:
    import torch

    from .activations import Prefix

ELO_SCALE = 400 / math.log(10)
ELO_BASE = 1000.0

# ---------------------------------------------------------------- activities


# ---------------------------------------------------------------- the pair design


def pair_design(n: int, rounds: int, seed: int) -> list[tuple[int, int, int]]:
    """(i, j, round) for the distinct unordered pairs of `rounds` seeded random Hamiltonian
    cycles over n items (a pair met again in a later round is kept once, in its first)."""
    if n < 3:
        raise ValueError("a cycle design needs at least 3 activities")
    rng = np.random.default_rng(seed)
    seen: set[tuple[int, int]] = set()
    pairs = []
    for r in range(rounds):
        order = rng.permutation(n)
        for k in range(n):
            a, b = int(order[k]), int(order[(k + 1) % n])
            key = (min(a, b), max(a, b))
            if key not in seen:
                seen.add(key)
                pairs.append((key[0], key[1], r))
    return pairs


# ---------------------------------------------------------------- Bradley-Terry


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))


def debiased(d_forward: np.ndarray, d_reverse: np.ndarray) -> np.ndarray:
    """D_ij, the log-odds that i is chosen over j with position bias cancelled, from
    d(i, j) (i shown as A) and d(j, i) (j shown as A), each log P(A) - log P(B)."""
    return 0.5 * (np.asarray(d_forward, float) - np.asarray(d_reverse, float))


def bradley_terry(
    n: int,
    first: ArrayLike,
    second: ArrayLike,
    outcome: ArrayLike,
    ridge: float = 0.0,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> tuple[np.ndarray, np.ndarray]:
    """Scores s (mean zero) maximising sum p log sigmoid(s_i - s_j) + (1 - p) log
    sigmoid(s_j - s_i) - ridge/2 |s|^2 over comparisons (i, j, p), p being the share (or
    probability) of i winning; and their standard errors from the observed information.
    Newton's method: the objective is concave."""
    i, j = np.asarray(first, int), np.asarray(second, int)
    p = np.asarray(outcome, dtype=np.float64)
    if not (np.all(p >= 0) and np.all(p <= 1)):
        raise ValueError("outcomes must lie in [0, 1]")
    s = np.zeros(n)
    centre = np.eye(n) - 1.0 / n  # keeps the step in the mean-zero subspace
    for _ in range(max_iter):
        q = _sigmoid(s[i] - s[j])
        g = np.zeros(n)
        np.add.at(g, i, p - q)
        np.add.at(g, j, q - p)
        g -= ridge * s
        # The information is singular along the all-ones direction when ridge is 0.
        h = _information(n, i, j, q, ridge) + np.ones((n, n)) / n
        step = centre @ np.linalg.lstsq(h, g, rcond=None)[0]
        s = s + step
        if np.max(np.abs(step)) < tol:
            break
    s -= s.mean()
    h = _information(n, i, j, _sigmoid(s[i] - s[j]), ridge) + np.ones((n, n)) / n
    cov = centre @ np.linalg.pinv(h) @ centre
    return s, np.sqrt(np.clip(np.diag(cov), 0, None))


def _information(n: int, i: np.ndarray, j: np.ndarray, q: np.ndarray, ridge: float) -> np.ndarray:
    """The negative Hessian of the Bradley-Terry log-likelihood (plus the prior) at win
    probabilities q of the comparisons (i, j)."""
    w = q * (1 - q)
    h = np.zeros((n, n))
    np.add.at(h, (i, i), w)
    np.add.at(h, (j, j), w)
    np.add.at(h, (i, j), -w)
    np.add.at(h, (j, i), -w)
    return h + ridge * np.eye(n)


def score_against(
    opponents: np.ndarray, outcome: np.ndarray, ridge: float = 0.0, tol: float = 1e-10
) -> float:
    """The one score x maximising sum p log sigmoid(x - s_j) + (1 - p) log sigmoid(s_j - x)
    - ridge/2 x^2 against opponents of fixed scores s_j (Newton, concave)."""
    s = np.asarray(opponents, dtype=np.float64)
    p = np.asarray(outcome, dtype=np.float64)
    x = 0.0
    for _ in range(100):
        q = _sigmoid(x - s)
        g = float((p - q).sum()) - ridge * x
        h = float((q * (1 - q)).sum()) + ridge
        step = g / max(h, 1e-12)
        x += step
        if abs(step) < tol:
            break
    return x


def to_elo(scores: np.ndarray) -> np.ndarray:
    return ELO_BASE + ELO_SCALE * np.asarray(scores, dtype=np.float64)


# ---------------------------------------------------------------- prompts


class PrefixedPrompt(Protocol):
    """What forwarding and scoring a prompt read of it: its token ids and option B's token
    range, the tokens before which are its prefix (a ChoicePrompt, behaviour's prompts)."""

    @property
    def ids(self) -> tuple[int, ...]: ...

    @property
    def span_b(self) -> tuple[int, int]: ...


@dataclass(frozen=True)
class ChoicePrompt:
    """One ordered comparison: activity `first` shown as A, `second` as B."""

    first: int
    second: int
    ids: tuple[int, ...]
    span_a: tuple[int, int]  # token range [start, end) of option A
    span_b: tuple[int, int]  # ... of option B; the tokens before it are the shared prefix


def prompt_text(tokenizer, chat: bool, question: str, a: str, b: str) -> tuple[str, int, int]:
    """The prompt's text and the character offsets where option A and option B start: for
    a chat model the user's question in its chat template, the assistant's turn begun; for
    a base model the question, then "Answer:"."""
    content = question.replace("{a}", a).replace("{b}", b)
    if chat:
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": content}], add_generation_prompt=True, tokenize=False
        )
    else:
        text = content + "\nAnswer:"
    where = text.find(content)
    start_a = where + question.index("{a}")
    start_b = where + question.index("{b}") - len("{a}") + len(a)
    return text, start_a, start_b


def _token_span(starts: Sequence[int], ends: Sequence[int], lo: int, hi: int) -> tuple[int, int]:
    inside = [k for k, (s, e) in enumerate(zip(starts, ends, strict=True)) if e > lo and s < hi]
    return (inside[0], inside[-1] + 1)


def choice_prompts(
    tokenizer,
    chat: bool,
    question: str,
    activities: Sequence[str],
    ordered: Sequence[tuple[int, int]],
) -> list[ChoicePrompt]:
    """Token ids and option spans of each ordered comparison (first, second)."""
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError("the preference experiment needs a fast tokenizer (token offsets)")
    prompts = []
    for f, s in ordered:
        text, start_a, start_b = prompt_text(
            tokenizer, chat, question, activities[f], activities[s]
        )
        enc = tokenizer(text, add_special_tokens=not chat, return_offsets_mapping=True)
        starts = [a for a, _ in enc["offset_mapping"]]
        ends = [b for _, b in enc["offset_mapping"]]
        span_a = _token_span(starts, ends, start_a, start_a + len(activities[f]))
        span_b = _token_span(starts, ends, start_b, start_b + len(activities[s]))
        prompts.append(ChoicePrompt(f, s, tuple(enc["input_ids"]), span_a, span_b))
    return prompts


def answer_ids(tokenizer) -> tuple[list[int], list[int]]:
    """The single tokens that start an answer "A" or "B" (with and without a space)."""

    def ids(letter: str) -> list[int]:
        out = []
        for text in (letter, " " + letter):
            tok = tokenizer(text, add_special_tokens=False)["input_ids"]
            if len(tok) == 1 and tok[0] not in out:
                out.append(tok[0])
        if not out:
            raise ValueError(f"the tokenizer has no single token for the answer {letter!r}")
        return out

    a, b = ids("A"), ids("B")
    if set(a) & set(b):
        raise ValueError("the answers A and B share a token")
    return a, b


# ---------------------------------------------------------------- scoring on the model


@dataclass
class PromptStates:
    """What the preference experiment keeps of the forwarded prefix of a prompt: its
    keys and values (for continuing from it) and the analysis layer's residual states."""

    prefix: Prefix
    states: torch.Tensor | None  # [tokens, width] float32 at the analysis layer


def forward_prefixes(
    model, prompts: Sequence[PrefixedPrompt], layer: int, batch_size: int = 64
) -> dict[tuple, PromptStates]:
    """Every distinct prompt prefix (the tokens before option B), forwarded once. The
    tokens all prefixes share (chat header, question, "A:") go through the model once, the
    rest of each prefix continues from them in right-padded batches; each prefix's keys
    and values are then its own rows, padding cut away, as if it had run alone."""
    import torch

    from .activations import Batch, Prefix, _continuation

    arch = architecture(model)
    distinct = list(dict.fromkeys(p.ids[: p.span_b[0]] for p in prompts))
    head_len = _common_length(distinct)
    head, head_states = _forward_alone(model, distinct[0][:head_len], layer)
    out: dict[tuple, PromptStates] = {}
    starts = range(0, len(distinct), batch_size)
    for start in progress(starts, f"preference: {len(distinct)} prompt prefixes, batches"):
        chunk = distinct[start : start + batch_size]
        width = max(len(ids) - head_len for ids in chunk)
        ids = torch.zeros((len(chunk), width), dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, prefix_ids in enumerate(chunk):
            rest = prefix_ids[head_len:]
            ids[row, : len(rest)] = torch.tensor(rest)
            mask[row, : len(rest)] = 1
        batch = Batch(ids, mask, mask.bool(), mask.float(), [head] * len(chunk))
        inputs = _continuation(model, batch)
        kept: dict[str, torch.Tensor] = {}

        def hook(_module, _inputs, output, kept=kept):
            kept["states"] = (output[0] if isinstance(output, tuple) else output).float().cpu()

        handle = arch.block(layer).register_forward_hook(hook)
        try:
            with torch.inference_mode():
                arch.base(**{k: v.to(arch.device) if torch.is_tensor(v) else v
                             for k, v in inputs.items()})  # fmt: skip
        finally:
            handle.remove()
        cache = inputs[arch.cache_argument]
        for row, prefix_ids in enumerate(chunk):
            n = len(prefix_ids)
            kv = [
                (c.keys[row : row + 1, :, :n].clone(), c.values[row : row + 1, :, :n].clone())
                for c in cache.layers
                if c.is_initialized
            ]
            states = torch.cat([head_states, kept["states"][row, : n - head_len]])
            own = torch.ones(n, dtype=torch.bool)
            out[prefix_ids] = PromptStates(Prefix(prefix_ids, own, kv, {}), states)
    return out


def _common_length(sequences: Sequence[tuple[int, ...]]) -> int:
    """Length of the longest shared leading part, leaving every sequence a token of its own."""
    n = min(len(s) for s in sequences) - 1
    for k in range(n):
        if any(s[k] != sequences[0][k] for s in sequences):
            return k
    return n


def _forward_alone(model, ids: Sequence[int], layer: int):
    """Run `ids` alone (batch of one): its Prefix (keys and values of every block) and its
    residual states at `layer`."""
    import torch
    from transformers import DynamicCache

    from .activations import Batch, Prefix, attention_layers, run_layers

    arch = architecture(model)
    cache = DynamicCache(config=model.config)
    kept: dict[str, torch.Tensor] = {}

    def reduce(at: int, hidden) -> None:
        if at == layer:
            kept["states"] = hidden[0].cpu()

    row = torch.tensor([list(ids)], dtype=torch.long)
    own = torch.ones_like(row, dtype=torch.bool)
    batch = Batch(row, torch.ones_like(row), own, torch.zeros(row.shape))
    run_layers(model, batch, sorted({layer, arch.num_layers}), reduce, cache=cache)
    kv = [(c.keys, c.values) for c in attention_layers(cache) if c.is_initialized]
    return Prefix(tuple(ids), own[0], kv, {}), kept["states"]


def _continuation_batch(prompts: Sequence[PrefixedPrompt], prefixes: Mapping, pad_id: int):
    import torch

    from .activations import Batch

    width = max(len(p.ids) - p.span_b[0] for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    steer_at = torch.zeros((len(prompts), width), dtype=torch.bool)
    for row, p in enumerate(prompts):
        rest = p.ids[p.span_b[0] :]
        ids[row, : len(rest)] = torch.tensor(rest)
        mask[row, : len(rest)] = 1
        steer_at[row, : p.span_b[1] - p.span_b[0]] = True
    batch = Batch(
        ids,
        mask,
        mask.bool(),
        mask.float(),
        [prefixes[p.ids[: p.span_b[0]]].prefix for p in prompts],
    )
    last = torch.tensor([len(p.ids) - p.span_b[0] - 1 for p in prompts])
    return batch, steer_at, last


def _answer_logodds(model, hidden, last, answers: tuple[list[int], list[int]]) -> np.ndarray:
    import torch

    # log P(A) - log P(B) needs the answer tokens' logits only: the normaliser cancels.
    with torch.inference_mode():
        rows = hidden[torch.arange(hidden.shape[0]), last]
        logits = architecture(model).token_logits(rows, [*answers[0], *answers[1]])
        a = torch.logsumexp(logits[:, : len(answers[0])], dim=-1)
        b = torch.logsumexp(logits[:, len(answers[0]) :], dim=-1)
        return (a - b).double().cpu().numpy()


def choice_logodds(
    model,
    prompts: Sequence[PrefixedPrompt],
    prefixes: Mapping[tuple, PromptStates],
    answers: tuple[list[int], list[int]],
    pad_id: int,
    layer: int,
    deltas: np.ndarray | None = None,
    batch_size: int = 64,
    label: str = "preference: comparisons",
) -> np.ndarray:
    """[conditions + 1, prompts] log P(A) - log P(B): row 0 unsteered, row c + 1 with
    `deltas[c]` added at `layer` to option B's tokens. Each batch is run once unsteered,
    recording blocks 1..layer, and each steered pass replays them. `label` names the
    batches' progress line."""
    deltas = np.zeros((0, architecture(model).hidden_size)) if deltas is None else deltas
    out = np.zeros((len(deltas) + 1, len(prompts)))
    with grouped_query_sdpa(architecture(model).device):
        _score_batches(model, prompts, prefixes, answers, pad_id, layer, deltas, batch_size,
                       label, out)  # fmt: skip
    return out


@contextlib.contextmanager
def grouped_query_sdpa(device) -> Iterator[None]:
    """On a CPU, let torch's SDPA read grouped-query keys and values as they are, instead of
    transformers copying them to one head per query head first (it does so whenever there
    is an attention mask, for CUDA's sake): a steered pass over a cached prompt is bound by
    reading those keys and values (a quarter less time here, the same numbers)."""
    import os

    key = "TRANSFORMERS_SDPA_FORCE_GQA"
    if getattr(device, "type", str(device)) != "cpu" or key in os.environ:
        yield
        return
    os.environ[key] = "1"
    try:
        yield
    finally:
        del os.environ[key]


def _score_batches(model, prompts, prefixes, answers, pad_id, layer, deltas, batch_size, label,
                   out) -> None:  # fmt: skip
    """choice_logodds' batches, written into `out`."""
    import torch

    from .activations import PrefixWithRoom, _continuation
    from .steering import PromptPrefix, recorded_pass, replaying, steer

    for start in progress(range(0, len(prompts), batch_size), f"{label}, batches"):
        chunk = list(prompts[start : start + batch_size])
        batch, steer_at, last = _continuation_batch(chunk, prefixes, pad_id)
        inputs = _continuation(model, batch)
        cache_arg = architecture(model).cache_argument
        # The padded prefix keys and values, copied once per batch into buffers with room
        # for the batch's own tokens: every steered pass writes its keys and values there
        # instead of concatenating the whole cache in every block (a pass alone: 71 against
        # 92 ms for 32 prompts; a behaviour condition end to end: 181 against 193 ms).
        room = PrefixWithRoom([(c.keys, c.values) for c in inputs[cache_arg].layers],
                              batch.ids.shape[1])  # fmt: skip
        outputs, updates, result = recorded_pass(model, inputs)
        cols = slice(start, start + len(chunk))
        out[0, cols] = _answer_logodds(model, result.last_hidden_state, last, answers)
        record = PromptPrefix([], outputs, updates)
        for c, delta in enumerate(deltas):
            inputs = {**inputs, cache_arg: room.cache(model.config)}
            with (
                torch.inference_mode(),
                replaying(model, record, layer, write_cache=False),
                steer(model, layer, delta, positions=steer_at),
            ):
                result = architecture(model).base(**inputs)
            out[c + 1, cols] = _answer_logodds(model, result.last_hidden_state, last, answers)


# ---------------------------------------------------------------- projections


def option_means(
    prompts: Sequence[ChoicePrompt],
    prefixes: Mapping[tuple, PromptStates],
    n: int,
    sink_ratio: float | None,
    special_ids: Sequence[int] = (),
) -> np.ndarray:
    """[n, width] each activity's residual state at the analysis layer, averaged over its
    tokens as option A (the same context for every activity: only the question precedes
    it), attention sinks left out by the rule every mean uses (pooling.sink_positions: above
    `sink_ratio` x the median norm of the prompt's own tokens, not `special_ids`)."""
    import torch

    from .pooling import sink_positions

    special = set(special_ids)
    means: dict[int, np.ndarray] = {}
    for p in prompts:
        if p.first in means:
            continue
        ids = p.ids[: p.span_b[0]]
        states = prefixes[ids].states
        if states is None:  # forward_prefixes keeps the states of every prefix
            raise ValueError(f"the prefix of activity {p.first} was kept without its states")
        option = torch.zeros(len(states), dtype=torch.bool)
        option[p.span_a[0] : p.span_a[1]] = True
        own = torch.tensor([t not in special for t in ids], dtype=torch.bool)
        sink = sink_positions(states.norm(dim=-1)[None], own[None], sink_ratio)[0]
        keep = option & ~sink
        if not keep.any():  # every token of the option a sink: keep them rather than nothing
            keep = option
        means[p.first] = states[keep].double().mean(dim=0).numpy()
    missing = [i for i in range(n) if i not in means]
    if missing:
        raise ValueError(f"activities {missing} are never shown as option A")
    return np.stack([means[i] for i in range(n)])


# ---------------------------------------------------------------- the analysis


@dataclass
class Comparisons:
    """The ordered comparisons of a run and their log-odds d = log P(A) - log P(B)."""

    pairs: list[tuple[int, int, int]]  # (i, j, round), i < j
    forward: np.ndarray  # d(i, j) per pair, i shown as A
    reverse: np.ndarray  # d(j, i) per pair


def fit_elo(
    n: int, comparisons: Comparisons, ridge: float, rounds: Sequence[int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(scores, standard errors) from the unsteered comparisons (of `rounds` only, if
    given); soft outcomes sigmoid(D_ij)."""
    keep = [k for k, (_, _, r) in enumerate(comparisons.pairs) if rounds is None or r in rounds]
    first = [comparisons.pairs[k][0] for k in keep]
    second = [comparisons.pairs[k][1] for k in keep]
    d = debiased(comparisons.forward[keep], comparisons.reverse[keep])
    return bradley_terry(n, first, second, _sigmoid(d), ridge)


def bootstrap_elo_se(
    n: int, comparisons: Comparisons, ridge: float, reps: int, seed: int
) -> np.ndarray:
    """Standard error of each activity's Elo, by bootstrap over the pairs (refitted each
    time). The Bradley-Terry information would treat every comparison as one coin toss;
    here an outcome is the model's deterministic log-odds, so its spread across opponents
    is what says how well a score is pinned down."""
    rng = np.random.default_rng(seed)
    d = debiased(comparisons.forward, comparisons.reverse)
    first = np.array([i for i, _, _ in comparisons.pairs])
    second = np.array([j for _, j, _ in comparisons.pairs])
    draws = []
    for _ in range(reps):
        idx = rng.integers(0, len(d), len(d))
        scores, _ = bradley_terry(n, first[idx], second[idx], _sigmoid(d[idx]), ridge)
        draws.append(to_elo(scores))
    return np.std(np.array(draws), axis=0, ddof=1)


def split_half_reliability(n: int, comparisons: Comparisons, ridge: float) -> float | None:
    """Spearman-Brown corrected correlation of the Elo scores fitted on the even rounds
    against those fitted on the odd rounds (None with fewer than two rounds)."""
    from .stats import pearson

    rounds = sorted({r for *_, r in comparisons.pairs})
    if len(rounds) < 2:
        return None
    even, _ = fit_elo(n, comparisons, ridge, rounds[0::2])
    odd, _ = fit_elo(n, comparisons, ridge, rounds[1::2])
    r = pearson(even, odd)
    return float(2 * r / (1 + r)) if math.isfinite(r) and r > -1 else None


@dataclass
class SteeredComparison:
    """An ordered comparison whose option B (`target`) was steered, against `opponent`."""

    target: int
    opponent: int
    unsteered: float  # D(target over opponent), debiased, unsteered
    change: float  # the steered minus the unsteered log-odds that the target is chosen


def elo_shifts(
    scores: np.ndarray, steered: Sequence[SteeredComparison], ridge: float
) -> dict[int, float]:
    """{target: Elo shift}: a one-dimensional fit of the target against the same opponents
    at their unsteered scores, with its steered outcomes minus with its unsteered ones."""
    by_target: dict[int, list[SteeredComparison]] = {}
    for c in steered:
        by_target.setdefault(c.target, []).append(c)
    shifts = {}
    for target, rows in sorted(by_target.items()):
        opp = scores[[c.opponent for c in rows]]
        base = np.array([c.unsteered for c in rows])
        change = np.array([c.change for c in rows])
        after = score_against(opp, _sigmoid(base + change), ridge)
        before = score_against(opp, _sigmoid(base), ridge)
        shifts[target] = ELO_SCALE * (after - before)
    return shifts


def projections(means: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """[activities, directions]: each activity's state, centred on the mean over
    activities, on each unit direction."""
    from .steering import unit_rows

    centred = means - means.mean(axis=0, keepdims=True)
    return centred @ unit_rows(directions).T


def column_correlations(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r of each column of x [n, k] with y [n]."""
    xc = x - x.mean(axis=0)
    yc = y - y.mean()
    denominator = np.sqrt((xc**2).sum(axis=0) * (yc @ yc))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (xc.T @ yc) / denominator, np.nan)


def bootstrap_over_activities(
    proj: np.ndarray, elo: np.ndarray, shift: np.ndarray, reps: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per replicate (activities resampled with replacement): each direction's projection-
    Elo r [reps, k], its mean Elo shift [reps, k] (shift: [activities, k], NaN where an
    activity was not steered), and the across-direction r of the two [reps]."""
    from .stats import pearson

    rng = np.random.default_rng(seed)
    n = len(elo)
    rs, shifts, across = [], [], []
    for _ in range(reps):
        idx = rng.integers(0, n, n)
        r = column_correlations(proj[idx], elo[idx])
        m = np.nanmean(shift[idx], axis=0)
        rs.append(r)
        shifts.append(m)
        across.append(pearson(r, m))
    return np.array(rs), np.array(shifts), np.array(across)
