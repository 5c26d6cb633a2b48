"""The Glasgow Norms built in, and the controls that could make the valence and arousal
claims fail (issue 21): word-form fallback, within-sign r, best of PC2/PC3 paid for, the
synonym-grouped probe, and the checksum refusal of the config key."""

from __future__ import annotations

import numpy as np
import pytest

from emotion_vectors.config import ConfigError
from emotion_vectors.datasets import WordNorm, read_glasgow
from emotion_vectors.human_norm_controls import (
    best_of_components,
    grouped_probe_predictions,
    probe_difference,
    synonym_groups,
    within_sign,
)
from emotion_vectors.human_norms import glasgow_for, load_norms
from emotion_vectors.run_config import load_run_config
from emotion_vectors.stats import pearson
from emotion_vectors.wordforms import read_word_forms

from .conftest import ROOT

GLASGOW = ROOT / "config" / "datasets" / "glasgow-norms.csv"
FORMS = ROOT / "config" / "emotions" / "word-forms.yaml"


def test_glasgow_lookup_falls_back_to_a_rated_word_form():
    norms = {"happy": WordNorm(8.0, 6.0), "amaze": WordNorm(7.0, 7.5), "amazing": WordNorm(1, 1)}
    forms = {"amazed": ["amazed", "amaze", "amazing"], "at ease": ["at-ease"]}
    got = glasgow_for(["happy", "amazed", "at ease", "sad"], norms, forms)
    assert got.word == ["happy", "amaze", "", ""]
    assert got.match == ["exact", "form", "none", "none"]
    # The first rated form in the list's order wins ("amaze", not "amazing").
    np.testing.assert_array_equal(got.valence[:2], [8.0, 7.0])
    np.testing.assert_array_equal(got.arousal[:2], [6.0, 7.5])
    assert np.isnan(got.valence[2:]).all()


def test_shipped_glasgow_rates_115_of_the_171_emotions():
    emotions = [
        e.strip() for e in (ROOT / "config" / "emotions" / "all-171.txt").read_text().splitlines()
    ]
    emotions = [e for e in emotions if e and not e.startswith("#")]
    got = glasgow_for(emotions, read_glasgow(GLASGOW), read_word_forms(FORMS))
    assert (got.match.count("exact"), got.match.count("form")) == (82, 33)
    used = dict(zip(emotions, got.word, strict=True))
    assert used["panicked"] == "panic" and used["happy"] == "happy"
    assert used["at ease"] == "" and used["worn out"] == ""  # phrases with no rated form
    assert np.isfinite(got.valence).sum() == 115
    rated = dict(zip(emotions, got.valence, strict=True))
    assert rated["happy"] > 5 > rated["sad"]


def test_load_norms_takes_arousal_from_glasgow_unless_a_csv_is_given(tmp_path):
    norms = load_norms(["calm", "panicked"], None, str(GLASGOW), str(FORMS))
    assert norms.arousal[1] > norms.arousal[0]  # panic rouses more than calm
    assert "Glasgow" in norms.arousal_source
    csv = tmp_path / "arousal.csv"
    csv.write_text("word,arousal\ncalm,9\npanicked,1\n")
    norms = load_norms(["calm", "panicked"], str(csv), str(GLASGOW), str(FORMS))
    np.testing.assert_array_equal(norms.arousal, [9.0, 1.0])
    assert norms.glasgow.word == ["calm", "panic"]


def test_within_sign_r_on_constructed_data():
    # Positive side: PC1 rises with the rating (r = 1). Negative side: PC1 falls as the
    # rating rises (r = -1). Yet the two sides are far apart, so the overall r is high.
    ratings = np.array([6.0, 7.0, 8.0, 9.0, 8.5, 1.0, 2.0, 3.0, 4.0, 3.5, np.nan])
    scores = np.array([10.0, 11.0, 12.0, 13.0, 12.5, -6.0, -7.0, -8.0, -9.0, -8.5, 0.0])
    rng = np.random.default_rng(0)
    out = within_sign(scores, ratings, 5.0, 200, rng)
    assert out["positive"]["value"] == pytest.approx(1.0)
    assert out["negative"]["value"] == pytest.approx(-1.0)
    assert out["positive"]["n"] == 5 and out["negative"]["n"] == 5
    assert pearson(scores[:10], ratings[:10]) > 0.9
    # The sign alone: scores against +1/-1, by hand.
    expected = pearson(scores[:10], np.sign(ratings[:10] - 5))
    assert out["sign_only"]["value"] == pytest.approx(expected)
    lo, hi = out["positive"]["ci"]
    assert lo <= 1.0 <= hi + 1e-9
    # Too few on one side: no number, rather than a meaningless one.
    few = within_sign(scores[:6], ratings[:6], 5.0, 50, rng)
    assert few["negative"]["value"] is None and few["negative"]["n"] == 1


def test_best_of_two_components_pays_for_the_choice():
    rng = np.random.default_rng(1)
    n = 60
    arousal = rng.standard_normal(n)
    scores = np.column_stack([rng.standard_normal(n), arousal + 0.8 * rng.standard_normal(n)])
    best = best_of_components(scores, arousal, 500, 300, np.random.default_rng(2))
    assert best["component"] == 1 and best["value"] == pytest.approx(
        abs(pearson(scores[:, 1], arousal))
    )
    assert best["p"] < 0.01
    # A weak component beside a noise component: the same |r| is less surprising when it
    # is the better of two, so with the same shuffles the best-of-two p is larger.
    y = rng.standard_normal(n)
    weak = np.column_stack([y + 3 * rng.standard_normal(n), rng.standard_normal(n)])
    one = best_of_components(weak[:, [0]], y, 2000, 1, np.random.default_rng(3))
    two = best_of_components(weak, y, 2000, 1, np.random.default_rng(3))
    assert two["component"] == 0 and two["value"] == one["value"]
    assert two["p"] > one["p"]


def test_synonym_groups_link_synonyms_and_shared_forms():
    emotions = ["happy", "joyful", "sad", "unhappy", "hope", "hopeful", "calm", "bored"]
    synonyms = {"happy": ["joy", "joyful"], "sad": ["unhappy", "sorrow"]}
    forms = {"hope": ["hope", "hopes"], "hopeful": ["hopeful", "hope"], "calm": ["calm"]}
    groups = dict(zip(emotions, synonym_groups(emotions, synonyms, forms), strict=True))
    assert groups["happy"] == groups["joyful"]
    assert groups["sad"] == groups["unhappy"]
    assert groups["hope"] == groups["hopeful"]
    assert len({groups[e] for e in ("happy", "sad", "hope", "calm", "bored")}) == 5


def test_grouped_folds_never_test_on_a_training_synonym():
    # 40 pairs of near-synonyms with identical vectors and ratings, pairs unrelated to each
    # other: only a leak (one of a pair in training, the other in test) predicts anything.
    rng = np.random.default_rng(0)
    x = np.repeat(rng.standard_normal((40, 100)), 2, axis=0)
    y = np.repeat(rng.standard_normal(40), 2)
    pairs = np.repeat(np.arange(40), 2)
    grouped = grouped_probe_predictions(x, y, pairs)
    leaky = grouped_probe_predictions(x, y, np.arange(80))
    assert pearson(leaky, y) > 0.9
    assert abs(pearson(grouped, y)) < 0.4
    # And the folds themselves: each pair's two members are predicted by the same model,
    # from a training set without either, so their predictions are equal.
    np.testing.assert_allclose(grouped[0::2], grouped[1::2], atol=1e-9)
    # Unrated emotions get no prediction, and do not count.
    y_missing = y.copy()
    y_missing[:4] = np.nan
    assert np.isnan(grouped_probe_predictions(x, y_missing, pairs)[:4]).all()


def test_probe_difference_interval_is_paired():
    rng = np.random.default_rng(4)
    y = rng.standard_normal(100)
    good = y + 0.3 * rng.standard_normal(100)
    weak = y + 1.5 * rng.standard_normal(100)
    d = probe_difference(good, weak, y, 500, np.random.default_rng(5))
    assert d["value"] == pytest.approx(pearson(good, y) - pearson(weak, y))
    assert d["ci"][0] > 0
    same = probe_difference(good, good, y, 200, np.random.default_rng(5))
    assert same["value"] == 0 and same["ci"] == [0.0, 0.0]


def test_a_wrong_glasgow_checksum_is_refused_naming_the_key():
    config = {
        "geometry": {"glasgow": {"path": "config/datasets/glasgow-norms.csv", "sha256": "0" * 64}}
    }
    with pytest.raises(ConfigError) as info:
        load_run_config(config, label="config/config.yaml")
    assert info.value.key == "geometry.glasgow.sha256"
    assert "glasgow-norms.csv" in info.value.problem and "0" * 64 in info.value.problem
    # The default passes, and names the file among the geometry section's inputs.
    run = load_run_config({})
    assert run.sections["geometry"]["glasgow"]["path"].endswith("glasgow-norms.csv")
    assert any(f.endswith("glasgow-norms.csv") for f in run.section_files["geometry"])


def _geometry_run(tmp_path, emotions, vectors, words):
    """geometry_tables on given vectors (stored at layers 3 and 7) and word embeddings,
    with the shipped Glasgow Norms, word forms and synonyms."""
    import pyarrow as pa

    from emotion_vectors.jobs.geometry import geometry_tables, headline
    from emotion_vectors.layout import Layout
    from emotion_vectors.store import matrix_column, vector_table, write_parquet_atomic

    vector_file = Layout(tmp_path).vectors("m")
    layers = {3: (vectors, vectors), 7: (vectors, vectors)}
    write_parquet_atomic(vector_table(emotions, layers, {}), vector_file)
    word_file = tmp_path / "words.parquet"
    table = pa.table({"emotion": emotions, "embedding": matrix_column(words.astype(np.float32))})
    write_parquet_atomic(table, word_file)
    keys = ("pca", "correlations", "cosine", "sanity", "valence_null", "probe_layers")
    outputs = {k: str(tmp_path / f"{k}.csv") for k in keys} | {"json": str(tmp_path / "g.json")}
    settings = {"pca_components": 3, "positive_anchors": ["happy"], "sanity_pairs": [],
                "permutations": 200, "bootstrap": 300, "seed": 0}  # fmt: skip
    summary = geometry_tables(
        "m", "templates", 7, str(vector_file), str(word_file), settings, None, outputs,
        str(GLASGOW), str(FORMS), str(ROOT / "config" / "corpus" / "synonyms.yaml"),
    )  # fmt: skip
    return summary, headline(summary), outputs


def _rated_emotions(count: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    lines = (ROOT / "config" / "emotions" / "all-171.txt").read_text().splitlines()
    emotions = [e.strip() for e in lines if e.strip() and not e.startswith("#")][:count]
    got = glasgow_for(emotions, read_glasgow(GLASGOW), read_word_forms(FORMS))
    return emotions, np.nan_to_num(got.valence, nan=5.0) - 5, np.nan_to_num(got.arousal, nan=5.0)


def test_geometry_job_writes_the_norm_entries_and_the_verdict_can_fail(tmp_path):
    import pandas as pd

    emotions, valence, _ = _rated_emotions(80)
    rng = np.random.default_rng(0)
    direction = rng.standard_normal(48)
    words = rng.standard_normal((len(emotions), 48))
    # Beyond the word: the vectors carry valence, the words' embeddings do not.
    vectors = words + np.outer(valence, direction) + 0.3 * rng.standard_normal(words.shape)
    summary, h, outputs = _geometry_run(tmp_path / "a", emotions, vectors, words)
    glasgow = summary["glasgow"]
    assert glasgow["exact"] + glasgow["via_form"] == glasgow["rated"] >= 40
    assert h["valence_norm"] == "glasgow" and h["valence_r_glasgow"]["value"] > 0.8
    for key in ("valence_r_within_positive", "valence_r_within_negative",
                "valence_probe_r_vectors", "valence_probe_r_layer0", "valence_probe_difference",
                "arousal_probe_difference"):  # fmt: skip
        assert len(h[key]["ci"]) == 2, key
    assert h["arousal_r"]["component"] == "PC2" and h["arousal_r"]["best_component"] in (
        "PC2", "PC3",
    )  # fmt: skip
    assert h["valence_probe_difference"]["ci"][0] > 0
    assert h["holds"]["valence_geometry"] is True
    assert "input embeddings" in h["decided_against"]["valence_geometry"]
    pca = pd.read_csv(outputs["pca"])
    assert {"glasgow_valence", "glasgow_arousal", "glasgow_word", "glasgow_match"} <= set(pca)
    layers = pd.read_csv(outputs["probe_layers"])
    assert sorted(set(layers.layer)) == [0, 3, 7]
    assert set(layers.target) == {"valence_vader", "valence_glasgow", "arousal"}
    # Only the word: the vectors are the words' embeddings (which carry valence) plus
    # noise. The probe does as well on layer 0, so the verdict must not hold.
    words = rng.standard_normal((len(emotions), 48)) + np.outer(valence, direction)
    vectors = words + 0.05 * rng.standard_normal(words.shape)
    _, h, _ = _geometry_run(tmp_path / "b", emotions, vectors, words)
    assert h["valence_r_glasgow"]["value"] > 0.8  # PC1 still tracks valence...
    assert h["valence_probe_difference"]["ci"][0] <= 0  # ...but no better than the words
    assert h["holds"]["valence_geometry"] is False
