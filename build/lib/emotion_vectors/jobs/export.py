"""The export jobs (no model load): every emotion vector of one (model, corpus) as a
llama.cpp control vector, with every exportable layer, or one layer alone; and all of them
in one safetensors file, to share (interop.py)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..export import layer_directions, llama_cpp_index, our_layer, write_control_vector
from ..interop import SharedVectors, write_safetensors
from ..store import (
    read_residual_norms,
    read_vector_layers,
    read_vector_matrix,
    read_vectors,
    write_json_atomic,
)

log = logging.getLogger("emotion_vectors")


def _read(inputs: Mapping[str, str]):
    """From the rule's inputs (vectors, norms, meta): ({layer: {emotion: vector}},
    {layer: steering unit}, the precision the activations were computed in)."""
    vectors = inputs["vectors"]
    per_layer = {layer: read_vectors(vectors, layer) for layer in read_vector_layers(vectors)}
    return per_layer, read_residual_norms(inputs["norms"]), _precision(inputs)


def _precision(inputs: Mapping[str, str]) -> dict[str, str]:
    """The dtype and device the activations were computed in (the vectors' meta.json)."""
    meta = json.loads(Path(inputs["meta"]).read_text())
    return {k: str(meta[k]) for k in ("dtype", "device") if meta.get(k)}


def _about(about: Mapping[str, str], precision: Mapping) -> dict:
    """The metadata every control vector file carries."""
    return {
        **{k: about[k] for k in ("model", "source", "corpus")},
        "vector": "denoised",
        "scale": "strength 1.0 = unit(vector) x mean residual norm of the layer (sinks left out)",
        "layer_numbering": "direction.N is block N from 0 = this project's layer N+1",
        **precision,
    }


def export_control_vectors(
    about: Mapping[str, str],
    inputs: Mapping[str, str],
    analysis_layer: int,
    outputs: Mapping[str, str],
    layer_outputs: Mapping[str, str],
    manifest: str,
    safetensors: str | None = None,
) -> dict:
    """One control vector per emotion with every exportable layer (`outputs[emotion]`) and a
    JSON manifest that also names the analysis layer's single-layer files (`layer_outputs`,
    written by `export_layer`); with `safetensors`, every vector of every layer in that one
    file (`export_safetensors`). `about`: model, source and corpus."""
    started = time.perf_counter()
    per_layer, norms, precision = _read(inputs)
    missing = sorted(set(outputs) - set(per_layer[analysis_layer]))
    if missing:
        raise ValueError(f"no vectors for {missing} in {inputs['vectors']}")
    common = _about(about, precision)
    model = about["model"]
    for emotion in outputs:
        directions = layer_directions({layer: v[emotion] for layer, v in per_layer.items()}, norms)
        meta = {**common, "emotion": emotion, "layers": [our_layer(i) for i in directions]}
        write_control_vector(outputs[emotion], directions, model, meta)
    exported = [layer for layer in sorted(per_layer) if layer >= 2]
    index = llama_cpp_index(analysis_layer)
    first = next(iter(layer_outputs.values()))
    summary = {
        **common,
        "emotions": list(outputs),
        "analysis_layer": analysis_layer,
        "layers": exported,
        "llama_cpp_index": {str(layer): llama_cpp_index(layer) for layer in exported},
        "not_exported": [layer for layer in sorted(per_layer) if layer < 2],
        "residual_norms": {str(layer): norms[layer] for layer in exported},
        "files": {"all_layers": dict(outputs), "analysis_layer": dict(layer_outputs)},
        "usage": (
            f"llama-cli -m MODEL.gguf --control-vector-scaled {first} 0.25 (analysis layer "
            f"only); an all-layer file with --control-vector-layer-range {index} {index} does "
            "the same"
        ),
    }
    if safetensors is not None:
        export_safetensors(about, inputs, analysis_layer, safetensors)
        summary["files"]["safetensors"] = safetensors
    write_json_atomic(summary, manifest)
    log.info("%s: %d control vectors in %.1f s", model, len(outputs), time.perf_counter() - started)
    return summary


def export_layer(
    about: Mapping[str, str], inputs: Mapping[str, str], layer: int, outputs: Mapping[str, str]
) -> None:
    """One control vector per emotion with layer `layer` alone."""
    per_layer, norms, precision = _read(inputs)
    common = _about(about, precision)
    for emotion, path in outputs.items():
        direction = layer_directions({layer: per_layer[layer][emotion]}, norms)
        single = {llama_cpp_index(layer): np.asarray(direction[llama_cpp_index(layer)])}
        metadata = {**common, "emotion": emotion, "layers": [layer]}
        write_control_vector(path, single, about["model"], metadata)


def export_safetensors(
    about: Mapping[str, str], inputs: Mapping[str, str], analysis_layer: int, path: str
) -> None:
    """Every denoised vector of every layer (layer 1 too: only llama.cpp lacks its slot) in
    one safetensors file, as `load_vectors` reads them, with the steering unit per layer."""
    vectors = inputs["vectors"]
    matrices, names = {}, None
    for layer in read_vector_layers(vectors):
        emotions, matrices[layer] = read_vector_matrix(vectors, layer)
        if names is not None and emotions != names:
            raise ValueError(f"{vectors}: layer {layer} lists other emotions than the layer before")
        names = emotions
    norms = read_residual_norms(inputs["norms"])
    shared = SharedVectors(
        model=about["model"],
        corpus=about["corpus"],
        emotions=list(names or []),
        vectors=matrices,
        residual_norms={layer: norms[layer] for layer in matrices},
        analysis_layer=analysis_layer,
    )
    write_safetensors(shared, path, {"source": about["source"], **_precision(inputs)})
