"""Headline numbers and the cross-model comparison, on hand-made analysis outputs."""

import json

import pandas as pd

from emotion_vectors.report import (
    SEED_REFERENCE,
    corpus_headline,
    verdicts,
    write_comparison,
    write_summary,
)

GEOMETRY = {
    "model": "m",
    "corpus": "templates",
    "layer": 20,
    "explained_variance": [0.26, 0.10, 0.05],
    "valence": {"pearson": 0.72, "spearman": 0.70, "n": 139, "source": "vader"},
    "arousal": None,
    "sanity": {"passed": 4, "total": 5, "skipped": []},
}
LENS = {
    "model": "m",
    "corpus": "templates",
    "layer": 20,
    "top_k": 10,
    "hit_rate": 0.4,
    "n_emotions": 171,
    "hits": ["happy"],
}
STEERING = {
    "model": "m",
    "corpus": "templates",
    "layer": 20,
    "strength": 1.0,
    "n_emotions": 171,
    "self_positive_share": 0.95,
    "self_median": 1.1,
    "self_min": -0.2,
    "self_max": 3.0,
    "self_min_emotion": "docile",
    "self_max_emotion": "loving",
}


def test_headline_reads_every_analysis():
    h = corpus_headline(GEOMETRY, LENS, STEERING)
    assert h["pc1_variance"] == 0.26 and h["valence_r"] == 0.72 and h["valence_n"] == 139
    assert h["sanity_passed"] == 4 and h["lens_hit_rate"] == 0.4
    assert h["self_steering_positive_share"] == 0.95
    assert h["holds"] == {"valence_geometry": True, "logit_lens": False, "steering": True}


def test_verdicts_are_none_when_not_measured():
    assert verdicts({}) == {"valence_geometry": None, "logit_lens": None, "steering": None}
    weak = verdicts({"valence_r": -0.3, "sanity_passed": 5, "sanity_total": 5})
    assert weak["valence_geometry"] is False


def test_summary_and_comparison_files(tmp_path):
    files = {}
    for name, data in {
        "meta": {
            "emotions": ["a"] * 171,
            "analysis_layer": 20,
            "layers": list(range(1, 31)),
            "dtype": "float32",
            "device": "cpu",
        },
        "geometry": GEOMETRY,
        "lens": LENS,
        "steering": STEERING,
        "generalisation": {
            "analysis_layer": 20,
            "corpora": ["templates", "stories"],
            "per_corpus": {
                "templates": {"top1": 0.5, "top3": 0.8, "chance_top1": 1 / 12},
                "stories": {"top1": 0.25, "top3": 0.6, "chance_top1": 1 / 12},
            },
            "better_on_scenarios": "templates",
        },
    }.items():
        files[name] = tmp_path / f"{name}.json"
        files[name].write_text(json.dumps(data))
    out = tmp_path / "m" / "summary.json"
    out.parent.mkdir()
    summary = write_summary(
        "m",
        30,
        {"templates": files["meta"]},
        {"templates": files["geometry"]},
        {"templates": files["lens"]},
        {"templates": files["steering"]},
        out,
        generalisation_file=files["generalisation"],
    )
    on_disk = json.loads(out.read_text())
    assert on_disk == json.loads(json.dumps(summary))
    assert on_disk["emotions"] == 171 and on_disk["analysis_layer"] == 20
    assert on_disk["corpora"]["templates"]["pc1_variance"] == 0.26

    df = write_comparison([str(out)], tmp_path / "c.csv", tmp_path / "c.html")
    assert list(df["model"]) == ["m", SEED_REFERENCE["model"]]
    assert pd.read_csv(tmp_path / "c.csv").shape[0] == 2
    page = (tmp_path / "c.html").read_text()
    assert "20 / 30" in page and "4/5" in page and "does not hold" in page
    assert on_disk["generalisation"]["better_on_scenarios"] == "templates"
    assert "templates 0.50, stories 0.25 (chance 0.08)" in page
    assert "+3.00 (loving)" in page and "llama-3.2-1b-instruct (seed write-up)" in page
