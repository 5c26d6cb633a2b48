"""What a model-loading job asks its scheduler for: memory, GPUs, CPUs, runtime, partition.

The values come from the model's entry in config/models.yaml (`parameters` and an optional
`resources:` block, see workflow/schemas/models.schema.yaml), so a local run and a SLURM run
size the same job the same way. Unset values are estimated or defaulted here, in one place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .config import ModelSpec

# The keys of a models.yaml entry that size jobs and never change what a job computes: they
# are kept out of the jobs' params, so editing them does not rerun finished jobs.
SIZING_KEYS = ("parameters", "resources")

DEFAULT_CPUS = 8  # torch gains little beyond this on the models here
DEFAULT_GPUS = 1  # one accelerator per model job; 0 on CPU-only clusters
DEFAULT_RUNTIME_MIN = 120
# Without `parameters`: a decoder block holds about 12 * width^2 weights (attention 4 d^2,
# MLP 8 d^2), plus the embeddings, with a vocabulary of this size (Llama 3 has 128 256).
FALLBACK_VOCAB = 128_000
# Without `parameters` or `hidden_size`: enough for a model of about 3B parameters.
FALLBACK_MEM_MB = 16_000
# Peak resident memory of a model job is about twice the weights (the loaded state dict and
# the model) plus the interpreter, torch and the activations: measured 1.40-1.73 GiB for
# SmolLM2-135M and 3.35 GiB for Gemma-3-270M in float32 (bench/RESULTS.md), which
# 2 x weights + 2 GiB covers (3.0 and 4.0 GiB).
BASE_MB = 2048
BYTES_PER_PARAMETER = {"float32": 4, "float16": 2, "bfloat16": 2}


@dataclass(frozen=True)
class JobResources:
    """One model's job size. `mem_mb` is host memory, `runtime` minutes."""

    mem_mb: int
    gpu: int
    cpus: int
    runtime: int
    partition: str | None = None
    slurm_extra: str | None = None

    def as_snakemake(self) -> dict[str, int | str]:
        """Snakemake resource names (those the SLURM executor plugin reads); unset ones left out."""
        out: dict[str, int | str] = {
            "mem_mb": self.mem_mb,
            "gpu": self.gpu,
            "runtime": self.runtime,
        }
        if self.partition:
            out["slurm_partition"] = self.partition
        if self.slurm_extra:
            out["slurm_extra"] = self.slurm_extra
        return out


def _block(spec: ModelSpec) -> dict[str, Any]:
    return dict(spec.extra.get("resources") or {})


def parameter_count(spec: ModelSpec) -> float | None:
    """The model's `parameters`, else an estimate from its depth and width, else None."""
    given = spec.extra.get("parameters")
    if given is not None:
        return float(given)
    if spec.hidden_size is None:
        return None
    d = spec.hidden_size
    return 12.0 * spec.num_layers * d * d + FALLBACK_VOCAB * d


def bytes_per_parameter(spec: ModelSpec, gpus: int) -> int:
    """The compute dtype's width; `auto` is bfloat16 on a GPU and counted as float32 on the
    CPU: the host that sizes a job cannot tell whether the node's CPU has bfloat16 units
    (models.dtype_choice), and a GGUF model is dequantised in float32 before any cast."""
    if spec.dtype == "auto":
        return 2 if gpus > 0 and spec.device != "cpu" else 4
    return BYTES_PER_PARAMETER[spec.dtype]


def estimate_mem_mb(spec: ModelSpec, gpus: int) -> int:
    """Host memory of one job that loads the model: 2 x weights + 2 GiB, in MB."""
    n = parameter_count(spec)
    if n is None:
        return FALLBACK_MEM_MB
    return math.ceil(2 * n * bytes_per_parameter(spec, gpus) / 2**20) + BASE_MB


def job_resources(spec: ModelSpec) -> JobResources:
    """The resources of every job that loads `spec`'s model (extraction, lens, steering)."""
    block = _block(spec)
    # A model pinned to the CPU never needs a GPU, whatever the default says.
    gpus = int(block.get("gpus", 0 if spec.device == "cpu" else DEFAULT_GPUS))
    return JobResources(
        mem_mb=int(block.get("mem_mb") or estimate_mem_mb(spec, gpus)),
        gpu=gpus,
        cpus=int(block.get("cpus", DEFAULT_CPUS)),
        runtime=int(block.get("runtime", DEFAULT_RUNTIME_MIN)),
        partition=block.get("partition"),
        slurm_extra=block.get("slurm_extra"),
    )
