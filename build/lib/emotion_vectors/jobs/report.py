"""The report jobs: summary.json per model, built from the headline JSON of every registered
analysis (registry.py) by its `headline` function, and the cross-model comparison (CSV and
HTML)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .. import registry
from ..render.report import comparison_html
from ..report import comparison_rows
from ..store import write_json_atomic
from . import analysis_function


def _read(path: str | Path | None) -> dict | None:
    if path is None or not Path(path).exists():
        return None
    return json.loads(Path(path).read_text())


def corpus_headline(analysis_files: Mapping[str, str | None]) -> dict[str, Any]:
    """The headline numbers of one (model, corpus): every registered analysis's headline
    function applied to its JSON (`analysis_files`: {analysis name: headline JSON}); the
    verdicts they return are gathered under `holds`, and the control each verdict was decided
    against (a sentence) under `decided_against`, with the same keys."""
    out: dict[str, Any] = {"holds": {}, "decided_against": {}}
    for analysis in registry.analyses():
        data = _read(analysis_files.get(analysis.name))
        if analysis.headline and data is not None and analysis.scope == "corpus":
            entries = dict(analysis_function(analysis, "headline")(data))
            out["holds"].update(entries.pop("holds", {}))
            out["decided_against"].update(entries.pop("decided_against", {}))
            out.update(entries)
    return out


def build_summary(
    model: str,
    num_layers: int,
    meta_files: Mapping[str, str],
    analysis_files: Mapping[str, Mapping[str, str]],
    model_files: Mapping[str, str],
) -> dict:
    """summary.json of one model: per corpus (`analysis_files`: {corpus: {analysis: JSON}})
    its headline numbers, the default corpus also at the top level; the per-model analyses
    (`model_files`: {analysis: JSON}) beside them."""
    model_level: dict[str, Any] = {}
    holds_by_corpus: dict[str, dict] = {}
    against_by_corpus: dict[str, dict] = {}
    for analysis in registry.analyses():
        data = _read(model_files.get(analysis.name))
        if analysis.headline and data is not None and analysis.scope == "model":
            entries = dict(analysis_function(analysis, "headline")(data))
            for corpus, holds in entries.pop("holds_by_corpus", {}).items():
                holds_by_corpus.setdefault(corpus, {}).update(holds)
            for corpus, against in entries.pop("decided_against_by_corpus", {}).items():
                against_by_corpus.setdefault(corpus, {}).update(against)
            model_level.update(entries)
    corpora = {}
    for corpus, meta_file in meta_files.items():
        meta = _read(meta_file) or {}
        layer = meta.get("analysis_layer")
        denoising = (meta.get("denoising") or {}).get(str(layer)) or {}
        corpora[corpus] = {
            "emotions": len(meta.get("emotions", [])),
            "analysis_layer": layer,
            "num_layers_stored": len(meta.get("layers", [])),
            "neutral_components_removed": denoising.get("components"),
            "dtype": meta.get("dtype"),
            "device": meta.get("device"),
            **corpus_headline(analysis_files.get(corpus, {})),
        }
        corpora[corpus]["holds"].update(holds_by_corpus.get(corpus, {}))
        corpora[corpus]["decided_against"].update(against_by_corpus.get(corpus, {}))
    first = next(iter(corpora))
    return {
        "model": model,
        "num_layers": num_layers,
        "default_corpus": first,
        **corpora[first],
        "corpora": corpora,
        **model_level,
    }


def write_summary(output: str, **inputs) -> dict:
    """summary.json of one model; `inputs` as `build_summary` takes them."""
    summary = build_summary(**inputs)
    write_json_atomic(summary, output)
    return summary


def write_comparison(summary_files: Sequence[str], csv_out: str, html_out: str) -> pd.DataFrame:
    summaries = [json.loads(Path(p).read_text()) for p in summary_files]
    rows = comparison_rows(summaries)
    Path(csv_out).parent.mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame(rows)
    df.to_csv(csv_out, index=False)
    Path(html_out).write_text(comparison_html(rows))
    return df
