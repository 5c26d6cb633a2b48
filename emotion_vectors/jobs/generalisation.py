"""The generalisation jobs, per model: the scenario passages (and the neutral reference
passages, pooled the same way) through the model once, with layer 0 for the lexical
baseline; then corpus agreement, implicit-scenario accuracy and valence for every corpus
and layer; and the headline numbers for summary.json."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..config import read_yaml
from ..generalisation import (
    accuracy,
    corpus_agreement,
    held_out_layer,
    scenario_ranks,
    split_halves,
    valence_pc1,
)
from ..models import load_for_job
from ..pooling import Pooling
from ..render.generalisation import plot_accuracy, plot_agreement, table_html
from ..report import below
from ..store import (
    activation_table,
    read_activation_layers,
    read_vector_matrix,
    write_json_atomic,
    write_parquet_atomic,
)
from .geometry import read_word_embeddings

log = logging.getLogger("emotion_vectors")

REFERENCE = "(neutral)"  # the label of the reference passages in the scenario file


def scenario_table(path: str | Path) -> pd.DataFrame:
    """emotion, passage_id, text of every scenario passage, in file order (the config check
    has already refused any passage that names an emotion of the run)."""
    table = read_yaml(Path(path))["scenarios"]
    rows = [
        {"emotion": e, "passage_id": f"{e.replace(' ', '_')}-{i + 1}", "text": t.strip()}
        for e, texts in table.items()
        for i, t in enumerate(texts)
    ]
    return pd.DataFrame(rows)


def scenario_activations(
    model: Mapping,
    layers: Sequence[int],
    pooling: Mapping,
    scenarios: str,
    neutral_file: str,
    output: str,
    threads: int = 1,
) -> None:
    """Pool every scenario passage and every neutral passage (the fixed reference they are
    centred on) the same way, at layer 0 (input embeddings) and every stored layer."""
    from ..activations import extract

    df = scenario_table(scenarios)
    neutral = pq.read_table(neutral_file).to_pandas()
    neutral = neutral.assign(emotion=REFERENCE)[["emotion", "passage_id", "text"]]
    df = pd.concat([df, neutral], ignore_index=True)
    t0 = time.perf_counter()
    loaded = load_for_job(model, threads)
    pool = Pooling(**pooling)
    result = extract(
        loaded.model, loaded.tokenizer, df["text"].tolist(), [0, *layers], pool,
        label=f"scenarios: {len(df)} passages, batches",
    )  # fmt: skip
    meta = {
        "model": loaded.spec.key,
        "scenarios": str(scenarios),
        "device": loaded.device,
        "dtype": loaded.dtype,
        "pooling": pool.fingerprint(),
        "sinks": {str(k): v for k, v in result.sinks.items()},
    }
    table = activation_table(df["passage_id"].tolist(), result.n_tokens, result.pooled, meta)
    table = table.append_column("emotion", pa.array(df["emotion"].tolist()))
    write_parquet_atomic(table, output)
    log.info("pooled %d passages in %.1f s", len(df), time.perf_counter() - t0)


class Scenarios:
    """The pooled scenario passages and their neutral reference, by layer."""

    def __init__(self, path: str, layers: Sequence[int]) -> None:
        table = pq.read_table(path, columns=["passage_id", "emotion"])
        labels = table.column("emotion").to_pylist()
        self.is_reference = np.array([lab == REFERENCE for lab in labels])
        self.labels = [lab for lab in labels if lab != REFERENCE]
        self.ids = [p for p, r in zip(table.column("passage_id").to_pylist(), self.is_reference,
                                      strict=True) if not r]  # fmt: skip
        self._acts = read_activation_layers(path, [0, *layers])

    def passages(self, layer: int) -> np.ndarray:
        return self._acts[layer][~self.is_reference]

    def reference(self, layer: int) -> np.ndarray:
        return self._acts[layer][self.is_reference].astype(np.float64).mean(axis=0)


def generalisation(
    model: str,
    corpora: Sequence[str],
    layers: Sequence[int],
    analysis_layer: int,
    vector_files: Mapping[str, str],
    word_file: str | None,
    scenario_file: str | None,
    outputs: Mapping[str, str],
) -> dict:
    """Every measurement at every layer for every corpus; writes the JSON headline, a
    per-layer CSV, a per-passage CSV, the figures and an HTML table for the report."""
    from ..norms import read_vader_lexicon, vader_source

    valence = read_vader_lexicon()
    names = {c: read_vector_matrix(vector_files[c], analysis_layer)[0] for c in corpora}
    common = [e for e in names[corpora[0]] if all(e in v for v in names.values())]
    scen = Scenarios(scenario_file, layers) if scenario_file else None
    candidates = [e for e in dict.fromkeys(scen.labels) if e in common] if scen else []
    score = scen is not None and len(candidates) >= 2
    rows, ranks, agreement = [], {c: {} for c in corpora}, None
    for layer in layers:
        mats = {c: _aligned(vector_files[c], layer, common) for c in corpora}
        for c in corpora:
            row = {"layer": layer, "corpus": c, **_prefixed(valence_pc1(common, mats[c], valence))}
            if score:
                cand = mats[c][[common.index(e) for e in candidates]]
                row.update(_score(scen, layer, candidates, cand, ranks[c]))
            rows.append(row)
        if "templates" in mats and "stories" in mats:
            agree = corpus_agreement(mats["templates"], mats["stories"])
            for row in rows[-len(corpora) :]:
                row.update({f"agreement_{k}": agree[v] for k, v in _AGREEMENT.items()})
            agreement = agree if layer == analysis_layer else agreement
    by_layer = pd.DataFrame(rows)
    by_layer.to_csv(outputs["by_layer"], index=False)
    _predictions(scen, candidates, ranks, analysis_layer).to_csv(outputs["passages"], index=False)
    result = {
        "model": model,
        "analysis_layer": analysis_layer,
        "corpora": list(corpora),
        "emotions": len(common),
        "scenario_emotions": candidates,
        "valence_source": vader_source(),
        "reference": "the neutral passages, pooled as the scenarios are",
        **_headline(by_layer, ranks, scen, candidates, analysis_layer, agreement),
    }
    if score and word_file:
        result["lexical_baseline"] = lexical_baseline(scen, candidates, word_file)
    write_json_atomic(result, outputs["json"])
    plot_accuracy(by_layer, corpora, analysis_layer, model, result, outputs["accuracy_png"])
    plot_agreement(agreement, common, model, analysis_layer, outputs["agreement_png"])
    Path(outputs["table"]).write_text(table_html(result))
    return result


_AGREEMENT = {
    "diagonal": "diagonal_mean",
    "off_diagonal": "off_diagonal_mean",
    "matched": "matched_share",
}


def _aligned(path: str, layer: int, emotions: Sequence[str]) -> np.ndarray:
    names, matrix = read_vector_matrix(path, layer)
    index = {e: i for i, e in enumerate(names)}
    return matrix[[index[e] for e in emotions]]


def _prefixed(pc1: Mapping) -> dict:
    return {f"valence_{k}": v for k, v in pc1.items()}


def _score(scen: Scenarios, layer: int, candidates, vectors, ranks: dict) -> dict:
    """Top-1 and top-3 at one layer, centred on the neutral reference (and transductively);
    stores the ranks and top-3 predictions of the reference-centred scoring in `ranks`."""
    acts = scen.passages(layer)
    rank, predicted = scenario_ranks(acts, scen.labels, candidates, vectors, scen.reference(layer))
    ranks[layer] = (rank, predicted)
    transductive, _ = scenario_ranks(acts, scen.labels, candidates, vectors)
    n = len(candidates)
    return {
        "top1": float((rank == 0).mean()),
        "top3": float((rank < 3).mean()),
        "top1_transductive": float((transductive == 0).mean()),
        "top3_transductive": float((transductive < 3).mean()),
        "chance_top1": 1 / n,
        "chance_top3": min(3, n) / n,
        "candidates": n,
        "passages": len(rank),
    }


def lexical_baseline(scen: Scenarios, candidates: Sequence[str], word_file: str) -> dict:
    """The implicit scenarios scored with the words alone: each passage's mean input
    embedding (layer 0, centred on the neutral passages') projected on the input embedding
    of each candidate emotion word (centred over the candidates)."""
    words = read_word_embeddings(word_file, candidates)
    words = words - words.mean(axis=0)
    rank, _ = scenario_ranks(scen.passages(0), scen.labels, candidates, words, scen.reference(0))
    return {**accuracy(rank, len(candidates)), "method": "input embeddings (layer 0)"}


def _predictions(scen, candidates, ranks, layer) -> pd.DataFrame:
    columns = ["corpus", "passage_id", "emotion", "rank", "top3"]
    rows = []
    for corpus, by_layer in ranks.items():
        if layer not in by_layer:
            continue
        rank, predicted = by_layer[layer]
        scored = [
            (p, lab) for p, lab in zip(scen.ids, scen.labels, strict=True) if lab in candidates
        ]
        for (pid, label), r, pred in zip(scored, rank, predicted, strict=True):
            top3 = ", ".join(candidates[j] for j in pred)
            rows.append((corpus, pid, label, int(r) + 1, top3))
    return pd.DataFrame(rows, columns=columns)


def _headline(by_layer: pd.DataFrame, ranks, scen, candidates, analysis_layer, agreement) -> dict:
    per = {}
    for c, by in ranks.items():
        at = by_layer[(by_layer["corpus"] == c) & (by_layer["layer"] == analysis_layer)]
        at = at.iloc[0].to_dict()
        entry = {"valence_r": _num(at.get("valence_r")), "valence_n": _num(at.get("valence_n"))}
        if by:
            entry.update(accuracy(by[analysis_layer][0], len(candidates)))
            entry["top1_transductive"] = _num(at.get("top1_transductive"))
            entry["top3_transductive"] = _num(at.get("top3_transductive"))
            by_rank = {layer: r for layer, (r, _) in by.items()}
            halves = split_halves([lab for lab in scen.labels if lab in set(candidates)])
            entry["held_out_layer"] = held_out_layer(by_rank, halves)
            sub = by_layer[by_layer["corpus"] == c]
            entry["mean_top1_over_layers"] = float(sub["top1"].mean())
        per[c] = entry
    out: dict = {"per_corpus": per}
    if agreement is not None:
        keys = ("diagonal_mean", "off_diagonal_mean", "matched_share", "chance", "n")
        out["agreement"] = {k: agreement[k] for k in keys}
    return out


def _num(value):
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return float(value) if not isinstance(value, int) else value


def headline(data: Mapping) -> dict:
    """The generalisation entries of summary.json."""
    keys = ("analysis_layer", "corpora", "per_corpus", "agreement", "lexical_baseline")
    per_corpus = data.get("per_corpus") or {}
    # Holds when top-1 accuracy beats chance (binomial p) at the analysis layer.
    holds = {
        c: {"implicit_scenarios": below((e.get("top1") or {}).get("p"))}
        for c, e in per_corpus.items()
    }
    return {"generalisation": {k: data[k] for k in keys if k in data}, "holds_by_corpus": holds}
