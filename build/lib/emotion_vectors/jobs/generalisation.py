"""The generalisation jobs, per model: the scenario passages (and the neutral reference
passages, narrative and expository, pooled the same way) through the model once, with
layer 0 for the lexical baseline; then corpus agreement, implicit-scenario accuracy and
valence for every corpus and layer; at the analysis layer the scenario test proper (two
references, lexical baselines, paired tests, confusion); and the headline numbers for
summary.json."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..corpus import scenario_passages
from ..generalisation import (
    accuracy,
    accuracy_interval,
    confusion_counts,
    corpus_agreement,
    fit_tfidf_centroids,
    held_out_layer,
    nearest_centroid_ranks,
    paired_comparison,
    scenario_ranks,
    split_halves,
    tfidf_ranks,
    valence_pc1,
)
from ..models import load_for_job
from ..pooling import Pooling
from ..render.generalisation import plot_accuracy, plot_agreement, plot_confusion, table_html
from ..stats import measure, wilson_interval
from ..store import (
    activation_table,
    read_activation_layers,
    read_activation_matrix,
    read_vector_layers,
    read_vector_matrix,
    write_json_atomic,
    write_parquet_atomic,
)
from .geometry import read_word_embeddings
from .story_checks import story_quality

log = logging.getLogger("emotion_vectors")

# The labels of the reference passages in the scenario activation file: the expository
# neutral set (corpus.neutral) and the neutral narrative passages (the headline reference).
REFERENCE = "(neutral)"
NARRATIVE = "(neutral narrative)"
REFERENCES = (REFERENCE, NARRATIVE)


def scenario_activations(
    model: Mapping,
    layers: Sequence[int],
    pooling: Mapping,
    scenarios: str,
    neutral_file: str,
    output: str,
    threads: int = 1,
    narrative_file: str | None = None,
    expository: bool = True,
) -> None:
    """Pool every scenario passage and the neutral passages they are centred on (narrative,
    and the expository set when `expository` or when there is no narrative file) the same
    way, at layer 0 (input embeddings) and every stored layer."""
    from ..activations import extract
    from ..config import read_lines

    df = scenario_passages(scenarios)
    parts = [df]
    if expository or not narrative_file:
        neutral = pq.read_table(neutral_file).to_pandas()
        parts.append(neutral.assign(emotion=REFERENCE)[["emotion", "passage_id", "text"]])
    if narrative_file:
        texts = read_lines(Path(narrative_file), "neutral narrative passages")
        ids = [f"narrative-{i + 1:03d}" for i in range(len(texts))]
        parts.append(pd.DataFrame({"emotion": NARRATIVE, "passage_id": ids, "text": texts}))
    df = pd.concat(parts, ignore_index=True)
    t0 = time.perf_counter()
    loaded = load_for_job(model, threads)
    pool = Pooling(**pooling)
    result = extract(
        loaded.model,
        loaded.tokenizer,
        df["text"].tolist(),
        [0, *layers],
        pool,
        label=f"scenarios: {len(df)} passages, batches",
    )
    meta = {
        "model": loaded.spec.key,
        "scenarios": str(scenarios),
        "neutral_narrative": str(narrative_file) if narrative_file else None,
        "device": loaded.device,
        "dtype": loaded.dtype,
        "pooling": pool.fingerprint(),
        "sinks": {str(k): v for k, v in result.sinks.items()},
    }
    table = activation_table(df["passage_id"].tolist(), result.n_tokens, result.pooled, meta)
    table = table.append_column("emotion", pa.array(df["emotion"].tolist()))
    table = table.append_column("text", pa.array(df["text"].tolist()))
    write_parquet_atomic(table, output)
    log.info("pooled %d passages in %.1f s", len(df), time.perf_counter() - t0)


class Scenarios:
    """The pooled scenario passages and their neutral references, by layer."""

    def __init__(self, path: str, layers: Sequence[int]) -> None:
        names = pq.read_schema(path).names
        columns = ["passage_id", "emotion"] + (["text"] if "text" in names else [])
        table = pq.read_table(path, columns=columns).to_pandas()
        self.role = table["emotion"].to_numpy()
        passages = table[~table["emotion"].isin(REFERENCES)]
        self.labels = passages["emotion"].tolist()
        self.ids = passages["passage_id"].tolist()
        self.texts = passages["text"].tolist() if "text" in table else None
        # The headline reference: the narrative passages when there are any.
        self.primary = NARRATIVE if (self.role == NARRATIVE).any() else REFERENCE
        self._acts = read_activation_layers(path, [0, *layers])

    def passages(self, layer: int) -> np.ndarray:
        return self._acts[layer][~np.isin(self.role, REFERENCES)]

    def reference(self, layer: int, which: str | None = None) -> np.ndarray | None:
        """Mean of the reference passages (`which`: REFERENCE or NARRATIVE; None: the
        headline one), or None when none were pooled."""
        rows = self.role == (which or self.primary)
        if not rows.any():
            return None
        return self._acts[layer][rows].astype(np.float64).mean(axis=0)


def generalisation(
    model: str,
    corpora: Sequence[str],
    layers: Sequence[int],
    analysis_layer: int,
    vector_files: Mapping[str, str],
    word_file: str | None,
    scenario_file: str | None,
    outputs: Mapping[str, str],
    activation_files: Mapping[str, Sequence[str] | None] | None = None,
    passage_files: Mapping[str, Sequence[str] | None] | None = None,
    settings: Mapping | None = None,
    story_judgements: str | None = None,
    story_files: Sequence[str] | None = None,
    story_report: str | None = None,
    word_forms: str | None = None,
    story_curve: str | None = None,
) -> dict:
    """Every measurement at every layer for every corpus, the scenario test at the
    analysis layer, and the story checks when the run has stories; writes the JSON
    headline, a per-layer CSV, a per-passage CSV, the confusion, the figures and an HTML
    table for the report."""
    from ..human_norms import read_vader_lexicon, vader_source

    valence = read_vader_lexicon()
    names = {c: read_vector_matrix(vector_files[c], analysis_layer)[0] for c in corpora}
    common = [e for e in names[corpora[0]] if all(e in v for v in names.values())]
    scen = Scenarios(scenario_file, layers) if scenario_file else None
    candidates = [e for e in dict.fromkeys(scen.labels) if e in common] if scen else []
    score = scen is not None and len(candidates) >= 2
    by_layer, ranks, agreement = _sweep(
        vector_files,
        corpora,
        layers,
        analysis_layer,
        common,
        valence,
        scen if score else None,
        candidates,
    )
    by_layer.to_csv(outputs["by_layer"], index=False)
    _predictions(scen, candidates, ranks, analysis_layer).to_csv(outputs["passages"], index=False)
    result = {
        "model": model,
        "analysis_layer": analysis_layer,
        "corpora": list(corpora),
        "emotions": len(common),
        "scenario_emotions": candidates,
        "valence_source": vader_source(),
        "reference": _REFERENCE_TEXT.get(scen.primary) if scen else None,
        **_headline(by_layer, ranks, scen, candidates, analysis_layer, agreement),
    }
    settings = {"bootstrap": 2000, "seed": 0, **(settings or {})}
    if score:
        if scen is None:  # score is True only with scenarios
            raise ValueError("no scenarios to test")
        test = ScenarioTest(scen, candidates, analysis_layer, settings)
        if word_file:
            result["lexical_baseline"] = test.embedding_baseline(word_file)
        for c in corpora:
            result["per_corpus"][c].update(
                test.run(
                    c,
                    vector_files[c],
                    (activation_files or {}).get(c),
                    (passage_files or {}).get(c),
                    ranks[c][analysis_layer][0],
                )
            )
    if story_files:
        result["stories_checked"] = story_quality(
            story_files, story_judgements, common, story_report, word_forms
        )
    if story_curve:
        result["story_curve"] = _curve_headline(json.loads(Path(story_curve).read_text()))
    confusion = _confusion_table(scen, candidates, ranks, analysis_layer)
    confusion.to_csv(outputs["confusion"], index=False)
    write_json_atomic(result, outputs["json"])
    plot_accuracy(by_layer, corpora, analysis_layer, model, result, outputs["accuracy_png"])
    plot_agreement(agreement, common, model, analysis_layer, outputs["agreement_png"])
    plot_confusion(confusion, candidates, model, analysis_layer, result, outputs["confusion_png"])
    Path(outputs["table"]).write_text(table_html(result))
    return result


_REFERENCE_TEXT = {
    NARRATIVE: "the neutral narrative passages (the scenarios' genre), pooled as they are",
    REFERENCE: "the expository neutral passages, pooled as the scenarios are",
}

_AGREEMENT = {
    "diagonal": "diagonal_mean",
    "off_diagonal": "off_diagonal_mean",
    "matched": "matched_share",
}


def _sweep(vector_files, corpora, layers, analysis_layer, common, valence, scen, candidates):
    """Valence, agreement and (with scenarios) accuracy at every layer: (by-layer table,
    {corpus: {layer: (ranks, top-3)}} of the headline scoring, agreement at the analysis
    layer). Descriptive: no layer is chosen here."""
    rows, ranks, agreement = [], {c: {} for c in corpora}, None
    for layer in layers:
        mats = {c: _aligned(vector_files[c], layer, common) for c in corpora}
        for c in corpora:
            row = {"layer": layer, "corpus": c, **_prefixed(valence_pc1(common, mats[c], valence))}
            if scen is not None:
                cand = mats[c][[common.index(e) for e in candidates]]
                row.update(_score(scen, layer, candidates, cand, ranks[c]))
            rows.append(row)
        if "templates" in mats and "stories" in mats:
            agree = corpus_agreement(mats["templates"], mats["stories"])
            for row in rows[-len(corpora) :]:
                row.update({f"agreement_{k}": agree[v] for k, v in _AGREEMENT.items()})
            agreement = agree if layer == analysis_layer else agreement
    return pd.DataFrame(rows), ranks, agreement


def _aligned(path: str, layer: int, emotions: Sequence[str]) -> np.ndarray:
    names, matrix = read_vector_matrix(path, layer)
    index = {e: i for i, e in enumerate(names)}
    return matrix[[index[e] for e in emotions]]


def _prefixed(pc1: Mapping) -> dict:
    return {f"valence_{k}": v for k, v in pc1.items()}


def _score(scen: Scenarios, layer: int, candidates, vectors, ranks: dict) -> dict:
    """Top-1 and top-3 at one layer, centred on the headline reference (and on the
    expository neutral set, and transductively); stores the ranks and top-3 predictions of
    the headline scoring in `ranks`."""
    acts = scen.passages(layer)
    rank, predicted = scenario_ranks(acts, scen.labels, candidates, vectors, scen.reference(layer))
    ranks[layer] = (rank, predicted)
    old_reference = scen.reference(layer, REFERENCE)
    expository = (
        None
        if old_reference is None
        else scenario_ranks(acts, scen.labels, candidates, vectors, old_reference)[0]
    )
    transductive, _ = scenario_ranks(acts, scen.labels, candidates, vectors)
    n = len(candidates)
    return {
        "top1": float((rank == 0).mean()),
        "top3": float((rank < 3).mean()),
        "top1_expository": None if expository is None else float((expository == 0).mean()),
        "top1_transductive": float((transductive == 0).mean()),
        "top3_transductive": float((transductive < 3).mean()),
        "chance_top1": 1 / n,
        "chance_top3": min(3, n) / n,
        "candidates": n,
        "passages": len(rank),
    }


class ScenarioTest:
    """The implicit-scenario test at the analysis layer: the vectors' top-1 under both
    references with hierarchical bootstrap intervals, the lexical baselines on the same
    passages and candidates, and the paired comparison with each of them."""

    def __init__(self, scen: Scenarios, candidates: Sequence[str], layer: int, settings: Mapping):
        self.scen, self.candidates, self.layer = scen, list(candidates), layer
        self.labels = [lab for lab in scen.labels if lab in set(candidates)]
        self.replicates, self.seed = int(settings["bootstrap"]), int(settings["seed"])
        self.baselines: dict[str, np.ndarray] = {}  # name -> hits, corpus-independent

    def measured(self, hits: np.ndarray, **more) -> dict:
        """Top-1 of per-passage hits with its hierarchical bootstrap interval."""
        ci = accuracy_interval(hits, self.labels, self.replicates, self.seed)
        method = "bootstrap over emotions, passages within them"
        return measure(
            float(np.mean(hits)), ci, method, hits=int(np.sum(hits)), n=len(hits), **more
        )

    def embedding_baseline(self, word_file: str) -> dict:
        """Each passage's mean input embedding (layer 0, centred on the headline reference)
        against the input embeddings of the emotion words (centred over the candidates)."""
        scen, cand = self.scen, self.candidates
        words = read_word_embeddings(word_file, cand)
        words = words - words.mean(axis=0)
        rank, _ = scenario_ranks(scen.passages(0), scen.labels, cand, words, scen.reference(0))
        self.baselines["input embeddings"] = rank == 0
        out = accuracy(rank, len(cand))
        out["top1"] = {**out["top1"], **self.measured(rank == 0)}
        return {
            **out,
            "method": "input embeddings (layer 0) of the passages against the "
            "emotion words', nearest by cosine",
        }

    def run(self, corpus, vector_file, activation_files, passage_files, ranks) -> dict:
        """The entries of one corpus in per_corpus."""
        hits = ranks == 0
        wilson = list(wilson_interval(int(hits.sum()), len(hits)))
        out = {"top1": self.measured(hits, chance=1 / len(self.candidates), wilson_ci=wilson)}
        out["top1"]["p_chance"] = accuracy(ranks, len(self.candidates))["top1"]["p"]
        out["top1"]["p"] = out["top1"]["p_chance"]
        if activation_files:
            out["top1_grand_mean"] = self.measured(
                self._grand_mean_hits(vector_file, activation_files)
            )
        baselines = dict(self.baselines)
        if passage_files:
            baselines[f"TF-IDF fitted on the {corpus} corpus"] = self._tfidf_hits(passage_files)
        low = min(read_vector_layers(vector_file))
        baselines[f"pooled {corpus} states, layer {low}"] = self._states_hits(vector_file, low)
        out.update(self._versus(hits, baselines))
        out["per_emotion_top1"] = {
            e: float(hits[np.array(self.labels) == e].mean()) for e in self.candidates
        }
        return out

    def _grand_mean_hits(self, vector_file: str, activation_files: Sequence[str]) -> np.ndarray:
        """Top-1 hits centred on the template grand mean: the mean over the run's emotions
        of each emotion's mean pooled passage, the centre the vectors are taken from."""
        means = [
            read_activation_matrix(f, self.layer)[1].astype(np.float64).mean(axis=0)
            for f in activation_files
        ]
        vectors = _aligned(vector_file, self.layer, self.candidates)
        acts = self.scen.passages(self.layer)
        rank, _ = scenario_ranks(
            acts, self.scen.labels, self.candidates, vectors, np.mean(means, axis=0)
        )
        return rank == 0

    def _tfidf_hits(self, passage_files: Sequence[str]) -> np.ndarray:
        """TF-IDF fitted on the corpus's passages of every emotion of the run (nothing from
        the scenarios), candidates' centroids, scenarios to the nearest by cosine."""
        table = pd.concat(
            [pq.read_table(f, columns=["emotion", "text"]).to_pandas() for f in passage_files]
        )
        vectorizer, centroids = fit_tfidf_centroids(
            table["text"], table["emotion"], self.candidates
        )
        if self.scen.texts is None:
            raise ValueError("the scenario activation file has no text column; rerun it")
        rank = tfidf_ranks(
            vectorizer, centroids, self.scen.texts, self.scen.labels, self.candidates
        )
        return rank == 0

    def _states_hits(self, vector_file: str, layer: int) -> np.ndarray:
        """The pooled states at the lowest stored layer: each candidate's mean template state
        minus the mean over the run's emotions (the raw vector, no denoising) against the
        passages centred on the headline reference, nearest by cosine."""
        centroids = _aligned_raw(vector_file, layer, self.candidates)
        reference = self.scen.reference(layer)
        if reference is None:  # scenario_activations always pools a neutral set beside them
            raise ValueError("the scenario passages have no headline neutral reference")
        acts = self.scen.passages(layer) - reference
        return nearest_centroid_ranks(acts, self.scen.labels, self.candidates, centroids) == 0

    def _versus(self, hits: np.ndarray, baselines: Mapping[str, np.ndarray]) -> dict:
        """Each baseline's top-1 and the paired comparison of the vectors with it. The
        strongest baseline is picked on these same scenarios, so the verdict asks the
        vectors to beat every baseline (CI of each difference above 0)."""
        measured = {name: self.measured(b) for name, b in baselines.items()}
        versus = {
            name: paired_comparison(hits, b, self.labels, self.replicates, self.seed)
            for name, b in baselines.items()
        }
        strongest = max(measured, key=lambda n: (measured[n]["value"], -versus[n]["ci"][0]))
        lows = [v["ci"][0] for v in versus.values()]
        return {
            "baselines": measured,
            "versus_baselines": versus,
            "strongest_baseline": strongest,
            "beats_baselines": None if any(x is None for x in lows) else all(x > 0 for x in lows),
        }


def _aligned_raw(path: str, layer: int, emotions: Sequence[str]) -> np.ndarray:
    names, matrix = read_vector_matrix(path, layer, denoised=False)
    index = {e: i for i, e in enumerate(names)}
    return matrix[[index[e] for e in emotions]].astype(np.float64)


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


def _confusion_table(scen, candidates, ranks, layer) -> pd.DataFrame:
    """corpus, emotion, predicted, passages: what each emotion's scenarios are taken for at
    the analysis layer (headline reference), every pair, zeros included."""
    rows = []
    for corpus, by_layer in ranks.items():
        if layer not in by_layer:
            continue
        truth = [lab for lab in scen.labels if lab in set(candidates)]
        predicted = [candidates[j] for j in by_layer[layer][1][:, 0]]
        counts = confusion_counts(truth, predicted, candidates)
        rows += [
            (corpus, t, p, int(counts[i, j]))
            for i, t in enumerate(candidates)
            for j, p in enumerate(candidates)
        ]
    return pd.DataFrame(rows, columns=["corpus", "emotion", "predicted", "passages"])


def _headline(by_layer: pd.DataFrame, ranks, scen, candidates, analysis_layer, agreement) -> dict:
    per = {}
    for c, by in ranks.items():
        at = by_layer[(by_layer["corpus"] == c) & (by_layer["layer"] == analysis_layer)]
        at = at.iloc[0].to_dict()
        entry = {"valence_r": _num(at.get("valence_r")), "valence_n": _num(at.get("valence_n"))}
        if by:
            entry.update(accuracy(by[analysis_layer][0], len(candidates)))
            entry["top1_expository"] = _num(at.get("top1_expository"))
            entry["top1_transductive"] = _num(at.get("top1_transductive"))
            entry["top3_transductive"] = _num(at.get("top3_transductive"))
            by_rank = {layer: r for layer, (r, _) in by.items()}
            halves = split_halves([lab for lab in scen.labels if lab in set(candidates)])
            entry["held_out_layer"] = held_out_layer(by_rank, halves)
            sub = by_layer[by_layer["corpus"] == c]
            entry["mean_top1_over_layers"] = float(sub["top1"].mean())
            top = pd.Series([candidates[j] for j in by[analysis_layer][1][:, 0]]).value_counts()
            entry["most_predicted"] = {"emotion": top.index[0], "passages": int(top.iloc[0])}
        per[c] = entry
    out: dict = {"per_corpus": per}
    if agreement is not None:
        keys = ("diagonal_mean", "off_diagonal_mean", "matched_share", "chance", "n")
        out["agreement"] = {k: agreement[k] for k in keys}
    return out


def _curve_headline(curve: Mapping) -> dict:
    """The story curve's entries that summary.json carries (the table has the rest)."""
    keys = ("layer", "configured_start", "sizes", "pool_starts", "centrings", "chance",
            "passages", "stories_per_emotion", "draws", "templates_top1", "templates_top1_neutral",
            "configured",
            "every_story", "every_story_best")  # fmt: skip
    return {k: curve[k] for k in keys if k in curve}


def _num(value):
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return float(value) if not isinstance(value, int) else value


def headline(data: Mapping) -> dict:
    """The generalisation entries of summary.json."""
    keys = (
        "analysis_layer",
        "corpora",
        "per_corpus",
        "agreement",
        "lexical_baseline",
        "stories_checked",
        "story_curve",
    )
    per_corpus = data.get("per_corpus") or {}
    # Holds when the vectors beat every lexical baseline on the same scenarios (the CI of
    # each paired top-1 difference above 0); the strongest is named. Not measured (None)
    # without baselines.
    holds = {c: {"implicit_scenarios": e.get("beats_baselines")} for c, e in per_corpus.items()}
    against = {
        c: {"implicit_scenarios": _against(e)} for c, e in per_corpus.items() if e.get("baselines")
    }
    return {
        "generalisation": {k: data[k] for k in keys if k in data},
        "holds_by_corpus": holds,
        "decided_against_by_corpus": against,
    }


def _against(entry: Mapping) -> str:
    name = entry["strongest_baseline"]
    base, diff = entry["baselines"][name], entry["versus_baselines"][name]
    return (
        f"the strongest lexical baseline on the same scenarios and candidates, {name} "
        f"(top-1 {base['value']:.2f}; picked on these scenarios, so every baseline must be "
        f"beaten): hierarchical bootstrap over emotions of the paired top-1 difference, CI "
        f"[{diff['ci'][0]:.2f}, {diff['ci'][1]:.2f}] must lie above 0 (McNemar exact "
        f"p = {diff['mcnemar']['p']:.2g})"
    )
