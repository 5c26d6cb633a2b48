"""Configuration: the shipped defaults load, and bad input gets one located error."""

from __future__ import annotations

import copy

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from emotion_vectors.config import (
    ConfigError,
    emotion_from_slug,
    emotion_slug,
    load_run_config,
    read_models,
)

from .conftest import ROOT


def test_default_config_is_the_full_study():
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    run = load_run_config(cfg)
    assert len(run.emotions) == 171
    assert {"at ease", "on edge", "worn out", "grief-stricken", "self-confident"} <= set(
        run.emotions
    )
    assert list(run.models) == ["smollm2-135m-instruct"]
    assert run.layers["smollm2-135m-instruct"] == list(range(1, 31))
    assert len(run.templates) >= 10
    assert len(run.neutral) >= 50


def test_empty_config_gets_schema_defaults():
    cfg: dict = {}
    run = load_run_config(cfg)
    assert cfg["extraction"] == {"batch_size": 16, "max_length": 512, "pool_start": 0}
    assert cfg["vectors"] == {"neutral_variance": 0.5}
    assert len(run.emotions) == 171


def test_seed_subset_has_the_seed_emotions():
    run = load_run_config({"emotions": "config/emotions/seed-30.txt"})
    assert len(run.emotions) == 30
    must = "happy joyful sad angry furious afraid calm panicked desperate loving nostalgic "
    must += "disgusted grateful excited proud guilty"
    assert set(must.split()) <= set(run.emotions)
    full = load_run_config({}).emotions
    assert set(run.emotions) <= set(full)


def test_analysis_layer_defaults_to_two_thirds_and_is_always_kept():
    models = read_models(ROOT / "config" / "models.yaml")
    assert models["smollm2-135m-instruct"].layer_for_analysis == 20
    run = load_run_config({"layers": [3]})
    assert run.layers["smollm2-135m-instruct"] == [3, 20]


def test_every_declared_model_is_complete():
    models = read_models(ROOT / "config" / "models.yaml")
    assert {
        "smollm2-135m-instruct",
        "gemma-3-270m",
        "llama-3.2-1b-instruct",
        "llama-3.1-8b-instruct",
    } <= set(models)
    for spec in models.values():
        assert 1 <= spec.layer_for_analysis <= spec.num_layers
        assert spec.trust_remote_code is False


BAD_CONFIGS = [
    ({"emotions": []}, "emotions", "empty"),
    ({"emotions": ["happy", "happy"]}, "emotions[1]", "duplicate"),
    ({"emotions": ["happy", "../etc"]}, "emotions[1]", "not a valid emotion name"),
    ({"emotions": ["happy", "sad;rm"]}, "emotions[1]", "not a valid emotion name"),
    ({"emotions": ["happy", "{sad}"]}, "emotions[1]", "not a valid emotion name"),
    ({"emotions": ["Happy"]}, "emotions[0]", "not a valid emotion name"),
    ({"models": ["gpt-9"]}, "models[0]", "unknown model 'gpt-9'"),
    ({"layers": [31]}, "layers[0]", "outside the range 1..30"),
    ({"layers": [0]}, "layers[0]", "outside the range"),
    ({"extraction": {"batch_size": 0}}, "extraction.batch_size", "less than the minimum"),
    ({"extraction": {"batch_size": "8"}}, "extraction.batch_size", "not of type 'integer'"),
    ({"vectors": {"neutral_variance": 0}}, "vectors.neutral_variance", "less than or equal"),
    ({"vectors": {"neutral_variance": 1.2}}, "vectors.neutral_variance", "greater than"),
    ({"extraction": {"batch_sise": 8}}, "extraction", "Additional properties"),
]


@pytest.mark.parametrize(("cfg", "key", "problem"), BAD_CONFIGS)
def test_bad_config_names_file_key_and_problem(cfg, key, problem):
    with pytest.raises(ConfigError) as info:
        load_run_config(copy.deepcopy(cfg), label="my.yaml")
    err = info.value
    assert err.file == "my.yaml"
    assert err.key == key
    assert problem in err.problem
    assert "\n" not in str(err)


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_template_without_slot(tmp_path):
    path = _write(tmp_path, "t.yaml", "templates:\n  - id: a\n    text: She felt fine.\n")
    with pytest.raises(ConfigError, match=r"t\.yaml: templates\[0\]\.text: must contain"):
        load_run_config({"corpus": {"templates": path}})


def test_malformed_yaml_names_the_line(tmp_path):
    path = _write(tmp_path, "t.yaml", "templates:\n  - id: [a\n")
    with pytest.raises(ConfigError, match=r"t\.yaml: malformed YAML at line 3"):
        load_run_config({"corpus": {"templates": path}})


def test_too_few_neutral_passages(tmp_path):
    path = _write(tmp_path, "n.txt", "One.\nTwo.\n")
    with pytest.raises(ConfigError, match=r"n\.txt: only 2 neutral passages"):
        load_run_config({"corpus": {"neutral": path}})


def test_model_without_source(tmp_path):
    path = _write(tmp_path, "m.yaml", "models:\n  tiny:\n    num_layers: 2\n")
    with pytest.raises(ConfigError) as info:
        load_run_config({"models_file": path, "models": ["tiny"]})
    assert info.value.key == "models.tiny"
    assert "'source' is a required property" in info.value.problem


def test_model_analysis_layer_out_of_range(tmp_path):
    path = _write(
        tmp_path,
        "m.yaml",
        "models:\n  tiny:\n    source: hub:x/y\n    num_layers: 2\n    analysis_layer: 3\n",
    )
    with pytest.raises(ConfigError, match=r"models\.tiny\.analysis_layer: layer 3 is outside"):
        load_run_config({"models_file": path, "models": ["tiny"]})


def test_unknown_device(tmp_path):
    path = _write(
        tmp_path,
        "m.yaml",
        "models:\n  tiny:\n    source: hub:x/y\n    num_layers: 2\n    device: tpu\n",
    )
    with pytest.raises(ConfigError, match=r"models\.tiny\.device: 'tpu' is not one of"):
        load_run_config({"models_file": path, "models": ["tiny"]})


# ---------------------------------------------------------------- properties

word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)
valid_name = st.builds(
    lambda words, seps: "".join(w + s for w, s in zip(words, seps, strict=False)) + words[-1],
    st.lists(word, min_size=2, max_size=3),
    st.lists(st.sampled_from([" ", "-"]), min_size=1, max_size=2),
)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(word, valid_name), min_size=1, max_size=12, unique_by=emotion_slug))
def test_any_list_of_valid_distinct_names_loads_unchanged(names):
    run = load_run_config({"emotions": list(names), "layers": [20]})
    assert run.emotions == names
    assert len(set(run.slugs)) == len(names)
    assert all(emotion_from_slug(s) == n for s, n in zip(run.slugs, names, strict=True))


@settings(max_examples=80, deadline=None)
@given(word, st.sampled_from(list("/\\*?{}[]$;|&`'\"<>()!~%#\t\n.,:=_0123456789ABC")), word)
def test_names_with_unsafe_characters_are_refused(before, bad, after):
    with pytest.raises(ConfigError) as info:
        load_run_config({"emotions": ["calm", before + bad + after]})
    assert info.value.key == "emotions[1]"


def test_cpu_half_precision_is_refused_before_any_job(tmp_path):
    path = _write(
        tmp_path,
        "m.yaml",
        "models:\n  tiny:\n    source: hub:x/y\n    num_layers: 2\n"
        "    device: cpu\n    dtype: bfloat16\n",
    )
    with pytest.raises(ConfigError, match=r"models\.tiny\.dtype: bfloat16 on the cpu"):
        load_run_config({"models_file": path, "models": ["tiny"]})
