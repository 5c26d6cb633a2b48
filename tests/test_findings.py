"""The README's findings come from results: its tables are what the committed summary of the
default run says, and a fresh default run still says the same."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from emotion_vectors import findings
from emotion_vectors.layout import Layout

from .conftest import MODEL, ROOT, run_snakemake


def test_the_readme_tables_are_rendered_from_the_committed_summary():
    readme = (ROOT / "README.md").read_text()
    for model in findings.STORY_MODELS:
        assert findings.snapshot_path(model, "stories").exists(), model
    expected = findings.expected_readme(readme, findings.snapshot_path(), findings.BEFORE)
    assert expected == readme, "run `python -m emotion_vectors.findings --write`"


def test_a_changed_number_changes_the_rendered_table(tmp_path):
    summary = json.loads(findings.snapshot_path().read_text())
    summary["valence_r"]["value"] = 0.123
    changed = Path(Layout(tmp_path).summary("m"))
    changed.parent.mkdir()
    changed.write_text(json.dumps(summary))
    readme = (ROOT / "README.md").read_text()
    assert "0.12 [" in findings.expected_readme(readme, changed, None)


def _numbers(data, prefix=""):
    """Every number of a JSON tree, by its path."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _numbers(value, f"{prefix}/{key}")
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _numbers(value, f"{prefix}/{i}")
    elif isinstance(data, int | float) and not isinstance(data, bool):
        yield prefix, float(data)


def _noise(key: str, numbers: dict[str, float]) -> float:
    """The float noise allowed in an absolute number: 1e-4, and for an interval bound a
    thousandth of its measure's scale (the largest of its value and bounds). A percentile
    bound near zero moves by more than 1e-4 when the kernels' rounding differs (float32 on
    an AMD and an Intel CPU: -0.2090 vs -0.2086 for an Elo difference of 8.3 [-0.2, 16.7])."""
    if not key.endswith(("/ci/0", "/ci/1")):
        return 1e-4
    measure = key.rsplit("/ci/", 1)[0]
    parts = [f"{measure}/ci/0", f"{measure}/ci/1", f"{measure}/value"]
    return max(1e-4, 1e-3 * max(abs(numbers.get(k, 0.0)) for k in parts))


# The complete default run takes 8-9 min in float32 on this project's 2-core machine, a fifth
# of CI's budget. CI runs it without the steering experiments (their code is run by the
# .test configuration, tests/test_steering.py): the vectors of all 171 emotions at every
# layer, their geometry, the logit lens, the scenarios, the bootstrap and the sink profile,
# every number of which must match. EMOTION_VECTORS_FULL_RUN=1 runs and compares everything
# (README, "Development": before a release, and after any change to an experiment's code).
FULL_RUN = os.environ.get("EMOTION_VECTORS_FULL_RUN") == "1"
SLICE = ["geometry", "lens", "generalisation", "uncertainty", "attention_sinks"]


@pytest.mark.slow
def test_a_fresh_default_run_reproduces_the_committed_summary(tmp_path):
    """The default run (171 emotions, all layers, every control), from nothing: its
    summary.json must be the committed one, up to float noise, so the README cannot quote
    numbers the code no longer produces. In float32, the reference precision: `auto` is
    bfloat16 on CPUs with bfloat16 units and float32 elsewhere, and bfloat16 kernels differ
    between CPUs (bench/RESULTS.md compares the two dtypes' numbers). Without
    EMOTION_VECTORS_FULL_RUN=1, the analyses of SLICE only, whose every number must match."""
    selected = [] if FULL_RUN else [f"analyses={SLICE}".replace(" ", "").replace("'", "")]
    run_snakemake(tmp_path, "--config", "dtype=float32", *selected, timeout=3600)
    layout = Layout(tmp_path / "results")
    fresh = json.loads(Path(layout.summary(MODEL)).read_text())
    committed = json.loads(findings.snapshot_path().read_text())
    if FULL_RUN:
        assert fresh.keys() == committed.keys()
    else:
        assert fresh.keys() <= committed.keys(), fresh.keys() - committed.keys()
        assert set(fresh["holds"]) == {"valence_geometry", "arousal_geometry", "logit_lens",
                                       "implicit_scenarios"}  # fmt: skip
        assert "valence_r" in fresh and "lens_hit_rate" in fresh and "bootstrap" in fresh
    a, b = dict(_numbers(fresh)), dict(_numbers(committed))
    assert a.keys() <= b.keys() and (not FULL_RUN or a.keys() == b.keys())
    differ = [k for k in a if not math.isclose(a[k], b[k], rel_tol=1e-3, abs_tol=_noise(k, b))]
    assert not differ, [(k, a[k], b[k]) for k in differ[:10]]
    # The steering unit at layer 20 is the sink-free residual norm (~224; 573 with the sink).
    norms = json.loads(Path(layout.residual_norms(MODEL)).read_text())
    assert (
        abs(norms["mean_norm"]["20"] - 224) / 224
        < 0.10
        < norms["mean_norm_with_sinks"]["20"] / 224 - 1
    )
