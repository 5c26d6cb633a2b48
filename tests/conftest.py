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


# The modules that take longest (CI's `--durations`), in that order. Under pytest-xdist
# (`-n 2 --dist loadfile --no-loadscope-reorder`, as .ci/run runs the suite) a module is one
# unit of work, and the controller hands units out in the workers' collection order (without
# --no-loadscope-reorder it would sort them by their number of tests, which put the longest
# modules last): the longest go first, so none of them starts last and holds the run up
# while the other worker idles. The reordering happens in the workers' collection (the
# controller collects nothing); a plain run keeps pytest's order.
SLOWEST_FIRST = (
    "test_steering.py", "test_findings.py", "test_stories_workflow.py", "test_cache_faults.py",
    "test_slurm.py", "test_stories.py", "test_emobank.py", "test_deploy.py", "test_parts.py",
    "test_cli.py", "test_extend.py", "test_robustness.py", "test_workflow.py",
)  # fmt: skip


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not hasattr(config, "workerinput"):  # not an xdist worker
        return
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: keeps the rest
