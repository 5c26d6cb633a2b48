"""Shared geometry across models: the Mantel correlation of two cosine matrices, its
permutation null, bootstrap interval and input-embedding control."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from emotion_vectors.jobs.geometry import geometry_across_models
from emotion_vectors.shared_geometry import (
    bootstrap_r,
    centred_cosines,
    correlate_geometries,
    off_diagonal,
    shared_emotions,
)
from emotion_vectors.store import matrix_column, vector_table

SETTINGS = {"permutations": 500, "seed": 0}


def _latent(n=40, k=6, seed=0):
    return np.random.default_rng(seed).normal(size=(n, k))


def _embed(latent, width, noise, seed):
    """The same latent emotions seen through a random linear map of another width."""
    rng = np.random.default_rng(seed)
    mapped = latent @ rng.normal(size=(latent.shape[1], width))
    return mapped + noise * rng.normal(size=mapped.shape)


def test_two_views_of_one_geometry_correlate_and_beat_the_null():
    latent = _latent()
    a = centred_cosines(_embed(latent, 64, 1.0, 1))
    b = centred_cosines(_embed(latent, 96, 1.0, 2))
    result = correlate_geometries(a, b, 500, 0)
    assert result.r > 0.6
    assert result.p <= 1 / 501 + 1e-12
    assert result.null_p95 < 0.2
    assert result.interval[0] < result.r < result.interval[1]


def test_unrelated_geometries_do_not():
    a = centred_cosines(_embed(_latent(seed=1), 64, 0.5, 1))
    b = centred_cosines(_embed(_latent(seed=2), 64, 0.5, 2))
    result = correlate_geometries(a, b, 500, 0)
    assert abs(result.r) < result.null_p95 + 0.1
    assert result.p > 0.01


def test_shuffling_one_models_labels_destroys_the_agreement():
    latent = _latent()
    a = centred_cosines(_embed(latent, 64, 0.5, 1))
    order = np.random.default_rng(3).permutation(len(latent))
    b = centred_cosines(_embed(latent[order], 64, 0.5, 2))
    assert correlate_geometries(a, b, 200, 0).p > 0.01


def test_the_bootstrap_never_scores_an_emotion_against_itself():
    a = centred_cosines(_embed(_latent(n=8), 16, 0.1, 1))
    values = bootstrap_r(a, a, 50, np.random.default_rng(0))
    np.testing.assert_allclose(values, 1.0)  # identical matrices: r = 1 on every draw
    assert off_diagonal(np.arange(9).reshape(3, 3)).tolist() == [1, 2, 5]


def test_shared_emotions_keep_the_first_order():
    assert shared_emotions(["sad", "happy", "calm"], ["calm", "sad"]) == ["sad", "calm"]


def _write(folder, model, emotions, vectors, words, layer):
    vec = folder / f"{model}-vectors.parquet"
    pq.write_table(vector_table(emotions, {layer: (vectors, vectors)}, {}), vec)
    emb = folder / f"{model}-words.parquet"
    pq.write_table(pa.table({"emotion": emotions, "embedding": matrix_column(words)}), emb)
    return str(vec), str(emb)


def test_the_job_compares_every_pair_on_shared_emotions_with_its_control(tmp_path):
    latent = _latent(n=30)
    names = [f"e{i}" for i in range(30)]
    words = _latent(n=30, seed=9)  # the words' embeddings share nothing across models
    files = {
        "m1": _write(tmp_path, "m1", names, _embed(latent, 32, 0.5, 1).astype(np.float32),
                     _embed(words, 16, 0.0, 1).astype(np.float32), 5),
        "m2": _write(tmp_path, "m2", names[:25], _embed(latent[:25], 48, 0.5, 2).astype(np.float32),
                     _embed(_latent(n=25, seed=11), 16, 0.0, 2).astype(np.float32), 7),
    }  # fmt: skip
    out = {"csv": str(tmp_path / "x.csv"), "json": str(tmp_path / "x.json")}
    table = geometry_across_models(
        {"m1": 5, "m2": 7}, {m: f[0] for m, f in files.items()},
        {m: f[1] for m, f in files.items()}, SETTINGS, out,
    )  # fmt: skip
    row = table.iloc[0]
    assert (row.model_a, row.model_b, row.emotions) == ("m1", "m2", 25)
    assert row.residual_r > 0.6 and row.residual_p < 0.01
    assert row.embedding_p > 0.01  # the control: unrelated word embeddings
    data = json.loads((tmp_path / "x.json").read_text())
    assert data["pairs"][0]["residual_r"] == pytest.approx(row.residual_r)
