"""The story corpus in a real Snakemake run on the real writer, with a tiny story budget:
both corpora side by side, adding an emotion writes only its stories, and the
generalisation measurements come out for both corpora."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from emotion_vectors.layout import Layout

from .conftest import MODEL, run_snakemake

pytestmark = pytest.mark.slow

TARGET = Layout("results").output("generalisation", "json", MODEL)
# One thread per model job: two model jobs then share the 2 cores instead of fighting over them.
THREADS = [
    "--set-threads",
    "story_passages=1",
    "extract_activations=1",
    "scenario_activations=1",
    "story_curve=1",
]


def _config(workdir, emotions):
    (workdir / "topics.txt").write_text("waiting for a bus\nbaking bread\n")
    path = workdir / "stories-config.yaml"
    cfg = {
        "corpora": ["templates", "stories"],
        "emotions": emotions,
        "layers": [5, 20],
        # float32: the story curve rebuilds the story vectors in a pass of its own, batched
        # differently; bfloat16 rounding would let near-ties of a 5-story run flip.
        "dtype": "float32",
        "stories": {
            "topics": str(workdir / "topics.txt"),
            "max_new_tokens": 16,
            "batch_size": 2,
            "min_words": 3,
            "max_attempts": 2,
            "pool_start": 2,
        },
        "generalisation": {"story_curve": {"sizes": [2, 4], "pool_starts": [0, 2], "draws": 3}},
    }
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


@pytest.fixture(scope="module")
def story_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("stories")
    run_snakemake(work, TARGET, *THREADS, "--configfile", _config(work, ["happy", "sad"]))
    layout = Layout(work / "results")
    stories = Path(layout.passages_dir("stories"))
    snapshot = {p.name: p.read_bytes() for p in stories.glob("*.parquet")}
    first = json.loads(Path(layout.story_report()).read_text())
    cfg = _config(work, ["happy", "sad", "calm"])
    run_snakemake(work, TARGET, *THREADS, "--configfile", cfg)
    return {"work": work, "layout": layout, "snapshot": snapshot, "first": first}


def test_stories_are_written_and_obey_the_rule(story_run):
    import pandas as pd

    from emotion_vectors.wording import find_forbidden, forbidden_pattern

    first = story_run["first"]
    assert sorted(first["written"]) == ["happy", "sad"]
    assert first["this_run"]["tokens_per_second"] > 0
    assert set(first["per_emotion"]) == {"happy", "sad"}
    for emotion in ("happy", "sad", "calm"):
        df = pd.read_parquet(story_run["layout"].passages(emotion, "stories"))
        assert 1 <= len(df) <= 2
        assert all(find_forbidden(t, forbidden_pattern(emotion)) is None for t in df["text"])


def test_adding_an_emotion_writes_only_its_stories(story_run):
    layout = story_run["layout"]
    report = json.loads(Path(layout.story_report()).read_text())
    assert report["written"] == ["calm"]
    assert set(report["per_emotion"]) == {"happy", "sad", "calm"}  # old stats from the cache
    folder = Path(layout.passages_dir("stories"))
    assert story_run["snapshot"]
    for name, data in story_run["snapshot"].items():
        assert (folder / name).read_bytes() == data


def test_both_corpora_side_by_side_and_measured(story_run):
    layout = story_run["layout"]
    for corpus in ("templates", "stories"):
        assert Path(layout.vectors(MODEL, corpus)).exists()
    story_extraction = json.loads(Path(layout.extraction_report(MODEL, "stories")).read_text())
    assert story_extraction["computed"] == ["calm"]  # the story activations are cached too
    files = layout.outputs("generalisation", MODEL)
    out = json.loads(Path(files["json"]).read_text())
    assert out["corpora"] == ["templates", "stories"]
    assert out["scenario_emotions"] == ["happy", "sad", "calm"]
    for corpus in ("templates", "stories"):
        entry = out["per_corpus"][corpus]
        assert 0 <= entry["top1"]["value"] <= entry["top3"]["value"] <= 1
        assert entry["top1"]["chance"] == pytest.approx(1 / 3)
        assert entry["held_out_layer"]["top1"]["n"] == entry["passages"]
    assert out["agreement"]["n"] == 3
    assert 0 <= out["lexical_baseline"]["top1"]["value"] <= 1
    assert Path(files["accuracy_png"]).stat().st_size > 1000


def test_the_stories_are_checked_and_judged(story_run):
    """The generalisation JSON says what the writer did, what the kept stories look like
    and how often the model, asked zero-shot, names each story's intended emotion."""
    layout = story_run["layout"]
    out = json.loads(Path(layout.outputs("generalisation", MODEL)["json"]).read_text())
    checked = out["stories_checked"]
    assert checked["stories"] == checked["judge"]["stories"] >= 3
    assert checked["writing"]["accepted"] == checked["stories"]
    assert checked["writing"]["requested"] == 6
    assert set(checked["form"]) == {"code", "list", "refusal"}
    others = checked["names_another_emotion"]
    assert 0 <= others["run_emotion_share"] <= others["any_emotion_share"] <= 1
    judge = checked["judge"]
    assert judge["chance"] == pytest.approx(1 / 3, abs=1e-4)
    assert 0 <= judge["interval"][0] <= judge["agreement"] <= judge["interval"][1] <= 1
    assert set(judge["per_emotion"]) <= {"happy", "sad", "calm"}
    table = layout.output("generalisation", "story_judgements", MODEL)
    import pandas as pd

    judgements = pd.read_parquet(table)
    assert list(judgements.columns) == ["source", "emotion", "passage_id", "happy", "sad", "calm"]
    # The implicit scenarios of the run's emotions are judged too: the judge's own control.
    assert set(judgements["source"]) == {"stories", "scenarios"}
    assert checked["judge_on_scenarios"]["stories"] == (judgements["source"] == "scenarios").sum()
    assert (judgements[["happy", "sad", "calm"]].to_numpy() <= 0).all()


def test_the_story_curve_from_every_story_is_the_runs_story_vectors(story_run):
    """The curve's last point (every story, the run's pool start, centred on the emotions)
    rebuilds the run's story vectors in a pass of its own: its top-1 is the generalisation
    job's, and its template line is the template vectors' top-1."""
    import numpy as np
    import pandas as pd

    layout = story_run["layout"]
    out = json.loads(Path(layout.outputs("generalisation", MODEL)["json"]).read_text())
    curve = json.loads(Path(layout.output("generalisation", "story_curve", MODEL)).read_text())
    table = pd.read_csv(layout.output("generalisation", "story_curve_table", MODEL))
    counts = [len(pd.read_parquet(layout.passages(e, "stories"))) for e in ("happy", "sad", "calm")]
    subsets = [n for n in (2, 4) if n <= min(counts) and n < max(counts)]
    assert len(table) == (len(subsets) + 1) * 2 * 2  # (sizes + every story) x starts x centrings
    assert curve["configured_start"] == 2
    last = curve["configured"][-1]
    assert last["subset"] == "all" and last["n"] == int(np.median(counts))
    assert last["top1"] == pytest.approx(out["per_corpus"]["stories"]["top1"]["value"])
    templates = out["per_corpus"]["templates"]["top1"]["value"]
    assert curve["templates_top1"]["value"] == pytest.approx(templates)
    assert last["ci"][0] <= last["top1"] <= last["ci"][1]
    assert out["story_curve"]["configured"] == curve["configured"]
    assert Path(layout.output("generalisation", "story_curve_png", MODEL)).stat().st_size > 1000
