"""The logit lens: what an emotion vector says about the next token when it is read out
through the model's own final norm and unembedding.

Our vectors live in the pre-norm residual stream (every stored layer is a decoder block's
own output, see architecture.py), so the final norm applies before the unembedding. For a
single vector v an RMSNorm returns v's direction times the norm's gain (Gemma's RMSNorm
scales by 1 + weight), so going through the model's own norm module handles every variant:

    change in logits = unembed(final_norm(v)) - unembed(final_norm(0))

The second term removes any bias of the norm or the unembedding (zero for Llama and Gemma).
A state that is already post-norm (transformers' `hidden_states[-1]`) must not be normed
again: pass `post_norm=True` for such vectors and the norm is skipped.

An emotion "hits" when one of its top-k promoted tokens is one of its word forms (the
reviewed list config/emotions/word-forms.yaml; a token must equal a form, fragments never
count). The control is the chance rate: the same top tokens scored against the forms of
every *other* emotion, and a permutation p of the hit rate against shuffled form lists.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .stats import measure, wilson_interval
from .wordforms import bare_token


def logit_changes(vectors: np.ndarray, norm, unembedding, post_norm: bool = False) -> np.ndarray:
    """[emotions, vocab] change in next-token logits that each vector causes when read out
    through `norm` (skipped when `post_norm`) and `unembedding` (a module: width -> vocab)."""
    import torch

    weight = next(unembedding.parameters())
    v = torch.as_tensor(np.array(vectors), dtype=weight.dtype, device=weight.device)
    with torch.inference_mode():
        # The zero vector's logits ride along as the last row: a separate one-row pass
        # would read the whole unembedding matrix again for one row.
        rows = torch.cat([v, torch.zeros_like(v[:1])])
        out = unembedding(rows if post_norm else norm(rows))
        changes = out[:-1] - out[-1:]
    return changes.float().cpu().numpy()


def top_indices(changes: np.ndarray, top_k: int, largest: bool = True) -> np.ndarray:
    """[rows, k] indices of each row's k largest (or smallest) values, best first, ties
    broken by the lower index. torch.topk finds each row's k-th value for all rows at once;
    every index at or beyond it is then sorted exactly, so ties at the boundary are
    resolved the same way whatever topk returned."""
    import torch

    values = np.asarray(changes, dtype=np.float32)
    if values.ndim == 1:
        values = values[None]
    signed = values if largest else -values
    k = min(top_k, values.shape[1])
    kth = torch.topk(torch.from_numpy(signed), k, dim=1).values[:, -1].numpy()
    out = np.empty((len(values), k), dtype=np.int64)
    for r, (row, threshold) in enumerate(zip(signed, kth, strict=True)):
        candidates = np.flatnonzero(row >= threshold)
        out[r] = candidates[np.lexsort((candidates, -row[candidates]))][:k]
    return out


class FormIndex:
    """Which emotions a decoded token is a word form of, for every emotion of a run."""

    def __init__(self, emotions: Sequence[str], forms: Mapping[str, frozenset[str]]) -> None:
        self.emotions = list(emotions)
        self.forms = {e: frozenset(forms.get(e, ())) for e in self.emotions}
        self._owners: dict[str, set[int]] = {}
        for i, e in enumerate(self.emotions):
            for form in self.forms[e]:
                self._owners.setdefault(form, set()).add(i)

    def owners(self, token: str) -> set[int]:
        return self._owners.get(bare_token(token), set())

    def is_form(self, token: str, emotion: str) -> bool:
        return bare_token(token) in self.forms.get(emotion, frozenset())


@dataclass
class LensResult:
    emotions: list[str]
    promoted: list[list[tuple[int, str, float]]]  # per emotion: (token id, text, change)
    suppressed: list[list[tuple[int, str, float]]]
    hit_matrix: np.ndarray  # [emotions, emotions]: e's top tokens include a form of e'

    @property
    def hits(self) -> list[bool]:
        return [bool(x) for x in np.diag(self.hit_matrix)]

    @property
    def hit_rate(self) -> float:
        return float(np.mean(self.hits)) if self.hits else float("nan")

    @property
    def chance_rate(self) -> float:
        """The share of (vector, other emotion) pairs whose top tokens hold a form of the
        other emotion: the hit rate a vector would get for an emotion it does not encode."""
        n = len(self.emotions)
        if n < 2:
            return float("nan")
        off = ~np.eye(n, dtype=bool)
        return float(self.hit_matrix[off].mean())


def logit_lens(
    emotions: Sequence[str],
    changes: np.ndarray,
    decode: Callable[[int], str],
    index: FormIndex,
    top_k: int = 10,
    suppressed: bool = True,
) -> LensResult:
    """Rank tokens by their logit change and score each emotion's top-k promoted tokens
    against every emotion's word forms. `suppressed=False` skips the suppressed tokens
    (left empty), which the hit rates do not need."""
    changes = np.asarray(changes)
    high = top_indices(changes, top_k)
    low = top_indices(changes, top_k, largest=False) if suppressed else None
    n = len(emotions)
    matrix = np.zeros((n, n), dtype=bool)
    promoted, down_lists = [], []
    for r, row in enumerate(changes):
        up = [(int(i), decode(int(i)).strip(), float(row[i])) for i in high[r]]
        down = (
            [] if low is None else [(int(i), decode(int(i)).strip(), float(row[i])) for i in low[r]]
        )
        promoted.append(up)
        down_lists.append(down)
        for _, text, _ in up:
            matrix[r, list(index.owners(text))] = True
    return LensResult(list(emotions), promoted, down_lists, matrix)


def hit_rate_permutation_p(
    hit_matrix: np.ndarray, permutations: int, rng: np.random.Generator
) -> float:
    """p of the hit rate against vectors paired with shuffled emotions' forms: the share of
    random pairings (the observed one counted as a draw) that hit at least as often."""
    n = len(hit_matrix)
    observed = np.diag(hit_matrix).mean()
    draws = [hit_matrix[np.arange(n), rng.permutation(n)].mean() for _ in range(permutations)]
    return float((1 + sum(d >= observed for d in draws)) / (1 + permutations))


def hit_rate_measure(result: LensResult, permutations: int, seed: int) -> dict:
    """The hit rate with its Wilson interval, the chance rate and the permutation p."""
    hits, n = int(sum(result.hits)), len(result.hits)
    p = hit_rate_permutation_p(result.hit_matrix, permutations, np.random.default_rng(seed))
    return measure(
        result.hit_rate,
        wilson_interval(hits, n),
        "wilson",
        hits=hits,
        n=n,
        chance=result.chance_rate,
        p=p,
        permutations=permutations,
    )
