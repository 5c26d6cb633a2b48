"""Devices and precision: the choice of device and dtype (with injected availability, as
no GPU exists here), the run-wide override, and a real bfloat16 extraction on the CPU whose
activations are still stored as float32."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from emotion_vectors.activations import extract
from emotion_vectors.config import load_run_config, read_models
from emotion_vectors.models import (
    ModelUnavailable,
    available_devices,
    load_model,
    resolve_device,
    resolve_dtype,
)
from emotion_vectors.pooling import Pooling
from emotion_vectors.store import activation_table

from .conftest import MODEL, ROOT

CPU = {"cuda": False, "cuda_bf16": False, "mps": False, "mps_bf16": False, "cpu": True}
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
        ("cpu", CPU, "float32"),
        ("cuda", AMPERE, "bfloat16"),
        ("cuda", VOLTA, "float32"),  # float16 would overflow in some models: stay exact
        ("mps", MAC, "float32"),  # the documented choice: small models, CPU-identical maths
        ("mps", OLD_MAC, "float32"),
    ],
)
def test_auto_dtype_per_device(device, available, expected):
    assert resolve_dtype("auto", device, available) == expected


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

    # float32 keeps the key name of existing caches; bfloat16 gets its own entries.
    assert activation_cache_dtype("auto", "cpu") == "auto"
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
