"""Parquet storage: atomic writes and the activation / vector table layouts.

An activation file holds one (model, emotion) pair: one row per passage, one
fixed-size float32 list column per layer (`layer_1`, `layer_2`, ...), so reading one
layer reads one column chunk and nothing else. A vector file holds one (model, corpus):
one row per emotion, two columns per layer (`raw_<L>`, `denoised_<L>`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

META_KEY = b"emotion_vectors"


def layer_column(layer: int) -> str:
    return f"layer_{layer}"


def _publish(tmp: str, path: Path) -> None:
    """Give the file the permissions a plain open() would (mkstemp makes it 0600), then
    move it into place in one step."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)


def write_parquet_atomic(table: pa.Table, path: str | Path) -> None:
    """Write to a temporary file in the same folder, fsync, then rename: a reader never
    sees a half-written file, whatever kills the writer."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            pq.write_table(table, fh, compression="zstd")
            fh.flush()
            os.fsync(fh.fileno())
        _publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(data: Any, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.write("\n")
        _publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[str]:
    """A temporary path beside `path` for writers that open files themselves (GGUF);
    renamed onto `path` when the block succeeds, removed when it fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        _publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def link_or_copy(src: str | Path, dst: str | Path) -> None:
    """Expose a cache entry at `dst` without copying its bytes where the file system allows."""
    src, dst = Path(src), Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.link-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        import shutil

        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)
    # When `dst` already is a link to `src`, rename() does nothing and leaves `tmp` behind.
    tmp.unlink(missing_ok=True)


def matrix_column(matrix: np.ndarray) -> pa.FixedSizeListArray:
    """A [rows, width] matrix as a fixed-size float32 list column."""
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1)), matrix.shape[1])


def column_matrix(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    width = column.type.list_size
    return column.flatten().to_numpy(zero_copy_only=False).reshape(-1, width)


def activation_table(
    passage_ids: Sequence[str],
    n_tokens: Sequence[int],
    pooled: Mapping[int, np.ndarray],
    metadata: Mapping[str, Any],
) -> pa.Table:
    columns = {
        "passage_id": pa.array(list(passage_ids), pa.string()),
        "n_tokens": pa.array(list(n_tokens), pa.int32()),
    }
    for layer in sorted(pooled):
        columns[layer_column(layer)] = matrix_column(pooled[layer])
    table = pa.table(columns)
    return table.replace_schema_metadata({META_KEY: json.dumps(dict(metadata)).encode()})


def read_metadata(path: str | Path) -> dict:
    meta = pq.read_schema(path).metadata or {}
    return json.loads(meta.get(META_KEY, b"{}"))


def read_activation_matrix(path: str | Path, layer: int) -> tuple[list[str], np.ndarray]:
    """(passage ids, [passages, width] float32) of one layer of one activation file."""
    table = pq.read_table(path, columns=["passage_id", layer_column(layer)])
    return table.column("passage_id").to_pylist(), column_matrix(table.column(layer_column(layer)))


def read_activation_layers(path: str | Path, layers: Sequence[int]) -> dict[int, np.ndarray]:
    table = pq.read_table(path, columns=[layer_column(layer) for layer in layers])
    return {layer: column_matrix(table.column(layer_column(layer))) for layer in layers}


def vector_column(layer: int, denoised: bool = True) -> str:
    return f"{'denoised' if denoised else 'raw'}_{layer}"


def vector_table(
    emotions: Sequence[str],
    layers: Mapping[int, tuple[np.ndarray, np.ndarray]],
    metadata: Mapping[str, Any],
) -> pa.Table:
    """`layers`: {layer: (raw, denoised)}, each [emotions, width]."""
    columns: dict[str, Any] = {"emotion": pa.array(list(emotions), pa.string())}
    for layer in sorted(layers):
        raw, denoised = layers[layer]
        columns[vector_column(layer, False)] = matrix_column(raw)
        columns[vector_column(layer, True)] = matrix_column(denoised)
    table = pa.table(columns)
    return table.replace_schema_metadata({META_KEY: json.dumps(dict(metadata)).encode()})


def read_vector_layers(path: str | Path) -> list[int]:
    """The layers a vector file holds."""
    names = pq.read_schema(path).names
    return sorted(int(n.split("_", 1)[1]) for n in names if n.startswith("denoised_"))


def read_vector_matrix(
    path: str | Path, layer: int, denoised: bool = True
) -> tuple[list[str], np.ndarray]:
    """(emotions, [emotions, width] float32) of one layer of a vector file."""
    column = vector_column(layer, denoised)
    table = pq.read_table(path, columns=["emotion", column])
    return table.column("emotion").to_pylist(), column_matrix(table.column(column))


def read_vectors(path: str | Path, layer: int, denoised: bool = True) -> dict[str, np.ndarray]:
    """{emotion: vector} of one layer of a vector file."""
    emotions, matrix = read_vector_matrix(path, layer, denoised)
    return dict(zip(emotions, matrix, strict=True))


def labelled_frame(
    matrix: np.ndarray, index: Sequence[str], index_name: str, attrs: Mapping
) -> pd.DataFrame:
    """One row per item, one float32 column per hidden dimension (d0, d1, ...), `attrs`
    in `DataFrame.attrs`: the shape every public reader returns (api, interop)."""
    columns = [f"d{i}" for i in range(matrix.shape[1])]
    df = pd.DataFrame(matrix, index=pd.Index(index, name=index_name), columns=columns)
    df.attrs.update(attrs)
    return df


def cache_key(payload: Mapping) -> str:
    """Content address of one cache entry: the SHA-256 of everything that determines it."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


def read_residual_norms(path: str | Path, key: str = "mean_norm") -> dict[int, float]:
    """The steering unit per layer: the sink-free mean residual norm (residual_norms.json;
    `key="mean_norm_with_sinks"`: the same with the attention sinks)."""
    data = json.loads(Path(path).read_text())
    return {int(k): float(v) for k, v in data[key].items()}
