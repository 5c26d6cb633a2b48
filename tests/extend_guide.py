"""README, "How to extend", followed as a newcomer would, in a temporary copy of the project:
a light analysis (the norm of every emotion vector) added by touching only the files the
guide lists, then the workflow run on a light config (tests/conftest.py, `light_project`;
tests/test_extend.py and tests/test_cli.py read the run)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from .conftest import ROOT

NAME = "vector_norms"
LAYERS = [5, 20]
EMOTIONS = ["happy", "sad", "calm", "afraid"]

# What the newcomer writes, file by file: the guide's table, in its order.
REGISTRY_ENTRY = f"""
{NAME}:
  title: Vector norms
  section: {NAME}
  headline: true
  outputs:
    json: {{file: norms.json, target: true}}
    table: {{file: norms.csv, caption: {NAME}}}
    figure: {{file: norms.png, caption: {NAME}, target: true}}
"""
SCHEMA = f"""$schema: "https://json-schema.org/draft/2020-12/schema"
description: settings of the {NAME} analysis
type: object
additionalProperties: false
default: {{}}
properties:
  denoised:
    type: boolean
    default: true
    description: measure the denoised vectors (false, the raw ones)
"""
MATHS = '''"""The length of each emotion vector."""

from __future__ import annotations

import numpy as np


def vector_norms(matrix: np.ndarray) -> np.ndarray:
    """The Euclidean norm of each row, in float64."""
    return np.linalg.norm(np.asarray(matrix, dtype=np.float64), axis=1)
'''
RENDER = '''"""The bar chart of the vector norms."""

from __future__ import annotations

from collections.abc import Sequence

from . import pyplot, save


def plot_norms(emotions: Sequence[str], norms: Sequence[float], path: str) -> None:
    fig, ax = pyplot().subplots(figsize=(1 + 0.6 * len(emotions), 3))
    ax.bar(list(emotions), list(norms))
    ax.set_ylabel("norm of the vector")
    save(fig, path)
'''
JOB = f'''"""The {NAME} job: the norm of each emotion vector at the analysis layer."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..render.{NAME} import plot_norms
from ..store import read_vector_matrix, write_json_atomic
from ..{NAME} import vector_norms
from . import LightJob


def run(job: LightJob, settings: Mapping, outputs: Mapping[str, str]) -> None:
    layer = job.params["layer"]
    emotions, matrix = read_vector_matrix(job.inputs["vectors"], layer, settings["denoised"])
    norms = vector_norms(matrix)
    pd.DataFrame({{"emotion": emotions, "norm": norms}}).to_csv(outputs["table"], index=False)
    plot_norms(emotions, norms, outputs["figure"])
    data = {{"layer": layer, "norms": dict(zip(emotions, norms.tolist(), strict=True))}}
    data["median"] = float(np.median(norms))
    write_json_atomic(data, outputs["json"])


def headline(data: Mapping) -> dict:
    return {{"vector_norm_median": data["median"]}}
'''
RULE = f"""# The norm of each emotion vector at the analysis layer. No model load.


rule {NAME}:
    input:
        vectors=rules.compute_vectors.output.vectors,
    output:
        **analysis_outputs("{NAME}"),
    log:
        LAYOUT.log("{{model}}", "{{corpus}}", "{NAME}"),
    localrule: True
    conda:
        "../envs/analysis.yaml"
    params:
        analysis="{NAME}",
        layer=analysis_layer,
        settings=settings_of("{NAME}"),
    script:
        "../scripts/light_analysis.py"
"""
CAPTION = "The norm of each emotion vector at the analysis layer.\n"
TEST = f"""import numpy as np

from emotion_vectors.{NAME} import vector_norms


def test_a_row_of_three_and_four_has_norm_five():
    assert vector_norms(np.array([[3.0, 4.0], [0.0, 0.0]])).tolist() == [5.0, 0.0]
"""


def copy_project(dest: Path) -> Path:
    """The project's files, without what a clone does not have (virtual environment,
    results, Snakemake's records, the benchmark's work folder, caches)."""
    skip = shutil.ignore_patterns(
        ".venv", "results", ".snakemake", ".git", "work", "*.egg-info", "__pycache__",
        ".hypothesis", ".pytest_cache", ".ruff_cache",
    )  # fmt: skip
    shutil.copytree(ROOT, dest, ignore=skip, symlinks=True)
    return dest


def guide_files() -> list[str]:
    """The file patterns of the README's "How to extend" table for an analysis, with
    `<name>` and `<caption>` as wildcards, plus the registry file its text names."""
    readme = (ROOT / "README.md").read_text()
    guide = readme[readme.index("## How to extend") : readme.index("**A model family**")]
    table = [line for line in guide.splitlines() if line.startswith("| `")]
    patterns = [re.match(r"\| `([^`]+)`", line).group(1) for line in table]
    assert "workflow/analyses.yaml" in guide
    return ["workflow/analyses.yaml"] + [re.sub(r"<\w+>", "*", p) for p in patterns]


def _replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def follow_the_guide(project: Path) -> list[str]:
    """Add the analysis as the guide says; returns the files written or changed."""
    files = {
        f"workflow/schemas/{NAME}.schema.yaml": SCHEMA,
        f"emotion_vectors/{NAME}.py": MATHS,
        f"emotion_vectors/render/{NAME}.py": RENDER,
        f"emotion_vectors/jobs/{NAME}.py": JOB,
        f"workflow/rules/{NAME}.smk": RULE,
        f"workflow/report/{NAME}.rst": CAPTION,
        f"tests/test_{NAME}.py": TEST,
    }
    for rel, text in files.items():
        (project / rel).write_text(text)
    registry = project / "workflow" / "analyses.yaml"
    registry.write_text(registry.read_text() + REGISTRY_ENTRY)
    readme = project / "README.md"
    layout_line = f"  <model>/templates/{NAME}/   norms.json, norms.csv, norms.png"
    _replace_once(readme, "```\nresults/\n", f"```\nresults/\n{layout_line}\n")
    module_row = f"| `{NAME}` | the norm of each emotion vector |"
    _replace_once(
        readme, "| --- | --- |\n| `config` |", f"| --- | --- |\n{module_row}\n| `config` |"
    )
    _replace_once(readme, "`summary`, `comparison` |", f"`summary`, `comparison`, `{NAME}` |")
    config_readme = project / "config" / "README.md"
    listed = "emobank, speakers, traces)"
    _replace_once(config_readme, listed, listed.replace(")", f", {NAME})"))
    sections = "`speakers`, `traces`: one section"
    _replace_once(config_readme, sections, sections.replace(":", f", `{NAME}`:"))
    return [*files, "workflow/analyses.yaml", "README.md", "config/README.md"]


def run_python(project: Path, *args: str, timeout: int = 1200) -> subprocess.CompletedProcess:
    """Python in the copy: its own emotion_vectors first on the path, not the installed one."""
    return subprocess.run(
        [sys.executable, *args], cwd=project, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(project)},
    )  # fmt: skip


def build_light_project(where: Path) -> dict:
    """A copy of the project with the analysis added as the guide says, run on four
    emotions with the geometry, the export and the new analysis."""
    project = copy_project(where / "project")
    touched = follow_the_guide(project)
    settings = {"emotions": EMOTIONS, "layers": LAYERS, "dtype": "float32"}
    # geometry: its settings name files (results that move); export: the CLI's check.
    analyses = ["geometry", "export", NAME]
    (project / "light.yaml").write_text(yaml.safe_dump({**settings, "analyses": analyses}))
    run = run_python(project, "-m", "snakemake", "--cores", "2", "--configfile", "light.yaml")
    return {"project": project, "touched": touched, "run": run}
