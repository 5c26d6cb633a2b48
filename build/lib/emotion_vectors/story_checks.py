"""Stories checked, not assumed: beyond the forbidden-word filter that decides which
stories are kept, what the kept corpus looks like.

- form: stories that are code, lists or refusals (a coder model may write them), and
  their length in words;
- near-duplicates: two stories sharing half of their word 5-grams (Jaccard), found through
  an index of 5-grams rather than by comparing every pair;
- whether a story conveys its emotion to a reader: the subject model is asked, zero-shot,
  which of the run's emotions the story's main character feels, and its answer is compared
  with the emotion the story was written for. The paper validated its stories with a judge
  model in the same way. The answer is the emotion whose first answer token is most
  likely after "The main character feels"; emotions that share a first token are tied and
  share the credit. The options are listed in the run's order rotated by one per story, so
  a preference for the first or last option spreads over all emotions instead of favouring
  one.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from .stats import wilson_interval

SHINGLE = 5
DUPLICATE_JACCARD = 0.5

# A story is code when it holds a fence or a line of program text, a list when it holds
# two or more enumerated items, a refusal when the writer speaks as an assistant.
_CODE = re.compile(
    r"```|\bdef \w+\(|\bimport \w+|\breturn\b[^.]*;|\bprint\(|#include|"
    r"\bfunction\s*\w*\(|[{};]\s*$",
    re.M,
)
_LIST_ITEM = re.compile(r"(?:^|\s)(?:\d+[.)]|[-\u2022*])\s+\S")
_REFUSAL = re.compile(
    r"\b(?:as an ai|ai (?:language model|assistant)|language model|i(?:'m| am) sorry,? but|"
    r"i (?:cannot|can't|can not) (?:write|help|assist|create|provide|fulfil)|"
    r"here is (?:a|the|your) (?:short )?story)\b",
    re.I,
)


def form_problems(text: str) -> list[str]:
    """Which of code, list, refusal the story is (none for a story)."""
    found = []
    if _CODE.search(text):
        found.append("code")
    if len(_LIST_ITEM.findall(text)) >= 2:
        found.append("list")
    if _REFUSAL.search(text):
        found.append("refusal")
    return found


def _shingles(text: str, n: int = SHINGLE) -> set[tuple[str, ...]]:
    words = re.findall(r"[a-z']+", text.lower())
    return {tuple(words[i : i + n]) for i in range(max(0, len(words) - n + 1))}


def near_duplicates(texts: Sequence[str], threshold: float = DUPLICATE_JACCARD) -> list[int]:
    """For each text, the index of its most similar other text when their 5-gram Jaccard
    similarity reaches `threshold`, else -1. Only pairs that share a 5-gram are compared."""
    sets = [_shingles(t) for t in texts]
    index: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i, s in enumerate(sets):
        for g in s:
            index[g].append(i)
    best = [-1] * len(texts)
    best_score = [0.0] * len(texts)
    for i, s in enumerate(sets):
        shared: dict[int, int] = defaultdict(int)
        for g in s:
            for j in index[g]:
                if j != i:
                    shared[j] += 1
        for j, k in shared.items():
            jaccard = k / (len(s) + len(sets[j]) - k)
            if jaccard >= threshold and jaccard > best_score[i]:
                best[i], best_score[i] = j, jaccard
    return best


# ---------------------------------------------------------------- the judge

JUDGE_OPENING = "The main character feels"


def judge_prompt(story: str, options: Sequence[str]) -> str:
    """The judge's question (user message): the options first, the story last."""
    return (
        "Read the short story below. Which one of these feelings does its main character "
        f"feel most: {', '.join(options)}? Answer with one feeling from the list.\n\n"
        f"Story: {story}"
    )


def rotated(options: Sequence[str], k: int) -> list[str]:
    k %= len(options)
    return [*options[k:], *options[:k]]


def first_answer_tokens(tokenizer, emotions: Sequence[str]) -> list[int]:
    """The first token of each emotion as it follows the judge's opening (" happy")."""
    return [tokenizer(" " + e, add_special_tokens=False)["input_ids"][0] for e in emotions]


def judged(scores: np.ndarray) -> np.ndarray:
    """[stories, emotions] credit from the log-probabilities of each emotion's first answer
    token: 1 for the most likely emotion, split evenly among emotions that tie (those that
    share a first token always do: the judge cannot tell them apart)."""
    best = scores.max(axis=1, keepdims=True)
    top = np.isclose(scores, best, rtol=0, atol=1e-9)
    return top / top.sum(axis=1, keepdims=True)


def agreement_table(
    intended: Sequence[str], credit: np.ndarray, emotions: Sequence[str], seed: int = 0
) -> dict:
    """Agreement of the judge with the intended emotion: overall and per emotion, each
    against chance (1 / number of emotions) with a Wilson interval, and overall against a
    permutation null that shuffles the intended labels (it keeps the judge's preferences
    for some answers, which plain chance ignores)."""
    col = {e: i for i, e in enumerate(emotions)}
    target = np.array([col[e] for e in intended])
    hits = credit[np.arange(len(target)), target]
    rng = np.random.default_rng(seed)
    null = np.array(
        [credit[np.arange(len(target)), rng.permutation(target)].mean() for _ in range(2000)]
    )
    overall = float(hits.mean())
    lo, hi = wilson_interval(float(hits.sum()), len(hits))
    per_emotion: dict[str, dict[str, Any]] = {}
    for e in emotions:
        mask = target == col[e]
        n = int(mask.sum())
        if not n:
            continue
        k = float(hits[mask].sum())
        plo, phi = wilson_interval(k, n)
        judged_as = credit[:, col[e]].sum()
        per_emotion[e] = {
            "stories": n,
            "agreement": round(k / n, 4),
            "interval": [round(plo, 4), round(phi, 4)],
            "judged_as_this": round(float(judged_as), 2),
        }
    return {
        "stories": len(hits),
        "agreement": round(overall, 4),
        "interval": [round(lo, 4), round(hi, 4)],
        "chance": round(1 / len(emotions), 4),
        "permutation_null_95": round(float(np.quantile(null, 0.95)), 4),
        "p_permutation": round(float((1 + (null >= overall).sum()) / (1 + len(null))), 4),
        "emotions_above_chance": sum(
            1 for v in per_emotion.values() if v["interval"][0] > 1 / len(emotions)
        ),
        "per_emotion": per_emotion,
    }
