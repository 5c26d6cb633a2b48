"""The public Python API over a finished (or partly finished) run's results."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from .layout import DEFAULT_CORPUS, Layout
from .store import read_activation_matrix, read_metadata, read_vector_matrix


def _frame(matrix, index: list[str], index_name: str, attrs: dict) -> pd.DataFrame:
    """One row per item, one float32 column per hidden dimension (d0, d1, ...)."""
    columns = [f"d{i}" for i in range(matrix.shape[1])]
    df = pd.DataFrame(matrix, index=pd.Index(index, name=index_name), columns=columns)
    df.attrs.update(attrs)
    return df


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
    corpus: str = DEFAULT_CORPUS,
) -> pd.DataFrame:
    """Emotion vectors of one layer: index = emotion names, one float32 column per hidden
    dimension (d0, d1, ...). `layer=None` means the model's analysis layer.
    `df.attrs` holds layer, model, corpus and whether the vectors are denoised."""
    layout = Layout(results)
    meta = json.loads(_require(Path(layout.vector_meta(model, corpus)), "vectors").read_text())
    if layer is None:
        layer = meta["analysis_layer"]
    if layer not in meta["layers"]:
        raise ValueError(
            f"layer {layer} of {model!r} was not computed; available: {meta['layers']}"
        )
    path = _require(Path(layout.vectors(model, corpus)), "vectors")
    emotions, matrix = read_vector_matrix(path, layer, denoised=denoised)
    about = {"layer": layer, "model": model, "corpus": corpus, "denoised": denoised}
    return _frame(matrix, emotions, "emotion", {**about, "analysis_layer": meta["analysis_layer"]})


def load_activations(
    model: str,
    emotion: str,
    layer: int,
    *,
    results: str | Path = "results",
    corpus: str = DEFAULT_CORPUS,
) -> pd.DataFrame:
    """Pooled activations of one emotion's passages at one layer: index = passage id,
    one float32 column per hidden dimension."""
    path = _require(
        Path(Layout(results).activations(model, emotion, corpus)), f"activations of {emotion!r}"
    )
    ids, matrix = read_activation_matrix(path, layer)
    provenance = {
        k: v for k, v in read_metadata(path).items() if k in ("dtype", "device", "pooling")
    }
    about = {"layer": layer, "model": model, "emotion": emotion, "corpus": corpus}
    return _frame(matrix, ids, "passage_id", {**about, **provenance})


def load_passages(
    emotion: str | None = None,
    *,
    results: str | Path = "results",
    corpus: str = DEFAULT_CORPUS,
) -> pd.DataFrame:
    """Passages of one emotion (or of all emotions written so far) with at least the
    columns emotion, passage_id, text."""
    if emotion is not None:
        return pq.read_table(
            _require(Path(Layout(results).passages(emotion, corpus)), "passages")
        ).to_pandas()
    folder = Path(Layout(results).passages_dir(corpus))
    files = sorted(folder.glob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"no passages under {folder}; run the workflow first")
    frames = [pq.read_table(f).to_pandas() for f in files]
    return pd.concat(frames, ignore_index=True)


def load_summary(model: str, *, results: str | Path = "results") -> dict:
    """The model's headline numbers (summary.json): per corpus, every registered analysis's
    numbers with their intervals and controls, and whether each result holds."""
    path = _require(Path(Layout(results).summary(model)), "summary")
    return json.loads(path.read_text())
