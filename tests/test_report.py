"""Headline numbers and the cross-model comparison, on hand-made analysis outputs: every
number travels with its interval and control, and each verdict follows its control."""

import json
from pathlib import Path

import pandas as pd

from emotion_vectors.jobs.report import corpus_headline, write_comparison, write_summary
from emotion_vectors.layout import Layout
from emotion_vectors.report import SEED_REFERENCE, fmt_measure

GEOMETRY = {
    "model": "m",
    "corpus": "templates",
    "layer": 20,
    "explained_variance": [0.26, 0.10, 0.05],
    "valence": {
        "pearson": 0.72, "spearman": 0.70, "n": 139, "source": "vader", "ci": [0.63, 0.79],
        "ci_method": "fisher", "null_p95": 0.17, "null_mean": 0.07, "permutations": 1000,
        "p": 0.001, "word_embedding": {"value": 0.55, "ci": [0.42, 0.66]},
    },
    "arousal": None,
    "sanity": {"passed": 4, "total": 5, "skipped": 0},
    # The lexical control the verdict is decided against: probe on vectors minus words.
    "valence_verdict_norm": "vader",
    "probe": {"valence_vader": {"difference": {"value": 0.12, "ci": [0.06, 0.18]}}},
}  # fmt: skip
LENS = {
    "model": "m",
    "layer": 20,
    "hit_rate": {"value": 0.4, "ci": [0.33, 0.48], "ci_method": "wilson", "hits": 68,
                 "n": 171, "chance": 0.05, "p": 0.2},
}  # fmt: skip
STEERING = {
    "layer": 20,
    "strength": 1.0,
    "unit": 224.0,
    "n_emotions": 171,
    "self_positive": {"value": 0.95, "ci": [0.91, 0.97], "ci_method": "wilson", "n": 171},
    "self_median": 1.1,
    "self_min": -0.2,
    "self_max": 3.0,
    "self_min_emotion": "docile",
    "self_max_emotion": "loving",
    "cross": None,
}
CONTROLS = {
    "random_directions": 50,
    "beats_random": {"value": 0.62, "ci": [0.55, 0.69], "ci_method": "wilson", "alpha": 0.05},
    "own_positive": {"value": 0.95},
    "shuffled_positive": {"value": 0.7, "ci": [0.63, 0.76]},
    "median_own_minus_random": 1.4,
    "smallest_p": 1 / 51,
}
GENERALISATION = {
    "analysis_layer": 20,
    "corpora": ["templates"],
    "per_corpus": {
        "templates": {
            "top1": {"value": 0.5, "ci": [0.38, 0.62], "chance": 1 / 12, "p": 1e-9},
            "top3": {"value": 0.8, "ci": [0.68, 0.88], "chance": 0.25, "p": 1e-9},
            "baselines": {"input embeddings": {"value": 0.2, "ci": [0.12, 0.32]}},
            "versus_baselines": {
                "input embeddings": {"value": 0.3, "ci": [0.1, 0.5], "mcnemar": {"p": 0.001}}
            },
            "strongest_baseline": "input embeddings",
            "beats_baselines": True,
        }
    },
    "lexical_baseline": {"top1": {"value": 0.2, "ci": [0.12, 0.32], "chance": 1 / 12}},
}


def test_headline_reads_every_registered_analysis(tmp_path):
    files = {}
    for name, data in (("geometry", GEOMETRY), ("lens", LENS), ("steering", STEERING),
                       ("steering_controls", CONTROLS)):  # fmt: skip
        files[name] = tmp_path / f"{name}.json"
        files[name].write_text(json.dumps(data))
    h = corpus_headline(files)
    assert h["pc1_variance"] == 0.26 and h["valence_r"]["value"] == 0.72
    assert h["valence_r"]["null_p95"] == 0.17 and h["valence_r"]["word_embedding_r"] == 0.55
    assert h["lens_hit_rate"]["chance"] == 0.05
    assert h["self_steering_positive_share"]["value"] == 0.95
    assert h["steering_beats_random"]["value"] == 0.62
    # Valence beats its null, the lens does not beat chance (p 0.2), steering beats the
    # random directions for 62 % of emotions (> half).
    assert h["holds"] == {"valence_geometry": True, "logit_lens": False, "steering": True}


def _holds(tmp_path, **changes):
    """The verdicts of hand-made analysis outputs, each changed as given."""
    files = {}
    for name, data in (("geometry", GEOMETRY), ("lens", LENS), ("steering_controls", CONTROLS)):
        files[name] = tmp_path / f"{name}.json"
        files[name].write_text(json.dumps({**data, **changes.get(name, {})}))
    return corpus_headline(files)["holds"]


def test_verdicts_follow_the_controls_not_the_raw_numbers(tmp_path):
    # A high r inside the shuffled-label null does not hold; a modest one beyond it does.
    inside = {**GEOMETRY["valence"], "pearson": 0.9, "p": 0.2}
    assert _holds(tmp_path, geometry={"valence": inside})["valence_geometry"] is False
    beyond = {**GEOMETRY["valence"], "pearson": 0.3, "p": 0.01}
    assert _holds(tmp_path, geometry={"valence": beyond})["valence_geometry"] is True
    # Own words raised for every emotion, but few beat the random directions.
    few = {"beats_random": {"value": 0.3}, "own_positive": {"value": 1.0}}
    assert _holds(tmp_path, steering_controls=few)["steering"] is False
    assert corpus_headline({})["holds"] == {}


def test_measures_print_with_their_intervals():
    assert fmt_measure({"value": 0.912, "ci": [0.88, 0.94]}) == "0.91 [0.88, 0.94]"
    assert fmt_measure({"value": 0.27, "ci": [0.2, 0.34]}, percent=True) == "27 % [20, 34 %]"
    assert fmt_measure({"value": 0.5}) == "0.50" and fmt_measure(None) is None


def test_summary_and_comparison_files(tmp_path):
    meta = {
        "emotions": ["a"] * 171, "analysis_layer": 20, "layers": list(range(1, 31)),
        "dtype": "float32", "device": "cpu", "denoising": {"20": {"components": 7}},
    }  # fmt: skip
    files = {}
    for name, data in (("meta", meta), ("geometry", GEOMETRY), ("lens", LENS),
                       ("steering", STEERING), ("steering_controls", CONTROLS),
                       ("generalisation", GENERALISATION)):  # fmt: skip
        files[name] = tmp_path / f"{name}.json"
        files[name].write_text(json.dumps(data))
    out = Path(Layout(tmp_path).summary("m"))
    out.parent.mkdir()
    per_corpus = {k: files[k] for k in ("geometry", "lens", "steering", "steering_controls")}
    summary = write_summary(
        out, model="m", num_layers=30, meta_files={"templates": files["meta"]},
        analysis_files={"templates": per_corpus},
        model_files={"generalisation": files["generalisation"]},
    )  # fmt: skip
    on_disk = json.loads(out.read_text())
    assert on_disk == json.loads(json.dumps(summary))
    assert on_disk["emotions"] == 171 and on_disk["analysis_layer"] == 20
    assert on_disk["neutral_components_removed"] == 7
    assert on_disk["corpora"]["templates"]["pc1_variance"] == 0.26
    assert on_disk["holds"]["implicit_scenarios"] is True
    assert "input embeddings" in on_disk["decided_against"]["implicit_scenarios"]

    df = write_comparison([str(out)], tmp_path / "c.csv", tmp_path / "c.html")
    assert list(df["model"]) == ["m", SEED_REFERENCE["model"]]
    assert pd.read_csv(tmp_path / "c.csv").shape[0] == 2
    page = (tmp_path / "c.html").read_text()
    assert "20 / 30" in page and "4/5" in page and "does not hold" in page
    assert "0.72 [0.63, 0.79]" in page and "null p95 0.17; words 0.55" in page
    assert "62 % [55, 69 %]" in page and "chance 0.08; words 0.20" in page
    assert "llama-3.2-1b-instruct (seed write-up)" in page
