"""The EmoBank experiment: its maths on constructed data (a known r, signs and choices
fitted on the training sentences only, paired intervals), its sentence cache, and the
dataset checksum checked before any job runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from emotion_vectors.emobank import (
    compare,
    fill_unrated,
    fit_axis,
    lexicon_scores,
    project,
    ridge_probe,
    rowwise_pearson,
    strongest,
    subsample,
    vader_compound,
)
from emotion_vectors.stats import pearson

from .conftest import MODEL, ROOT, run_snakemake

EMOBANK_SHA256 = "1ade4a4a453e880c0f39d0536d2b355e8a716e0cf88236c64cdb4d438cf9605b"


def _sentences(n: int, r: float, seed: int, width: int = 8):
    """States whose coordinate on direction 1 (of 3 orthonormal) correlates r with the
    labels; direction 0 is noise, direction 2 carries the labels negatively and weakly."""
    rng = np.random.default_rng(seed)
    labels = rng.normal(3, 0.5, n)
    z = (labels - labels.mean()) / labels.std()
    signal = r * z + np.sqrt(1 - r * r) * rng.normal(size=n)
    states = rng.normal(size=(n, width)) * 0.01
    states[:, 0] += rng.normal(size=n)
    states[:, 1] += signal
    states[:, 2] += -0.3 * z + rng.normal(size=n)
    return states, labels, np.eye(width)[:3]


def test_the_fitted_axis_recovers_a_known_r_with_its_sign_from_train():
    train, train_y, directions = _sentences(2000, 0.6, 0)
    test, test_y, _ = _sentences(2000, 0.6, 1)
    axis = fit_axis(train, train_y, -directions, [0, 1, 2])  # every direction points "wrong"
    assert axis.component == 1 and axis.sign == -1.0
    scores = project(test, -directions, axis)
    assert pearson(scores, test_y) == pytest.approx(0.6, abs=0.05)


def test_permuted_test_labels_give_r_near_zero_since_nothing_is_fitted_on_test():
    train, train_y, directions = _sentences(2000, 0.6, 0)
    test, test_y, _ = _sentences(1000, 0.6, 1)
    axis = fit_axis(train, train_y, directions, [1, 2])
    shuffled = np.random.default_rng(3).permutation(test_y)
    result = compare({"axis": project(test, directions, axis)}, shuffled, "axis", 500, 0)
    assert abs(result["axis"].r) < 0.08
    low, high = result["axis"].ci
    assert low < 0 < high


def test_an_axis_fitted_on_permuted_train_labels_has_no_sign_to_find():
    """The sign and the component come from train alone: with train labels shuffled, the
    fitted train r is small and the test r is not reliably positive."""
    train, train_y, directions = _sentences(1000, 0.6, 0)
    test, test_y, _ = _sentences(1000, 0.6, 1)
    shuffled = np.random.default_rng(1).permutation(train_y)
    axis = fit_axis(train, shuffled, directions, [1])
    assert axis.train_r < 0.1
    assert abs(pearson(project(test, directions, axis), test_y)) == pytest.approx(0.6, abs=0.06)


def test_paired_difference_interval_separates_a_better_method_only():
    test, test_y, _ = _sentences(1000, 0.6, 1)
    rng = np.random.default_rng(5)
    z = (test_y - test_y.mean()) / test_y.std()
    scores = {
        "axis": test[:, 1],
        "weak": 0.3 * z + rng.normal(size=len(z)),
        "same": test[:, 1] + 0.01 * rng.normal(size=len(z)),
    }
    result = compare(scores, test_y, "axis", 1000, 0)
    assert result["weak"].difference_ci[0] > 0  # the axis is ahead of a weaker method
    low, high = result["same"].difference_ci
    assert low < 0 < high  # and not of (almost) itself
    assert result["axis"].ci[0] < result["axis"].r < result["axis"].ci[1]
    assert strongest(result, ["weak", "same"]) == "same"


def test_rowwise_pearson_matches_pearson():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(3, 50)), rng.normal(size=(3, 50))
    expected = [pearson(a, b) for a, b in zip(x, y, strict=True)]
    assert np.allclose(rowwise_pearson(x, y), expected)


def test_the_ridge_probe_is_fitted_on_train_and_generalises():
    rng = np.random.default_rng(0)
    weights = rng.normal(size=40)
    train_x, test_x = rng.normal(size=(300, 40)), rng.normal(size=(300, 40))
    train_y = train_x @ weights + rng.normal(size=300)
    test_y = test_x @ weights + rng.normal(size=300)
    predicted, alpha = ridge_probe(train_x, train_y, test_x, [0.001, 0.01, 1.0, 100.0])
    assert pearson(predicted, test_y) > 0.9
    assert alpha < 100.0
    noise, _ = ridge_probe(train_x, rng.normal(size=300), test_x, [0.01, 1.0])
    assert abs(pearson(noise, test_y)) < 0.4  # chance: |cos| of two random 40-d weights


def test_subsample_is_seeded_sorted_and_complete_when_asked_for_everything():
    a, b = subsample(100, 10, 7), subsample(100, 10, 7)
    assert np.array_equal(a, b) and np.all(np.diff(a) > 0) and len(set(a)) == 10
    assert not np.array_equal(a, subsample(100, 10, 8))
    assert np.array_equal(subsample(5, 10, 0), np.arange(5))


def test_lexicon_scores_average_the_rated_words_and_fill_the_unrated():
    lexicon = {"happy": 8.0, "sad": 2.0, "don't": 4.0}
    scores = lexicon_scores(["Happy, happy SAD day", "nothing here", "I don't"], lexicon)
    assert scores[0] == pytest.approx(6.0) and np.isnan(scores[1]) and scores[2] == 4.0
    assert fill_unrated(scores, 5.0)[1] == 5.0


def test_vader_scores_are_oriented_by_valence():
    good, bad = vader_compound(["What a wonderful, happy day!", "This is a terrible loss."])
    assert good > 0.5 and bad < -0.3


# ---------------------------------------------------------------- config and workflow


def test_a_changed_dataset_stops_the_run_naming_its_checksum_key(tmp_path):
    from emotion_vectors.config import ConfigError
    from emotion_vectors.run_config import load_run_config

    changed = tmp_path / "emobank.csv"
    text = (ROOT / "config" / "datasets" / "emobank.csv").read_text(encoding="utf-8")
    changed.write_text(text[: len(text) // 2], encoding="utf-8")  # truncated
    config = {"emobank": {"data": {"path": str(changed), "sha256": EMOBANK_SHA256}}}
    with pytest.raises(ConfigError) as raised:
        load_run_config(config)
    message = str(raised.value)
    assert "emobank.data.sha256" in message and str(changed) in message
    assert "not the recorded version" in message


def _emobank_config(work, emotions) -> str:
    path = work / "emobank.yaml"
    settings = {
        "emotions": emotions,
        "layers": [5, 20],
        "dtype": "float32",
        "analyses": ["emobank"],
        "emobank": {"train_sentences": 60, "test_sentences": 120, "bootstrap": 200},
    }
    path.write_text(yaml.safe_dump(settings))
    return str(path)


@pytest.mark.slow
def test_the_workflow_scores_emobank_and_adding_an_emotion_pools_no_sentence(tmp_path):
    from emotion_vectors.layout import Layout

    emotions = ["happy", "sad", "calm", "afraid", "angry"]
    run_snakemake(tmp_path, "--configfile", _emobank_config(tmp_path, emotions))
    layout = Layout(tmp_path / "results")
    outputs = layout.outputs("emobank", MODEL)
    assert all(Path(p).stat().st_size > 0 for p in outputs.values())
    table = pd.read_csv(outputs["table"])
    assert {"emotion vectors, PC1", "VADER compound", "supervised probe, layer 20"} <= set(
        table["method"]
    )
    summary = json.loads(Path(layout.summary(MODEL)).read_text())
    assert summary["emobank_n_test"] == 120 and summary["emobank_n_train_used"] <= 60
    assert summary["emobank_arousal_r"]["component"] in ("PC2", "PC3")
    lo, hi = summary["emobank_valence_r"]["ci"]
    assert lo < summary["emobank_valence_r"]["value"] < hi
    assert isinstance(summary["holds"]["emobank_valence"], bool)
    assert "paired bootstrap" in summary["decided_against"]["emobank_arousal"]
    cache = Path(layout.cache(MODEL, "emobank"))
    entries = {p.name: p.stat().st_mtime_ns for p in cache.glob("*.parquet")}
    assert len(entries) == 2  # one per split

    run_snakemake(tmp_path, "--configfile", _emobank_config(tmp_path, [*emotions, "lonely"]))
    log = Path(layout.log(MODEL, "templates", "model_analyses")).read_text()
    assert "train: 60 pooled sentences from the cache" in log
    assert "test: 120 pooled sentences from the cache" in log
    assert {p.name: p.stat().st_mtime_ns for p in cache.glob("*.parquet")} == entries
    assert json.loads(Path(outputs["json"]).read_text())["emotions"] == 6
