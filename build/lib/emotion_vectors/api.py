"""The public Python API over a finished (or partly finished) run's results."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from .integrity import verified
from .layout import DEFAULT_CORPUS, Layout
from .store import labelled_frame, read_activation_matrix, read_metadata, read_vector_matrix


def _require(path: Path, what: str, results: str | Path) -> Path:
    """`path`, if it exists and holds the bytes its job wrote (integrity.verified)."""
    if not path.exists():
        raise FileNotFoundError(
            f"{what} not found at {path}; run the workflow first (snakemake --cores 1)"
        )
    return verified(path, results)


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
    `df.attrs` holds layer, model, corpus, whether the vectors are denoised, the analysis
    layer and `residual_norm`: the layer's mean residual norm, the steering unit (strength
    1.0 adds unit(vector) x residual_norm; None when residual_norms.json is missing)."""
    layout = Layout(results)
    meta = json.loads(
        _require(Path(layout.vector_meta(model, corpus)), "vectors", results).read_text()
    )
    if layer is None:
        layer = meta["analysis_layer"]
    if layer not in meta["layers"]:
        raise ValueError(
            f"layer {layer} of {model!r} was not computed; available: {meta['layers']}"
        )
    path = _require(Path(layout.vectors(model, corpus)), "vectors", results)
    emotions, matrix = read_vector_matrix(path, layer, denoised=denoised)
    about = {"layer": layer, "model": model, "corpus": corpus, "denoised": denoised}
    about |= {"analysis_layer": meta["analysis_layer"], "residual_norm": None}
    norms = Path(layout.residual_norms(model))
    if norms.exists():
        norm_of = json.loads(verified(norms, results).read_text())["mean_norm"]
        about["residual_norm"] = norm_of.get(str(layer))
    return labelled_frame(matrix, emotions, "emotion", about)


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
        Path(Layout(results).activations(model, emotion, corpus)),
        f"activations of {emotion!r}",
        results,
    )
    ids, matrix = read_activation_matrix(path, layer)
    provenance = {
        k: v for k, v in read_metadata(path).items() if k in ("dtype", "device", "pooling")
    }
    about = {"layer": layer, "model": model, "emotion": emotion, "corpus": corpus}
    return labelled_frame(matrix, ids, "passage_id", {**about, **provenance})


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
            _require(Path(Layout(results).passages(emotion, corpus)), "passages", results)
        ).to_pandas()
    folder = Path(Layout(results).passages_dir(corpus))
    files = sorted(folder.glob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"no passages under {folder}; run the workflow first")
    frames = [pq.read_table(verified(f, results)).to_pandas() for f in files]
    return pd.concat(frames, ignore_index=True)


def load_summary(model: str, *, results: str | Path = "results") -> dict:
    """The model's headline numbers (summary.json): per corpus, every registered analysis's
    numbers with their intervals and controls, and whether each result holds."""
    path = _require(Path(Layout(results).summary(model)), "summary", results)
    return json.loads(path.read_text())


_LOADED: dict = {}  # models loaded by `trace`, by (models file, key): load once per process


def _loaded_model(model: str, models_file: str | Path | None):
    from .config import REPO_ROOT, read_models
    from .models import load_model

    path = Path(models_file) if models_file is not None else Path("config/models.yaml")
    if models_file is None and not path.exists():
        path = REPO_ROOT / "config" / "models.yaml"
    key = (str(path.resolve()), model)
    if key not in _LOADED:
        specs = read_models(path)
        if model not in specs:
            raise ValueError(f"{path} declares no model {model!r}; it has {sorted(specs)}")
        _LOADED[key] = load_model(specs[model])
    return _LOADED[key]


def trace(
    model: str,
    text_or_messages: str | list[dict[str, str]],
    *,
    emotions: list[str] | None = None,
    layer: int | None = None,
    corpus: str = DEFAULT_CORPUS,
    results: str | Path = "results",
    models_file: str | Path | None = None,
    sink_ratio: float | None = None,
) -> pd.DataFrame:
    """The emotion trace of a text (a string) or a chat (a list of {role, content}): one
    row per token (position, token, role, message, special, sink, norm) and one column per
    emotion, the token's residual state at `layer` (default: the analysis layer) minus the
    neutral reference, projected on the emotion's unit vector. Needs the run's vectors and
    neutral activations for (model, corpus); loads the model (once per process) from
    `models_file` (default: ./config/models.yaml, else the repository's). Sinks are flagged
    in `sink`, not dropped, by the rule and ratio the run's vectors were pooled with
    (`sink_ratio` overrides the ratio)."""
    from .traces import neutral_reference, trace_frame, trace_vectors

    layout = Layout(results)
    meta = json.loads(
        _require(Path(layout.vector_meta(model, corpus)), "vectors", results).read_text()
    )
    layer = meta["analysis_layer"] if layer is None else layer
    if layer not in meta["layers"]:
        raise ValueError(
            f"layer {layer} of {model!r} was not computed; available: {meta['layers']}"
        )
    vector_file = _require(Path(layout.vectors(model, corpus)), "vectors", results)
    if emotions is not None:
        known = set(read_vector_matrix(vector_file, layer)[0])
        unknown = [e for e in emotions if e not in known]
        if unknown:
            raise ValueError(f"no vectors for {unknown} in {vector_file}")
    vectors = trace_vectors(str(vector_file), layer, emotions)
    neutral = _require(
        Path(layout.neutral_activations(model, corpus)), "neutral activations", results
    )
    reference = neutral_reference(str(neutral), layer)
    if sink_ratio is None:
        sink_ratio = meta["pooling"].get("sink_ratio")
    frame = trace_frame(
        _loaded_model(model, models_file), text_or_messages, vectors, reference, layer, sink_ratio
    )
    frame.attrs.update({"model": model, "corpus": corpus})
    return frame
