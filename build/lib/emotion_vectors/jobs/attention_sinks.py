"""The attention-sink profile, a model experiment of model_analyses: per layer, the first
position's residual norm against the median of each passage's other tokens, and positions
elsewhere beyond the sink ratio; and its headline numbers for summary.json."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ..architecture import adds_bos
from ..attention_sinks import position_norms, sink_layer
from ..config import read_neutral
from ..integrity import read_checked_table, write_checked_table
from ..models import model_fingerprint
from ..pooling import SINK_RATIO, sink_rule
from ..render.attention_sinks import plot_sinks
from ..store import cache_key, write_json_atomic

log = logging.getLogger("emotion_vectors")


def run(job, settings: Mapping, outputs: Mapping[str, str]) -> dict:
    """The profile (from the cache when this model, these passages and this sink rule were
    profiled before), its table, figure and headline JSON. The ratio is the run's one sink
    ratio (extraction.sink_ratio); with sinks not left out (null), the default's profile."""
    texts = read_neutral(Path(settings["passages"]))
    ratio = float(job.config["sink_ratio"] or SINK_RATIO)
    key = profile_key(model_fingerprint(job.loaded.spec), texts, ratio)
    cached = job.cache("attention_sinks") / f"{key}.parquet"
    stored = read_checked_table(cached)
    if stored is not None:
        table = stored.to_pandas()
    else:
        table = profile(job, texts, ratio)
        write_checked_table(pa.Table.from_pandas(table, preserve_index=False), cached)
    table.to_csv(outputs["table"], index=False)
    plot_sinks(table, job.key, ratio, job.analysis_layer, outputs["figure"])
    layers, others = list(table["layer"]), int(table["other_tokens"].iloc[0])
    at = table.set_index("layer").loc[job.analysis_layer]
    headline = {
        **job.describe(),
        "passages": len(texts),
        "ratio": ratio,
        "adds_bos": adds_bos(job.loaded.tokenizer),
        "sink_layer": sink_layer(table["first_ratio_median"], layers, ratio),
        "first_ratio_at_layer": float(at["first_ratio_median"]),
        "first_is_sink_at_layer": float(at["first_is_sink"]),
        "other_beyond_share": float(table["other_beyond"].sum() / max(1, others * len(layers))),
    }
    write_json_atomic(headline, outputs["json"])
    log.info("attention sinks: %s", headline)
    return headline


def profile_key(fingerprint: Mapping, texts: list[str], ratio: float) -> str:
    """The profile's cache key: the model, the passages and the sink rule."""
    return cache_key({"model": fingerprint, "texts": texts, "sinks": sink_rule(ratio)})


def profile(job, texts, ratio: float) -> pd.DataFrame:
    """The profile table: one row per layer."""
    layers, first, beyond, others = position_norms(
        job.loaded.model, job.loaded.tokenizer, texts, ratio
    )
    return pd.DataFrame(
        {
            "layer": layers,
            "first_ratio_median": np.median(first, axis=1),
            "first_ratio_min": first.min(axis=1),
            "first_ratio_max": first.max(axis=1),
            "first_is_sink": (first > ratio).mean(axis=1),
            "other_beyond": beyond,
            "other_tokens": others,
        }
    )


def headline(data: Mapping) -> dict:
    """The attention-sink entries of summary.json."""
    keys = ("sink_layer", "first_ratio_at_layer", "other_beyond_share", "adds_bos")
    return {f"attention_sinks_{k}": data.get(k) for k in keys}
