"""Controls of the steering experiments: does an emotion vector raise its own word more than
a direction that encodes nothing (a random unit vector), or than another emotion's vector
(the vectors shuffled), at the same strength?

- Random directions are seeded per index (`random_directions`): direction i is the same
  whatever the count or the run's emotions, so a word's null distribution does not change
  when an emotion is added and can be cached per word.
- Per emotion word, the empirical p-value is the share of random directions that raise the
  word at least as much as its own vector does (the own vector counted as one draw, so the
  smallest p with N directions is 1 / (N + 1)).
- The shuffled control pairs every word with another emotion's vector (a seeded
  derangement): steering toward *some* emotion may raise every emotion word after "He
  feels"; the own vector has to beat that too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .stats import derangement, empirical_p, measure, wilson_interval
from .steering import unit_rows


def random_directions(count: int, width: int, seed: int, start: int = 0) -> np.ndarray:
    """[count, width] unit vectors; direction i comes from its own stream (seed, i)."""
    rows = [np.random.default_rng([seed, i]).standard_normal(width) for i in range(start, count)]
    return unit_rows(np.stack(rows)) if rows else np.zeros((0, width))


def shuffled_partners(emotions: Sequence[str], seed: int) -> dict[str, str]:
    """{word: the emotion whose vector steers it in the shuffled control}; never itself."""
    order = derangement(len(emotions), np.random.default_rng(seed))
    return {e: emotions[j] for e, j in zip(emotions, order, strict=True)}


def word_table(
    own: Mapping[str, float], shuffled: Mapping[str, float], null: pd.DataFrame
) -> pd.DataFrame:
    """Per word: the own vector's change, the shuffled vector's, and the random directions'
    mean, 5th and 95th percentiles and the empirical p of the own change. `null` has the
    columns word, direction, change."""
    rows = []
    for word, change in own.items():
        random = null.loc[null["word"] == word, "change"].to_numpy()
        rows.append(
            {
                "emotion": word,
                "own": change,
                "shuffled": shuffled.get(word, np.nan),
                "random_mean": float(random.mean()),
                "random_p05": float(np.percentile(random, 5)),
                "random_p95": float(np.percentile(random, 95)),
                "random_n": len(random),
                "p": empirical_p(change, random),
            }
        )
    return pd.DataFrame(rows)


def summarise(words: pd.DataFrame, alpha: float) -> dict:
    """Headline numbers of a word table: the share of emotions whose own vector beats the
    random directions (p < alpha), with its Wilson interval; the own and shuffled positive
    shares; the median margin of the own change over the random mean."""
    n = len(words)
    significant = int((words["p"] < alpha).sum())
    own_up = int((words["own"] > 0).sum())
    shuffled = words["shuffled"].dropna()
    shuffled_up = int((shuffled > 0).sum())
    return {
        "beats_random": measure(
            significant / n, wilson_interval(significant, n), "wilson", n=n, alpha=alpha
        ),
        "own_positive": measure(own_up / n, wilson_interval(own_up, n), "wilson", n=n),
        "shuffled_positive": measure(
            shuffled_up / len(shuffled) if len(shuffled) else None,
            wilson_interval(shuffled_up, len(shuffled)),
            "wilson",
            n=len(shuffled),
        ),
        "random_positive": float((words["random_mean"] > 0).mean()),
        "median_own_minus_random": float((words["own"] - words["random_mean"]).median()),
        "median_own_minus_shuffled": float((words["own"] - words["shuffled"]).median()),
        "smallest_p": float(1 / (words["random_n"].min() + 1)),
    }
