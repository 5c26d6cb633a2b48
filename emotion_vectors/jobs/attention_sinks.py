"""The attention-sink profile, a model experiment of model_analyses: per layer, the first
position's residual norm against the median of each passage's other tokens, and positions
elsewhere beyond the sink ratio; and its headline numbers for summary.json."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..architecture import adds_bos
from ..attention_sinks import position_norms, sink_layer
from ..config import read_neutral
from ..render.attention_sinks import plot_sinks
from ..store import write_json_atomic

log = logging.getLogger("emotion_vectors")


def run(job, settings: Mapping, outputs: Mapping[str, str]) -> dict:
    texts = read_neutral(Path(settings["passages"]))
    ratio = float(settings["ratio"])
    layers, first, beyond, others = position_norms(
        job.loaded.model, job.loaded.tokenizer, texts, ratio
    )
    table = pd.DataFrame(
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
    table.to_csv(outputs["table"], index=False)
    plot_sinks(table, job.key, ratio, job.analysis_layer, outputs["figure"])
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


def headline(data: Mapping) -> dict:
    """The attention-sink entries of summary.json."""
    keys = ("sink_layer", "first_ratio_at_layer", "other_beyond_share", "adds_bos")
    return {f"attention_sinks_{k}": data.get(k) for k in keys}
