"""The real workflow on the real embedded model, in a temporary directory."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

from emotion_vectors import load_activations, load_passages, load_vectors
from emotion_vectors.layout import Layout
from emotion_vectors.store import read_activation_matrix, read_metadata
from emotion_vectors.vectors import neutral_subspace

from .conftest import MODEL, run_snakemake

pytestmark = pytest.mark.slow

LAYERS = [5, 20]


def _config(workdir, emotions):
    path = workdir / "test-config.yaml"
    # float32: runs are compared bit for bit; bfloat16 on the CPU is not bit-reproducible
    # between runs (README, "Devices and precision").
    path.write_text(yaml.safe_dump({"emotions": emotions, "layers": LAYERS, "dtype": "float32"}))
    return str(path)


def _light_config(path: Path) -> Path:
    """Four emotions and the model-free geometry: a whole run (vectors, analyses, summary,
    comparison) in under a minute."""
    emotions = ["happy", "sad", "calm", "afraid"]
    settings = {"emotions": emotions, "layers": LAYERS, "dtype": "float32"}
    path.write_text(yaml.safe_dump({**settings, "analyses": ["geometry"]}))
    return path


def _activation_folder(workdir) -> Path:
    return Path(Layout(workdir / "results").activations(MODEL, "happy")).parent


def _extraction(workdir):
    return json.loads(Path(Layout(workdir / "results").extraction_report(MODEL)).read_text())


@pytest.fixture(scope="module")
def incremental(tmp_path_factory):
    """Run three emotions, run again, then add a fourth emotion and run once more."""
    work = tmp_path_factory.mktemp("incremental")
    first = run_snakemake(work, "vectors", "--configfile", _config(work, ["happy", "sad", "calm"]))
    snapshot = {p.name: p.read_bytes() for p in _activation_folder(work).glob("*.parquet")}
    report_first = _extraction(work)
    again = run_snakemake(work, "vectors", "--configfile", _config(work, ["happy", "sad", "calm"]))
    cfg = _config(work, ["happy", "sad", "calm", "at ease"])
    added = run_snakemake(work, "vectors", "--configfile", cfg)
    return {
        "work": work,
        "first": first,
        "again": again,
        "added": added,
        "snapshot": snapshot,
        "report_first": report_first,
    }


def test_first_run_computes_every_emotion_and_the_neutral_set(incremental):
    report = incremental["report_first"]
    assert sorted(report["computed"]) == ["(neutral)", "calm", "happy", "sad"]
    assert report["passages_forwarded"] == 3 * 12 + 64


def test_outputs_load_through_the_public_api(incremental):
    results = incremental["work"] / "results"
    vectors = load_vectors(MODEL, results=results)
    assert vectors.attrs["layer"] == 20
    assert list(vectors.index) == ["happy", "sad", "calm", "at ease"]
    assert vectors.shape == (4, 576)
    assert (vectors.dtypes == np.float32).all()
    raw = load_vectors(MODEL, 5, results=results, denoised=False)
    # Raw vectors are each emotion's mean minus the mean over emotions: they sum to zero.
    np.testing.assert_allclose(raw.to_numpy().sum(axis=0), 0, atol=1e-4)

    acts = {e: load_activations(MODEL, e, 5, results=results).to_numpy() for e in vectors.index}
    assert acts["at ease"].shape == (12, 576)
    means = np.stack([a.astype(np.float64).mean(axis=0) for a in acts.values()])
    np.testing.assert_allclose(raw.to_numpy(), means - means.mean(axis=0), atol=1e-4)

    # The denoised vectors have no component left in the neutral subspace.
    _, neutral = read_activation_matrix(Layout(results).neutral_activations(MODEL), 5)
    sub = neutral_subspace(neutral, 0.5)
    den = load_vectors(MODEL, 5, results=results).to_numpy().astype(np.float64)
    assert np.abs(den @ sub.components.T).max() < 1e-3 * np.abs(raw.to_numpy()).max()

    passages = load_passages(results=results)
    assert {"emotion", "passage_id", "text"} <= set(passages.columns)
    assert len(passages) == 4 * 12
    assert all(
        "felt at ease" in t or "feeling at ease" in t or "feel at ease" in t
        for t in load_passages("at ease", results=results)["text"]
    )


def test_second_run_does_nothing(incremental):
    out = incremental["again"].stdout + incremental["again"].stderr
    assert "Nothing to be done" in out


def test_adding_an_emotion_computes_only_that_emotion(incremental):
    report = _extraction(incremental["work"])
    assert report["computed"] == ["at ease"]
    assert report["passages_forwarded"] == 12
    folder = _activation_folder(incremental["work"])
    for name, data in incremental["snapshot"].items():
        assert (folder / name).read_bytes() == data


def test_incremental_run_equals_a_clean_run(incremental, tmp_path):
    run_snakemake(
        tmp_path, "vectors", "--configfile", _config(tmp_path, ["happy", "sad", "calm", "at ease"])
    )
    for layer in LAYERS:
        for denoised in (True, False):
            a = load_vectors(
                MODEL, layer, results=incremental["work"] / "results", denoised=denoised
            )
            b = load_vectors(MODEL, layer, results=tmp_path / "results", denoised=denoised)
            assert a.equals(b), (layer, denoised)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("emotions: [happy, happy]\n", "emotions[1]: duplicate emotion 'happy'"),
        ("layers: [99]\n", "layers[0]: layer 99 is outside the range 1..30"),
        (f"emotions: [{'a' * 300}]\n", "emotions[0]: 'aaaaaaaaaaaaaaaaaaaa'... is 300 bytes long"),
    ],
)
def test_bad_config_stops_before_any_job(tmp_path, config, message):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(config)
    proc = run_snakemake(tmp_path, "--configfile", str(cfg), check=False)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "results").exists()


def test_too_few_emotions_for_the_analyses_stop_the_default_target_only(tmp_path):
    """Three emotions: PCA of 3 components needs 4. The default target stops before any
    job with the reason; `snakemake vectors` with the same config still plans."""
    cfg = tmp_path / "three.yaml"
    cfg.write_text("emotions: [happy, sad, calm]\n")
    proc = run_snakemake(tmp_path, "--configfile", str(cfg), check=False)
    assert proc.returncode != 0
    assert "emotions: 3 emotions; the analyses compare emotions and need at least 4" in (
        proc.stderr
    )
    assert not (tmp_path / "results").exists()
    planned = run_snakemake(tmp_path, "vectors", "-n", "--configfile", str(cfg))
    assert "extract_activations" in planned.stdout


def test_the_analyses_key_selects_what_runs_and_what_is_summarised(tmp_path):
    """`analyses: [steering_controls]` runs the vectors, steering (which the controls build
    on) and its controls, nothing else; summary.json holds their numbers only. A run that
    selects no model experiment plans no model job at all."""
    cfg = tmp_path / "some.yaml"
    cfg.write_text(
        "emotions: [happy, sad, calm, afraid]\nlayers: [5, 20]\nanalyses: [steering_controls]\n"
    )
    proc = run_snakemake(tmp_path, "--configfile", str(cfg))
    layout = Layout(tmp_path / "results")
    summary = json.loads(Path(layout.summary(MODEL)).read_text())
    assert "self_steering_median" in summary and "valence_r" not in summary
    assert Path(layout.output("steering_controls", "json", MODEL)).exists()
    for absent in ("lens", "geometry", "preference", "traces"):
        assert not Path(layout.output(absent, "json", MODEL)).parent.exists(), absent
    log = Path(layout.log(MODEL, "templates", "model_analyses")).read_text()
    assert "steering_controls" in log and "lens" not in log
    assert "rule trace_texts" not in proc.stdout + proc.stderr
    cfg.write_text("emotions: [happy, sad, calm, afraid]\nlayers: [5, 20]\nanalyses: [geometry]\n")
    planned = run_snakemake(tmp_path, "-n", "--configfile", str(cfg))
    assert "geometry_tables" in planned.stdout
    assert "model_analyses" not in planned.stdout and "residual_norms" not in planned.stdout


def test_a_truncated_activation_file_is_recomputed_alone(incremental, tmp_path):
    """A disk that filled up during a copy: half of one published activation file is gone,
    and with it half of its cache entry (a hard link). The next plain run says which file,
    recomputes that emotion alone and gives the same vectors, byte for byte."""
    work = tmp_path / "work"
    # cp -a keeps the hard links between published files and cache entries, and the mtimes.
    subprocess.run(["cp", "-a", str(incremental["work"]), str(work)], check=True)
    emotions = ["happy", "sad", "calm", "at ease"]
    layout = Layout(work / "results")
    target = Path(layout.activations(MODEL, "sad"))
    entry = Path(
        layout.cache(MODEL, "activations"), f"{read_metadata(target)['cache_key']}.parquet"
    )
    assert target.samefile(entry)
    before = {
        path: Path(path).read_bytes()
        for path in [layout.vectors(MODEL), layout.vector_meta(MODEL), str(target)]
    }
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 2])

    # A dry run changes nothing: it names the file and leaves it for the real run.
    dry = run_snakemake(work, "vectors", "-n", "--configfile", _config(work, emotions))
    assert "left in place by this dry run" in dry.stderr, dry.stderr
    assert target.read_bytes() == data[: len(data) // 2]
    proc = run_snakemake(work, "vectors", "--configfile", _config(work, emotions))
    warnings = [line for line in proc.stderr.splitlines() if "emotion-vectors: warning" in line]
    assert len(warnings) == 1, proc.stderr
    assert Layout("results").activations(MODEL, "sad") in warnings[0]
    log = Path(layout.log(MODEL, "templates", "extract_activations")).read_text()
    log_warnings = [line for line in log.splitlines() if " WARNING " in line]
    assert len(log_warnings) == 1 and entry.name in log_warnings[0], log
    report = _extraction(work)
    assert report["computed"] == ["sad"] and report["passages_forwarded"] == 12
    for path, content in before.items():
        assert Path(path).read_bytes() == content, path
    again = run_snakemake(work, "vectors", "--configfile", _config(work, emotions))
    assert "Nothing to be done" in again.stdout + again.stderr
    assert "emotion-vectors: warning" not in again.stderr


def test_damaged_vectors_and_summary_are_noticed_and_rebuilt_byte_identical(tmp_path):
    """Sixteen flipped bytes in vectors.parquet (size kept) and a summary.json cut short, on
    a finished run: the public reader refuses the vectors, naming the file; a dry run names
    both and changes nothing; the next plain run removes both before any job, reruns what
    writes them, and every output comes back byte for byte."""
    cfg = _light_config(tmp_path / "light.yaml")
    run_snakemake(tmp_path, "--configfile", str(cfg))
    layout = Layout(tmp_path / "results")
    vectors, summary = Path(layout.vectors(MODEL)), Path(layout.summary(MODEL))
    watched = [vectors, summary, Path(layout.comparison("summary.csv"))]
    watched += sorted(Path(layout.output("geometry", "json", MODEL)).parent.glob("*.*"))
    before = {p: p.read_bytes() for p in watched}

    data = bytearray(vectors.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 16] = bytes(b ^ 0x5A for b in data[middle : middle + 16])
    vectors.write_bytes(bytes(data))
    summary.write_bytes(before[summary][: len(before[summary]) // 3])

    with pytest.raises(OSError, match=r"vectors\.parquet is corrupt") as info:
        load_vectors(MODEL, results=tmp_path / "results")
    assert "SHA-256" in str(info.value)

    dry = run_snakemake(tmp_path, "-n", "--configfile", str(cfg))
    assert dry.stderr.count("left in place by this dry run") == 2, dry.stderr
    assert vectors.read_bytes() == bytes(data)

    proc = run_snakemake(tmp_path, "--configfile", str(cfg))
    warnings = [line for line in proc.stderr.splitlines() if "emotion-vectors: warning" in line]
    assert len(warnings) == 2, proc.stderr
    assert any("vectors/vectors.parquet is corrupt" in w for w in warnings)
    assert any("summary.json is corrupt" in w and "bytes where" in w for w in warnings)
    assert "rule extract_activations" not in proc.stdout + proc.stderr
    for path, content in before.items():
        assert path.read_bytes() == content, path
    again = run_snakemake(tmp_path, "--configfile", str(cfg))
    assert "Nothing to be done" in again.stdout + again.stderr
    assert "emotion-vectors: warning" not in again.stderr


def test_the_story_judge_reads_only_the_stories_of_its_emotions(tmp_path):
    """stories.judge_emotions narrows the judge to some emotions' stories (a run over all
    171 would otherwise list 171 options in every prompt); unset, it reads every emotion's."""
    cfg = tmp_path / "stories.yaml"
    head = "emotions: [happy, sad, calm, afraid]\nlayers: [5, 20]\ncorpora: [templates, stories]\n"

    def judged_inputs(extra: str) -> set[str]:
        cfg.write_text(head + extra)
        planned = run_snakemake(tmp_path, "-n", "--configfile", str(cfg)).stdout
        job = planned[planned.index("rule story_judgements:") :].split("\n\n")[0]
        line = next(x for x in job.splitlines() if x.strip().startswith("input:"))
        paths = [Path(p.strip()) for p in line.split(":", 1)[1].split(",")]
        return {p.stem for p in paths if p.parent.name == "stories"}

    assert judged_inputs("stories: {judge_emotions: [sad, happy]}\n") == {"happy", "sad"}
    assert judged_inputs("") == {"happy", "sad", "calm", "afraid"}
