"""Controls of the steering experiments: does an emotion vector raise its own word more than
a direction that encodes nothing (a random unit vector), than another emotion's vector, or
than a random direction drawn with the emotion vectors' own covariance, at the same
strength? And does it do so for words the vectors were never pooled after (synonyms and
inflections absent from every template passage) and after another frame than "He feels"?

- Nulls, per word: a matrix [words, draws] of log-prob changes. *Isotropic*: seeded random
  unit directions (`random_directions`), direction i the same whatever the count or the
  run's emotions, so a word's null can be cached per word. *Other emotions*: the vectors of
  a seeded sample of the run's emotions (`other_sample`), the word's own emotion left out
  (NaN). *Covariance-matched*: draws from N(0, Σ), Σ the covariance of the emotion vectors
  at the layer (`covariance_directions`); every direction is scaled to the steering unit
  like the emotion vectors and the random ones.
- Per word (`null_stats`): the z-score of the own change against the null's mean and sd
  (its one-sided normal p is not floored), the share of draws the own change beats, and the
  empirical p with the +1 correction (floored at 1 / (N + 1)), kept for reference.
- The share of words beating a null (`resampled_share`): every word is tested against the
  same draws, so the words' outcomes are correlated and a Wilson interval over words is too
  narrow. The interval resamples the null's draws and the emotions (with their words)
  together, recomputing every z.
- The shuffled control pairs every word with another emotion's vector (a seeded
  derangement), kept for continuity.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from .stats import derangement, empirical_p, measure, wilson_interval
from .steering import unit_rows


def random_directions(count: int, width: int, seed: int, start: int = 0) -> np.ndarray:
    """[count, width] unit vectors; direction i comes from its own stream (seed, i)."""
    rows = [np.random.default_rng([seed, i]).standard_normal(width) for i in range(start, count)]
    return unit_rows(np.stack(rows)) if rows else np.zeros((0, width))


def covariance_directions(vectors: np.ndarray, count: int, seed: int) -> np.ndarray:
    """[count, width] draws from N(0, Σ), Σ = the covariance of the rows of `vectors`
    ([n, width], n >= 2): draw i is g_i @ X / sqrt(n - 1) with X the centred rows and g_i
    standard normal from its own stream (seed, i), whose covariance is exactly Σ. Not
    normalised: steering scales every direction to the unit anyway."""
    x = np.asarray(vectors, dtype=np.float64)
    x = x - x.mean(axis=0)
    n = len(x)
    if n < 2:
        raise ValueError("a covariance needs at least two vectors")
    g = np.stack([np.random.default_rng([seed, i]).standard_normal(n) for i in range(count)])
    return g @ x / np.sqrt(n - 1)


def content_key(matrix: np.ndarray) -> str:
    """SHA-256 of a matrix's float32 values: the covariance draws' content in a cache key."""
    return hashlib.sha256(np.ascontiguousarray(matrix, dtype=np.float32).tobytes()).hexdigest()


def other_sample(emotions: Sequence[str], count: int, seed: int) -> list[str]:
    """A seeded sample of `count` emotions whose vectors form the other-emotions null (all
    of them, in the run's order, when count is 0 or at least their number)."""
    if count <= 0 or count >= len(emotions):
        return list(emotions)
    chosen = np.random.default_rng([seed, 1]).choice(len(emotions), count, replace=False)
    return [emotions[i] for i in sorted(chosen)]


def shuffled_partners(emotions: Sequence[str], seed: int) -> dict[str, str]:
    """{word: the emotion whose vector steers it in the shuffled control}; never itself."""
    order = derangement(len(emotions), np.random.default_rng(seed))
    return {e: emotions[j] for e, j in zip(emotions, order, strict=True)}


def z_scores(own: np.ndarray, null: np.ndarray) -> np.ndarray:
    """Per row: (own - mean of the row's draws) / their sd (ddof 1), NaN draws left out."""
    mean = np.nanmean(null, axis=1)
    sd = np.nanstd(null, axis=1, ddof=1)
    return (np.asarray(own, dtype=np.float64) - mean) / np.where(sd > 0, sd, np.nan)


def null_stats(own: ArrayLike, null: np.ndarray) -> pd.DataFrame:
    """Per word (rows of `null`, [words, draws], NaN = no draw): the null's mean and sd, the
    z of the own change, its one-sided normal p (not floored), the share of draws the own
    change beats, the empirical p ((k + 1) / (n + 1), k draws at least as high) and n."""
    from scipy.stats import norm

    own = np.asarray(own, dtype=np.float64)
    z = z_scores(own, null)
    finite = np.isfinite(null)
    n = finite.sum(axis=1)
    at_least = (np.where(finite, null, -np.inf) >= own[:, None]).sum(axis=1)
    return pd.DataFrame(
        {
            "mean": np.nanmean(null, axis=1),
            "sd": np.nanstd(null, axis=1, ddof=1),
            "z": z,
            "p": norm.sf(z),
            "share_beaten": (n - at_least) / n,
            "p_empirical": (at_least + 1) / (n + 1),
            "n": n,
        }
    )


def resampled_share(
    own: ArrayLike, null: np.ndarray, groups: Sequence[str], alpha: float,
    draws: int, seed: int,
) -> dict:  # fmt: skip
    """The share of words whose own change beats the null (z-test p < alpha) and the median
    z, each with a 95 % percentile interval from a bootstrap that resamples the null's draws
    (columns) and the groups (emotions, each with all of its words) together."""
    from scipy.stats import norm

    own = np.asarray(own, dtype=np.float64)
    null = np.asarray(null, dtype=np.float64)
    z = z_scores(own, null)
    labels, index = np.unique(np.asarray(groups), return_inverse=True)
    members = [np.flatnonzero(index == g) for g in range(len(labels))]
    rng = np.random.default_rng([seed, 2])
    shares, medians = np.empty(draws), np.empty(draws)
    for b in range(draws):
        rows = np.concatenate([members[g] for g in rng.integers(0, len(labels), len(labels))])
        cols = rng.integers(0, null.shape[1], null.shape[1])
        # A word whose resampled draws are all its own emotion's (NaN) has no z: left out.
        zb = z_scores(own[rows], null[np.ix_(rows, cols)])
        zb = zb[np.isfinite(zb)]
        shares[b] = np.mean(norm.sf(zb) < alpha) if len(zb) else np.nan
        medians[b] = np.median(zb) if len(zb) else np.nan
    p = norm.sf(z)
    return {
        "share": measure(
            float(np.mean(p < alpha)) if len(own) else None,
            tuple(np.nanpercentile(shares, [2.5, 97.5])) if len(own) else None,
            "bootstrap over null draws and emotions",
            n=len(own),
            emotions=len(labels),
            draws=null.shape[1],
            alpha=alpha,
            resamples=draws,
        ),
        "median_z": measure(
            float(np.nanmedian(z)) if len(own) else None,
            tuple(np.nanpercentile(medians, [2.5, 97.5])) if len(own) else None,
            "bootstrap over null draws and emotions",
        ),
        "wilson_over_words": list(wilson_interval(int(np.sum(p < alpha)), len(own))),
    }


def word_pattern(word: str) -> re.Pattern:
    """A whole word or phrase, any case, as it would appear in a passage; a hyphen and a
    space are the same ("at-ease" is "at ease")."""
    parts = [re.escape(p) for p in re.split(r"[- ]+", word.strip())]
    body = r"[- ]+".join(parts)
    return re.compile(r"(?<![A-Za-z])" + body + r"(?![A-Za-z])", re.IGNORECASE)


def off_template_words(
    emotions: Sequence[str], candidates: Mapping[str, Sequence[str]], passages: Iterable[str],
    max_words: int, allowed: Callable[[str], bool] | None = None,
) -> dict[str, list[str]]:  # fmt: skip
    """{emotion: up to `max_words` of its candidates (synonyms, then word forms, in their
    listed order)}: words the run never put in a passage. A candidate is dropped when it is
    the emotion itself or another emotion of the run, or when it occurs as a whole word in
    any rendered passage (`passages`: every template filled with every emotion of the
    run), or when `allowed` (e.g. a tokenizer check) refuses it. Emotions left with none
    are left out."""
    text = "\n".join(passages)
    taken = {e.lower() for e in emotions}
    out: dict[str, list[str]] = {}
    for emotion in emotions:
        kept: list[str] = []
        for word in dict.fromkeys(w.strip().lower() for w in candidates.get(emotion, ())):
            if len(kept) == max_words:
                break
            if not word or word in taken or word_pattern(word).search(text):
                continue
            if allowed is None or allowed(word):
                kept.append(word)
        if kept:
            out[emotion] = kept
    return out


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
