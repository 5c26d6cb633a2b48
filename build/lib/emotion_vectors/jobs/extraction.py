"""The jobs that put passages through a model: pooled activations (with a content-addressed
cache, so adding an emotion forwards only its passages), the input embeddings of the
emotion words, and the residual norms that are the steering unit."""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..architecture import adds_bos
from ..config import ModelSpec, emotion_from_slug
from ..integrity import usable_entry, write_sidecar
from ..models import load_for_job, model_fingerprint
from ..pooling import Pooling
from ..progress import progress
from ..store import (
    activation_table,
    cache_key,
    link_or_copy,
    matrix_column,
    read_metadata,
    write_json_atomic,
    write_parquet_atomic,
)

log = logging.getLogger("emotion_vectors")

WORD_EMBEDDING_FORMAT = 1
NEUTRAL = "(neutral)"


@dataclass
class Group:
    """One emotion's passages (or the neutral set) and where its activations go."""

    name: str
    ids: list[str]
    texts: list[str]
    from_chars: list[int]
    output: str
    shared_until: list[int] | None = None  # where the text shared with other emotions ends
    key: str = ""


def read_group(name: str, path: str, output: str, pooling: Pooling) -> Group:
    table = pq.read_table(path)
    ids = table.column("passage_id").to_pylist()
    # Where pooling starts in each text: after the emotion word, or at the passage start
    # (the neutral set and the stories have no emotion word).
    if pooling.pool_from == "after_emotion" and "emotion_end" in table.column_names:
        from_chars = table.column("emotion_end").to_pylist()
    else:
        from_chars = [0] * len(ids)
    shared = None
    if "emotion_start" in table.column_names:
        shared = table.column("emotion_start").to_pylist()
    return Group(name, ids, table.column("text").to_pylist(), from_chars, output, shared)


@dataclass
class Plan:
    """What an extraction job has to do: every group with its cache key, and the emotion
    words whose input embeddings are not cached yet."""

    groups: list[Group]
    word_keys: dict[str, str]
    cache_dir: Path
    words_dir: Path

    # Computed once: checking an entry hashes its bytes, and a corrupt one is removed with
    # a warning (integrity.usable_entry), so it counts as missing exactly once.
    @cached_property
    def todo(self) -> list[Group]:
        return [g for g in self.groups if not usable_entry(self.cache_dir / f"{g.key}.parquet")]

    @cached_property
    def missing_words(self) -> list[str]:
        folder = self.words_dir
        return [w for w, k in self.word_keys.items() if not usable_entry(folder / f"{k}.parquet")]


def plan_extraction(
    fingerprint: Mapping,
    pool: Pooling,
    files: Sequence[tuple[str, str, str]],
    cache_dir: Path,
    words_dir: Path,
) -> Plan:
    """`files`: (group name, passages file, output) of every emotion and the neutral set."""
    groups = [read_group(name, path, out, pool) for name, path, out in files]
    for g in groups:
        passages = list(zip(g.ids, g.texts, g.from_chars, strict=True))
        g.key = cache_key({**fingerprint, "pooling": pool.fingerprint(), "passages": passages})
    words = {g.name: _word_key(fingerprint["model"], g.name) for g in groups if g.name != NEUTRAL}
    return Plan(groups, words, cache_dir, words_dir)


def extract_activations(
    model: Mapping,
    layers: Sequence[int],
    pooling: Mapping,
    passage_files: Sequence[str],
    neutral_file: str,
    outputs: Sequence[str],
    neutral_output: str,
    words_output: str,
    report: str,
    cache: str,
    words_cache: str,
    threads: int = 1,
) -> dict:
    """Pool activations for every emotion's passages and the neutral set, and embed every
    emotion word, computing only what is missing from the content-addressed cache, with one
    model load at most (none when nothing is missing)."""
    started = time.perf_counter()
    spec, pool = ModelSpec(**model), Pooling(**pooling)
    fingerprint = {"model": model_fingerprint(spec), "layers": list(layers)}
    files = [
        (emotion_from_slug(Path(p).stem), p, out)
        for p, out in zip(passage_files, outputs, strict=True)
    ] + [(NEUTRAL, neutral_file, neutral_output)]
    plan = plan_extraction(fingerprint, pool, files, Path(cache), Path(words_cache))
    todo, missing_words = plan.todo, plan.missing_words
    stats = {
        "model": spec.key,
        "groups_total": len(plan.groups),
        "computed": [g.name for g in todo],
        "passages_forwarded": sum(len(g.ids) for g in todo),
        "words_embedded": missing_words,
        "tokens_forwarded": 0,
        "model_load_seconds": 0.0,
        "forward_seconds": 0.0,
    }
    if todo or missing_words:
        loaded = _load(spec, threads, stats)
        _pool_groups(loaded, layers, pool, todo, plan.cache_dir, fingerprint, stats)
        _embed_words(loaded, missing_words, plan.word_keys, plan.words_dir)
    for g in plan.groups:
        link_or_copy(plan.cache_dir / f"{g.key}.parquet", g.output)
    _write_word_embeddings(plan.word_keys, plan.words_dir, words_output)
    stats["sinks"] = _sink_totals(plan.groups, plan.cache_dir, pool)
    stats["seconds"] = round(time.perf_counter() - started, 3)
    log.info(
        "%s: %d of %d groups computed (%d passages, %d tokens), the rest from the cache",
        spec.key,
        len(todo),
        len(plan.groups),
        stats["passages_forwarded"],
        stats["tokens_forwarded"],
    )
    write_json_atomic(stats, report)
    return stats


def _word_key(model_fp: Mapping, word: str) -> str:
    return cache_key({"model": model_fp, "word": word, "format": WORD_EMBEDDING_FORMAT})


def _versions() -> dict:
    import torch

    versions = {"torch": torch.__version__, "python": platform.python_version()}
    try:
        import transformers

        versions["transformers"] = transformers.__version__
    except ImportError:  # pragma: no cover
        pass
    return versions


def _load(spec: ModelSpec, threads: int, stats: dict):
    t0 = time.perf_counter()
    loaded = load_for_job(spec, threads)
    stats["model_load_seconds"] = round(time.perf_counter() - t0, 3)
    keep = ("device", "dtype", "architecture", "from_conversion_cache")
    stats.update({k: loaded.info[k] for k in keep if k in loaded.info})
    # Without a BOS the first text token is the attention sink that pooling leaves out.
    stats["adds_bos"] = adds_bos(loaded.tokenizer)
    log.info("loaded %s in %.1f s: %s", spec.key, stats["model_load_seconds"], loaded.info)
    return loaded


def _pool_groups(loaded, layers, pool, todo, cache_dir, fingerprint, stats) -> None:
    """Pool every group of `todo` into the cache, one group at a time."""
    from ..activations import extract

    versions = _versions()
    t1 = time.perf_counter()
    total = sum(len(g.ids) for g in todo)

    def on_batch(n_passages: int, n_tokens: int) -> None:
        stats["tokens_forwarded"] += n_tokens

    # One group (emotion) at a time, written to the cache as soon as it is done: a run
    # killed half-way keeps every finished emotion, and batches never mix emotions, so
    # an emotion's numbers do not depend on which other emotions were computed with it.
    prefixes: dict = {}  # each template's shared prefix, forwarded once per job
    for g in progress(todo, f"extraction of {total} passages: groups"):
        result = extract(
            loaded.model,
            loaded.tokenizer,
            g.texts,
            layers,
            pool,
            g.from_chars,
            on_batch,
            g.shared_until,
            prefixes,
        )
        meta = {
            "group": g.name,
            "cache_key": g.key,
            **fingerprint,
            "pooling": pool.fingerprint(),
            "sinks": {str(k): v for k, v in result.sinks.items()},
            "model": loaded.spec.key,
            "device": loaded.device,
            "dtype": loaded.dtype,
            "versions": versions,
        }
        table = activation_table(g.ids, result.n_tokens, result.pooled, meta)
        _write_entry(table, cache_dir / f"{g.key}.parquet")
    stats["shared_prefixes"] = len(prefixes)
    stats["forward_seconds"] = round(time.perf_counter() - t1, 3)
    if stats["forward_seconds"] > 0:
        stats["tokens_per_second"] = round(stats["tokens_forwarded"] / stats["forward_seconds"], 1)


def _embed_words(loaded, words: Sequence[str], keys: Mapping[str, str], folder: Path) -> None:
    from ..activations import word_embeddings

    if not words:
        return

    matrix = word_embeddings(loaded.model, loaded.tokenizer, words)
    for word, row in zip(words, matrix, strict=True):
        table = pa.table({"emotion": [word], "embedding": matrix_column(row[None])})
        _write_entry(table, folder / f"{keys[word]}.parquet")


def _write_entry(table: pa.Table, entry: Path) -> None:
    """A cache entry, then its checksum (integrity.write_sidecar)."""
    write_parquet_atomic(table, entry)
    write_sidecar(entry)


def _write_word_embeddings(keys: Mapping[str, str], folder: Path, output: str) -> None:
    """One table (emotion, embedding) of the run's emotions, from their cache entries."""
    tables = [pq.read_table(folder / f"{key}.parquet") for key in keys.values()]
    write_parquet_atomic(pa.concat_tables(tables), output)


def _sink_totals(groups: Sequence[Group], cache_dir: Path, pool: Pooling) -> dict:
    """Positions left out of the means as attention sinks, per layer, summed over the
    emotions' passages and over the neutral set (from each cache entry's metadata)."""
    # {layer (a JSON key): positions left out}
    emotion: dict[str, int] = {}
    neutral: dict[str, int] = {}
    for g in groups:
        counts = read_metadata(cache_dir / f"{g.key}.parquet").get("sinks", {})
        target = neutral if g.name == NEUTRAL else emotion
        for layer, n in counts.items():
            target[layer] = target.get(layer, 0) + int(n)
    return {
        "drop_first_position": pool.drop_first_position,
        "sink_ratio": pool.sink_ratio,
        "emotion_passages_by_layer": emotion,
        "neutral_passages_by_layer": neutral,
    }


# ---------------------------------------------------------------- the steering unit


def residual_norms(
    model: Mapping, pooling: Mapping, neutral_file: str, output: str, threads: int = 1
) -> dict:
    """Mean residual norm of every layer over the neutral passages' tokens, attention sinks
    left out (`mean_norm`, the steering unit) and kept (`mean_norm_with_sinks`), as JSON."""
    from ..activations import residual_norms as measure

    started = time.perf_counter()
    loaded = load_for_job(model, threads)
    texts = pq.read_table(neutral_file).column("text").to_pylist()
    pool = Pooling(**pooling)
    norms = measure(loaded.model, loaded.tokenizer, texts, pool)
    data = {
        "model": loaded.spec.key,
        "neutral_passages": len(texts),
        "device": loaded.device,
        "dtype": loaded.dtype,
        "pooling": pool.fingerprint(),
        "adds_bos": adds_bos(loaded.tokenizer),
        "mean_norm": {str(k): round(v, 4) for k, v in norms["mean_norm"].items()},
        "mean_norm_with_sinks": {
            str(k): round(v, 4) for k, v in norms["mean_norm_with_sinks"].items()
        },
        "sinks": {str(k): v for k, v in norms["sinks"].items()},
    }
    write_json_atomic(data, output)
    log.info("residual norms in %.1f s: %s", time.perf_counter() - started, data["mean_norm"])
    return data
