"""The vector maths on synthetic data with known answers."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from emotion_vectors.vectors import (
    center,
    cosine_matrix,
    emotion_means,
    layer_vectors,
    neutral_subspace,
    project_out,
)


def test_emotion_means_and_centering_are_exact():
    acts = {
        "happy": np.array([[1.0, 2.0], [3.0, 4.0]]),
        "sad": np.array([[-1.0, 0.0], [-3.0, 0.0], [-2.0, 3.0]]),
    }
    names, means = emotion_means(acts)
    assert names == ["happy", "sad"]
    np.testing.assert_allclose(means, [[2.0, 3.0], [-2.0, 1.0]])
    # minus the mean over emotions (not over passages): [0, 2]
    np.testing.assert_allclose(center(means), [[2.0, 1.0], [-2.0, -1.0]])


def _neutral_with_spectrum(shares, width=6, n=400, seed=0):
    """Neutral activations whose principal axes are the first coordinate axes with the given
    variance shares (exactly, after centering)."""
    rng = np.random.default_rng(seed)
    k = len(shares)
    z = rng.standard_normal((n, k))
    z -= z.mean(axis=0)
    # Whiten the sample so its covariance is exactly the identity, then scale.
    u, _, vt = np.linalg.svd(z, full_matrices=False)
    z = u @ vt * np.sqrt(n)
    x = np.zeros((n, width))
    x[:, :k] = z * np.sqrt(shares)
    return x + 5.0  # an offset the PCA must ignore


@pytest.mark.parametrize(
    ("variance", "k"), [(0.5, 1), (0.6, 1), (0.61, 2), (0.85, 2), (0.95, 3), (1.0, 3)]
)
def test_neutral_subspace_takes_the_fewest_components_for_the_variance(variance, k):
    neutral = _neutral_with_spectrum([0.6, 0.3, 0.1])
    sub = neutral_subspace(neutral, variance)
    assert sub.k == k
    np.testing.assert_allclose(sub.explained, [0.6, 0.3, 0.1][:k], atol=1e-9)
    # The components are the planted axes.
    np.testing.assert_allclose(np.abs(sub.components[:, :k]), np.eye(k), atol=1e-9)


def test_denoising_removes_exactly_the_neutral_subspace():
    neutral = _neutral_with_spectrum([0.7, 0.2, 0.1])
    sub = neutral_subspace(neutral, 0.5)  # just the first axis
    v = np.array([[3.0, 1.0, 2.0, 4.0, 0.0, -1.0]])
    out = project_out(v, sub.components)
    np.testing.assert_allclose(out, [[0.0, 1.0, 2.0, 4.0, 0.0, -1.0]], atol=1e-9)


def test_layer_vectors_keeps_raw_and_denoised():
    rng = np.random.default_rng(1)
    acts = {e: rng.standard_normal((5, 6)) for e in ["a", "b", "c"]}
    neutral = _neutral_with_spectrum([0.8, 0.2])
    res = layer_vectors(acts, neutral, 0.5)
    np.testing.assert_allclose(res.raw.sum(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(res.denoised[:, 0], 0, atol=1e-9)
    np.testing.assert_allclose(res.denoised[:, 1:], res.raw[:, 1:], atol=1e-9)


def test_invalid_variance_share_is_refused():
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        neutral_subspace(np.ones((4, 3)), 0.0)


def test_cosine_matrix_of_opposites():
    c = cosine_matrix(np.array([[1.0, 0.0], [-2.0, 0.0], [0.0, 3.0]]))
    np.testing.assert_allclose(c, [[1, -1, 0], [-1, 1, 0], [0, 0, 1]], atol=1e-12)


finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(
    neutral=arrays(np.float64, st.tuples(st.integers(3, 12), st.integers(2, 8)), elements=finite),
    variance=st.floats(0.05, 1.0),
    seed=st.integers(0, 1000),
)
def test_projection_is_orthogonal_and_idempotent(neutral, variance, seed):
    sub = neutral_subspace(neutral, variance)
    v = np.random.default_rng(seed).standard_normal((4, neutral.shape[1])) * 10
    once = project_out(v, sub.components)
    np.testing.assert_allclose(project_out(once, sub.components), once, atol=1e-6)
    if sub.k:
        np.testing.assert_allclose(once @ sub.components.T, 0, atol=1e-6)
        np.testing.assert_allclose(sub.components @ sub.components.T, np.eye(sub.k), atol=1e-8)
