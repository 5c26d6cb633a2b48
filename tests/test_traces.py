"""Emotion traces on the real embedded model: the per-token projections against an
independent recomputation, same text same numbers, chat roles, sinks, clear errors; the
public `trace` over a real workflow run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from emotion_vectors.config import ConfigError
from emotion_vectors.inputs import read_text_file, text_files
from emotion_vectors.layout import Layout
from emotion_vectors.traces import top_emotions, trace_frame

from .conftest import MODEL, ROOT, run_snakemake

LAYER = 20
CHAT = [
    {"role": "user", "content": "My dog died this morning and the house is so quiet."},
    {"role": "assistant", "content": "I am so sorry. Losing a companion hurts."},
]


@pytest.fixture(scope="module")
def directions():
    rng = np.random.default_rng(3)
    vectors = {e: rng.normal(size=576) for e in ("sad", "happy", "afraid")}
    return vectors, rng.normal(size=576)


def _independent(smollm2, ids, vectors, reference):
    """The same projections from transformers' own hidden_states[LAYER] (block LAYER's
    output for LAYER < the last layer)."""
    import torch

    with torch.inference_mode():
        out = smollm2.model(input_ids=torch.tensor([ids]), output_hidden_states=True)
    states = out.hidden_states[LAYER][0].double().numpy()
    units = np.stack([v / np.linalg.norm(v) for v in vectors.values()])
    return (states - reference) @ units.T


def test_a_text_is_traced_token_by_token(smollm2, directions):
    vectors, reference = directions
    text = "The house was quiet. Then the storm broke the windows and she screamed."
    frame = trace_frame(smollm2, text, vectors, reference, LAYER)
    ids = smollm2.tokenizer(text)["input_ids"]
    assert len(frame) == len(ids) and list(frame["position"]) == list(range(len(ids)))
    assert "".join(frame["token"]) == text
    expected = _independent(smollm2, ids, vectors, reference)
    np.testing.assert_allclose(frame[list(vectors)].to_numpy(), expected, rtol=1e-4, atol=1e-3)
    # SmolLM2 adds no BOS: the first token is the attention sink, flagged.
    assert frame["sink"].iloc[0] and not frame["sink"].iloc[1:].any()
    assert frame["norm"].iloc[0] > 10 * frame["norm"].iloc[1:].median()
    # Same text, same numbers.
    again = trace_frame(smollm2, text, vectors, reference, LAYER)
    np.testing.assert_array_equal(again[list(vectors)].to_numpy(), frame[list(vectors)].to_numpy())
    (whole,) = top_emotions(frame, 2)
    assert whole["message"] == -1 and whole["tokens"] == len(ids) - 1
    assert [e for e, _ in whole["top"]] == list(
        frame[list(vectors)].iloc[1:].mean().nlargest(2).index
    )


def test_a_chat_keeps_each_messages_role(smollm2, directions):
    vectors, reference = directions
    frame = trace_frame(smollm2, CHAT, vectors, reference, LAYER)
    for k, message in enumerate(CHAT):
        tokens = frame[frame["message"] == k]
        assert set(tokens["role"]) == {message["role"]}
        assert "".join(tokens["token"]).strip() == message["content"]
    assert set(frame.loc[frame["message"] < 0, "role"]) == {"template"}
    ids = smollm2.tokenizer(
        smollm2.tokenizer.apply_chat_template(CHAT, tokenize=False), add_special_tokens=False
    )["input_ids"]
    expected = _independent(smollm2, ids, vectors, reference)
    np.testing.assert_allclose(frame[list(vectors)].to_numpy(), expected, rtol=1e-4, atol=1e-3)
    assert [m["role"] for m in top_emotions(frame)] == ["user", "assistant"]


@pytest.mark.parametrize("bad", ["", [], [{"role": "user"}], [{"role": "bot", "content": "x"}]])
def test_a_text_with_nothing_to_trace_is_a_clear_error(smollm2, directions, bad):
    vectors, reference = directions
    with pytest.raises(ValueError, match=r"no tokens|expected|not one of"):
        trace_frame(smollm2, bad, vectors, reference, LAYER)


def test_the_shipped_texts_read(tmp_path):
    texts = text_files(ROOT / "config" / "traces")
    assert {"loss", "threat", "good-news"} <= set(texts)
    chats = [read_text_file(p) for p in texts.values()]
    assert any(isinstance(c, list) and c[-1]["role"] == "assistant" for c in chats)
    (tmp_path / "index.txt").write_text("hello")
    with pytest.raises(ConfigError, match="index"):
        text_files(tmp_path)


@pytest.mark.slow
def test_trace_through_the_public_api_after_a_run(tmp_path):
    """A real run (three emotions, one layer), then `trace` on its vectors: one column per
    emotion, the neutral reference subtracted, same numbers twice, clear errors."""
    from emotion_vectors import load_vectors, trace
    from emotion_vectors.store import read_activation_matrix

    config = tmp_path / "cfg.yaml"
    config.write_text(yaml.safe_dump({"emotions": ["happy", "sad", "afraid"], "layers": [LAYER]}))
    run_snakemake(tmp_path, "vectors", "--configfile", str(config))
    results = tmp_path / "results"
    frame = trace(MODEL, "She opened the letter and cried with joy.", results=results)
    assert frame.attrs["layer"] == LAYER and frame.attrs["emotions"] == [
        "happy",
        "sad",
        "afraid",
    ]  # the run's order
    again = trace(MODEL, "She opened the letter and cried with joy.", results=results)
    np.testing.assert_array_equal(
        frame[["happy", "sad"]].to_numpy(), again[["happy", "sad"]].to_numpy()
    )
    # Each column is (state - the neutral passages' mean) . the unit vector, recomputed here
    # from the stored vectors and neutral activations and transformers' hidden states.
    vectors = load_vectors(MODEL, results=results)
    _, neutral = read_activation_matrix(Layout(results).neutral_activations(MODEL), LAYER)
    from emotion_vectors.api import _loaded_model

    ids = _loaded_model(MODEL, None).tokenizer("She opened the letter and cried with joy.")[
        "input_ids"
    ]
    units = {e: vectors.loc[e].to_numpy(np.float64) for e in ("happy", "sad")}
    expected = _independent(_loaded_model(MODEL, None), ids, units, neutral.mean(axis=0))
    np.testing.assert_allclose(frame[["happy", "sad"]].to_numpy(), expected, rtol=1e-4, atol=1e-3)
    only = trace(MODEL, CHAT, emotions=["sad"], results=results)
    assert list(only.columns[-1:]) == ["sad"] and set(only["role"]) == {
        "template",
        "user",
        "assistant",
    }
    with pytest.raises(ValueError, match="no vectors for \\['proud'\\]"):
        trace(MODEL, "hello", emotions=["proud"], results=results)
    with pytest.raises(ValueError, match="no tokens"):
        trace(MODEL, "", results=results)
    with pytest.raises(ValueError, match=r"layer 5 .* not computed"):
        trace(MODEL, "hello", layer=5, results=results)


@pytest.mark.slow
def test_trace_pages_of_a_workflow_run(tmp_path):
    """The trace_texts rule on the shipped texts: a page and a table per text, each chat
    also with the model's own reply, and the index."""
    config = tmp_path / "cfg.yaml"
    emotions = ["happy", "sad", "afraid", "calm"]
    settings = {"emotions": emotions, "layers": [LAYER], "traces": {"reply_tokens": 8}}
    config.write_text(yaml.safe_dump(settings))
    layout = Layout(tmp_path / "results")
    index = layout.output("traces", "index", MODEL)
    target = Layout("results").output("traces", "index", MODEL)  # relative to the run folder
    run_snakemake(tmp_path, target, "--configfile", str(config))
    summary = json.loads(Path(layout.output("traces", "json", MODEL)).read_text())
    texts = text_files(ROOT / "config" / "traces")
    assert set(summary["texts"]) == set(texts)
    for name, entry in summary["texts"].items():
        page = " ".join(Path(layout.trace(MODEL, name)).read_text().split())  # as displayed
        assert "data:image/png;base64," in page and "attention sink" in page
        table = Path(layout.trace(MODEL, name, kind="csv")).read_text().splitlines()
        assert table[0].startswith("position,token,role,message,special,sink,norm,")
        if name.endswith(("loss", "threat", "news")):
            assert entry["reply"] and "with the model's own reply" in entry
            assert "own reply" in page
    assert "loss.html" in Path(index).read_text()
