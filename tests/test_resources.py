"""Job sizes of the model-loading jobs, from config/models.yaml."""

from __future__ import annotations

import pytest
import yaml

from emotion_vectors.config import ConfigError, parse_models, read_models
from emotion_vectors.resources import estimate_mem_mb, job_resources, parameter_count

from .conftest import MODEL, ROOT, run_snakemake


def _spec(**entry):
    base = {"source": "hub:org/name", "num_layers": 32, "hidden_size": 4096}
    entry = {k: v for k, v in {**base, **entry}.items() if v is not None}
    return parse_models({"models": {"m": entry}}, "models.yaml")["m"]


def test_memory_follows_parameters_and_dtype():
    gib = 2**30
    # 8B in bfloat16 on a GPU: 2 x 16 GB of weights + 2 GiB.
    spec = _spec(parameters=8_000_000_000)
    assert estimate_mem_mb(spec, gpus=1) == -(-2 * 8e9 * 2 // 2**20) + 2048
    # auto on the CPU is float32: twice that.
    assert job_resources(_spec(parameters=8_000_000_000, device="cpu")).mem_mb == (
        -(-2 * 8e9 * 4 // 2**20) + 2048
    )
    # The measured peaks of bench/RESULTS.md fit under the estimate (float32, CPU).
    shipped = read_models(ROOT / "config" / "models.yaml")
    for key, measured in (("smollm2-135m-instruct", 1.73), ("gemma-3-270m", 3.35)):
        assert estimate_mem_mb(shipped[key], gpus=0) * 2**20 > measured * gib


def test_parameters_fallback_is_close_for_a_known_model():
    spec = read_models(ROOT / "config" / "models.yaml")[MODEL]
    estimate = parameter_count(_spec(num_layers=spec.num_layers, hidden_size=spec.hidden_size))
    assert 0.8 < estimate / spec.extra["parameters"] < 1.6
    assert parameter_count(_spec(hidden_size=None)) is None
    assert estimate_mem_mb(_spec(hidden_size=None), gpus=1) == 16_000


def test_defaults_and_overrides():
    r = job_resources(_spec())
    assert (r.gpu, r.cpus, r.runtime, r.partition) == (1, 8, 120, None)
    assert "slurm_partition" not in r.as_snakemake()
    assert job_resources(_spec(device="cpu")).gpu == 0
    block = {"gpus": 2, "cpus": 4, "mem_mb": 500, "runtime": 30, "partition": "gpu"}
    r = job_resources(_spec(resources={**block, "slurm_extra": "--qos=long"}))
    assert r.as_snakemake() == {
        "mem_mb": 500,
        "gpu": 2,
        "runtime": 30,
        "slurm_partition": "gpu",
        "slurm_extra": "--qos=long",
    }
    assert r.cpus == 4


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"resources": {"gpu": 1}}, "models.m.resources: Additional properties"),
        ({"resources": {"mem_mb": "lots"}}, "models.m.resources.mem_mb: 'lots' is not of type"),
        ({"resources": {"partition": "a b"}}, "models.m.resources.partition: 'a b' does not"),
        ({"parameters": 0}, "models.m.parameters: 0 is less than or equal to the minimum"),
    ],
)
def test_bad_resources_name_the_key(entry, message):
    with pytest.raises(ConfigError, match=r"^models\.yaml: ") as err:
        _spec(**entry)
    assert message in str(err.value)


def test_model_jobs_get_the_models_yaml_resources_and_light_jobs_do_not(tmp_path):
    models = yaml.safe_load((ROOT / "config" / "models.yaml").read_text())
    models["models"][MODEL]["resources"] = {"mem_mb": 1234, "partition": "p1", "runtime": 7}
    (tmp_path / "models.yaml").write_text(yaml.safe_dump(models))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "models_file": str(tmp_path / "models.yaml"),
                # Four: the analyses, all of whose jobs this dry run plans, need at least 4.
                "emotions": ["happy", "sad", "calm", "afraid"],
                "layers": [20],
            }
        )
    )
    proc = run_snakemake(tmp_path, "-n", "--configfile", str(cfg))
    # The workflow profile beside the Snakefile is read (one model job at a time locally).
    assert "workflow specific profile" in proc.stderr
    assert "profiles/default" in proc.stderr
    out = proc.stdout
    blocks = out.split("\nrule ")
    model_rules = {
        "extract_activations", "residual_norms", "model_analyses", "scenario_activations",
        "trace_texts",
    }  # fmt: skip
    seen = set()
    for block in blocks[1:]:
        name = block.split(":", 1)[0]
        resources = next(line for line in block.splitlines() if "resources:" in line)
        if name in model_rules:
            seen.add(name)
            assert "mem_mb=1234" in resources and "slurm_partition=p1" in resources
            assert "runtime=7" in resources and "gpu=1" in resources
        else:
            assert "gpu=" not in resources and "slurm_partition" not in resources, name
    assert seen == model_rules
