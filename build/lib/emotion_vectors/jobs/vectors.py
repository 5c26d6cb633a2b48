"""The vectors job: every layer's raw and denoised emotion vectors of one (model, corpus),
in one file with a column pair per layer."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..config import emotion_from_slug
from ..store import (
    read_activation_layers,
    read_metadata,
    vector_table,
    write_json_atomic,
    write_parquet_atomic,
)
from ..vectors import layer_vectors


def compute_vectors(
    model: str,
    analysis_layer: int,
    layers: Sequence[int],
    variance: float,
    activation_files: Sequence[str],
    neutral_file: str,
    output: str,
    meta_output: str,
) -> dict:
    """Raw and denoised vectors of every layer, and what the denoising removed per layer."""
    emotions = [emotion_from_slug(Path(p).stem) for p in activation_files]
    per_emotion = [read_activation_layers(p, layers) for p in activation_files]
    neutral = read_activation_layers(neutral_file, layers)
    source = read_metadata(neutral_file)
    precision = {"dtype": source.get("dtype"), "device": source.get("device")}
    columns, denoising = {}, {}
    for layer in layers:
        acts = {e: groups[layer] for e, groups in zip(emotions, per_emotion, strict=True)}
        result = layer_vectors(acts, neutral[layer], variance)
        columns[layer] = (result.raw, result.denoised)
        denoising[str(layer)] = {
            "components": result.subspace.k,
            "variance_explained": round(result.subspace.total_explained, 6),
            "raw_norm_mean": float(np.linalg.norm(result.raw, axis=1).mean()),
            "denoised_norm_mean": float(np.linalg.norm(result.denoised, axis=1).mean()),
        }
    meta = {
        "model": model,
        "emotions": emotions,
        "layers": list(layers),
        "analysis_layer": analysis_layer,
        "neutral_variance": variance,
        "neutral_passages": int(next(iter(neutral.values())).shape[0]),
        "denoising": denoising,
        **precision,
        "pooling": source.get("pooling"),
        "hidden_size": int(next(iter(neutral.values())).shape[1]),
    }
    write_parquet_atomic(vector_table(emotions, columns, {**meta, "denoising": None}), output)
    write_json_atomic(meta, meta_output)
    return meta
