"""The geometry jobs (no model load; downstream of the stored vectors and the word
embeddings): PCA against human valence with its controls, cosines, the seed's sanity
pairs, the layer sweep, and the headline numbers for summary.json."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ..geometry import (
    PCA,
    best_component,
    cluster_order,
    component_correlations,
    correlate,
    layer_summary,
    orient,
    pca,
    sanity_table,
    valence_controls,
)
from ..human_norm_controls import (
    best_of_components,
    grouped_probe_predictions,
    probe_difference,
    r_with_interval,
    synonym_groups,
    within_sign,
)
from ..human_norms import GLASGOW_NEUTRAL, VADER_NEUTRAL, Norms, load_norms
from ..report import below
from ..store import (
    column_matrix,
    read_metadata,
    read_vector_layers,
    read_vector_matrix,
    write_json_atomic,
)
from ..vectors import cosine_matrix

log = logging.getLogger("emotion_vectors")


def _finite_or_none(x: float) -> float | None:
    """JSON has no NaN: an undefined number becomes null."""
    x = float(x)
    return x if math.isfinite(x) else None


def read_word_embeddings(path: str, emotions: Sequence[str]) -> np.ndarray:
    """[emotions, width] input embeddings of the emotion words, in `emotions` order."""
    table = pq.read_table(path)
    index = {e: i for i, e in enumerate(table.column("emotion").to_pylist())}
    matrix = column_matrix(table.column("embedding")).astype(np.float64)
    return matrix[[index[e] for e in emotions]]


def geometry_tables(
    model: str,
    corpus: str,
    layer: int,
    vector_file: str,
    word_file: str | None,
    settings: Mapping,
    arousal_csv: str | None,
    outputs: Mapping[str, str],
    glasgow_csv: str | None = None,
    word_forms: str | None = None,
    synonyms: str | None = None,
) -> dict:
    """PCA, correlations, cosines, sanity pairs and the valence controls at one layer:
    writes outputs pca, correlations, cosine, sanity, valence_null (CSV) and json, and
    (output probe_layers, when given) the layer-wise lexical control."""
    emotions, vectors = read_vector_matrix(vector_file, layer)
    norms = load_norms(emotions, arousal_csv, glasgow_csv, word_forms)
    result, how = orient(
        pca(vectors, settings["pca_components"]),
        emotions,
        norms.valence,
        norms.arousal,
        settings["positive_anchors"],
    )
    log.info("%s layer %d: %s", model, layer, how)
    _write_pca_table(result, emotions, norms, outputs["pca"])
    glasgow = norms.glasgow.valence if norms.glasgow else None
    correlations = component_correlations(
        result,
        {"valence": norms.valence, "arousal": norms.arousal, "valence_glasgow": glasgow},
        {
            "valence": norms.valence_source,
            "arousal": norms.arousal_source,
            "valence_glasgow": norms.glasgow_source,
        },
    )
    correlations.to_csv(outputs["correlations"], index=False, float_format="%.6g")
    cosines = _write_cosines(vectors, emotions, outputs["cosine"])
    sanity = sanity_table(emotions, cosines, settings["sanity_pairs"])
    sanity.to_csv(outputs["sanity"], index=False, float_format="%.6g")
    words = read_word_embeddings(word_file, emotions) if word_file else None
    rng = np.random.default_rng(settings["seed"])
    r = float(correlations.iloc[0].pearson)
    args = (result.scores, norms.valence, vectors, words, emotions, settings["permutations"])
    controls = valence_controls(r, *args, rng)
    pd.DataFrame({"abs_r": controls["null"]}).to_csv(outputs["valence_null"], index=False)
    summary = {
        "model": model,
        "corpus": corpus,
        "layer": layer,
        **{k: read_metadata(vector_file).get(k) for k in ("dtype", "device")},
        "explained_variance": [float(v) for v in result.explained],
        "valence": _valence_entry(correlations, norms, controls),
        "arousal": _arousal_entry(correlations, norms),
        "sanity": {
            "passed": int((sanity.result == "pass").sum()),
            "total": int((sanity.result != "skipped").sum()),
            "skipped": int((sanity.result == "skipped").sum()),
        },
    }
    groups = _synonym_groups(emotions, synonyms, word_forms)
    controls = norm_controls(result, norms, vector_file, layer, words, groups, settings)
    arousal = controls.pop("arousal")
    if summary["arousal"] is not None:
        summary["arousal"] |= arousal
    table = controls.pop("probe_layers")
    if outputs.get("probe_layers"):
        table.to_csv(outputs["probe_layers"], index=False, float_format="%.6g")
    summary |= controls
    write_json_atomic(summary, outputs["json"])
    log.info("%s layer %d: %s\n%s", model, layer, summary, sanity.to_string())
    return summary


def _synonym_groups(
    emotions: Sequence[str], synonyms: str | None, word_forms: str | None
) -> np.ndarray:
    """Synonym groups of the run's emotions (human_norm_controls.synonym_groups); without the
    files every emotion is its own group."""
    from pathlib import Path

    from ..config import read_synonyms
    from ..wordforms import read_word_forms

    table = read_synonyms(Path(synonyms)) if synonyms else {}
    forms = read_word_forms(Path(word_forms)) if word_forms else {}
    return synonym_groups(emotions, table, forms)


def _probe_targets(norms: Norms) -> dict[str, tuple[np.ndarray, int]]:
    """{target: (human rating per emotion, the component that should carry it)}."""
    targets = {"valence_vader": (norms.valence, 0)}
    if norms.glasgow is not None:
        targets["valence_glasgow"] = (norms.glasgow.valence, 0)
    if norms.arousal is not None:
        targets["arousal"] = (norms.arousal, 1)
    return targets


def probe_layers(
    vector_file: str,
    words: np.ndarray | None,
    emotions: Sequence[str],
    norms: Norms,
    groups: np.ndarray,
    settings: Mapping,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, dict]:
    """The layer-wise lexical control: at layer 0 (the words' input embeddings, when given)
    and every stored layer, the synonym-grouped cross-validated probe of each human rating
    (its r with a bootstrap interval over emotions) beside the r of the component that
    should carry it (PC1 for valence, PC2 for arousal). Returns the table and the
    out-of-fold predictions {(target, layer): per emotion}."""
    layers = ([0] if words is not None else []) + read_vector_layers(vector_file)
    targets, rows, predictions = _probe_targets(norms), [], {}
    for layer in layers:
        x = words if layer == 0 else read_vector_matrix(vector_file, layer)[1]
        if x is None:  # layer 0 is listed only with the words' input embeddings
            raise ValueError("the probe at layer 0 needs the words' input embeddings")
        result, _ = orient(
            pca(x, settings["pca_components"]),
            emotions,
            norms.valence,
            norms.arousal,
            settings["positive_anchors"],
        )
        for target, (ratings, component) in targets.items():
            predicted = grouped_probe_predictions(x, ratings, groups)
            predictions[(target, layer)] = predicted
            probe = r_with_interval(predicted, ratings, settings["bootstrap"], rng)
            rows.append({
                "layer": layer,
                "target": target,
                "probe_r": probe["value"],
                "probe_ci_low": probe["ci"][0],
                "probe_ci_high": probe["ci"][1],
                "component": f"PC{component + 1}",
                "component_r": correlate(result.scores[:, component], ratings).pearson,
                "n": probe["n"],
            })  # fmt: skip
        log.info("lexical control: layer %d of %s probed", layer, layers[-1])
    return pd.DataFrame(rows), predictions


def norm_controls(
    result: PCA,
    norms: Norms,
    vector_file: str,
    layer: int,
    words: np.ndarray | None,
    groups: np.ndarray,
    settings: Mapping,
) -> dict:
    """The controls that could make the valence and arousal claims fail (human_norm_controls.py):
    Glasgow coverage and valence r, bootstrap intervals over emotions, within-sign r, the
    probe at the analysis layer against layer 0, arousal PC2 and best of PC2/PC3, and the
    layer-wise table (key probe_layers). Seeded apart from the shuffled-label null, so that
    the earlier numbers do not move."""
    rng = np.random.default_rng([settings["seed"], 21])
    replicates = settings["bootstrap"]
    emotions = read_vector_matrix(vector_file, layer)[0]
    pc1 = result.scores[:, 0]
    out: dict = {"valence_bootstrap": r_with_interval(pc1, norms.valence, replicates, rng)}
    out["within_sign"] = {"vader": within_sign(pc1, norms.valence, VADER_NEUTRAL, replicates, rng)}
    out["glasgow"], out["valence_glasgow"] = None, None
    if norms.glasgow is not None:
        out["glasgow"] = _glasgow_coverage(norms)
        out["valence_glasgow"] = r_with_interval(pc1, norms.glasgow.valence, replicates, rng)
        out["within_sign"]["glasgow"] = within_sign(
            pc1, norms.glasgow.valence, GLASGOW_NEUTRAL, replicates, rng
        )
    out["valence_verdict_norm"] = "glasgow" if norms.glasgow is not None else "vader"
    table, predictions = probe_layers(vector_file, words, emotions, norms, groups, settings, rng)
    out["probe_layers"] = table
    out["probe"] = {
        target: _probe_headline(predictions, target, layer, ratings, replicates, rng)
        for target, (ratings, _) in _probe_targets(norms).items()
    }
    out["synonym_groups"] = len(set(groups))
    out["arousal"] = _arousal_controls(result, norms, settings, rng)
    return out


def _probe_headline(
    predictions: Mapping, target: str, layer: int, ratings: np.ndarray, replicates: int, rng
) -> dict:
    """The probe at the analysis layer, at layer 0, and their difference with its paired
    bootstrap interval over emotions."""
    vectors = predictions[(target, layer)]
    out = {"vectors": r_with_interval(vectors, ratings, replicates, rng)}
    if (target, 0) not in predictions:
        return out | {"layer0": None, "difference": None}
    words = predictions[(target, 0)]
    out["layer0"] = r_with_interval(words, ratings, replicates, rng)
    out["difference"] = probe_difference(vectors, words, ratings, replicates, rng)
    return out


def _glasgow_coverage(norms: Norms) -> dict:
    if norms.glasgow is None:  # called only for a run with Glasgow norms
        raise ValueError("no Glasgow norms to report the coverage of")
    match = norms.glasgow.match
    return {
        "source": norms.glasgow_source,
        "emotions": len(match),
        "rated": sum(m != "none" for m in match),
        "exact": match.count("exact"),
        "via_form": match.count("form"),
    }


def _arousal_controls(result: PCA, norms: Norms, settings: Mapping, rng) -> dict:
    """PC2 against arousal (the pre-registered component: r with its bootstrap interval and
    permutation p of |r|), and the better of PC2/PC3 with the choice redone inside every
    shuffle and replicate (secondary)."""
    if norms.arousal is None:
        return {}
    replicates, permutations = settings["bootstrap"], settings["permutations"]
    pc2 = r_with_interval(result.scores[:, 1], norms.arousal, replicates, rng)
    alone = best_of_components(result.scores[:, [1]], norms.arousal, permutations, 1, rng)
    pc2["p"], pc2["permutations"] = alone["p"], permutations
    best = best_of_components(result.scores[:, 1:3], norms.arousal, permutations, replicates, rng)
    best["component"] = None if best["component"] is None else f"PC{best['component'] + 2}"
    return {"pc2": pc2, "best_of_pc2_pc3": best}


def _write_cosines(vectors: np.ndarray, emotions: Sequence[str], path: str) -> np.ndarray:
    """The cosine matrix, written in clustering order; returned in the emotions' order."""
    cosines = cosine_matrix(vectors)
    order = cluster_order(cosines)
    ordered = [emotions[i] for i in order]
    frame = pd.DataFrame(cosines[np.ix_(order, order)], index=ordered, columns=ordered)
    frame.rename_axis("emotion").to_csv(path, float_format="%.6g")
    return cosines


def _write_pca_table(result: PCA, emotions: Sequence[str], norms: Norms, path: str) -> None:
    table = pd.DataFrame(
        result.scores, columns=[f"PC{i + 1}" for i in range(result.scores.shape[1])]
    )
    table.insert(0, "emotion", emotions)
    table["valence"] = norms.valence
    table["arousal"] = norms.arousal if norms.arousal is not None else math.nan
    if norms.glasgow is not None:
        # Which Glasgow word each emotion's rating was read from (exact, a form, or none).
        table["glasgow_valence"] = norms.glasgow.valence
        table["glasgow_arousal"] = norms.glasgow.arousal
        table["glasgow_word"] = norms.glasgow.word
        table["glasgow_match"] = norms.glasgow.match
    table.to_csv(path, index=False, float_format="%.6g")


def _valence_entry(correlations: pd.DataFrame, norms: Norms, controls: Mapping) -> dict:
    valence = correlations.iloc[0]  # valence x PC1
    return {
        "pearson": _finite_or_none(valence.pearson),
        "spearman": _finite_or_none(valence.spearman),
        "n": int(valence.n),
        "source": norms.valence_source,
        "ci": controls["r"].get("ci"),
        "ci_method": controls["r"].get("ci_method"),
        **{k: controls[k] for k in ("null_p95", "null_mean", "permutations", "p")},
        "probe_r": _finite_or_none(controls["probe_r"]),
        "word_embedding": controls.get("word_embedding_r"),
        "word_embedding_probe_r": _finite_or_none(controls.get("word_embedding_probe_r", math.nan)),
    }


def _arousal_entry(correlations: pd.DataFrame, norms: Norms) -> dict | None:
    if norms.arousal is None:
        log.info("no arousal norms given (geometry.arousal_csv): arousal not measured")
        return None
    best = best_component(correlations, "arousal", ["PC2", "PC3"])
    pc2 = correlations[(correlations.norm == "arousal") & (correlations.component == "PC2")]
    return {
        "pearson_pc2": _finite_or_none(pc2.pearson.iloc[0]),
        "best_pc": best.component,
        "pearson_best": _finite_or_none(best.pearson),
        "n": int(best.n),
        "source": norms.arousal_source,
    }


def geometry_layer_sweep(
    vector_file: str,
    layers: Sequence[int],
    settings: Mapping,
    arousal_csv: str | None,
    output: str,
    glasgow_csv: str | None = None,
    word_forms: str | None = None,
) -> pd.DataFrame:
    """Variance shares and norm correlations at every stored layer, one row per layer."""
    rows = []
    norms = None
    for layer in layers:
        emotions, vectors = read_vector_matrix(vector_file, layer)
        if norms is None:
            norms = load_norms(emotions, arousal_csv, glasgow_csv, word_forms)
        summary = layer_summary(
            emotions,
            vectors,
            norms.valence,
            norms.arousal,
            settings["pca_components"],
            settings["positive_anchors"],
        )
        rows.append({"layer": layer, **summary})
    sweep = pd.DataFrame(rows)
    sweep.to_csv(output, index=False, float_format="%.6g")
    return sweep


def headline(data: Mapping) -> dict:
    """The geometry entries of summary.json."""
    ev = list(data.get("explained_variance", [])) + [None] * 3
    valence = data.get("valence") or {}
    sanity = data.get("sanity") or {}
    word = valence.get("word_embedding") or {}
    out = {
        "layer": data.get("layer"),
        "pc1_variance": ev[0],
        "pc2_variance": ev[1],
        "pc3_variance": ev[2],
        "valence_r": {
            "value": valence.get("pearson"),
            "ci": valence.get("ci"),
            "ci_method": valence.get("ci_method"),
            "ci_emotions": (data.get("valence_bootstrap") or {}).get("ci"),
            "n": valence.get("n"),
            "null_p95": valence.get("null_p95"),
            "p": valence.get("p"),
            "word_embedding_r": word.get("value"),
            "word_embedding_ci": word.get("ci"),
            "probe_r": valence.get("probe_r"),
            "word_embedding_probe_r": valence.get("word_embedding_probe_r"),
        },
        "valence_spearman": valence.get("spearman"),
        "sanity_passed": sanity.get("passed"),
        "sanity_total": sanity.get("total"),
    }
    out |= _norms_headline(data)
    out |= _arousal_headline(data.get("arousal"), (data.get("probe") or {}).get("arousal"))
    holds, against = _verdicts(data, out)
    return out | {"holds": holds, "decided_against": against}


def _norms_headline(data: Mapping) -> dict:
    """Glasgow valence, within-sign r and the lexical control (on the verdict's norm)."""
    norm = data.get("valence_verdict_norm", "vader")
    within = (data.get("within_sign") or {}).get(norm) or {}
    vader = (data.get("within_sign") or {}).get("vader") or {}
    probe = (data.get("probe") or {}).get(f"valence_{norm}") or {}
    glasgow = data.get("glasgow") or {}
    out = {"valence_norm": norm, "valence_r_glasgow": data.get("valence_glasgow")}
    if out["valence_r_glasgow"] is not None:
        out["valence_r_glasgow"] = out["valence_r_glasgow"] | {
            "exact": glasgow.get("exact"),
            "via_form": glasgow.get("via_form"),
        }
    for side in ("positive", "negative"):
        entry = within.get(side)
        if entry is not None:
            entry = entry | {"vader": (vader.get(side) or {}).get("value")}
        out[f"valence_r_within_{side}"] = entry
    out["valence_r_sign_only"] = within.get("sign_only")
    out["valence_probe_r_vectors"] = probe.get("vectors")
    out["valence_probe_r_layer0"] = probe.get("layer0")
    out["valence_probe_difference"] = probe.get("difference")
    return out


def _arousal_headline(arousal: Mapping | None, probe: Mapping | None) -> dict:
    if not arousal:
        return {"arousal_r": None}
    pc2, best = arousal.get("pc2") or {}, arousal.get("best_of_pc2_pc3") or {}
    probe = probe or {}
    return {
        "arousal_r": {
            "value": arousal.get("pearson_pc2"),
            "component": "PC2",
            "ci": pc2.get("ci"),
            "ci_method": pc2.get("ci_method"),
            "p": pc2.get("p"),
            "n": arousal.get("n"),
            "source": arousal.get("source"),
            "best_component": best.get("component"),
            "best_abs_r": best.get("value"),
            "best_ci": best.get("ci"),
            "best_p": best.get("p"),
        },
        "arousal_probe_r_vectors": probe.get("vectors"),
        "arousal_probe_r_layer0": probe.get("layer0"),
        "arousal_probe_difference": probe.get("difference"),
    }


def _above_zero(entry: Mapping | None) -> bool | None:
    """True when an interval lies above 0, None when it was not measured."""
    ci = (entry or {}).get("ci")
    return None if not ci or ci[0] is None else bool(ci[0] > 0)


def _both(a: bool | None, b: bool | None) -> bool | None:
    return None if a is None or b is None else a and b


def _verdicts(data: Mapping, out: Mapping) -> tuple[dict, dict]:
    """Valence (and arousal, when measured) hold only when the axis beats its shuffled-label
    null and the synonym-grouped probe on the vectors beats the same probe on the words'
    input embeddings (layer 0): the strongest lexical control we have."""
    norm = out["valence_norm"]
    holds = {
        "valence_geometry": _both(
            below((data.get("valence") or {}).get("p")),
            _above_zero(out.get("valence_probe_difference")),
        )
    }
    against = {
        "valence_geometry": (
            "the words' input embeddings (layer 0): a ridge probe of human valence "
            f"({norm}) cross-validated with near-synonyms in one fold must do better on the "
            "vectors than on the words (paired emotion-bootstrap 95 % CI of the difference "
            "above 0), and PC1 must beat the shuffled-label null (p < 0.05)"
        )
    }
    if out.get("arousal_r"):
        holds["arousal_geometry"] = _both(
            below(out["arousal_r"].get("p")), _above_zero(out.get("arousal_probe_difference"))
        )
        against["arousal_geometry"] = (
            "the words' input embeddings (layer 0): the same synonym-grouped ridge probe of "
            "human arousal must do better on the vectors than on the words (paired "
            "emotion-bootstrap 95 % CI above 0), and PC2 (pre-registered) must beat the "
            "shuffled-label null (p < 0.05)"
        )
    return holds, against


# ---------------------------------------------------------------- across models


def geometry_across_models(
    layers: Mapping[str, int],
    vector_files: Mapping[str, str],
    word_files: Mapping[str, str],
    settings: Mapping,
    outputs: Mapping[str, str],
) -> pd.DataFrame:
    """For every pair of models: the correlation of their emotion-emotion cosine matrices
    (denoised vectors, each model at its analysis layer `layers[model]`) over the emotions
    both ran, with its permutation null and bootstrap interval, and the same for the input
    embeddings of the words (the control). Writes `outputs["csv"]` and `outputs["json"]`."""
    from itertools import combinations

    from ..shared_geometry import centred_cosines, correlate_geometries, shared_emotions

    vectors = {
        m: dict(zip(*read_vector_matrix(path, layers[m]), strict=True))
        for m, path in vector_files.items()
    }
    rows = []
    for a, b in combinations(vector_files, 2):
        emotions = shared_emotions(list(vectors[a]), list(vectors[b]))
        if len(emotions) < 4:
            log.warning("%s and %s share %d emotions: too few to compare", a, b, len(emotions))
        row = {"model_a": a, "model_b": b, "layer_a": layers[a], "layer_b": layers[b]}
        row["emotions"] = len(emotions)
        for kind, matrices in (
            ("residual", [np.stack([vectors[m][e] for e in emotions]) for m in (a, b)]),
            ("embedding", [read_word_embeddings(word_files[m], emotions) for m in (a, b)]),
        ):
            first, second = (centred_cosines(x) for x in matrices)
            result = correlate_geometries(first, second, settings["permutations"], settings["seed"])
            row.update(result.as_dict(kind))
        rows.append(row)
        log.info("%s vs %s over %d emotions: %s", a, b, len(emotions), row)
    table = pd.DataFrame(rows)
    table.to_csv(outputs["csv"], index=False)
    data = {
        "what": "Pearson r between two models' emotion-emotion cosine matrices (Mantel test)",
        "permutations": settings["permutations"],
        "pairs": [
            {k: _finite_or_none(v) if isinstance(v, float) else v for k, v in r.items()}
            for r in rows
        ],
    }
    write_json_atomic(data, outputs["json"])
    return table
