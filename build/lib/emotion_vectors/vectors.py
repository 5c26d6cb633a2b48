"""Emotion vectors from pooled activations: mean per emotion minus the mean over all
emotions, then the neutral subspace projected out. Plain numpy, in float64 for the maths,
deterministic (SVD, no randomised solver)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


def emotion_means(activations: Mapping[str, np.ndarray]) -> tuple[list[str], np.ndarray]:
    """{emotion: [passages, width]} -> (emotions, [emotions, width] mean per emotion)."""
    names = list(activations)
    means = np.stack([np.asarray(activations[e], dtype=np.float64).mean(axis=0) for e in names])
    return names, means


def center(means: np.ndarray) -> np.ndarray:
    """Each emotion's mean minus the mean over all emotions."""
    return means - means.mean(axis=0, keepdims=True)


@dataclass(frozen=True)
class NeutralSubspace:
    components: np.ndarray  # [k, width], orthonormal rows
    explained: np.ndarray  # [k] share of the neutral variance of each component

    @property
    def k(self) -> int:
        return int(self.components.shape[0])

    @property
    def total_explained(self) -> float:
        return float(self.explained.sum())


def neutral_subspace(neutral: np.ndarray, variance: float) -> NeutralSubspace:
    """The fewest top principal components of the neutral activations that together explain
    at least `variance` of their variance (0 < variance <= 1)."""
    if not 0 < variance <= 1:
        raise ValueError(f"variance share must be in (0, 1], got {variance}")
    x = np.asarray(neutral, dtype=np.float64)
    if x.shape[0] < 2:
        raise ValueError("the neutral set needs at least two passages")
    x = x - x.mean(axis=0, keepdims=True)
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    var = s**2
    total = var.sum()
    if total == 0:
        return NeutralSubspace(np.zeros((0, x.shape[1])), np.zeros(0))
    share = var / total
    rank = int((s > s[0] * 1e-10).sum())
    k = min(int(np.searchsorted(np.cumsum(share), variance - 1e-12) + 1), rank)
    comps = vt[:k]
    # A fixed sign per component (largest entry positive) makes stored bases comparable.
    signs = np.sign(comps[np.arange(k), np.abs(comps).argmax(axis=1)])
    return NeutralSubspace(comps * signs[:, None], share[:k])


def project_out(vectors: np.ndarray, components: np.ndarray) -> np.ndarray:
    """Remove the span of the orthonormal rows of `components` from every row of `vectors`."""
    v = np.asarray(vectors, dtype=np.float64)
    if components.size == 0:
        return v.copy()
    return v - (v @ components.T) @ components


@dataclass(frozen=True)
class LayerVectors:
    emotions: list[str]
    raw: np.ndarray  # [emotions, width]
    denoised: np.ndarray  # [emotions, width]
    subspace: NeutralSubspace


def layer_vectors(
    activations: Mapping[str, np.ndarray], neutral: np.ndarray, variance: float
) -> LayerVectors:
    """The vectors of one layer, raw and denoised."""
    names, means = emotion_means(activations)
    raw = center(means)
    subspace = neutral_subspace(neutral, variance)
    return LayerVectors(names, raw, project_out(raw, subspace.components), subspace)


def cosine_matrix(vectors: np.ndarray) -> np.ndarray:
    v = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    unit = v / np.where(norms == 0, 1, norms)
    return unit @ unit.T


def cosine(a: ArrayLike, b: ArrayLike) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
