"""Emotion vectors as llama.cpp control vectors (GGUF), for `--control-vector-scaled`.

The format, as llama.cpp reads it (common/common.cpp, common_control_vector_load_one, and
src/llama-adapter.cpp): one 1-D float32 tensor `direction.N` per layer, all of width
n_embd; llama.cpp adds `strength x direction.N` to the output of its decoder block N,
counted from 0, at every position. Our layer L is the output of block L counted from 1
(`hidden_states[L]`), so **our layer L is `direction.(L-1)`**. Our layer 1 (block 0) has
no slot: llama.cpp never steers block 0 and rejects the whole file when it holds a
`direction.0`. Off by one, a vector would act one block later than it was measured.

Scale: `direction.(L-1) = unit(v_L) x (mean residual norm of layer L)`, the same addition
our steering experiments make at strength 1.0 (see steering.py), so `--control-vector-scaled
FILE 0.5` on a single-layer file is our strength 0.5 at that layer. A file with every layer
applies all of them at once: at 1.0 that is one strength-1.0 push per layer, far stronger
than any single-layer experiment; restrict it with `--control-vector-layer-range`, which
counts in llama.cpp's numbering (our layer L is L-1 there).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .store import atomic_path

ARCH = "controlvector"
PREFIX = "direction."


class ControlVectorError(ValueError):
    """A control vector file that llama.cpp would refuse; the message names file and problem."""


def llama_cpp_index(layer: int) -> int:
    """llama.cpp's index N (`direction.N`, block N from 0) of our layer L (block L from 1)."""
    if layer < 2:
        raise ValueError(f"layer {layer} has no llama.cpp control vector slot (layers 2.. do)")
    return layer - 1


def our_layer(index: int) -> int:
    """Our layer number of llama.cpp's `direction.N`."""
    return index + 1


def layer_directions(
    vectors: Mapping[int, np.ndarray], norms: Mapping[int, float]
) -> dict[int, np.ndarray]:
    """{llama.cpp index: float32 direction} for every exportable layer: unit(v_L) times the
    layer's mean residual norm, at index L-1. Layer 1 is left out (no slot)."""
    out = {}
    for layer in sorted(vectors):
        if layer < 2:
            continue
        v = np.asarray(vectors[layer], dtype=np.float64)
        norm = np.linalg.norm(v)
        if not np.isfinite(norm) or norm == 0:
            raise ValueError(f"layer {layer}: the vector is zero or not finite")
        out[llama_cpp_index(layer)] = (v / norm * float(norms[layer])).astype(np.float32)
    return out


def write_control_vector(
    path: str | Path,
    directions: Mapping[int, np.ndarray],
    model_hint: str,
    metadata: Mapping[str, str | int | float | list] | None = None,
) -> None:
    """Write one control vector file atomically. `directions` are keyed by llama.cpp index;
    `metadata` adds `emotion_vectors.<key>` entries (llama.cpp ignores them)."""
    import gguf

    if not directions:
        raise ValueError(f"{path}: no layer to export")
    widths = {np.asarray(d).shape for d in directions.values()}
    if len(widths) != 1 or len(next(iter(widths))) != 1:
        raise ValueError(f"{path}: directions must be 1-D and of one width, got {widths}")
    if min(directions) < 1:
        raise ValueError(f"{path}: direction.{min(directions)}: llama.cpp has no slot below 1")
    with atomic_path(path) as tmp:
        writer = gguf.GGUFWriter(tmp, ARCH)  # writes general.architecture = controlvector
        writer.add_string(f"{ARCH}.model_hint", model_hint)
        writer.add_uint32(f"{ARCH}.layer_count", len(directions))
        for key, value in (metadata or {}).items():
            _add_metadata(writer, f"emotion_vectors.{key}", value)
        for index in sorted(directions):
            writer.add_tensor(f"{PREFIX}{index}", np.ascontiguousarray(directions[index], "<f4"))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()


def _add_metadata(writer, key: str, value) -> None:
    if isinstance(value, bool):
        writer.add_bool(key, value)
    elif isinstance(value, int):
        writer.add_int32(key, value)
    elif isinstance(value, float):
        writer.add_float32(key, value)
    elif isinstance(value, str):
        writer.add_string(key, value)
    else:
        writer.add_array(key, list(value))


@dataclass
class ControlVector:
    """A control vector file as llama.cpp sees it."""

    path: str
    n_embd: int
    directions: dict[int, np.ndarray]  # llama.cpp index -> float32 direction
    model_hint: str
    layer_count: int
    metadata: dict = field(default_factory=dict)

    @property
    def layers(self) -> list[int]:
        """Our layer numbers of the directions."""
        return [our_layer(i) for i in sorted(self.directions)]

    def buffer(self, strength: float = 1.0, n_layers: int | None = None) -> np.ndarray:
        """The float32 array llama.cpp's `llama_set_adapter_cvec` takes (what its command
        line builds from `--control-vector-scaled FILE strength`): `direction.N` at offset
        (N-1) x n_embd, block 1 first, zeros where the file has no direction."""
        top = max(self.directions) if n_layers is None else n_layers - 1
        data = np.zeros(top * self.n_embd, dtype=np.float32)
        for index, direction in self.directions.items():
            if index <= top:
                data[(index - 1) * self.n_embd : index * self.n_embd] += direction * strength
        return data


def read_control_vector(path: str | Path) -> ControlVector:
    """Read a control vector and check it the way llama.cpp does before it uses one: tensor
    names `direction.N` with N >= 1, float32, 1-D, one width; the metadata it carries."""
    import gguf

    reader = gguf.GGUFReader(str(path))
    fields = {name: f.contents() for name, f in reader.fields.items()}
    if fields.get("general.architecture") != ARCH:
        raise ControlVectorError(f"{path}: general.architecture is not {ARCH!r}")
    directions: dict[int, np.ndarray] = {}
    for tensor in reader.tensors:
        name = tensor.name
        suffix = name[len(PREFIX) :] if name.startswith(PREFIX) else ""
        if not suffix.isdigit():
            raise ControlVectorError(f"{path}: tensor {name!r} is not direction.<layer>")
        index = int(suffix)
        if index == 0:
            raise ControlVectorError(f"{path}: direction.0 makes llama.cpp reject the file")
        if tensor.tensor_type != gguf.GGMLQuantizationType.F32:
            raise ControlVectorError(f"{path}: {name} is {tensor.tensor_type.name}, not F32")
        if len(tensor.shape) != 1:
            raise ControlVectorError(f"{path}: {name} is not 1-D (shape {list(tensor.shape)})")
        directions[index] = np.array(tensor.data, dtype=np.float32)
    if not directions:
        raise ControlVectorError(f"{path}: no direction tensors")
    widths = {len(d) for d in directions.values()}
    if len(widths) != 1:
        raise ControlVectorError(f"{path}: direction tensors of different widths {widths}")
    return ControlVector(
        path=str(path),
        n_embd=widths.pop(),
        directions=directions,
        model_hint=fields.get(f"{ARCH}.model_hint", ""),
        layer_count=int(fields.get(f"{ARCH}.layer_count", 0)),
        metadata={
            k.removeprefix("emotion_vectors."): v
            for k, v in fields.items()
            if k.startswith("emotion_vectors.")
        },
    )
