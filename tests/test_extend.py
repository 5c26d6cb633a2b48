"""README, "How to extend", followed as a newcomer would, in a temporary copy of the project
(tests/extend_guide.py): a light analysis is added by touching only the files the guide
lists, then the workflow runs it, its headline reaches summary.json, and the checks that
keep the documentation true pass on the copy. The same run, copied elsewhere, reruns
nothing (results that move)."""

from __future__ import annotations

import json
import re
import subprocess
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import pytest

from emotion_vectors.layout import Layout

from .conftest import MODEL
from .extend_guide import EMOTIONS, NAME, guide_files, run_python

pytestmark = pytest.mark.slow


def test_the_guide_names_every_file_the_new_analysis_needed(light_project):
    allowed = guide_files()
    for rel in light_project["touched"]:
        assert any(fnmatch(rel, pattern) for pattern in allowed), (rel, allowed)


def test_the_added_analysis_runs_and_reaches_the_summary(light_project):
    project, run = light_project["project"], light_project["run"]
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"rule {NAME}:" in run.stdout + run.stderr
    results = Layout(project / "results")
    folder = Path(results.vectors(MODEL)).parent.parent / NAME  # beside vectors/
    data = json.loads((folder / "norms.json").read_text())
    assert sorted(data["norms"]) == sorted(EMOTIONS) and (folder / "norms.png").stat().st_size
    # The norms are those of the stored vectors, read here through the public API.
    check = run_python(
        project, "-c",
        "import json, numpy as np; from emotion_vectors import load_vectors; "
        f"v = load_vectors({MODEL!r}); print(json.dumps(dict(zip(v.index, "
        "np.linalg.norm(v.to_numpy(np.float64), axis=1).tolist()))))",
    )  # fmt: skip
    assert check.returncode == 0, check.stderr
    expected = json.loads(check.stdout)
    for emotion, norm in data["norms"].items():
        assert norm == pytest.approx(expected[emotion], rel=1e-6)
    summary = json.loads(Path(results.summary(MODEL)).read_text())
    assert summary["vector_norm_median"] == pytest.approx(np.median(list(expected.values())))


def test_the_documentation_checks_pass_on_the_extended_copy(light_project):
    """The checks that keep the README, config/README.md and the rule environments true,
    and the new analysis's own test, run in the copy."""
    checks = run_python(
        light_project["project"], "-m", "pytest", "-q", "-p", "no:cacheprovider",
        "tests/test_registry.py", "tests/test_imports.py", f"tests/test_{NAME}.py",
        "tests/test_catalog.py::test_every_rule_with_a_script_has_an_environment_of_its_own",
        "tests/test_catalog.py::test_config_readme_describes_every_config_file",
        timeout=600,
    )  # fmt: skip
    assert checks.returncode == 0, checks.stdout[-4000:]
    assert re.search(r"\d+ passed", checks.stdout) and "failed" not in checks.stdout


def test_a_copied_project_folder_reruns_nothing(light_project, tmp_path):
    """The finished copy, copied (or moved) elsewhere: Snakemake finds every output up to
    date, because nothing it records (input paths, params) and nothing the results hold
    names the old folder."""
    first = light_project["project"]
    assert light_project["run"].returncode == 0
    moved = tmp_path / "elsewhere"
    subprocess.run(["cp", "-a", str(first), str(moved)], check=True)  # keeps the mtimes
    command = ["-m", "snakemake", "--cores", "2", "--configfile", "light.yaml", "-n"]
    planned = run_python(moved, *command)
    assert planned.returncode == 0, planned.stderr[-3000:]
    assert "Nothing to be done" in planned.stdout + planned.stderr, planned.stdout
    for path in (moved / "results").rglob("*"):
        if path.is_file() and "logs" not in path.parts:
            assert str(first).encode() not in path.read_bytes(), path
