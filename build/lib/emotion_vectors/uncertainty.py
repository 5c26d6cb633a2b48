"""How much the headline numbers depend on which passages made the vectors: a bootstrap over
the passages of each emotion. For the template corpus the resampling unit is the template
(every emotion has the same 12 templates, so one draw of template ids is applied to every
emotion: the vectors of a replicate are built from the same scenes); for corpora whose
passages differ between emotions (stories) each emotion's passages are resampled on their
own. Each replicate recomputes the vectors exactly as the workflow does (mean per emotion,
centred on the mean over emotions, the neutral subspace projected out) and then the
statistic: PC1-valence r, implicit-scenario accuracy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from .vectors import project_out


class PassageSample:
    """Every emotion's pooled activations at one layer, ready to be resampled."""

    def __init__(self, activations: Mapping[str, np.ndarray], ids: Mapping[str, Sequence[str]]):
        self.emotions = list(activations)
        first = list(ids[self.emotions[0]])
        # Paired when every emotion has the same passage ids (the templates): align rows.
        self.paired = all(sorted(ids[e]) == sorted(first) for e in self.emotions)
        if self.paired:
            order = {e: [list(ids[e]).index(u) for u in first] for e in self.emotions}
            self.units = first
            self.stack = np.stack(
                [np.asarray(activations[e], dtype=np.float64)[order[e]] for e in self.emotions]
            )  # [emotions, units, width]
        else:
            self.units = []
            self.rows = [np.asarray(activations[e], dtype=np.float64) for e in self.emotions]

    def means(self, rng: np.random.Generator | None) -> np.ndarray:
        """[emotions, width] means of one resample (`rng` None: of the sample itself)."""
        if self.paired:
            n = self.stack.shape[1]
            idx = np.arange(n) if rng is None else rng.integers(0, n, n)
            return self.stack[:, idx].mean(axis=1)
        return np.stack(
            [
                rows.mean(axis=0)
                if rng is None
                else rows[rng.integers(0, len(rows), len(rows))].mean(0)
                for rows in self.rows
            ]
        )


def denoised_vectors(means: np.ndarray, components: np.ndarray) -> np.ndarray:
    """The workflow's vectors from emotion means: centred, neutral subspace projected out."""
    return project_out(means - means.mean(axis=0, keepdims=True), components)


def bootstrap_statistics(
    sample: PassageSample,
    components: np.ndarray,
    statistic: Callable[[np.ndarray], Mapping[str, float]],
    replicates: int,
    seed: int,
) -> tuple[dict[str, float], list[dict[str, float]]]:
    """(the statistic of the observed vectors, its value on each bootstrap replicate)."""
    observed = dict(statistic(denoised_vectors(sample.means(None), components)))
    rng = np.random.default_rng(seed)
    draws = [
        dict(statistic(denoised_vectors(sample.means(rng), components))) for _ in range(replicates)
    ]
    return observed, draws
