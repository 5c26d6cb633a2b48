"""The EmoBank experiment of model_analyses: the run's valence and arousal axes on
sentences people rated (emotion_vectors/emobank.py has the maths), beside VADER, the same
axes from the input embeddings, word-lexicon baselines and a supervised probe; and its
headline numbers for summary.json.

The pooled sentences do not depend on the emotion vectors, so they are cached per model
(results/<model>/cache/emobank/), one entry per split, keyed on the model, the pooling, the
dataset's checksum, the sentences and the layers: adding an emotion pools no sentence."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ..activations import extract, word_embeddings
from ..datasets import Sentence, read_emobank, read_glasgow
from ..emobank import (
    Comparison,
    compare,
    fill_unrated,
    fit_axis,
    lexicon_scores,
    project,
    ridge_probe,
    strongest,
    subsample,
    vader_compound,
)
from ..geometry import pca
from ..integrity import usable_entry, write_sidecar
from ..models import model_fingerprint
from ..pooling import Pooling
from ..render.emobank import plot_emobank
from ..store import (
    activation_table,
    cache_key,
    read_activation_layers,
    write_json_atomic,
    write_parquet_atomic,
)

log = logging.getLogger("emotion_vectors")

# Bump when the cached pooled sentences an unchanged config produces would change.
SENTENCE_FORMAT = 1
# Components of the word embeddings a baseline may pick from (on the training sentences).
WORD_COMPONENTS = 5
VECTOR = "emotion vectors"
WORDS = "input embeddings"


def split_sentences(
    path: str, train_count: int, test_count: int | None, seed: int
) -> tuple[list[Sentence], list[Sentence]]:
    """(seeded subsample of the train split, the test split or a seeded subsample of it)."""
    train = read_emobank(path, ("train",))
    test = read_emobank(path, ("test",))
    if test_count is not None:
        test = [test[i] for i in subsample(len(test), test_count, seed)]
    return [train[i] for i in subsample(len(train), train_count, seed)], test


def pooled_sentences(
    job, split: str, sentences: Sequence[Sentence], pool: Pooling, layers: Sequence[int],
    data_sha256: str,
) -> tuple[dict[int, np.ndarray], np.ndarray]:  # fmt: skip
    """({layer: [sentences, width]} sink-free mean states, [sentences] token counts), from
    the cache when this model pooled these sentences this way before."""
    ids = [s.id for s in sentences]
    key = cache_key(
        {
            "model": model_fingerprint(job.loaded.spec),
            "pooling": pool.fingerprint(),
            "data": data_sha256,
            "split": split,
            "sentences": ids,
            "layers": list(layers),
            "format": SENTENCE_FORMAT,
        }
    )
    entry = job.cache("emobank") / f"{key}.parquet"
    if usable_entry(entry):
        log.info("emobank %s: %d pooled sentences from the cache", split, len(ids))
        counts = pq.read_table(entry, columns=["n_tokens"]).column("n_tokens").to_numpy()
        return read_activation_layers(entry, layers), counts
    texts = [s.text for s in sentences]
    label = f"emobank: {len(texts)} {split} sentences, batches"
    result = extract(job.loaded.model, job.loaded.tokenizer, texts, layers, pool, label=label)
    meta = {"split": split, "data": data_sha256, "pooling": pool.fingerprint(), "key": key}
    write_parquet_atomic(activation_table(ids, result.n_tokens, result.pooled, meta), entry)
    write_sidecar(entry)
    return result.pooled, np.asarray(result.n_tokens)


def axis_methods(
    train: Mapping[int, np.ndarray],
    test: Mapping[int, np.ndarray],
    train_labels: np.ndarray,
    spaces: Mapping[str, tuple[int, np.ndarray]],
    rules: Sequence[tuple[str, str, Sequence[int]]],
) -> tuple[dict[str, np.ndarray], list[dict]]:
    """Test scores of every rule (space, name, candidate components): in its space
    ({name: (layer, [k, width] directions)}), the candidate direction that fits the
    training sentences best, signed on them."""
    scores, rows = {}, []
    for space, rule, candidates in rules:
        layer, directions = spaces[space]
        usable = [c for c in candidates if c < len(directions)]
        axis = fit_axis(train[layer], train_labels, directions, usable)
        name = f"{space}, {rule}"
        scores[name] = project(test[layer], directions, axis)
        rows.append(
            {"method": name, "component": f"PC{axis.component + 1}", "sign": axis.sign,
             "train_r": axis.train_r, "layer": layer}
        )  # fmt: skip
    return scores, rows


def probe_methods(
    train: Mapping[int, np.ndarray], test: Mapping[int, np.ndarray], train_labels: np.ndarray,
    alphas: Sequence[float],
) -> tuple[dict[str, np.ndarray], list[dict]]:  # fmt: skip
    """Test predictions of a ridge probe fitted on the training sentences, per layer."""
    scores, rows = {}, []
    for layer in sorted(train):
        name = f"supervised probe, layer {layer}"
        scores[name], alpha = ridge_probe(train[layer], train_labels, test[layer], alphas)
        rows.append({"method": name, "layer": layer, "alpha": alpha})
    return scores, rows


def lexicon_methods(
    train: Sequence[Sentence], test: Sequence[Sentence], lexicon_path: str
) -> dict[str, dict[str, np.ndarray]]:
    """{dimension: {baseline: test scores}} of the baselines that read words only."""
    norms = read_glasgow(lexicon_path)
    out: dict[str, dict[str, np.ndarray]] = {}
    test_texts = [s.text for s in test]
    compound = vader_compound(test_texts)
    for dimension in ("valence", "arousal"):
        lexicon = {w: getattr(n, dimension) for w, n in norms.items()}
        fill = np.nanmean(lexicon_scores([s.text for s in train], lexicon))
        glasgow = fill_unrated(lexicon_scores(test_texts, lexicon), fill)
        out[dimension] = {f"Glasgow {dimension} of the words": glasgow}
    out["valence"]["VADER compound"] = compound
    out["arousal"]["VADER |compound|"] = np.abs(compound)
    return out


def evaluate_dimension(
    dimension: str,
    reference: str,
    scores: Mapping[str, np.ndarray],
    baselines: Sequence[str],
    labels: np.ndarray,
    settings: Mapping,
) -> tuple[dict[str, Comparison], str]:
    """Every method's comparison on the test sentences, and the strongest baseline."""
    comparisons = compare(scores, labels, reference, settings["bootstrap"], settings["seed"])
    return comparisons, strongest(comparisons, baselines)


# The axes of each dimension: (space, rule, candidate components, 0-based). The emotion
# axis of valence is PC1; of arousal PC2 (pre-registered) and the better of PC2/PC3 on the
# training sentences. The input embeddings get the same rules and, as the stronger
# baseline, the best of their first five components.
BEST_WORD = f"best of PC1-PC{WORD_COMPONENTS}"
RULES = {
    "valence": [
        (VECTOR, "PC1", [0]),
        (WORDS, "PC1", [0]),
        (WORDS, BEST_WORD, range(WORD_COMPONENTS)),
    ],
    "arousal": [
        (VECTOR, "PC2", [1]),
        (VECTOR, "best of PC2/PC3", [1, 2]),
        (WORDS, "best of PC2/PC3", [1, 2]),
        (WORDS, BEST_WORD, range(WORD_COMPONENTS)),
    ],
}
REFERENCE = {"valence": f"{VECTOR}, PC1", "arousal": f"{VECTOR}, best of PC2/PC3"}
# The vector rules beside the reference are reported, not baselines.
NOT_BASELINES = (VECTOR, "supervised probe")


def run(job, settings: Mapping, outputs: Mapping[str, str]) -> dict:
    """Pool (or read) the sentences, score every method on the test split, write the
    table, the figure and the headline JSON."""
    data = settings["data"]
    train, test = split_sentences(
        data["path"], settings["train_sentences"], settings["test_sentences"], settings["seed"]
    )
    pool = Pooling(**{**job.config["passage_pooling"], "batch_size": settings["batch_size"]})
    (train, test), states, excluded = _pool_splits(job, {"train": train, "test": test},
                                                   pool, data["sha256"])  # fmt: skip
    spaces = _spaces(job)
    lexical = lexicon_methods(train, test, settings["lexicon"]["path"])
    rows, results = [], {}
    for dimension in ("valence", "arousal"):
        train_y = np.array([getattr(s, dimension) for s in train])
        test_y = np.array([getattr(s, dimension) for s in test])
        axes, fits = axis_methods(
            states["train"], states["test"], train_y, spaces, RULES[dimension]
        )
        probes, probe_fits = probe_methods(states["train"], states["test"], train_y,
                                           settings["probe_alphas"])  # fmt: skip
        scores = {**axes, **lexical[dimension], **probes}
        baselines = [m for m in scores if not m.startswith(NOT_BASELINES)]
        comparisons, hardest = evaluate_dimension(
            dimension, REFERENCE[dimension], scores, baselines, test_y, settings
        )
        results[dimension] = _dimension_entry(dimension, comparisons, hardest, fits, probe_fits)
        rows += _table_rows(dimension, comparisons, fits + probe_fits, baselines)
    table = pd.DataFrame(rows)
    table.to_csv(outputs["table"], index=False, float_format="%.6g")
    plot_emobank(table, job.key, job.analysis_layer, len(test), outputs["figure"])
    headline = {
        **job.describe(),
        "emotions": len(job.emotions),
        "n_test": len(test),
        "n_train_used": len(train),
        "one_token_sentences_left_out": excluded,
        "bootstrap": settings["bootstrap"],
        "seed": settings["seed"],
        "data_sha256": data["sha256"],
        **results,
    }
    write_json_atomic(headline, outputs["json"])
    log.info("emobank: %s", {d: results[d]["verdict"] for d in results})
    return headline


def _pool_splits(job, splits: Mapping[str, list[Sentence]], pool: Pooling, sha256: str):
    """(the sentences kept per split, {split: {layer: states}}, {split: texts left out}),
    pooled at layer 0 and the analysis layer. A one-token sentence has no state but its
    first position, the attention sink (pooling falls back to it): it has no sink-free
    mean and is left out."""
    layers = [0, job.analysis_layer]
    kept, states, excluded = [], {}, {}
    for split, sentences in splits.items():
        pooled, counts = pooled_sentences(job, split, sentences, pool, layers, sha256)
        keep = counts >= 2
        states[split] = {layer: pooled[layer][keep] for layer in layers}
        kept.append([s for s, k in zip(sentences, keep, strict=True) if k])
        excluded[split] = [s.text for s, k in zip(sentences, keep, strict=True) if not k]
    return kept, states, excluded


def _spaces(job) -> dict[str, tuple[int, np.ndarray]]:
    """The principal directions of the emotion vectors (analysis layer) and of the emotion
    words' input embeddings (layer 0)."""
    emotions, vectors = job.matrix(job.analysis_layer)
    words = word_embeddings(job.loaded.model, job.loaded.tokenizer, emotions)
    k = min(WORD_COMPONENTS, len(emotions) - 1)
    return {
        VECTOR: (job.analysis_layer, pca(vectors, min(3, k)).components),
        WORDS: (0, pca(words.astype(np.float64), k).components),
    }


def _measure(c: Comparison) -> dict:
    out = {"value": _num(c.r), "ci": [_num(c.ci[0]), _num(c.ci[1])], "ci_method": "bootstrap"}
    if c.difference is not None:
        if c.difference_ci is None:  # emobank.compare sets the difference with its interval
            raise ValueError("a difference without its interval")
        out["difference"] = _num(c.difference)
        out["difference_ci"] = [_num(c.difference_ci[0]), _num(c.difference_ci[1])]
    return out


def _num(x) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


def _dimension_entry(dimension, comparisons, hardest, fits, probe_fits) -> dict:
    reference = REFERENCE[dimension]
    against = comparisons[hardest]
    low = against.difference_ci[0]
    return {
        "axis": reference,
        "component": next(f["component"] for f in fits if f["method"] == reference),
        "r": _measure(comparisons[reference]),
        "strongest_baseline": hardest,
        "against_strongest": _measure(against),
        # Holds when the paired-bootstrap interval of r(axis) - r(strongest) lies above 0.
        "verdict": bool(low is not None and np.isfinite(low) and low > 0),
        "methods": {name: _measure(c) for name, c in comparisons.items()},
        "fits": fits + probe_fits,
    }


def _table_rows(dimension, comparisons, fits, baselines) -> list[dict]:
    fitted = {f["method"]: f for f in fits}
    rows = []
    for name, c in comparisons.items():
        kind = "baseline" if name in baselines else (
            "supervised probe" if name.startswith("supervised") else "emotion axis")  # fmt: skip
        fit = fitted.get(name, {})
        rows.append(
            {
                "dimension": dimension, "method": name, "kind": kind,
                "component": fit.get("component"), "train_r": fit.get("train_r"),
                "r": c.r, "ci_low": c.ci[0], "ci_high": c.ci[1],
                "axis_minus_method": c.difference,
                "difference_ci_low": c.difference_ci[0] if c.difference_ci else None,
                "difference_ci_high": c.difference_ci[1] if c.difference_ci else None,
            }
        )  # fmt: skip
    return rows


def headline(data: Mapping) -> dict:
    """The EmoBank entries of summary.json."""
    out: dict = {"emobank_n_test": data.get("n_test"),
                 "emobank_n_train_used": data.get("n_train_used")}  # fmt: skip
    holds, against = {}, {}
    for dimension in ("valence", "arousal"):
        entry = data.get(dimension) or {}
        if not entry:
            continue
        out[f"emobank_{dimension}_r"] = {**entry["r"], "component": entry["component"]}
        out[f"emobank_{dimension}_baselines"] = {
            name: m for name, m in entry["methods"].items() if not name.startswith(VECTOR)
        }
        if dimension == "arousal":
            out["emobank_arousal_pc2_r"] = entry["methods"].get(f"{VECTOR}, PC2")
        holds[f"emobank_{dimension}"] = entry["verdict"]
        against[f"emobank_{dimension}"] = _against_sentence(dimension, entry)
    return {**out, "holds": holds, "decided_against": against}


def _against_sentence(dimension: str, entry: Mapping) -> str:
    m = entry["against_strongest"]
    ci = m.get("difference_ci") or [None, None]
    return (
        f"{entry['strongest_baseline']} (the strongest baseline on the EmoBank test split, "
        f"r {m['value']:.2f}): paired bootstrap over test sentences of r({entry['axis']}) "
        f"minus its r, {m['difference']:+.2f} [{_fmt(ci[0])}, {_fmt(ci[1])}]; holds when the "
        "interval lies above 0"
    )


def _fmt(x) -> str:
    return "nan" if x is None else f"{x:+.2f}"
