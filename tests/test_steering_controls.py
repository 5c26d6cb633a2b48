"""The steering controls' maths: seeded random directions that do not depend on how many are
drawn (so a word's null can be cached), shuffled partners, per-word p-values."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from emotion_vectors.steering_controls import (
    content_key,
    covariance_directions,
    null_stats,
    off_template_words,
    other_sample,
    random_directions,
    resampled_share,
    shuffled_partners,
    summarise,
    word_table,
)


def test_random_directions_are_unit_seeded_and_stable_in_number():
    ten = random_directions(10, 64, seed=3)
    np.testing.assert_allclose(np.linalg.norm(ten, axis=1), 1.0)
    np.testing.assert_array_equal(random_directions(4, 64, seed=3), ten[:4])
    assert not np.allclose(random_directions(4, 64, seed=4), ten[:4])
    # Nearly orthogonal in a wide space, as random directions should be.
    cos = ten @ ten.T - np.eye(10)
    assert np.abs(cos).max() < 0.6


def test_shuffled_partners_never_pair_a_word_with_its_own_vector():
    emotions = [f"e{i}" for i in range(7)]
    partners = shuffled_partners(emotions, seed=0)
    assert sorted(partners.values()) == emotions
    assert all(partners[e] != e for e in emotions)
    assert partners == shuffled_partners(emotions, seed=0)


def test_word_p_values_and_the_headline():
    null = pd.DataFrame(
        {
            "word": ["a"] * 19 + ["b"] * 19,
            "direction": list(range(19)) * 2,
            "change": list(np.linspace(-1, 1, 19)) * 2,
        }
    )
    own = {"a": 5.0, "b": 0.0}  # a beats every random direction, b about half
    table = word_table(own, {"a": -1.0, "b": 0.5}, null).set_index("emotion")
    assert table.loc["a", "p"] == pytest.approx(1 / 20)
    assert table.loc["b", "p"] == pytest.approx(11 / 20)  # 10 of 19 at least as high
    headline = summarise(table.reset_index(), alpha=0.06)
    assert headline["beats_random"]["value"] == 0.5
    assert headline["own_positive"]["value"] == 0.5  # 0.0 is not a rise
    assert headline["shuffled_positive"]["value"] == 0.5
    assert headline["smallest_p"] == pytest.approx(1 / 20)


def test_the_z_score_p_is_not_floored_where_the_empirical_p_is():
    rng = np.random.default_rng(0)
    null = rng.normal(0, 1, size=(3, 50))
    stats = null_stats([10.0, 0.0, -10.0], null)
    # Far above every draw: the empirical p sits at its floor 1 / 51, the z-test p far below.
    assert stats.loc[0, "p_empirical"] == pytest.approx(1 / 51)
    assert stats.loc[0, "p"] < 1e-10 and stats.loc[0, "z"] > 5
    assert stats.loc[0, "share_beaten"] == 1.0 and stats.loc[2, "share_beaten"] == 0.0
    expected = (0.0 - null[1].mean()) / null[1].std(ddof=1)
    assert stats.loc[1, "z"] == pytest.approx(expected)
    # A missing draw (the word's own emotion in the other-emotions null) is left out.
    with_gap = null.copy()
    with_gap[0, 0] = np.nan
    assert null_stats([10.0, 0.0, 0.0], with_gap).loc[0, "n"] == 49


def test_the_resampled_interval_is_wider_than_wilson_when_the_draws_are_shared():
    """Every word is tested against the same draws: when the words' null effects share most
    of their variation, whether a word beats its null depends on the draws as a whole, and
    resampling the draws moves the share of words far more than Wilson over words says."""
    rng = np.random.default_rng(1)
    words, draws = 120, 30
    shared = rng.normal(0, 1, draws)
    null = shared[None, :] + 0.2 * rng.normal(0, 1, (words, draws))
    own = shared.mean() + 1.645 * shared.std(ddof=1) + 0.1 * rng.normal(0, 1, words)
    result = resampled_share(own, null, [f"e{i}" for i in range(words)], 0.05, 400, seed=0)
    low, high = result["share"]["ci"]
    wilson_low, wilson_high = result["wilson_over_words"]
    assert low <= result["share"]["value"] <= high
    assert high - low > 2 * (wilson_high - wilson_low)
    # Independent nulls per word: the two intervals are about the same width.
    independent = rng.normal(0, 1, (words, draws))
    own = 1.645 + 0.5 * rng.normal(0, 1, words)
    result = resampled_share(own, independent, [f"e{i}" for i in range(words)], 0.05, 400, 0)
    width = result["share"]["ci"][1] - result["share"]["ci"][0]
    wilson = result["wilson_over_words"][1] - result["wilson_over_words"][0]
    assert 0.6 * wilson < width < 1.8 * wilson


def test_covariance_matched_draws_have_the_target_covariance():
    rng = np.random.default_rng(2)
    vectors = rng.normal(0, 1, (8, 5)) * [3.0, 1.0, 0.5, 2.0, 0.1]
    target = np.cov(vectors, rowvar=False)
    draws = covariance_directions(vectors, 20_000, seed=4)
    np.testing.assert_allclose(np.cov(draws, rowvar=False), target, atol=0.06 * target.max())
    np.testing.assert_allclose(draws.mean(axis=0), 0, atol=0.05 * np.sqrt(target.max()))
    # Seeded and stable in number, like the random directions.
    np.testing.assert_array_equal(covariance_directions(vectors, 3, seed=4), draws[:3])
    assert not np.allclose(covariance_directions(vectors, 3, seed=5), draws[:3])
    # The draws lie in the span of the vectors (rank 7 of the centred 8).
    assert np.linalg.matrix_rank(draws[:50]) == 5 and content_key(vectors) != content_key(draws)


def test_other_emotions_sample_is_seeded_and_all_when_asked():
    emotions = [f"e{i}" for i in range(30)]
    sample = other_sample(emotions, 10, seed=0)
    assert len(set(sample)) == 10 and sample == other_sample(emotions, 10, seed=0)
    assert other_sample(emotions, 0, seed=0) == emotions == other_sample(emotions, 99, 0)


def test_off_template_words_are_absent_from_every_rendered_template():
    """The real templates, synonyms and word forms: every chosen word is absent, as a
    word, from every passage of the run, and is neither the emotion nor another emotion."""
    from emotion_vectors.config import read_synonyms, read_templates
    from emotion_vectors.corpus import render
    from emotion_vectors.wordforms import read_word_forms

    from .conftest import ROOT

    templates = read_templates(ROOT / "config" / "corpus" / "templates.yaml")
    synonyms = read_synonyms(ROOT / "config" / "corpus" / "synonyms.yaml")
    forms = read_word_forms(ROOT / "config" / "emotions" / "word-forms.yaml")
    emotions = (ROOT / "config" / "emotions" / "all-171.txt").read_text().split("\n")
    emotions = [e.strip() for e in emotions if e.strip() and not e.startswith("#")]
    candidates = {e: [*synonyms.get(e, []), *forms.get(e, [])] for e in emotions}
    passages = [render(t["text"], e) for t in templates for e in emotions]
    chosen = off_template_words(emotions, candidates, passages, max_words=10)
    # The passages as space-separated lower-case words (hyphenated words split too).
    spaced = " ".join(" ".join(re.findall(r"[a-z]+", p.lower())) for p in passages)
    spaced = f" {spaced} "
    assert sum(map(len, chosen.values())) > 100
    for emotion, words in chosen.items():
        assert words and len(words) <= 10
        for word in words:
            assert word != emotion and word not in emotions
            assert f" {' '.join(re.findall(r'[a-z]+', word))} " not in spaced, (emotion, word)
    # afraid -> fear, fearful ...; scared and terrified are emotions of the run themselves.
    assert chosen["afraid"][:2] == ["fear", "fearful"] and "terrified" not in chosen["afraid"]
    few = ["afraid", "happy", "sad", "calm"]
    alone = off_template_words(few, candidates, [render(t["text"], e) for t in templates
                                                 for e in few], max_words=10)  # fmt: skip
    assert "scared" in alone["afraid"] and "terrified" in alone["afraid"]
    # A candidate the templates use ("radio") is dropped; a refused one too.
    assert off_template_words(["calm"], {"calm": ["radio", "unruffled"]}, passages, 5) == {
        "calm": ["unruffled"]
    }
    assert off_template_words(["calm"], {"calm": ["unruffled"]}, [], 5, lambda w: False) == {}


def _job(smollm2, tmp_path, emotions, layer=6):
    """A ModelJob on the real model whose vectors of `layer` are given, not read."""
    from emotion_vectors.jobs.model_analyses import ModelJob

    job = ModelJob(
        smollm2, "templates", layer, [layer], "unused.parquet", {layer: 300.0},
        {"steering_null": str(tmp_path)}, {},
    )  # fmt: skip
    rng = np.random.default_rng(len(emotions))
    job._matrices[layer] = (list(emotions), rng.normal(size=(len(emotions), 576)))
    return job


def test_the_nulls_are_cached_per_word(smollm2, tmp_path, caplog):
    """Adding a word computes only its null; the covariance-matched null is keyed on the
    vectors' content, so new vectors (an emotion added) recompute it."""
    from emotion_vectors.jobs.steering_controls import covariance_effects, random_effects
    from emotion_vectors.steering import SteeringSession

    settings = {"question": "How does he feel?", "answer_prefix": "He feels", "batch_size": 8}
    job = _job(smollm2, tmp_path, ["happy", "sad", "calm"])

    def session():  # a fresh one each time: no memo shared between the calls
        return SteeringSession.open(smollm2, settings, job.residual_norms)

    caplog.set_level("INFO", logger="emotion_vectors")
    for effects in (random_effects, covariance_effects):
        first = effects(job, session(), 6, ["happy", "sad"], 12, 0, 1.0)
        assert "0 words cached, computing ['happy', 'sad']" in caplog.text
        again = effects(job, session(), 6, ["happy", "sad", "calm"], 12, 0, 1.0)
        assert "2 words cached, computing ['calm']" in caplog.text
        pd.testing.assert_frame_equal(
            again[again["word"] != "calm"].reset_index(drop=True), first.reset_index(drop=True)
        )
        assert len(again) == 3 * 12 and again["change"].std() > 0
        caplog.clear()
    bigger = _job(smollm2, tmp_path, ["happy", "sad", "calm", "lonely"])
    random_effects(bigger, session(), 6, ["happy", "sad", "calm"], 12, 0, 1.0)
    assert "3 words cached, computing []" in caplog.text
    covariance_effects(bigger, session(), 6, ["happy", "sad", "calm"], 12, 0, 1.0)
    assert "covariance null at layer 6: 0 words cached" in caplog.text


def test_the_controls_on_a_small_real_run(tmp_path):
    """`analyses: [steering_controls]` on four emotions: every test is there (He feels and
    the second frame, emotion words and off-template words), its off-template words are
    absent from the rendered templates, and the verdict names its control."""
    import json
    from pathlib import Path

    from emotion_vectors.config import read_templates
    from emotion_vectors.corpus import render
    from emotion_vectors.layout import Layout

    from .conftest import MODEL, ROOT, run_snakemake

    emotions = ["happy", "sad", "calm", "afraid"]
    cfg = tmp_path / "some.yaml"
    cfg.write_text(
        f"emotions: [{', '.join(emotions)}]\nlayers: [5, 20]\nanalyses: [steering_controls]\n"
        "steering_controls: {random_directions: 20, covariance_directions: 10, bootstrap: 200}\n"
    )
    run_snakemake(tmp_path, "--configfile", str(cfg))
    layout = Layout(tmp_path / "results")
    files = layout.outputs("steering_controls", MODEL)
    controls = json.loads(Path(files["json"]).read_text())
    frames = ["He feels", "The mood in the room was"]
    assert controls["frames"] == frames
    kinds = ("emotion word", "off-template word")
    assert sorted(controls["tests"]) == sorted(f"{f} / {k}" for f in frames for k in kinds)
    tests = pd.read_csv(files["tests"])
    off = tests[tests["kind"] == "off-template word"]
    assert set(off["emotion"]) == set(emotions) and len(off) == 2 * 2 * len(emotions)
    passages = " ".join(
        render(t["text"], e).lower()
        for t in read_templates(ROOT / "config" / "corpus" / "templates.yaml")
        for e in emotions
    )
    assert all(not re.search(rf"\b{w}\b", passages) for w in off["word"])
    assert np.isfinite(tests[["other_emotions_z", "covariance_z"]]).all().all()
    # The other-emotions null of a word never holds its own emotion's vector.
    assert (tests["other_emotions_n"] == len(emotions) - 1).all()
    words = pd.read_csv(files["words"])
    assert sorted(words["emotion"]) == sorted(emotions) and "covariance_z" in words
    summary = json.loads(Path(layout.summary(MODEL)).read_text())
    assert isinstance(summary["holds"]["steering"], bool)
    assert "other emotions' vectors" in summary["decided_against"]["steering"]
    share = summary["steering_beats_other_emotions"]
    assert share["ci"][0] <= share["value"] <= share["ci"][1]
    assert Path(files["figure"]).stat().st_size > 30_000
