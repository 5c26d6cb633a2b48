"""Every experiment cache damaged on a finished float32 run: the next plain run names each
damaged entry once, recomputes it, and every table, figure and headline comes back byte for
byte (issue "Nothing trusted unverified"). In bfloat16 the recomputed numbers may move
within its rounding (which rows share a batch changes them); the `.test` run checks what
bfloat16 allows on an incremental run (tests/test_steering.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from emotion_vectors import registry
from emotion_vectors.layout import Layout

from .conftest import MODEL, run_snakemake

pytestmark = pytest.mark.slow

EMOTIONS = ["happy", "sad", "calm", "afraid"]

# Every model experiment that keeps a cache, on settings small enough for two runs in a
# few minutes (each cache is filled the same way at any size).
CONFIG = {
    "emotions": EMOTIONS,
    "layers": [10, 20],
    "dtype": "float32",  # compared bit for bit: README, "Devices and precision"
    "analyses": ["steering_controls", "attention_sinks", "preference", "behaviour",
                 "emobank", "speakers"],
    "steering": {"sweep_strengths": [-1.0, 1.0], "max_new_tokens": 8},
    "steering_controls": {"random_directions": 20, "other_emotions": 2,
                          "covariance_directions": 10, "bootstrap": 200},
    "preference": {"rounds": 2, "emotions": ["happy", "sad"], "bootstrap": 200},
    "behaviour": {"suites": ["config/behaviour/blackmail.yaml"], "emotions": ["calm"],
                  "strengths": [-1.0, 1.0], "random_directions": 4, "bootstrap": 200},
    "emobank": {"train_sentences": 60, "test_sentences": 120, "bootstrap": 200},
    "speakers": {"reply_tokens": 4, "splits": 10, "bootstrap": 200},
}  # fmt: skip


def _caches() -> list[str]:
    return sorted({c for a in registry.model_experiments() for c in a.caches})


def _outputs(layout: Layout) -> dict[Path, object]:
    """Every output of the model experiments and the run's summary: bytes, JSON without
    its wall-clock `seconds` (the one thing a rerun may change)."""
    paths = [Path(layout.summary(MODEL))]
    for analysis in registry.model_experiments():
        paths += [Path(p) for p in layout.outputs(analysis.name, MODEL).values()]
    found: dict[Path, object] = {}
    for path in paths:
        if not path.exists():
            continue
        if path.suffix == ".json":
            data = json.loads(path.read_text())
            data.pop("seconds", None)
            found[path] = data
        else:
            found[path] = path.read_bytes()
    return found


def test_every_damaged_experiment_cache_heals_byte_identical(tmp_path):
    config = tmp_path / "faults.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    run_snakemake(tmp_path, "--configfile", str(config))
    layout = Layout(tmp_path / "results")
    before = _outputs(layout)
    # Every experiment ran and wrote its outputs (none skipped for want of emotions).
    for analysis in registry.model_experiments():
        if analysis.name in ("steering", *CONFIG["analyses"]):
            for path in layout.outputs(analysis.name, MODEL).values():
                assert Path(path) in before, path

    damaged: list[Path] = []
    for kind in _caches():
        entries = sorted(Path(layout.cache(MODEL, kind)).glob("*.parquet"))
        assert entries, kind
        for entry in entries:  # every entry: the rerun fills each as the first run did
            data = bytearray(entry.read_bytes())
            data[len(data) // 2] ^= 0x01
            entry.write_bytes(bytes(data))
        damaged += entries
    # And the words' input embeddings, a cache the extraction job keeps beside the
    # activations' (whose entries are the published activation files: tests/test_workflow.py).
    words = sorted(Path(layout.cache(MODEL, "words")).glob("*.parquet"))
    assert len(words) == len(EMOTIONS)
    for entry in words:
        data = bytearray(entry.read_bytes())
        data[len(data) // 2] ^= 0x01
        entry.write_bytes(bytes(data))
    # The jobs that read them rerun when one of their outputs is damaged (its seal fails).
    embeddings = Path(layout.word_embeddings(MODEL))
    before[embeddings] = embeddings.read_bytes()
    headline = Path(layout.output("steering", "json", MODEL))
    for output in (headline, embeddings):
        output.write_bytes(output.read_bytes()[:100])

    run_snakemake(tmp_path, "--configfile", str(config))
    logs = {
        job: Path(layout.log(MODEL, "templates", job)).read_text()
        for job in ("model_analyses", "extract_activations")
    }
    for entry in damaged + words:
        log = logs["extract_activations" if entry in words else "model_analyses"]
        name = f"corrupt cache entry {entry.relative_to(tmp_path)} ("
        assert log.count(name) == 1, (entry, log[-3000:])
    after = _outputs(layout)
    after[embeddings] = embeddings.read_bytes()
    assert sorted(after) == sorted(before)
    for path, content in before.items():
        assert after[path] == content, path
