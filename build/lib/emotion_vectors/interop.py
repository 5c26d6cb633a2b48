"""Our vectors handed to other steering libraries, and a safetensors file to share them.

Layer numbering. Our layer L is the output of decoder block L counted from 1
(`hidden_states[L]`). repeng (`ControlModel` wraps `model.model.layers[i]`), steering-vectors
(`layer_type="decoder_block"` matches `model.layers.{num}`) and nnsight (`lm.model.layers[i]`)
all count the decoder blocks from 0 and add to a block's output, so **our layer L is their
index L-1** (llama.cpp's `direction.(L-1)` too, see export.py).

Scale. Every conversion carries the addition our steering makes at strength 1.0:
unit(v_L) x the mean residual norm of layer L (the steering unit, `residual_norms.json`).
So repeng's `coeff`, steering-vectors' `multiplier` and `nnsight_steer`'s `strength` mean
what our strength means: 1.0 here is 1.0 in `steering.steer` / `steering_deltas`.

The libraries are optional (`WITH_INTEROP=1 ./bootstrap.sh install`); each is imported
only by the function that needs it.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .store import atomic_path, labelled_frame

if TYPE_CHECKING:
    import repeng
    import steering_vectors

INSTALL_HINT = (
    "WITH_INTEROP=1 ./bootstrap.sh install (the pins of pyproject.toml's `interop` extra; "
    "repeng and steering-vectors without their declared numpy<2 and transformers<5)"
)
SAFETENSORS_FORMAT = "emotion-vectors/1"
SCALE = "strength 1.0 = unit(vector) x mean residual norm of the layer (sinks left out)"
NUMBERING = (
    "tensor layer.L is the output of decoder block L counted from 1 (hidden_states[L]): "
    "block index L-1 in repeng, steering-vectors and nnsight, direction.(L-1) in llama.cpp"
)


def block_index(layer: int) -> int:
    """The 0-based decoder block index (repeng, steering-vectors, nnsight) of our layer L."""
    if layer < 1:
        raise ValueError(f"layer {layer}: our layers count from 1")
    return layer - 1


@dataclass(frozen=True)
class Addition:
    """What every conversion adds at strength 1.0: `delta` (float32, [width]) to the output
    of decoder block `block` (0-based), i.e. our layer `layer` = block + 1."""

    emotion: str
    model: str
    layer: int
    block: int
    delta: np.ndarray


def addition(vectors: pd.DataFrame | pd.Series, emotion: str | None = None) -> Addition:
    """The strength-1.0 addition of one emotion, from `load_vectors(...)` and an emotion
    name, or from one of its rows (`df.loc["happy"]`, which keeps `df.attrs`)."""
    if isinstance(vectors, pd.Series):
        emotion = str(vectors.name) if emotion is None else emotion
        row = vectors
    else:
        if emotion is None:
            raise ValueError("name the emotion: addition(load_vectors(...), 'happy')")
        if emotion not in vectors.index:
            raise KeyError(f"no vector for {emotion!r}; the frame has {list(vectors.index)}")
        row = vectors.loc[emotion]
    attrs = vectors.attrs
    missing = [k for k in ("layer", "model") if k not in attrs]
    if missing:
        raise ValueError(f"the vectors carry no {missing} in attrs: take them from load_vectors")
    norm = attrs.get("residual_norm")
    if norm is None:
        raise ValueError(
            f"no residual norm (the steering unit) for layer {attrs['layer']} of "
            f"{attrs['model']!r} in attrs['residual_norm']: load_vectors reads it from "
            "results/<model>/residual_norms.json (`snakemake export` writes it)"
        )
    v = np.asarray(row, dtype=np.float64)
    length = np.linalg.norm(v)
    if not np.isfinite(length) or length == 0:
        raise ValueError(f"{emotion!r}: the vector is zero or not finite")
    delta = (v / length * float(norm)).astype(np.float32)
    layer = int(attrs["layer"])
    return Addition(str(emotion), str(attrs["model"]), layer, block_index(layer), delta)


def import_library(name: str):
    """Import an optional steering library, or say how to install it."""
    if name in sys.modules:
        return sys.modules[name]
    try:
        if name == "repeng":
            return _import_repeng()
        return importlib.import_module(name)
    except ImportError as err:
        raise ImportError(f"{name} is not installed: {INSTALL_HINT}") from err


def _import_repeng():
    # repeng 0.4.0 annotates methods with np.float_, evaluated when it is imported, and
    # NumPy 2 removed that alias (repeng declares numpy<2; we run NumPy 2). The alias
    # exists during the import only, so nothing else sees a NumPy 1 name.
    added = not hasattr(np, "float_")
    if added:
        np.float_ = np.float64
    try:
        return importlib.import_module("repeng")
    finally:
        if added:
            del np.float_


def to_repeng(
    vectors: pd.DataFrame | pd.Series, emotion: str | None = None
) -> repeng.ControlVector:
    """A `repeng.ControlVector` whose `directions` has one entry, keyed by repeng's layer
    index (the 0-based block: our layer L is key L-1), the strength-1.0 addition:
    `ControlModel(model, list(cv.directions)).set_control(cv, coeff)` with coeff 1.0 is our
    strength 1.0. `model_type` is our model name (repeng writes it as the GGUF model hint)."""
    add = addition(vectors, emotion)
    repeng = import_library("repeng")
    return repeng.ControlVector(model_type=add.model, directions={add.block: add.delta})


def to_steering_vectors(
    vectors: pd.DataFrame | pd.Series, emotion: str | None = None
) -> steering_vectors.SteeringVector:
    """A `steering_vectors.SteeringVector` (layer_type "decoder_block") with one layer
    activation keyed by the 0-based block index (our layer L is L-1), the strength-1.0
    addition: `.apply(model, multiplier=1.0)` is our strength 1.0 at every position."""
    import torch

    add = addition(vectors, emotion)
    library = import_library("steering_vectors")
    return library.SteeringVector(
        layer_activations={add.block: torch.from_numpy(add.delta.copy())},
        layer_type="decoder_block",
    )


def nnsight_steer(
    lm: Any,
    vectors: pd.DataFrame | pd.Series,
    emotion: str | None = None,
    strength: float = 1.0,
    blocks: str = "model.layers",
) -> None:
    """Call inside `with lm.trace(...)`, `lm` an `nnsight.NNsight` around a transformers
    causal LM: adds `strength` x the strength-1.0 addition to the output of
    `lm.<blocks>[L-1]` at every position, what our `steer(model, L, ...)` adds. Decoder
    blocks return a tensor in transformers 5; where one returns a tuple (older releases),
    its first element, the hidden states, is steered."""
    import torch

    add = addition(vectors, emotion)
    import_library("nnsight")
    output = lm.get(blocks)[add.block].output
    hidden = output[0] if isinstance(output, tuple) else output
    delta = torch.as_tensor(add.delta, dtype=hidden.dtype, device=hidden.device)
    hidden[:] += strength * delta


# ---------------------------------------------------------------- sharing: safetensors


@dataclass
class SharedVectors:
    """Every vector of one (model, corpus) as the safetensors file holds them: `vectors`
    {layer: [emotions, width] float32}, rows in `emotions` order."""

    model: str
    corpus: str
    emotions: list[str]
    vectors: dict[int, np.ndarray]
    residual_norms: dict[int, float]
    analysis_layer: int
    denoised: bool = True
    metadata: dict[str, str] = field(default_factory=dict)

    def frame(self, layer: int | None = None) -> pd.DataFrame:
        """The layer (default: the analysis layer) as `load_vectors` returns it, attrs
        included, so the conversions above take it as they are."""
        layer = self.analysis_layer if layer is None else layer
        if layer not in self.vectors:
            raise ValueError(f"no layer {layer}; the file has {sorted(self.vectors)}")
        about = {"layer": layer, "model": self.model, "corpus": self.corpus}
        about |= {"denoised": self.denoised, "analysis_layer": self.analysis_layer}
        about["residual_norm"] = self.residual_norms.get(layer)
        return labelled_frame(self.vectors[layer], self.emotions, "emotion", about)


def _tensor_name(layer: int) -> str:
    return f"layer.{layer}"


def write_safetensors(shared: SharedVectors, path: str | Path, about: Mapping[str, str]) -> None:
    """Write every layer as tensor `layer.<L>` ([emotions, width], float32, the stored
    vectors unscaled) with the metadata a reader needs, all str -> str (JSON for lists and
    maps), atomically. `about` adds entries (source, dtype, ...)."""
    from safetensors.numpy import save_file

    from . import __version__

    tensors = {
        _tensor_name(layer): np.ascontiguousarray(m, dtype=np.float32)
        for layer, m in sorted(shared.vectors.items())
    }
    metadata = {
        **{str(k): str(v) for k, v in about.items()},
        "format": SAFETENSORS_FORMAT,
        "model": shared.model,
        "corpus": shared.corpus,
        "emotions": json.dumps(shared.emotions),
        "layers": json.dumps(sorted(shared.vectors)),
        "analysis_layer": str(shared.analysis_layer),
        "residual_norms": json.dumps({str(k): v for k, v in sorted(shared.residual_norms.items())}),
        "denoised": json.dumps(shared.denoised),
        "scale": SCALE,
        "layer_numbering": NUMBERING,
        "emotion_vectors_version": __version__,
    }
    with atomic_path(path) as tmp:
        save_file(tensors, tmp, metadata=metadata)


def read_safetensors(path: str | Path) -> SharedVectors:
    """Read a file `write_safetensors` wrote."""
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        meta = dict(f.metadata() or {})
        if meta.get("format") != SAFETENSORS_FORMAT:
            raise ValueError(f"{path}: not an emotion-vectors file (format {meta.get('format')})")
        layers = json.loads(meta["layers"])
        vectors = {layer: f.get_tensor(_tensor_name(layer)) for layer in layers}
    return SharedVectors(
        model=meta["model"],
        corpus=meta["corpus"],
        emotions=json.loads(meta["emotions"]),
        vectors=vectors,
        residual_norms={int(k): float(v) for k, v in json.loads(meta["residual_norms"]).items()},
        analysis_layer=int(meta["analysis_layer"]),
        denoised=json.loads(meta["denoised"]),
        metadata=meta,
    )
