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
    layer_summary,
    orient,
    pca,
    sanity_table,
    valence_controls,
)
from ..norms import Norms, load_norms
from ..report import below
from ..store import column_matrix, read_metadata, read_vector_matrix, write_json_atomic
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
) -> dict:
    """PCA, correlations, cosines, sanity pairs and the valence controls at one layer:
    writes outputs pca, correlations, cosine, sanity, valence_null (CSV) and json."""
    emotions, vectors = read_vector_matrix(vector_file, layer)
    norms = load_norms(emotions, arousal_csv)
    result, how = orient(
        pca(vectors, settings["pca_components"]),
        emotions,
        norms.valence,
        norms.arousal,
        settings["positive_anchors"],
    )
    log.info("%s layer %d: %s", model, layer, how)
    _write_pca_table(result, emotions, norms, outputs["pca"])
    correlations = component_correlations(
        result,
        {"valence": norms.valence, "arousal": norms.arousal},
        {"valence": norms.valence_source, "arousal": norms.arousal_source},
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
    write_json_atomic(summary, outputs["json"])
    log.info("%s layer %d: %s\n%s", model, layer, summary, sanity.to_string())
    return summary


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
) -> pd.DataFrame:
    """Variance shares and norm correlations at every stored layer, one row per layer."""
    rows = []
    norms = None
    for layer in layers:
        emotions, vectors = read_vector_matrix(vector_file, layer)
        if norms is None:
            norms = load_norms(emotions, arousal_csv)
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
    return {
        "layer": data.get("layer"),
        "pc1_variance": ev[0],
        "pc2_variance": ev[1],
        "pc3_variance": ev[2],
        "valence_r": {
            "value": valence.get("pearson"),
            "ci": valence.get("ci"),
            "ci_method": valence.get("ci_method"),
            "n": valence.get("n"),
            "null_p95": valence.get("null_p95"),
            "p": valence.get("p"),
            "word_embedding_r": word.get("value"),
            "word_embedding_ci": word.get("ci"),
            "probe_r": valence.get("probe_r"),
            "word_embedding_probe_r": valence.get("word_embedding_probe_r"),
        },
        "valence_spearman": valence.get("spearman"),
        "arousal_r": (data.get("arousal") or {}).get("pearson_pc2"),
        "sanity_passed": sanity.get("passed"),
        "sanity_total": sanity.get("total"),
        # Holds when |r| lies beyond the shuffled-label null.
        "holds": {"valence_geometry": below(valence.get("p"))},
    }


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
            result = correlate_geometries(
                *(centred_cosines(x) for x in matrices), settings["permutations"], settings["seed"]
            )
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
