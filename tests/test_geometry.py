"""Geometry and human norms on data with known answers, plus one run of the real workflow."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from emotion_vectors.geometry import (
    cluster_order,
    correlate,
    orient,
    pca,
    sanity_table,
)
from emotion_vectors.human_norms import NormsError, norms_for, read_arousal_csv, read_vader_lexicon
from emotion_vectors.jobs.geometry import geometry_tables
from emotion_vectors.layout import Layout
from emotion_vectors.render.geometry import boxes_overlap, place_labels
from emotion_vectors.store import vector_table
from emotion_vectors.vectors import cosine_matrix

from .conftest import MODEL, ROOT, run_snakemake

SEED_PAIRS = [
    {"a": "happy", "b": "joyful", "expected": "positive"},
    {"a": "angry", "b": "furious", "expected": "positive"},
    {"a": "happy", "b": "sad", "expected": "negative"},
    {"a": "calm", "b": "panicked", "expected": "negative"},
    {"a": "loving", "b": "disgusted", "expected": "negative"},
]


def _planted(n=40, width=64, seed=0):
    """Vectors = valence * u + arousal * w + small noise, with u, w orthonormal and the
    valence spread (sd 3) larger than the arousal spread (sd 1.5): PC1 must be valence and
    PC2 arousal. Returns (emotions, vectors, valence, arousal)."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.standard_normal((width, 2)))
    valence = rng.standard_normal(n) * 3
    arousal = rng.standard_normal(n) * 1.5
    vectors = np.outer(valence, basis[:, 0]) + np.outer(arousal, basis[:, 1])
    vectors += 0.05 * rng.standard_normal((n, width))
    return [f"e{i}" for i in range(n)], vectors, valence, arousal


def test_pca_recovers_planted_valence_and_arousal_with_aligned_signs():
    emotions, vectors, valence, arousal = _planted()
    result, how = orient(pca(vectors, 3), emotions, valence, arousal)
    assert "valence" in how
    assert result.explained[0] > result.explained[1] > result.explained[2]
    # Expected share of the two planted axes: 11.25 / (11.25 + 64 * 0.05**2) = 0.986.
    assert result.explained[:2].sum() == pytest.approx(0.986, abs=0.01)
    # The recovered axes are the planted ones, pointing the right way.
    assert correlate(result.scores[:, 0], valence).pearson > 0.999
    assert correlate(result.scores[:, 1], arousal).pearson > 0.999
    # And whatever the SVD's sign, orientation ends the same: flip the input, same output.
    flipped, _ = orient(pca(-vectors, 3), emotions, valence, arousal)
    np.testing.assert_allclose(flipped.scores[:, :2], result.scores[:, :2], atol=1e-9)


def test_pca_is_deterministic_and_bounded():
    _, vectors, _, _ = _planted()
    a, b = pca(vectors, 3), pca(vectors.copy(), 3)
    np.testing.assert_array_equal(a.scores, b.scores)
    with pytest.raises(ValueError, match="at most 2"):
        pca(vectors[:3], 3)


def test_without_valence_norms_the_anchor_scores_positive():
    emotions, vectors, valence, _ = _planted()
    emotions[int(np.argmax(valence))] = "happy"
    unknown = np.full(len(emotions), np.nan)
    for sign in (1, -1):
        result, how = orient(pca(sign * vectors, 3), emotions, unknown)
        assert "'happy'" in how
        assert result.scores[emotions.index("happy"), 0] > 0


def test_correlations_on_constructed_data():
    x = [1.0, 2.0, 3.0, 4.0, 5.0]
    c = correlate(x, [2.0, 4.0, 6.0, 8.0, 10.0])
    assert (c.pearson, c.spearman, c.n) == (pytest.approx(1.0), pytest.approx(1.0), 5)
    # Monotone but not linear: Spearman 1, Pearson by hand: deviations (-2..2) and
    # (-21, -20, -19, -18, 78): 200 / sqrt(10 * 7610).
    c = correlate(x, [1.0, 2.0, 3.0, 4.0, 100.0])
    assert c.spearman == pytest.approx(1.0)
    assert c.pearson == pytest.approx(200 / math.sqrt(76100), abs=1e-12)
    # Unknown ratings (NaN) are left out and counted out of n: pairs (1,-1), (3,-3), (4,-5)
    # give -6 / sqrt(42/9 * 8).
    c = correlate([1.0, 2.0, 3.0, 4.0], [-1.0, np.nan, -3.0, -5.0])
    assert c.n == 3 and c.pearson == pytest.approx(-6 / math.sqrt(42 / 9 * 8), abs=1e-12)
    assert c.spearman == pytest.approx(-1.0)
    assert math.isnan(correlate([1.0, 2.0], [3.0, 4.0]).pearson)


def test_sanity_table_passes_fails_and_skips():
    emotions = ["happy", "joyful", "sad", "angry", "furious"]
    vectors = np.array(
        [[1.0, 0.0], [0.9, 0.1], [-1.0, 0.2], [0.0, 1.0], [0.1, -1.0]]  # furious is off
    )
    table = sanity_table(emotions, cosine_matrix(vectors), SEED_PAIRS)
    result = dict(
        zip(zip(table.emotion_a, table.emotion_b, strict=True), table.result, strict=True)
    )
    assert result == {
        ("happy", "joyful"): "pass",
        ("angry", "furious"): "fail",
        ("happy", "sad"): "pass",
        ("calm", "panicked"): "skipped",
        ("loving", "disgusted"): "skipped",
    }
    assert table.set_index("emotion_a").loc["calm", "note"] == "not in run: calm, panicked"
    assert math.isnan(table.set_index("emotion_a").loc["calm", "cosine"])
    assert table.cosine.iloc[0] == pytest.approx(0.9 / math.hypot(0.9, 0.1))


def test_cluster_order_puts_planted_clusters_together():
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((3, 32)) * 5
    members = np.repeat([0, 1, 2], 6)
    shuffle = rng.permutation(len(members))
    members = members[shuffle]
    vectors = centres[members] + rng.standard_normal((len(members), 32))
    order = cluster_order(cosine_matrix(vectors))
    assert sorted(order) == list(range(len(members)))
    labels = members[order]
    # Each cluster is one contiguous run: exactly two changes of label along the order.
    assert int((labels[1:] != labels[:-1]).sum()) == 2


def test_labels_are_placed_without_overlap():
    rng = np.random.default_rng(0)
    anchors = rng.normal(500, 20, (80, 2))  # a dense clump, as in the real PCA plot
    sizes = np.column_stack([rng.uniform(30, 70, 80), np.full(80, 10.0)])
    assert boxes_overlap(anchors, sizes) > 50
    placed = place_labels(anchors, sizes, bounds=(0, 0, 1000, 1000))
    assert boxes_overlap(placed, sizes) == 0
    assert (placed - sizes / 2 >= 0).all() and (placed + sizes / 2 <= 1000).all()
    # A lone label stays right above its point.
    lone = place_labels(np.array([[10.0, 10.0]]), np.array([[20.0, 8.0]]))
    np.testing.assert_allclose(lone, [[10.0, 16.0]])


def test_vader_lexicon_rates_the_emotion_words():
    lexicon = read_vader_lexicon()
    assert lexicon["happy"] > 0 > lexicon["sad"]
    assert lexicon["joyful"] == pytest.approx(2.9)  # the mean of its ten ratings in the file
    emotions = [
        e.strip() for e in (ROOT / "config" / "emotions" / "all-171.txt").read_text().splitlines()
    ]
    emotions = [e for e in emotions if e and not e.startswith("#")]
    valence = norms_for(emotions, lexicon)
    covered = int(np.isfinite(valence).sum())
    print(f"VADER valence covers {covered} of {len(emotions)} emotions")
    assert len(emotions) == 171 and covered >= 130
    # Multi-word emotions are deliberately left unrated; hyphenated tokens are rated.
    rated = dict(zip(emotions, valence, strict=True))
    assert math.isnan(rated["at ease"]) and math.isnan(rated["worn out"])
    assert rated["self-confident"] > 0


def test_vader_parser_reports_a_bad_line(tmp_path):
    path = tmp_path / "lexicon.txt"
    path.write_text("good\t1.5\t0.5\t[1, 2]\nbad\tx\t0.1\t[0]\n")
    with pytest.raises(NormsError, match=r"lexicon.txt: line 2: .*'x'"):
        read_vader_lexicon(path)


def test_arousal_csv_reads_and_names_problems(tmp_path):
    good = tmp_path / "arousal.csv"
    good.write_text("word,arousal,extra\nCalm,1.7,x\npanicked,7.1,y\n")
    assert read_arousal_csv(good) == {"calm": 1.7, "panicked": 7.1}

    cases = {
        "word,valence\ncalm,1\n": r"missing column\(s\) arousal.*found: word, valence",
        "word,arousal\ncalm,high\n": r"line 2: column 'arousal' of 'calm' is 'high'",
        "word,arousal\ncalm,1\ncalm,2\n": r"line 3: word 'calm' is listed twice",
        "word,arousal\n": r"no rows",
    }
    for i, (text, message) in enumerate(cases.items()):
        path = tmp_path / f"bad{i}.csv"
        path.write_text(text)
        with pytest.raises(NormsError, match=message) as err:
            read_arousal_csv(path)
        assert str(path) in str(err.value)
    with pytest.raises(NormsError, match="not found"):
        read_arousal_csv(tmp_path / "missing.csv")


def test_geometry_tables_write_the_headline_json(tmp_path):
    emotions = ["happy", "joyful", "sad", "angry", "furious", "calm", "panicked", "at ease"]
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((len(emotions), 16))
    vector_file = Layout(tmp_path).vectors("m")
    from emotion_vectors.store import write_parquet_atomic

    write_parquet_atomic(vector_table(emotions, {7: (vectors, vectors)}, {}), vector_file)
    arousal = tmp_path / "arousal.csv"
    arousal.write_text("word,arousal\nhappy,6\njoyful,6.5\nsad,3\nangry,7\ncalm,1.5\n")
    keys = ("pca", "correlations", "cosine", "sanity", "valence_null")
    outputs = {k: str(tmp_path / f"{k}.out") for k in keys}
    outputs["json"] = str(tmp_path / "geometry.json")
    settings = {
        "pca_components": 3,
        "positive_anchors": ["happy"],
        "sanity_pairs": SEED_PAIRS,
        "permutations": 200,
        "bootstrap": 200,
        "seed": 0,
    }
    summary = geometry_tables(
        "m", "templates", 7, str(vector_file), None, settings, str(arousal), outputs
    )
    on_disk = json.loads((tmp_path / "geometry.json").read_text())
    assert on_disk == summary
    assert set(on_disk) == {
        "model", "corpus", "layer", "device", "dtype", "explained_variance", "valence",
        "arousal", "sanity", "valence_bootstrap", "within_sign", "glasgow", "valence_glasgow",
        "valence_verdict_norm", "probe", "synonym_groups",
    }  # fmt: skip
    # No Glasgow file given: VADER decides, and 7 rated emotions are too few for a probe.
    assert on_disk["glasgow"] is None and on_disk["valence_verdict_norm"] == "vader"
    assert on_disk["probe"]["valence_vader"]["vectors"]["value"] is None
    assert set(on_disk["valence"]) == {
        "pearson", "spearman", "n", "source", "ci", "ci_method", "null_p95", "null_mean",
        "permutations", "p", "word_embedding", "probe_r", "word_embedding_probe_r",
    }  # fmt: skip
    # Random vectors: the valence axis is within the shuffled-label null.
    assert on_disk["valence"]["p"] > 0.05
    assert len(pd.read_csv(outputs["valence_null"])) == 200
    assert set(on_disk["arousal"]) == {
        "pearson_pc2", "best_pc", "pearson_best", "n", "source", "pc2", "best_of_pc2_pc3",
    }  # fmt: skip
    assert on_disk["valence"]["n"] == 7  # every word but "at ease" is in VADER
    assert on_disk["arousal"]["n"] == 5
    sanity = pd.read_csv(outputs["sanity"])
    assert on_disk["sanity"] == {
        "passed": int((sanity.result == "pass").sum()),
        "total": 4,
        "skipped": 1,  # loving/disgusted are not in this run
    }
    table = pd.read_csv(outputs["pca"])
    assert list(table.columns) == ["emotion", "PC1", "PC2", "PC3", "valence", "arousal"]
    assert table.valence.isna().sum() == 1 and table.arousal.isna().sum() == 3
    cos = pd.read_csv(outputs["cosine"], index_col=0)
    assert sorted(cos.index) == sorted(emotions) and list(cos.columns) == list(cos.index)


@pytest.mark.slow
def test_workflow_writes_geometry_for_a_small_run(tmp_path):
    emotions = ["happy", "joyful", "sad", "angry", "furious", "calm", "panicked", "loving"]
    emotions.append("disgusted")
    config = tmp_path / "config.yaml"
    # Geometry alone (and what it needs: extraction, vectors), so the test stays short.
    config.write_text(
        yaml.safe_dump({"emotions": emotions, "layers": [10, 20], "analyses": ["geometry"]})
    )
    run_snakemake(tmp_path, "--configfile", str(config))
    files = Layout(tmp_path / "results").outputs("geometry", MODEL)
    summary = json.loads(Path(files["json"]).read_text())
    assert summary["model"] == MODEL and summary["layer"] == 20
    assert len(summary["explained_variance"]) == 3
    assert summary["explained_variance"] == sorted(summary["explained_variance"], reverse=True)
    assert summary["valence"]["n"] == 9 and summary["valence"]["pearson"] >= 0
    # Arousal from the shipped Glasgow Norms (word forms where the word is not rated).
    assert summary["arousal"]["n"] == summary["glasgow"]["rated"] >= 7
    assert summary["glasgow"]["exact"] + summary["glasgow"]["via_form"] >= 7
    assert summary["valence_glasgow"]["value"] > 0 and len(summary["valence_glasgow"]["ci"]) == 2
    assert set(summary["within_sign"]["glasgow"]) == {"positive", "negative", "sign_only"}
    # The lexical control at layer 0 and every stored layer (9 emotions: too few to probe).
    lexical = pd.read_csv(files["probe_layers"])
    assert sorted(set(lexical.layer)) == [0, 10, 20]
    assert summary["sanity"]["total"] == 5 and summary["sanity"]["skipped"] == 0
    # The controls: a shuffled-label null, and the same PCA on the words' input embeddings.
    valence = summary["valence"]
    assert valence["null_p95"] < 1 and 0 < valence["p"] <= 1
    assert -1 <= valence["word_embedding"]["value"] <= 1
    sweep = pd.read_csv(files["layer_sweep"])
    assert list(sweep.layer) == [10, 20]
    for key in ("pca_png", "cosine_png", "controls_png"):
        assert Path(files[key]).stat().st_size > 10_000
    # Nine emotions are all inside the seed's 30: no separate subset heatmap.
    assert not Path(files["cosine_subset_png"]).exists()
    comparison = Layout(tmp_path / "results").comparison("templates_layer_sweep.png")
    assert Path(comparison).exists()
