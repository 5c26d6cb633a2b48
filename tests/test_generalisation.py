"""The generalisation measurements on data with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from emotion_vectors import generalisation as g


def test_agreement_of_identical_and_unrelated_corpora():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(6, 50))
    same = g.corpus_agreement(a, 3 * a)
    assert same["diagonal_mean"] == pytest.approx(1.0)
    assert same["matched_share"] == 1.0
    assert same["chance"] == pytest.approx(1 / 6)
    other = g.corpus_agreement(a, rng.normal(size=(6, 50)))
    assert abs(other["diagonal_mean"]) < 0.5
    assert other["off_diagonal_mean"] == pytest.approx(
        (other["cosine"].sum() - np.trace(other["cosine"])) / 30
    )


def test_scenarios_scored_by_projection_with_ranks():
    emotions = ["a", "b", "c", "d"]
    vectors = np.eye(4, 8) * np.array([[1.0], [2.0], [3.0], [4.0]])  # norms must not matter
    # Passage i points mostly along emotion i's direction; the last one along 'c' but
    # labelled 'a' (a miss whose true emotion ranks second).
    acts = np.eye(4, 8) * 5 + 10  # a common offset, removed by centring
    acts = np.vstack([acts, 10 + 5 * np.eye(1, 8, 2) + 2 * np.eye(1, 8, 0)])
    labels = ["a", "b", "c", "d", "a"]
    rank, predicted = g.scenario_ranks(acts, labels, emotions, vectors)
    assert list(rank) == [0, 0, 0, 0, 1]
    assert predicted[4, 0] == 2
    s = g.accuracy(rank, len(emotions))
    assert s["passages"] == 5 and s["candidates"] == 4
    assert s["top1"]["value"] == pytest.approx(4 / 5) and s["top1"]["hits"] == 4
    assert s["top3"]["value"] == 1.0
    assert s["top1"]["chance"] == 0.25 and s["top3"]["chance"] == 0.75
    low, high = s["top1"]["ci"]
    assert low < 0.8 < high  # Wilson, 4 of 5
    assert 0 < s["top1"]["p"] < 0.05  # 4 of 5 at chance 1/4: p = 0.0156


def test_a_fixed_reference_replaces_the_passages_own_mean():
    """Centred on a reference the passages lie beside, scoring sees the common offset: with
    the passages' own mean (transductive) it vanishes."""
    emotions = ["a", "b"]
    vectors = np.eye(2, 3)
    acts = np.array([[1.0, 0, 0], [0, 1.0, 0]]) + np.array([0, 5.0, 0])  # all lean toward b
    own, _ = g.scenario_ranks(acts, ["a", "b"], emotions, vectors)
    fixed, _ = g.scenario_ranks(acts, ["a", "b"], emotions, vectors, reference=np.zeros(3))
    assert list(own) == [0, 0]
    assert list(fixed) == [1, 0]


def test_scenarios_of_emotions_outside_the_candidates_are_left_out():
    rank, _ = g.scenario_ranks(np.eye(3, 4), ["a", "b", "zz"], ["a", "b"], np.eye(2, 4))
    assert len(rank) == 2


def test_the_layer_is_chosen_on_one_half_and_scored_on_the_other():
    labels = ["a", "a", "b", "b", "a", "b"]
    halves = g.split_halves(labels)
    assert list(halves) == [0, 1, 0, 1, 0, 0]
    # Layer 3 is perfect on half 0 only, layer 7 on half 1 only: each half's layer is the
    # other's best, so the held-out score is what those layers get on the unseen half.
    ranks = {
        3: np.array([0, 2, 0, 2, 0, 0]),
        7: np.array([1, 0, 1, 0, 1, 1]),
    }
    out = g.held_out_layer(ranks, halves)
    assert out["chosen_on_half_1"] == 7 and out["chosen_on_half_0"] == 3
    # Half 0 is scored at layer 7 (0 of 4 right), half 1 at layer 3 (0 of 2 right).
    assert out["top1"]["value"] == 0.0 and out["top1"]["n"] == 6


def test_valence_pc1_finds_a_planted_axis():
    rng = np.random.default_rng(1)
    emotions = ["happy", "sad", "calm", "angry", "proud", "lonely", "grateful", "bored"]
    valence = {"happy": 2.7, "sad": -2.1, "calm": 1.3, "angry": -2.3, "proud": 2.1}
    valence |= {"lonely": -2.0, "grateful": 2.0, "bored": -1.3}
    axis = rng.normal(size=40)
    vectors = np.outer([valence[e] for e in emotions], axis) + 0.05 * rng.normal(size=(8, 40))
    out = g.valence_pc1(emotions, vectors, valence)
    assert out["n"] == 8 and out["r"] > 0.99
    assert g.valence_pc1(emotions, -vectors, valence)["r"] > 0.99  # PC1's sign does not matter
    assert g.valence_pc1(["x", "y"], vectors[:2], valence)["r"] is None


# ---------------------------------------------------------------- the scenario test


def test_the_hierarchical_bootstrap_resamples_emotions_then_their_passages():
    """Two emotions always right and two always wrong, 5 passages each: a replicate's
    accuracy is the share of right emotions drawn (multiples of 1/4), so the interval is
    as wide as four emotions make it, not as narrow as 20 passages would."""
    labels = [e for e in "abcd" for _ in range(5)]
    hits = np.array([e in "ab" for e in labels], dtype=float)
    draws = g.hierarchical_indices(labels, replicates=300, seed=1)
    groups = {e: {i for i, lab in enumerate(labels) if lab == e} for e in "abcd"}
    for idx in draws[:20]:
        assert len(idx) == 20
        # Blocks of 5: each block drawn from one emotion's passages only.
        assert all(set(idx[k : k + 5]) <= groups[labels[idx[k]]] for k in range(0, 20, 5))
    means = g.hierarchical_bootstrap(hits, labels, 300, seed=1)
    assert set(np.round(means * 4, 9)) <= {0.0, 1.0, 2.0, 3.0, 4.0}
    low, high = g.accuracy_interval(hits, labels, 300, seed=1)
    assert low <= 0.25 and high >= 0.75
    wilson_low, wilson_high = g.wilson_interval(10, 20)
    assert high - low > wilson_high - wilson_low  # the passages are not independent
    # Hits spread evenly over the emotions: every emotion alike, the emotion draw adds nothing.
    even = np.array([i % 5 < 2 for i in range(20)], dtype=float)
    assert np.ptp(g.hierarchical_bootstrap(even, labels, 300, 1)) < np.ptp(means)


def test_the_tfidf_baseline_is_fitted_on_the_templates_only():
    """Templates that differ in the emotion word alone; scenarios never use it. The model
    has no column for a word only the scenarios use, so such words count for nothing, and
    every candidate ties (broken at random, not always for the first)."""
    templates = ["she walked home and felt {} about it", "the bus was late and he felt {}"]
    emotions = ["happy", "sad", "calm", "afraid"]
    texts = [t.format(e) for e in emotions for t in templates]
    labels = [e for e in emotions for _ in templates]
    vectorizer, centroids = g.fit_tfidf_centroids(texts, labels, emotions)
    scenarios = [f"a sunny picnic with a kite number {i}" for i in range(40)]
    truth = [emotions[i % 4] for i in range(40)]
    assert "picnic" not in vectorizer.vocabulary_ and "kite" not in vectorizer.vocabulary_
    ranks = g.tfidf_ranks(vectorizer, centroids, scenarios, truth, emotions)
    assert 0 < (ranks == 0).sum() < 40  # ties broken at random: some right, not all
    named = g.tfidf_ranks(vectorizer, centroids, ["oh so sad"], ["sad"], emotions)
    assert list(named) == [0]  # the one thing it can see: the emotion word


def test_the_paired_test_against_a_baseline():
    labels = [e for e in "abcdefgh" for _ in range(5)]
    # The vectors get 10 passages the baseline misses (spread over emotions), none the other
    # way: McNemar exact p = 2 / 2**10.
    vectors = np.zeros(40, dtype=bool)
    vectors[[0, 1, 5, 6, 10, 11, 15, 16, 20, 21]] = True
    baseline = np.zeros(40, dtype=bool)
    out = g.paired_comparison(vectors, baseline, labels, replicates=500, seed=0)
    assert out["value"] == pytest.approx(10 / 40)
    assert out["mcnemar"] == {"only_vectors": 10, "only_baseline": 0, "p": pytest.approx(2 / 1024)}
    assert out["ci"][0] > 0
    # The same number right on both sides, on different passages: no difference.
    swapped = g.paired_comparison(vectors, np.roll(vectors, 20), labels, 500, 0)
    assert swapped["value"] == 0 and swapped["mcnemar"]["p"] == 1.0
    assert swapped["ci"][0] < 0 < swapped["ci"][1]


def test_the_confusion_counts_what_each_emotion_is_taken_for():
    counts = g.confusion_counts(["a", "a", "b", "b"], ["a", "b", "b", "b"], ["a", "b", "c"])
    assert counts.tolist() == [[1, 1, 0], [0, 2, 0], [0, 0, 0]]


def test_ties_are_broken_at_random_with_a_fixed_seed():
    scores = np.zeros((200, 4))
    truth = np.zeros(200, dtype=int)
    rank, _ = g.ranks_of(scores, truth)
    assert 0.15 < (rank == 0).mean() < 0.35
    assert list(g.ranks_of(scores, truth)[0]) == list(rank)


def test_the_shipped_scenarios_name_none_of_the_171_emotions():
    """At least 24 emotions x 10 scenarios, and the neutral narrative reference (at least 40
    passages), none naming any emotion of the paper's list or any of its word forms."""
    from pathlib import Path

    from emotion_vectors.config import (
        read_emotion_list,
        read_neutral_narrative,
        read_scenarios,
        read_synonyms,
    )
    from emotion_vectors.wordforms import read_word_forms

    root = Path(__file__).resolve().parent.parent / "config"
    emotions = read_emotion_list(root / "emotions" / "all-171.txt")
    forms = read_word_forms(root / "emotions" / "word-forms.yaml")
    synonyms = read_synonyms(root / "corpus" / "synonyms.yaml")
    table = read_scenarios(root / "corpus" / "scenarios.yaml", synonyms, emotions, forms)
    assert len(table) >= 24 and all(len(p) >= 10 for p in table.values())
    assert set(table) <= set(emotions)
    neutral = read_neutral_narrative(root / "corpus" / "neutral_narrative.txt", emotions, forms)
    assert len(neutral) >= 40


def test_a_neutral_narrative_passage_that_names_an_emotion_is_refused(tmp_path):
    from emotion_vectors.config import ConfigError, read_neutral_narrative

    path = tmp_path / "narrative.txt"
    path.write_text("\n".join(["Tom walked to the shop and bought bread."] * 11 + [
        "Ana felt happy at the bus stop."]))  # fmt: skip
    with pytest.raises(ConfigError, match=r"passage 12.*happy"):
        read_neutral_narrative(path, ["happy", "sad"], {})


@pytest.mark.slow
def test_the_neutral_narrative_file_is_an_input_of_the_scenario_job(tmp_path):
    """The reference passages are pooled by the scenario job: a run config naming another
    file makes it that job's input, and changing the file reruns the job."""
    import shutil
    from pathlib import Path

    import yaml

    from emotion_vectors.layout import Layout

    from .conftest import MODEL, ROOT, run_snakemake

    narrative = tmp_path / "narrative.txt"
    shutil.copy(ROOT / "config" / "corpus" / "neutral_narrative.txt", narrative)
    cfg = tmp_path / "run.yaml"
    cfg.write_text(yaml.safe_dump({
        "emotions": ["happy", "sad", "calm", "afraid"], "layers": [20], "dtype": "float32",
        "generalisation": {"neutral_narrative": str(narrative)},
    }))  # fmt: skip
    target = Layout(tmp_path / "results").output("generalisation", "scenario_activations", MODEL)
    target = str(Path(target).relative_to(tmp_path))
    run_snakemake(tmp_path, target, "--configfile", str(cfg), cores=1)
    settled = run_snakemake(tmp_path, target, "-n", "--configfile", str(cfg), cores=1)
    assert "rule scenario_activations" not in settled.stdout
    with narrative.open("a") as f:
        f.write("Tom folded the map, put it in the glovebox and started the engine.\n")
    planned = run_snakemake(tmp_path, target, "-n", "--configfile", str(cfg), cores=1)
    assert "rule scenario_activations" in planned.stdout
    assert str(narrative) in planned.stdout
