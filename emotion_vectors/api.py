"""The public Python API over a finished (or partly finished) run's results."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from . import paths
from .store import read_activation_matrix, read_metadata, read_vector_matrix


def _dim_columns(width: int) -> list[str]:
    return [f"d{i}" for i in range(width)]


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise FileNotFoundError(
            f"{what} not found at {path}; run the workflow first (snakemake --cores 1)"
        )
    return path


def load_vectors(
    model: str,
    layer: int | None = None,
    *,
    results: str | Path = "results",
    denoised: bool = True,
    corpus: str = paths.DEFAULT_CORPUS,
) -> pd.DataFrame:
    """Emotion vectors of one layer: index = emotion names, one float32 column per hidden
    dimension (d0, d1, ...). `layer=None` means the model's analysis layer.
    `df.attrs` holds layer, model, corpus and whether the vectors are denoised."""
    meta = json.loads(
        _require(paths.vector_meta_file(results, model, corpus), "vectors").read_text()
    )
    if layer is None:
        layer = meta["analysis_layer"]
    if layer not in meta["layers"]:
        raise ValueError(
            f"layer {layer} of {model!r} was not computed; available: {meta['layers']}"
        )
    path = _require(paths.vector_file(results, model, layer, corpus), f"layer {layer} vectors")
    emotions, matrix = read_vector_matrix(path, denoised=denoised)
    df = pd.DataFrame(
        matrix, index=pd.Index(emotions, name="emotion"), columns=_dim_columns(matrix.shape[1])
    )
    df.attrs.update(
        {
            "layer": layer,
            "model": model,
            "corpus": corpus,
            "denoised": denoised,
            "analysis_layer": meta["analysis_layer"],
        }
    )
    return df


def load_activations(
    model: str,
    emotion: str,
    layer: int,
    *,
    results: str | Path = "results",
    corpus: str = paths.DEFAULT_CORPUS,
) -> pd.DataFrame:
    """Pooled activations of one emotion's passages at one layer: index = passage id,
    one float32 column per hidden dimension."""
    path = _require(
        paths.activation_file(results, model, emotion, corpus), f"activations of {emotion!r}"
    )
    ids, matrix = read_activation_matrix(path, layer)
    df = pd.DataFrame(
        matrix, index=pd.Index(ids, name="passage_id"), columns=_dim_columns(matrix.shape[1])
    )
    df.attrs.update(
        {
            "layer": layer,
            "model": model,
            "emotion": emotion,
            "corpus": corpus,
            **{
                k: v
                for k, v in read_metadata(path).items()
                if k in ("dtype", "device", "pool_start")
            },
        }
    )
    return df


def load_passages(
    emotion: str | None = None,
    *,
    results: str | Path = "results",
    corpus: str = paths.DEFAULT_CORPUS,
) -> pd.DataFrame:
    """Passages of one emotion (or of all emotions written so far) with at least the
    columns emotion, passage_id, text."""
    if emotion is not None:
        return pq.read_table(
            _require(paths.corpus_file(results, emotion, corpus), "passages")
        ).to_pandas()
    folder = Path(results) / "corpus" / corpus
    files = sorted(folder.glob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"no passages under {folder}; run the workflow first")
    frames = [pq.read_table(f).to_pandas() for f in files]
    return pd.concat(frames, ignore_index=True)
