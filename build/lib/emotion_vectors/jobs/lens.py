"""The logit-lens experiment of model_analyses: every emotion vector through the model's
own final norm and unembedding, at every stored layer, scored against the emotions' word
forms and against the chance rate; and its headline numbers for summary.json."""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ..architecture import architecture
from ..lens import FormIndex, LensResult, hit_rate_measure, logit_changes, logit_lens
from ..render.lens import plot_hit_rate_by_layer, plot_top_tokens, write_summary_html
from ..report import below
from ..stats import wilson_interval
from ..store import write_json_atomic
from ..wordforms import forms_of, read_word_forms

log = logging.getLogger("emotion_vectors")


def run(job, settings: Mapping, outputs: Mapping[str, str]) -> dict:
    """The lens at the analysis layer (tables, figures, headline JSON) and the hit and
    chance rates at every stored layer."""
    arch = architecture(job.loaded.model)
    tokenizer = job.loaded.tokenizer
    table = read_word_forms(Path(job.config["word_forms"]))
    index = FormIndex(job.emotions, {e: forms_of(e, table) for e in job.emotions})
    top_k = settings["top_k"]

    @functools.cache
    def decode(i: int) -> str:
        # The same tokens come up for many emotions and layers; decode each once.
        return tokenizer.decode([i])

    by_layer, analysis = [], None
    for layer in job.layers:
        emotions, matrix = job.matrix(layer)
        changes = logit_changes(matrix, arch.final_norm, arch.unembedding)
        # Other layers only need the hit rates, hence only the promoted tokens.
        result = logit_lens(emotions, changes, decode, index, top_k, layer == job.analysis_layer)
        low, high = wilson_interval(sum(result.hits), len(result.hits))
        by_layer.append(
            {
                "layer": layer,
                "hit_rate": result.hit_rate,
                "hits": sum(result.hits),
                "ci_low": low,
                "ci_high": high,
                "chance_rate": result.chance_rate,
            }
        )
        if layer == job.analysis_layer:
            analysis = result
    if analysis is None:  # the job's layers include its analysis layer
        raise ValueError(f"layer {job.analysis_layer} is not among the job's {job.layers}")
    hit_rate = hit_rate_measure(analysis, settings["permutations"], settings["seed"])
    _write_tables(analysis, index, job.key, job.analysis_layer, top_k, hit_rate, outputs)
    layer_table = pd.DataFrame(by_layer)
    layer_table.to_csv(outputs["layers_table"], index=False)
    shown = [e for e in settings["figure_emotions"] if e in job.emotions] or job.emotions[:8]
    plot_top_tokens(analysis, index, shown, job.key, job.analysis_layer, outputs["figure"])
    plot_hit_rate_by_layer(
        layer_table, job.key, job.analysis_layer, top_k, outputs["layers_figure"]
    )
    headline = {
        **job.describe(),
        "top_k": top_k,
        "hit_rate": hit_rate,
        "n_emotions": len(analysis.emotions),
        "hits": [e for e, hit in zip(analysis.emotions, analysis.hits, strict=True) if hit],
        "word_forms": str(job.config["word_forms"]),
    }
    write_json_atomic(headline, outputs["json"])
    log.info("logit lens: %s", headline)
    return headline


def _write_tables(
    result: LensResult, index: FormIndex, model, layer, top_k, hit_rate, outputs
) -> None:
    rows = []
    for e, up, down in zip(result.emotions, result.promoted, result.suppressed, strict=True):
        for direction, toks in (("promoted", up), ("suppressed", down)):
            for rank, (tid, text, change) in enumerate(toks, 1):
                rows.append(
                    {
                        "emotion": e,
                        "direction": direction,
                        "rank": rank,
                        "token_id": tid,
                        "token": text,
                        "logit_change": change,
                        "is_form": index.is_form(text, e),
                    }
                )
    pd.DataFrame(rows).to_csv(outputs["tokens"], index=False)
    summary = pd.DataFrame(
        {
            "emotion": result.emotions,
            "hit": result.hits,
            "promoted": [" | ".join(t for _, t, _ in up) for up in result.promoted],
            "suppressed": [" | ".join(t for _, t, _ in down) for down in result.suppressed],
        }
    )
    summary.to_csv(outputs["summary"], index=False)
    write_summary_html(summary, model, layer, top_k, hit_rate, outputs["html"])


def headline(data: Mapping) -> dict:
    """The logit-lens entries of summary.json."""
    hit_rate = data.get("hit_rate") or {}
    # Holds when the hit rate beats the chance rate of other emotions' word forms.
    return {"lens_hit_rate": hit_rate, "holds": {"logit_lens": below(hit_rate.get("p"))}}
