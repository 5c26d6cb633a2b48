"""The story-writing job: one writer load at most per run, and only the emotions missing
from the writer's content-addressed story cache are written; each per-emotion output is a
hard link to its cache entry, written as soon as the emotion is done."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..config import ModelSpec
from ..integrity import usable_entry, write_sidecar
from ..models import load_for_job
from ..store import link_or_copy, write_json_atomic, write_parquet_atomic
from ..stories import Throughput, WriterSettings, story_cache_key, write_stories

log = logging.getLogger("emotion_vectors")


def write_story_passages(
    writer: Mapping,
    settings: WriterSettings,
    emotions: Sequence[str],
    outputs: Sequence[str],
    report: str,
    cache: str,
    threads: int = 1,
) -> dict:
    started = time.perf_counter()
    spec = ModelSpec(**writer)
    cache_dir = Path(cache)
    fingerprint = {**spec.fingerprint(), "key": spec.key}
    keys = {e: story_cache_key(fingerprint, e, settings) for e in emotions}
    # Each output is a hard link to its cache entry: a damaged output damaged the entry too,
    # so an entry is reused only when its bytes match the checksum written with it.
    todo = [e for e in emotions if not usable_entry(cache_dir / f"{keys[e]}.parquet")]
    stats: dict = {"writer": spec.key, "emotions_total": len(emotions), "written": todo}
    per_emotion: dict[str, dict] = {}
    throughput = Throughput()
    if todo:
        _write(spec, settings, todo, keys, cache_dir, threads, stats, per_emotion, throughput)
    for emotion, out in zip(emotions, outputs, strict=True):
        link_or_copy(cache_dir / f"{keys[emotion]}.parquet", out)
        if emotion not in per_emotion:  # from the cache: its statistics travel with it
            meta = json.loads((pq.read_schema(out).metadata or {}).get(b"emotion_vectors", b"{}"))
            per_emotion[emotion] = meta.get("stats", {})
    generated = sum(s.get("generated", 0) for s in per_emotion.values())
    rejected = sum(s.get("rejected", 0) for s in per_emotion.values())
    stats.update(
        {
            "per_emotion": per_emotion,
            "stories_accepted": sum(s.get("accepted", 0) for s in per_emotion.values()),
            "stories_generated": generated,
            "rejection_rate": round(rejected / generated, 4) if generated else None,
            "this_run": throughput.as_dict(threads),
            "seconds": round(time.perf_counter() - started, 2),
        }
    )
    write_json_atomic(stats, report)
    return stats


def _write(spec, settings, todo, keys, cache_dir, threads, stats, per_emotion, throughput):
    """Load the writer and write every emotion of `todo` into the cache, each as soon as
    its last story is accepted or given up."""
    t0 = time.perf_counter()
    loaded = load_for_job(spec, threads)
    stats["model_load_seconds"] = round(time.perf_counter() - t0, 3)
    stats["device"] = loaded.device
    stats["dtype"] = loaded.dtype

    def store(emotion: str, df, emotion_stats: dict) -> None:
        per_emotion[emotion] = emotion_stats
        log.info(
            "%s: %d of %d stories accepted, rejection rate %.0f%% %s",
            emotion,
            emotion_stats["accepted"],
            emotion_stats["requested"],
            100 * emotion_stats["rejection_rate"],
            emotion_stats["forbidden_words_found"] or "",
        )
        if df.empty:
            raise RuntimeError(
                f"writer {spec.key!r} produced no acceptable story for {emotion!r} in "
                f"{settings.max_attempts} attempts; raise stories.max_attempts"
            )
        meta = {"writer": spec.key, "emotion": emotion, "stats": emotion_stats}
        table = pa.Table.from_pandas(df, preserve_index=False)
        table = table.replace_schema_metadata({b"emotion_vectors": json.dumps(meta).encode()})
        write_parquet_atomic(table, cache_dir / f"{keys[emotion]}.parquet")
        write_sidecar(cache_dir / f"{keys[emotion]}.parquet")

    write_stories(loaded.model, loaded.tokenizer, todo, settings, throughput, on_emotion=store)
