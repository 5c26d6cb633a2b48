from __future__ import annotations

from pathlib import Path

import pytest

from emotion_vectors.workflow_run import run_snakemake

ROOT = Path(__file__).resolve().parent.parent
MODEL = "smollm2-135m-instruct"

__all__ = ["MODEL", "ROOT", "run_snakemake"]


@pytest.fixture(scope="session")
def smollm2():
    """The embedded default model, loaded once for the whole test session, in float32: the
    unit tests check our maths against float32 references with tight tolerances, on any
    CPU. `dtype: auto` (bfloat16 on CPUs with bfloat16 units) is what the workflow tests
    run, and test_devices compares the two."""
    from emotion_vectors.config import read_models
    from emotion_vectors.models import load_model

    spec = read_models(ROOT / "config" / "models.yaml")[MODEL]
    return load_model(spec, device="cpu", dtype="float32")


@pytest.fixture(scope="session")
def light_project(tmp_path_factory):
    """A copy of the project extended as README "How to extend" says, and run on a light
    config (tests/extend_guide.py): {project, touched, run}."""
    from .extend_guide import build_light_project

    return build_light_project(tmp_path_factory.mktemp("light-project"))
