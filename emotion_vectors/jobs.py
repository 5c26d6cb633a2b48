"""What each Snakemake rule does, as plain functions over paths (the rule scripts in
workflow/scripts/ only unpack the `snakemake` object and call these)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import platform
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from . import corpus as corpus_mod
from .config import ConfigError, ModelSpec, emotion_from_slug, read_neutral, read_templates
from .models import ModelUnavailable, activation_cache_dtype
from .store import (
    activation_table,
    link_or_copy,
    read_activation_layers,
    read_metadata,
    vector_table,
    write_json_atomic,
    write_parquet_atomic,
)
from .vectors import emotion_vectors

log = logging.getLogger("emotion_vectors")

# Bump when the pooled numbers an unchanged config produces would change.
ACTIVATION_FORMAT = 1


@contextlib.contextmanager
def logging_to(path: str | Path | None) -> Iterator[None]:
    """Send this job's log records and stderr (tqdm, warnings, tracebacks) to its log file."""
    if path is None:
        yield
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", buffering=1) as fh:
        old = sys.stderr
        sys.stderr = fh
        handler = logging.StreamHandler(fh)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        try:
            yield
        except BaseException as err:
            import traceback

            traceback.print_exc(file=fh)
            if isinstance(err, (ModelUnavailable, ConfigError)):
                # The one line a user needs, on the terminal, not only in the log file.
                print(f"emotion-vectors: {err}", file=old)
            raise
        finally:
            root.removeHandler(handler)
            sys.stderr = old


# ---------------------------------------------------------------- corpus


def write_template_passages(
    templates_path: str, emotions: Sequence[str], outputs: Sequence[str]
) -> None:
    templates = read_templates(Path(templates_path))
    for emotion, out in zip(emotions, outputs, strict=True):
        df = corpus_mod.template_passages(emotion, templates)
        write_parquet_atomic(pa.Table.from_pandas(df, preserve_index=False), out)
    log.info("wrote %d passages for each of %d emotions", len(templates), len(emotions))


def write_neutral_passages(neutral_path: str, output: str) -> None:
    df = corpus_mod.neutral_passages(read_neutral(Path(neutral_path)))
    write_parquet_atomic(pa.Table.from_pandas(df, preserve_index=False), output)
    log.info("wrote %d neutral passages", len(df))


# ---------------------------------------------------------------- activations


def cache_key(passages: Sequence[tuple[str, str]], fingerprint: Mapping) -> str:
    """Content address of one group of passages under one model and extraction setting."""
    payload = json.dumps(
        {"format": ACTIVATION_FORMAT, "model": dict(fingerprint), "passages": list(passages)},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def extract_activations(
    model: Mapping,
    layers: Sequence[int],
    extraction: Mapping,
    passage_files: Sequence[str],
    neutral_file: str,
    outputs: Sequence[str],
    neutral_output: str,
    report: str,
    cache: str,
    threads: int = 1,
) -> dict:
    """Pool activations for every emotion's passages and the neutral set, computing only
    the groups missing from the content-addressed cache, with one model load at most."""
    started = time.perf_counter()
    spec = ModelSpec(**model)
    cache_dir = Path(cache)
    fingerprint = {
        **spec.fingerprint(),
        # The resolved compute dtype: `auto` means bfloat16 on one machine, float32 on another.
        "dtype": activation_cache_dtype(spec.dtype, spec.device),
        "layers": list(layers),
        "batch_size": extraction["batch_size"],
        "max_length": extraction["max_length"],
        "pool_start": extraction["pool_start"],
        "pool_from": extraction["pool_from"],
    }

    # (name, passages table, output path) for every group; the neutral set is one more group.
    groups = []
    for path, out in zip(passage_files, outputs, strict=True):
        groups.append((emotion_from_slug(Path(path).stem), pq.read_table(path), out))
    groups.append(("(neutral)", pq.read_table(neutral_file), neutral_output))

    todo, keys = [], []
    for name, table, _out in groups:
        ids = table.column("passage_id").to_pylist()
        texts = table.column("text").to_pylist()
        # Where pooling starts in each text: after the emotion word, or at the passage start
        # (the neutral set has no emotion word).
        if extraction["pool_from"] == "after_emotion" and "emotion_end" in table.column_names:
            from_chars = table.column("emotion_end").to_pylist()
        else:
            from_chars = [0] * len(ids)
        key = cache_key(list(zip(ids, texts, from_chars, strict=True)), fingerprint)
        keys.append(key)
        if not (cache_dir / f"{key}.parquet").exists():
            todo.append((name, ids, texts, from_chars, key))

    stats = {
        "model": spec.key,
        "groups_total": len(groups),
        "computed": [name for name, *_ in todo],
        "passages_forwarded": sum(len(ids) for _, ids, *_ in todo),
        "tokens_forwarded": 0,
        "model_load_seconds": 0.0,
        "forward_seconds": 0.0,
    }
    if todo:
        _compute_groups(spec, layers, extraction, todo, cache_dir, fingerprint, stats, threads)
    for key, (_, _, out) in zip(keys, groups, strict=True):
        link_or_copy(cache_dir / f"{key}.parquet", out)
    stats["seconds"] = round(time.perf_counter() - started, 3)
    log.info(
        "%s: %d of %d groups computed (%d passages, %d tokens), the rest from the cache",
        spec.key,
        len(todo),
        len(groups),
        stats["passages_forwarded"],
        stats["tokens_forwarded"],
    )
    write_json_atomic(stats, report)
    return stats


def _compute_groups(spec, layers, extraction, todo, cache_dir, fingerprint, stats, threads):
    import torch
    from tqdm import tqdm

    from .activations import extract
    from .models import load_model

    if threads and threads > 0:
        torch.set_num_threads(threads)
    t0 = time.perf_counter()
    loaded = load_model(spec)
    stats["model_load_seconds"] = round(time.perf_counter() - t0, 3)
    stats.update(
        {
            k: loaded.info[k]
            for k in ("device", "dtype", "architecture", "from_conversion_cache")
            if k in loaded.info
        }
    )
    log.info("loaded %s in %.1f s: %s", spec.key, stats["model_load_seconds"], loaded.info)

    versions = {"torch": torch.__version__, "python": platform.python_version()}
    try:
        import transformers

        versions["transformers"] = transformers.__version__
    except ImportError:  # pragma: no cover
        pass
    total = sum(len(ids) for _, ids, *_ in todo)
    t1 = time.perf_counter()
    with tqdm(
        total=total, desc=f"{spec.key} passages", unit="passage", mininterval=2, file=sys.stderr
    ) as bar:

        def on_batch(n_passages: int, n_tokens: int) -> None:
            bar.update(n_passages)
            stats["tokens_forwarded"] += n_tokens

        # One group (emotion) at a time, written to the cache as soon as it is done: a run
        # killed half-way keeps every finished emotion, and batches never mix emotions, so
        # an emotion's numbers do not depend on which other emotions were computed with it.
        for name, ids, texts, from_chars, key in todo:
            result = extract(
                loaded.model,
                loaded.tokenizer,
                texts,
                layers,
                batch_size=extraction["batch_size"],
                max_length=extraction["max_length"],
                pool_start=extraction["pool_start"],
                from_chars=from_chars,
                on_batch=on_batch,
            )
            meta = {
                "group": name,
                "cache_key": key,
                **fingerprint,
                "model": spec.key,
                "device": loaded.device,
                "dtype": loaded.dtype,
                "versions": versions,
            }
            table = activation_table(ids, result.n_tokens, result.pooled, meta)
            write_parquet_atomic(table, cache_dir / f"{key}.parquet")
    stats["forward_seconds"] = round(time.perf_counter() - t1, 3)
    if stats["forward_seconds"] > 0:
        stats["tokens_per_second"] = round(stats["tokens_forwarded"] / stats["forward_seconds"], 1)


# ---------------------------------------------------------------- vectors


def compute_vectors(
    model: str,
    analysis_layer: int,
    layers: Sequence[int],
    variance: float,
    activation_files: Sequence[str],
    neutral_file: str,
    outputs: Mapping[int, str],
    meta_output: str,
) -> None:
    """Raw and denoised vectors of every layer, one Parquet file per layer."""
    emotions = [emotion_from_slug(Path(p).stem) for p in activation_files]
    per_emotion = [read_activation_layers(p, layers) for p in activation_files]
    neutral = read_activation_layers(neutral_file, layers)
    source = read_metadata(neutral_file)
    denoising = {}
    for layer in layers:
        acts = {e: groups[layer] for e, groups in zip(emotions, per_emotion, strict=True)}
        result = emotion_vectors(acts, neutral[layer], variance)
        meta = {
            "model": model,
            "layer": layer,
            "neutral_components": result.subspace.k,
            "neutral_variance_removed": round(result.subspace.total_explained, 6),
            "dtype": source.get("dtype"),
            "device": source.get("device"),
        }
        write_parquet_atomic(
            vector_table(result.emotions, result.raw, result.denoised, meta), outputs[layer]
        )
        denoising[str(layer)] = {
            "components": result.subspace.k,
            "variance_explained": round(result.subspace.total_explained, 6),
            "raw_norm_mean": float(np.linalg.norm(result.raw, axis=1).mean()),
            "denoised_norm_mean": float(np.linalg.norm(result.denoised, axis=1).mean()),
        }
    write_json_atomic(
        {
            "model": model,
            "emotions": emotions,
            "layers": list(layers),
            "analysis_layer": analysis_layer,
            "neutral_variance": variance,
            "neutral_passages": int(next(iter(neutral.values())).shape[0]),
            "denoising": denoising,
            "dtype": source.get("dtype"),
            "device": source.get("device"),
            "pool_start": source.get("pool_start"),
            "hidden_size": int(next(iter(neutral.values())).shape[1]),
        },
        meta_output,
    )
