"""Devices and precision: the choice of device and dtype (with injected availability, as
no GPU exists here), the run-wide override, and a real bfloat16 extraction on the CPU whose
activations are still stored as float32."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from emotion_vectors.activations import extract
from emotion_vectors.config import read_models
from emotion_vectors.models import (
    ModelUnavailable,
    available_devices,
    cpu_bfloat16_units,
    dtype_choice,
    load_model,
    resolve_device,
    resolve_dtype,
)
from emotion_vectors.pooling import Pooling
from emotion_vectors.run_config import load_run_config
from emotion_vectors.store import activation_table

from .conftest import MODEL, ROOT

CPU = {
    "cuda": False,
    "cuda_bf16": False,
    "mps": False,
    "mps_bf16": False,
    "cpu": True,
    "cpu_bf16": False,
}
BF16_CPU = {**CPU, "cpu_bf16": True}  # AMX-BF16 or AVX-512-BF16
AMPERE = {**CPU, "cuda": True, "cuda_bf16": True}
VOLTA = {**CPU, "cuda": True, "cuda_bf16": False}  # a GPU without native bfloat16
MAC = {**CPU, "mps": True, "mps_bf16": True}
OLD_MAC = {**CPU, "mps": True, "mps_bf16": False}


def test_auto_device_prefers_cuda_then_mps_then_cpu():
    assert resolve_device("auto", CPU) == "cpu"
    assert resolve_device("auto", MAC) == "mps"
    assert resolve_device("auto", {**MAC, "cuda": True}) == "cuda"
    assert resolve_device("cpu", AMPERE) == "cpu"  # an explicit device is honoured
    with pytest.raises(ModelUnavailable, match="'cuda' was requested but is not available"):
        resolve_device("cuda", MAC)
    with pytest.raises(ModelUnavailable, match="'mps' was requested"):
        resolve_device("mps", CPU)


@pytest.mark.parametrize(
    ("device", "available", "expected"),
    [
        ("cpu", CPU, "float32"),  # emulated bfloat16 is no faster: stay exact
        ("cpu", BF16_CPU, "bfloat16"),
        ("cuda", AMPERE, "bfloat16"),
        ("cuda", VOLTA, "float32"),  # float16 would overflow in some models: stay exact
        ("mps", MAC, "float32"),  # the documented choice: small models, CPU-identical maths
        ("mps", OLD_MAC, "float32"),
    ],
)
def test_auto_dtype_per_device(device, available, expected):
    assert resolve_dtype("auto", device, available) == expected


def test_the_log_says_why_each_dtype_was_chosen():
    assert dtype_choice("auto", "cpu", CPU) == (
        "float32",
        "auto: the CPU has no bfloat16 matrix instructions (AMX, AVX-512-BF16)",
    )
    dtype, why = dtype_choice("auto", "cpu", BF16_CPU)
    assert dtype == "bfloat16" and why.startswith("auto: the CPU has ")
    assert dtype_choice("float32", "cpu", BF16_CPU) == ("float32", "requested")
    assert dtype_choice("bfloat16", "cpu", CPU) == ("bfloat16", "requested")
    assert dtype_choice("auto", "cuda", VOLTA)[1] == "auto: this cuda device has no native bfloat16"


def test_the_cpu_bfloat16_probe_matches_the_kernel_s_cpu_flags():
    """Where /proc/cpuinfo exists, PyTorch's probe agrees with the flags the kernel reports
    (amx_bf16 first, then avx512_bf16)."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        pytest.skip("no /proc/cpuinfo on this system")
    flags = set()
    for line in cpuinfo.read_text().splitlines():
        if line.startswith("flags"):
            flags |= set(line.split(":", 1)[1].split())
    expected = (
        "AMX-BF16" if "amx_bf16" in flags else "AVX-512-BF16" if "avx512_bf16" in flags else ""
    )
    assert cpu_bfloat16_units() == expected
    assert available_devices()["cpu_bf16"] == bool(expected)
    assert resolve_dtype("auto", "cpu") == ("bfloat16" if expected else "float32")


def test_explicit_dtypes_where_the_device_runs_them():
    assert resolve_dtype("float32", "cuda", AMPERE) == "float32"
    assert resolve_dtype("float16", "cuda", VOLTA) == "float16"
    assert resolve_dtype("bfloat16", "mps", MAC) == "bfloat16"
    assert resolve_dtype("bfloat16", "cpu", CPU) == "bfloat16"
    with pytest.raises(ModelUnavailable, match="bfloat16 is not supported by this cuda"):
        resolve_dtype("bfloat16", "cuda", VOLTA)
    with pytest.raises(ModelUnavailable, match="bfloat16 is not supported by this mps"):
        resolve_dtype("bfloat16", "mps", OLD_MAC)
    with pytest.raises(ModelUnavailable, match="float16 on the cpu is not supported"):
        resolve_dtype("float16", "cpu", CPU)


def test_this_machine_is_described_consistently():
    found = available_devices()
    assert found["cpu"] is True
    assert set(found) == set(CPU)
    # A capability never without its device.
    assert found["cuda"] or not found["cuda_bf16"]
    assert found["mps"] or not found["mps_bf16"]


def test_run_wide_override_from_the_command_line():
    """`--config dtype=bfloat16 device=cpu` applies to every model of the run."""
    run = load_run_config({"dtype": "bfloat16", "device": "cpu", "emotions": ["calm"]})
    spec = run.models[MODEL]
    assert (spec.dtype, spec.device) == ("bfloat16", "cpu")
    assert load_run_config({"emotions": ["calm"]}).models[MODEL].dtype == "auto"


def test_cache_keys_follow_the_resolved_dtype():
    from emotion_vectors.models import activation_cache_dtype

    # float32 keeps the key name of existing caches; bfloat16 gets its own entries, and
    # `auto` is keyed by what it resolves to on this CPU.
    auto = "bfloat16" if available_devices()["cpu_bf16"] else "auto"
    assert activation_cache_dtype("auto", "cpu") == auto
    assert activation_cache_dtype("float32", "cpu") == "auto"
    assert activation_cache_dtype("bfloat16", "cpu") == "bfloat16"


@pytest.mark.slow
def test_bfloat16_extraction_is_stored_as_float32(smollm2):
    """A real bfloat16 forward pass on the CPU: pooled in float32, stored as float32, and
    close to (but not the same as) the float32 model's numbers."""
    spec = read_models(ROOT / "config" / "models.yaml")[MODEL]
    half = load_model(spec, device="cpu", dtype="bfloat16")
    assert half.dtype == "bfloat16" and half.info["dtype"] == "bfloat16"
    assert next(half.model.parameters()).dtype.__str__() == "torch.bfloat16"
    texts = [
        "Maria set the bags on the counter and felt calm as she read the note.",
        "The train was late again, so he sat down on the bench.",
    ]
    layers = [5, 20, 30]
    pooling = Pooling(pool_from="passage_start", batch_size=2, max_length=64)
    low = extract(half.model, half.tokenizer, texts, layers, pooling)
    full = extract(smollm2.model, smollm2.tokenizer, texts, layers, pooling)
    for layer in layers:
        a, b = low.pooled[layer], full.pooled[layer]
        assert a.dtype == np.float32
        cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
        assert cos.min() > 0.99, (layer, cos)
        assert not np.array_equal(a, b)  # it really ran in bfloat16
    table = activation_table(["p1", "p2"], low.n_tokens, low.pooled, {"dtype": half.dtype})
    for layer in layers:
        assert table.schema.field(f"layer_{layer}").type == pa.list_(pa.float32(), 576)


@pytest.mark.slow
def test_a_bfloat16_model_s_log_probabilities_are_read_out_in_float32(smollm2):
    """The LM head of a bfloat16 model rounds its logits to 8 significant bits; the readout
    the steering and preference experiments compare is computed in float32 instead, and a
    float32 model's readout is its own head."""
    import torch

    from emotion_vectors.architecture import architecture

    spec = read_models(ROOT / "config" / "models.yaml")[MODEL]
    half = load_model(spec, device="cpu", dtype="bfloat16")
    hidden = torch.randn(3, 576, generator=torch.Generator().manual_seed(0)).to(torch.bfloat16)
    logp = architecture(half.model).log_probs(hidden)
    assert logp.dtype == torch.float32
    head = half.model.get_output_embeddings().weight.float()
    expected = torch.log_softmax(hidden.float() @ head.T, dim=-1)
    torch.testing.assert_close(logp, expected, rtol=1e-5, atol=1e-4)
    rounded = torch.log_softmax(half.model.get_output_embeddings()(hidden).float(), dim=-1)
    assert (rounded - expected).abs().max() > 1e-3  # what bfloat16 logits would have cost
    full = architecture(smollm2.model).log_probs(hidden.float())
    plain = torch.log_softmax(smollm2.model.get_output_embeddings()(hidden.float()), dim=-1)
    torch.testing.assert_close(full, plain, rtol=0, atol=0)
    # The answer-only readout (preference, behaviour suites) gives the same differences
    # of log-probabilities between tokens, in bfloat16 and in float32.
    ids = [330, 389, 28, 4045]
    for loaded, reference in ((half, logp), (smollm2, full)):
        only = architecture(loaded.model).token_logits(hidden, ids)
        assert only.dtype == torch.float32 and only.shape == (3, len(ids))
        torch.testing.assert_close(
            only - only[:, :1], reference[:, ids] - reference[:, ids[:1]], rtol=0, atol=1e-4
        )
