"""Configuration: the shipped defaults load, and bad input gets one located error."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from emotion_vectors.config import (
    ConfigError,
    emotion_from_slug,
    emotion_slug,
    read_models,
)
from emotion_vectors.run_config import load_run_config

from .bad_inputs import CASES, DOC, materialise, message, table_cell
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
    assert cfg["extraction"] == {
        "batch_size": 16,
        "max_length": 512,
        "pool_from": "after_emotion",
        "pool_start": 0,
        "drop_first_position": True,
        "sink_ratio": 10,
        "share_prefix": True,
    }
    assert cfg["vectors"] == {"neutral_variance": 0.5}
    assert len(run.emotions) == 171
    # Every registered analysis's section is there, with its schema's defaults.
    controls = run.sections["steering_controls"]
    assert {k: controls[k] for k in ("random_directions", "sweep_random_directions", "alpha",
                                     "seed", "other_emotions", "covariance_directions")} == {
        "random_directions": 50, "sweep_random_directions": 20, "alpha": 0.05, "seed": 0,
        "other_emotions": 20, "covariance_directions": 20,
    }  # fmt: skip
    assert controls["off_template_emotions"][:3] == ["afraid", "angry", "anxious"]
    assert controls["frames"][0]["answer_prefix"] == "The mood in the room was"
    # Emotion-list files become the listed emotions of the run, in the file's order.
    assert run.sections["steering"]["cross_emotions"][:3] == ["afraid", "angry", "anxious"]


def test_each_corpus_has_one_pooling_description():
    run = load_run_config({})
    templates, stories = run.pooling("templates"), run.pooling("stories")
    assert templates.pool_from == "after_emotion" and templates.sink_ratio == 10
    assert stories.pool_from == "passage_start"
    assert stories.pool_start == run.sections["stories"]["pool_start"]
    assert templates.fingerprint() != stories.fingerprint()


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


@pytest.mark.parametrize("case", CASES, ids=[c.title for c in CASES])
def test_bad_input_names_file_key_and_problem(case, tmp_path):
    config = materialise(case, tmp_path)
    with pytest.raises(ConfigError) as info:
        load_run_config(config, label="config/config.yaml")
    err = info.value
    assert Path(err.file).name == Path(case.file).name
    assert err.key == case.key
    assert case.problem in err.problem
    assert "\n" not in str(err)


def test_the_bad_input_table_is_up_to_date(tmp_path):
    doc = DOC.read_text()
    for i, case in enumerate(CASES):
        folder = tmp_path / str(i)
        folder.mkdir()
        assert table_cell(message(case, folder)) in doc, case.title


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


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
    # Without the scenario test: its passages may not name any emotion of the run, and
    # random names ("a", "was") name half the English language.
    cfg = {"emotions": list(names), "layers": [20], "generalisation": {"scenarios": None}}
    run = load_run_config(cfg)
    assert run.emotions == names
    assert len(set(run.slugs)) == len(names)
    assert all(emotion_from_slug(s) == n for s, n in zip(run.slugs, names, strict=True))


@settings(max_examples=80, deadline=None)
@given(word, st.sampled_from(list("/\\*?{}[]$;|&`'\"<>()!~%#\t\n.,:=_0123456789ABC")), word)
def test_names_with_unsafe_characters_are_refused(before, bad, after):
    with pytest.raises(ConfigError) as info:
        load_run_config({"emotions": ["calm", before + bad + after]})
    assert info.value.key == "emotions[1]"


def test_pickled_weights_load_only_when_the_model_opts_in(tmp_path):
    """A path: folder with only pickles is refused (tests/bad_inputs.py); the same folder
    with `allow_pickle: true`, or with safetensors beside the pickles, parses."""
    from emotion_vectors.config import parse_models

    (tmp_path / "pytorch_model.bin").write_text("x")
    entry = {"source": f"path:{tmp_path}", "num_layers": 2}
    with pytest.raises(ConfigError, match="allow_pickle"):
        parse_models({"models": {"tiny": dict(entry)}}, "m.yaml")
    opted = parse_models({"models": {"tiny": {**entry, "allow_pickle": True}}}, "m.yaml")
    assert opted["tiny"].allow_pickle is True
    (tmp_path / "model.safetensors").write_text("x")
    assert parse_models({"models": {"tiny": dict(entry)}}, "m.yaml")["tiny"].allow_pickle is False
