"""Steering hooks, "He feels" scoring and the steering rules, on the real embedded model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from emotion_vectors import steering
from emotion_vectors.architecture import architecture
from emotion_vectors.layout import Layout
from emotion_vectors.steering import (
    he_feels_prompt,
    prompt_prefix,
    steer,
    steering_deltas,
    word_ids,
    word_logprobs,
)

from .conftest import MODEL, ROOT, run_snakemake

LAYER = 6


def _block_output(model, ids, layer):
    """The output of decoder block `layer` (1-based) for `ids`, via a capturing hook."""
    seen = {}

    def capture(_module, _inputs, output):
        seen["h"] = (output[0] if isinstance(output, tuple) else output).clone()

    handle = architecture(model).block(layer).register_forward_hook(capture)
    try:
        with torch.inference_mode():
            model.base_model(input_ids=ids, use_cache=False)
    finally:
        handle.remove()
    return seen["h"]


def _ids(smollm2, texts):
    rows = [smollm2.tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    n = min(len(r) for r in rows)
    return torch.tensor([r[:n] for r in rows])


def test_steering_deltas_are_unit_vectors_times_strength_times_norm():
    v = np.array([[3.0, 4.0], [0.0, -2.0]])
    d = steering_deltas(v, [2.0, -1.0], residual_norm=10.0)
    np.testing.assert_allclose(d, [[12.0, 16.0], [0.0, 10.0]])


def test_hook_adds_exactly_the_delta_at_the_chosen_positions_per_row(smollm2):
    model = smollm2.model
    ids = _ids(smollm2, ["The bus leaves at nine from the stop.", "Water boils at one hundred."])
    width = model.config.hidden_size
    rng = np.random.default_rng(0)
    deltas = steering_deltas(rng.normal(size=(2, width)), [1.0, 0.5], residual_norm=50.0)
    positions = torch.zeros(ids.shape, dtype=torch.bool)
    positions[0, :3] = True  # row 0: first three tokens
    positions[1, 2] = True  # row 1: one token
    plain = _block_output(model, ids, LAYER)
    # The capturing hook is registered after the steering hook, so it sees the steered output.
    with steer(model, LAYER, deltas, positions):
        steered = _block_output(model, ids, LAYER)
    expected = plain.clone()
    for row in range(2):
        expected[row, positions[row]] += torch.tensor(deltas[row], dtype=plain.dtype)
    torch.testing.assert_close(steered, expected, rtol=0, atol=1e-4)
    assert not torch.equal(steered, plain)
    # Nothing left behind: the model is unsteered again.
    torch.testing.assert_close(_block_output(model, ids, LAYER), plain, rtol=0, atol=0)


def test_steering_changes_later_layers_only_through_the_chosen_layer(smollm2):
    model = smollm2.model
    ids = _ids(smollm2, ["The bus leaves at nine from the stop."])
    delta = np.ones(model.config.hidden_size) * 3.0
    before = _block_output(model, ids, LAYER - 1)
    with steer(model, LAYER, delta):
        torch.testing.assert_close(_block_output(model, ids, LAYER - 1), before, rtol=0, atol=0)


def test_hook_is_removed_even_when_the_forward_raises(smollm2):
    model = smollm2.model
    block = architecture(model).block(LAYER)
    before = len(block._forward_hooks)
    wrong = np.zeros((3, model.config.hidden_size))  # three rows for a batch of one
    ids = _ids(smollm2, ["Water boils at one hundred."])
    with (
        pytest.raises(ValueError, match="3 steering rows"),
        steer(model, LAYER, wrong),
        torch.inference_mode(),
    ):
        model.base_model(input_ids=ids, use_cache=False)
    assert len(block._forward_hooks) == before
    with pytest.raises(RuntimeError, match="boom"), steer(model, LAYER, wrong[0]):
        raise RuntimeError("boom")
    assert len(block._forward_hooks) == before


def _reference_logprob(model, prompt, word, layer=None, delta=None):
    """Full forward of prompt + word, steering the prompt positions only."""
    ids = torch.tensor([list(prompt) + list(word)])
    positions = torch.zeros(ids.shape, dtype=torch.bool)
    positions[0, : len(prompt)] = True
    ctx = steer(model, layer, delta, positions) if delta is not None else None
    with torch.inference_mode():
        if ctx is None:
            logits = model(input_ids=ids).logits
        else:
            with ctx:
                logits = model(input_ids=ids).logits
    logp = torch.log_softmax(logits.float(), dim=-1)[0]
    return sum(float(logp[len(prompt) - 1 + t, word[t]]) for t in range(len(word)))


def test_multi_token_word_logprob_is_the_sum_of_its_token_logprobs(smollm2):
    model, tok = smollm2.model, smollm2.tokenizer
    prompt = he_feels_prompt(tok, chat=True, question="How does he feel?", answer_prefix="He feels")
    assert tok.decode(prompt).endswith("He feels")
    words = [word_ids(tok, w) for w in ["nostalgic", "at ease", "happy"]]
    assert len(words[0]) > 1 and len(words[1]) > 1 and len(words[2]) == 1
    got = word_logprobs(model, prompt, [words])[0]
    for word, value in zip(words, got, strict=True):
        assert value == pytest.approx(_reference_logprob(model, prompt, word), abs=1e-3)

    # Steered, one vector per condition, prompt positions only.
    rng = np.random.default_rng(1)
    deltas = steering_deltas(rng.normal(size=(2, model.config.hidden_size)), 1.0, 400.0)
    steered = word_logprobs(model, prompt, [words, words[:2]], LAYER, deltas)
    for row, delta in enumerate(deltas):
        for word, value in zip(words, steered[row], strict=False):
            expected = _reference_logprob(model, prompt, word, LAYER, delta)
            assert value == pytest.approx(expected, abs=1e-3)
    assert steered[0][0] != pytest.approx(got[0], abs=1e-2)


@pytest.mark.slow
def test_steering_rules_on_the_embedded_model(tmp_path):
    """The workflow's test configuration (.test/, the catalog's convention), run as a user
    runs it (`snakemake --directory .test`, then `--report`), every job with only its
    rule's software environment importable (tests/envcheck/)."""
    import shutil

    import yaml

    from .rule_envs import ENVCHECK_DIR, refused_imports_table

    shutil.copytree(ROOT / ".test" / "config", tmp_path / "config")
    config = tmp_path / "config" / "config.yaml"
    settings = yaml.safe_load(config.read_text())
    emotions, corpora = settings["emotions"], settings["corpora"]
    env = {
        "PYTHONPATH": str(ENVCHECK_DIR),
        "EMOTION_VECTORS_ENV_CHECK": str(refused_imports_table(tmp_path / "refused.json")),
    }
    run_snakemake(tmp_path, env=env)
    run_snakemake(tmp_path, "--report", str(tmp_path / "report.zip"))
    assert (tmp_path / "report.zip").stat().st_size > 100_000
    layout = Layout(tmp_path / "results")
    steering = layout.outputs("steering", MODEL)
    headline = json.loads(Path(steering["json"]).read_text())
    assert headline["n_emotions"] == len(emotions)
    assert headline["layer"] == 20
    # The steering unit is the sink-free mean residual norm of the layer.
    norms = json.loads(Path(layout.residual_norms(MODEL)).read_text())
    assert headline["unit"] == norms["mean_norm"]["20"] < norms["mean_norm_with_sinks"]["20"]
    low, high = headline["self_positive"]["ci"]
    assert 0 <= low <= headline["self_positive"]["value"] <= high <= 1
    cross = pd.read_csv(steering["cross_table"], index_col=0)
    # The cross subset is config/emotions/seed-30.txt (in its order) within the run.
    assert sorted(cross.index) == sorted(emotions) and list(cross.columns) == list(cross.index)
    sweep = pd.read_csv(steering["layer_table"])
    assert sorted(sweep["layer"].unique()) == [10, 20]
    lens = json.loads(Path(layout.output("lens", "json", MODEL)).read_text())
    assert lens["n_emotions"] == len(emotions)
    assert 0 <= lens["hit_rate"]["chance"] <= 1 and 0 < lens["hit_rate"]["p"] <= 1
    for key in ("self_figure", "cross_figure", "strength_figure", "layer_figure"):
        assert Path(steering[key]).stat().st_size > 10_000
    _check_controls(layout, emotions)
    _check_preference(layout, emotions)
    _check_speakers(layout, emotions)

    # Adding an emotion: the random directions of the other words come from the cache, and
    # so do the preference experiment's unsteered and random-direction comparisons.
    config.write_text(config.read_text().replace(", proud]", ", proud, lonely]"))
    run_snakemake(tmp_path, env=env)
    # The random directions' cache is per (model, layer, word), shared by the two corpora:
    # whichever corpus runs first computes the new word, the other finds it cached.
    logs = {c: Path(layout.log(MODEL, c, "model_analyses")).read_text() for c in corpora}
    both = "".join(logs.values())
    assert both.count(f"at layer 20: {len(emotions)} words cached, computing ['lonely']") == 2
    assert both.count(f"at layer 20: {len(emotions) + 1} words cached, computing []") == 2
    for log in logs.values():
        assert "preference: unsteered and random-direction comparisons from" in log
    _check_controls(layout, [*emotions, "lonely"])
    _check_preference(layout, [*emotions, "lonely"])
    # lonely is one of the dialogue emotions: one corpus reads the new dialogues, the other
    # finds them in the speakers cache.
    dialogues = _check_speakers(layout, [*emotions, "lonely"])
    assert both.count(f"speakers: {dialogues} dialogues from the cache") == 1


def _check_speakers(layout: Layout, emotions) -> int:
    """The speakers experiment: four dialogues per (template, emotion) for the dialogue
    emotions in the run, every read's top-1 inside its interval, a cosine row per emotion,
    a reply per dialogue that got one, its entries in summary.json. Returns the dialogues."""
    from emotion_vectors.config import read_yaml
    from emotion_vectors.dialogues import read_dialogues

    files = layout.outputs("speakers", MODEL)
    headline = json.loads(Path(files["json"]).read_text())
    schema = read_yaml(ROOT / "workflow" / "schemas" / "speakers.schema.yaml")
    expected = [e for e in schema["properties"]["emotions"]["default"] if e in emotions]
    templates = read_dialogues(ROOT / "config" / "dialogues" / "two-person.yaml").templates
    assert headline["emotions"] == expected
    assert headline["dialogues"] == 4 * len(templates) * len(expected)
    for name, read in headline["reads"].items():
        low, high = read["ci"]
        if not read.get("paired"):
            assert 0 <= low <= read["accuracy"] <= high <= 1, name
    cosines = pd.read_csv(files["cosines"])
    assert list(cosines["emotion"]) == expected
    replies = pd.read_csv(files["replies"], keep_default_na=False)
    assert len(replies) == headline["reply"]["replies"] <= headline["dialogues"]
    assert (replies["reply"].str.strip() != "").all() and not replies["reply"].str.contains(
        "\n"
    ).any()
    assert Path(files["figure"]).stat().st_size > 20_000
    summary = json.loads(Path(layout.summary(MODEL)).read_text())
    assert summary["speakers_dialogues"] == headline["dialogues"]
    assert set(summary["holds"]) >= {
        "speakers_other_speaker_read",
        "speakers_present_other_distinct",
    }
    return headline["dialogues"]


def _check_preference(layout: Layout, emotions) -> None:
    """The preference experiment: every shipped activity has an Elo, every steered emotion
    of the run and every random direction a shift with its interval."""
    from emotion_vectors.inputs import read_activities

    files = layout.outputs("preference", MODEL)
    headline = json.loads(Path(files["json"]).read_text())
    activities = read_activities(ROOT / "config" / "preference" / "activities.yaml")
    elo = pd.read_csv(files["elo"])
    assert len(elo) == headline["activities"] == len(activities)
    # Scores are centred (Elo mean 1000; the CSV keeps 6 significant digits).
    assert abs(elo["elo"].mean() - 1000) < 1e-3 and (elo["elo_se"] > 0).all()
    shifts = pd.read_csv(files["shifts"])
    steered = [e for e in shifts.loc[shifts["kind"] == "emotion", "direction"]]
    assert sorted(steered) == sorted(emotions)  # all of them are in the seed's 30
    assert (shifts["kind"] == "random").sum() == headline["random_directions"] == 12
    assert (shifts["shift_low"] <= shifts["elo_shift"]).all()
    assert (shifts["elo_shift"] <= shifts["shift_high"]).all()
    relation = headline["relation"]
    assert relation["n"] == len(emotions) and 0 < relation["p"] <= 1
    assert -1 <= relation["ci"][0] <= relation["ci"][1] <= 1
    assert Path(files["figure"]).stat().st_size > 20_000


def _check_controls(layout: Layout, emotions) -> None:
    """The random-direction and shuffled controls: a p per emotion, at least 1 / (N + 1),
    and the own change of every word equal to the self-steering table's."""
    controls = layout.outputs("steering_controls", MODEL)
    headline = json.loads(Path(controls["json"]).read_text())
    words = pd.read_csv(controls["words"]).set_index("emotion")
    assert sorted(words.index) == sorted(emotions)
    n = headline["random_directions"]
    assert (words["random_n"] == n).all()
    assert words["p"].between(1 / (n + 1) - 1e-12, 1).all()
    assert (words["shuffled_vector"] != words.index).all()
    own = pd.read_csv(layout.output("steering", "self_table", MODEL)).set_index("emotion")
    np.testing.assert_allclose(words.loc[own.index, "own"], own["change"], rtol=1e-6)
    beats = headline["beats_random"]
    assert beats["value"] == pytest.approx((words["p"] < beats["alpha"]).mean())
    layers = pd.read_csv(controls["layers"])
    assert sorted(layers["layer"]) == [10, 20]


@pytest.mark.parametrize("layer", [1, LAYER, 20, 30])
def test_replaying_the_unsteered_prefix_gives_the_full_pass_numbers(smollm2, layer, monkeypatch):
    """The fast path (blocks 1..layer replayed from one unsteered prompt pass, and from one
    unsteered pass of each word's later tokens) against the full steered pass, words of one
    and of several tokens, more conditions than a batch, one and several continuation
    chunks."""
    model, tok = smollm2.model, smollm2.tokenizer
    prompt = he_feels_prompt(tok, chat=True, question="How does he feel?", answer_prefix="He feels")
    words = [word_ids(tok, w) for w in ["nostalgic", "at ease", "happy", "grief-stricken"]]
    rng = np.random.default_rng(layer)
    deltas = steering_deltas(rng.normal(size=(5, model.config.hidden_size)), 1.0, 400.0)
    conditions = [words, words[:1], words[1:], words, words[2:3]]
    full = word_logprobs(model, prompt, conditions, layer, deltas, batch_size=3)
    prefix = prompt_prefix(model, prompt)
    fast = word_logprobs(model, prompt, conditions, layer, deltas, batch_size=3, prefix=prefix)
    for a, b in zip(full, fast, strict=True):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-4)
    # The real blocks are back in place afterwards, with no hook left behind.
    assert all(type(b).__name__ != "Replay" for b in architecture(model).blocks)
    assert word_logprobs(model, prompt, conditions, layer, deltas, batch_size=3) == full
    with pytest.raises(ValueError, match="another prompt"):
        word_logprobs(model, prompt[:-1], conditions, layer, deltas, prefix=prefix)
    monkeypatch.setattr(steering, "CONTINUATION_ROWS", 2)  # rows of different words per chunk
    chunked = word_logprobs(model, prompt, conditions, layer, deltas, batch_size=3, prefix=prefix)
    for a, b in zip(full, chunked, strict=True):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-4)


def test_a_session_reuses_conditions_and_matches_direct_scoring(smollm2):
    from emotion_vectors.steering import (
        SteeringRun,
        SteeringSession,
        baseline_logprobs,
        steering_effects,
    )

    model, tok = smollm2.model, smollm2.tokenizer
    rng = np.random.default_rng(3)
    vectors = {e: rng.normal(size=model.config.hidden_size) for e in ["happy", "at ease", "sad"]}
    settings = {"question": "How does he feel?", "answer_prefix": "He feels", "batch_size": 2}
    session = SteeringSession.open(smollm2, settings, {LAYER: 300.0})
    run = SteeringRun(
        LAYER, list(vectors), [1.0, 1.0, -0.5], [["happy", "sad"], ["at ease"], ["sad"]]
    )
    rows = session.effects("v.parquet", vectors, run)
    prompt = session.prompt
    baseline = baseline_logprobs(model, tok, prompt, ["happy", "sad", "at ease"])
    direct = steering_effects(model, tok, prompt, run, vectors, 300.0, baseline, batch_size=2)
    assert [r["word"] for r in rows] == [r["word"] for r in direct]
    for a, b in zip(rows, direct, strict=True):
        assert a["change"] == pytest.approx(b["change"], abs=1e-4)
    # A repeated condition is read back, not recomputed: the same number to the bit.
    calls = len(session.memo)
    again = session.effects("v.parquet", vectors, SteeringRun(LAYER, ["sad"], [-0.5], [["sad"]]))
    assert len(session.memo) == calls and again[0]["logprob"] == rows[-1]["logprob"]


def _generate_alone(smollm2, prompt, layer, delta, max_new_tokens):
    """Greedy completion of one chat prompt in a batch of its own (no padding)."""
    tok = smollm2.tokenizer
    text = tok.apply_chat_template(
        [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
    )
    ids = torch.tensor([tok(text, add_special_tokens=False)["input_ids"]])
    with torch.inference_mode(), steer(smollm2.model, layer, delta):
        out = smollm2.model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tok.pad_token_id,
        )
    return tok.decode(out[0, ids.shape[1] :], skip_special_tokens=True).strip()


def test_batched_generations_match_each_prompt_generated_alone(smollm2):
    # All (prompt, condition) rows share one left-padded batch; prompts of different
    # lengths must come out as they do unpadded, steered rows steered by their own delta.
    from emotion_vectors.steering import steered_generations

    prompts = ["Hi.", "Describe the room you are in, in a few words please."]
    width = smollm2.model.config.hidden_size
    rng = np.random.default_rng(1)
    delta = steering_deltas(rng.normal(size=(1, width)), [0.5], residual_norm=30.0)[0]
    conditions = [("(none)", None), ("random", delta)]
    rows = steered_generations(
        smollm2.model, smollm2.tokenizer, prompts, True, LAYER, conditions, 12
    )
    assert [(r["prompt"], r["steering"]) for r in rows] == [
        (p, c) for p in prompts for c, _ in conditions
    ]
    for r in rows:
        d = np.zeros(width) if r["steering"] == "(none)" else delta
        assert r["completion"] == _generate_alone(smollm2, r["prompt"], LAYER, d, 12)
    steered = {r["prompt"]: r["completion"] for r in rows if r["steering"] == "random"}
    plain = {r["prompt"]: r["completion"] for r in rows if r["steering"] == "(none)"}
    assert steered != plain
