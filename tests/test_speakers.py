"""The speakers experiment: the dialogue corpus and its character ranges, the span pooling
against transformers' own hidden states, and the maths (held-out decoding, cross-half
cosines, the crossed bootstrap) on planted signals where the answer is known."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emotion_vectors.config import ConfigError
from emotion_vectors.dialogues import build_dialogues, read_dialogues
from emotion_vectors.pooling import Pooling
from emotion_vectors.speakers import (
    Index,
    Read,
    cross_half_cosines,
    crossed_draws,
    crossed_interval,
    crossed_r,
    difference_vectors,
    held_out_scores,
    margins,
    residualised,
)

from .bad_inputs import dialogues as dialogue_file
from .conftest import ROOT

SHIPPED = ROOT / "config" / "dialogues" / "two-person.yaml"
EMOTIONS = ["happy", "sad", "at ease"]


def test_the_shipped_dialogues_read_and_build_four_per_template_and_emotion():
    found = read_dialogues(SHIPPED)
    assert found.licence and found.source
    assert len(found.templates) >= 12
    built = build_dialogues(found, EMOTIONS)
    assert len(built) == 4 * len(found.templates) * len(EMOTIONS)
    assert len({d.id for d in built}) == len(built)
    for d in built:
        # No range the experiment reads names the emotion; the colon is the text's last
        # character and follows the name of who replies next.
        for kind in ("own", "other", "last"):
            assert d.spans[kind]
            for a, b in d.spans[kind]:
                assert d.emotion not in d.text[a:b]
        ((a, b),) = d.spans["colon"]
        assert d.text[a:b] == ":" and b == len(d.text)
        last_name = d.text.rsplit("\n", 1)[1][:-1]
        assert last_name == (d.feeler if d.next == "feeler" else d.other)
        # The emotion is named once, by the feeler.
        line = next(x for x in d.text.split("\n") if d.emotion in x)
        assert line.startswith(d.feeler + ": ") and d.text.count(d.emotion) == 1


def test_own_and_other_ranges_are_each_speakers_lines():
    d = build_dialogues(read_dialogues(SHIPPED), ["calm"])[0]
    lines = {}
    start = 0
    for line in d.text.split("\n")[:-1]:  # the last is the label of who replies next
        lines[start + line.index(": ") + 2] = line.split(": ", 1)[0]
        start += len(line) + 1
    for kind, speaker in (("own", d.feeler), ("other", d.other)):
        assert {lines[a] for a, _ in d.spans[kind]} == {speaker}


def test_the_reverse_dialogue_swaps_who_feels(tmp_path):
    built = build_dialogues(read_dialogues(SHIPPED), ["calm"])
    first = [d for d in built if d.template == built[0].template]
    assert {(d.feeler, d.other) for d in first} == {
        (first[0].feeler, first[0].other), (first[0].other, first[0].feeler)
    }  # fmt: skip


@pytest.mark.parametrize(
    "lines, problem",
    [
        (("feeler: I feel {emotion} and {emotion}.", "other: No.", "feeler: Yes."),
         "{emotion} must stand once"),
        (("feeler: Hello.", "other: It is late.", "feeler: Yes."), "{emotion} must stand once"),
        (("feeler: I feel {emotion}.", "other: It is {late}.", "feeler: Yes."),
         "no braces other than {emotion}"),
        (("speaker: I feel {emotion}.", "other: No.", "feeler: Yes."), "unknown speaker"),
        (("feeler: I feel {emotion}.", "other: It is late."),
         "each speaker needs a line to read"),
    ],
)  # fmt: skip
def test_malformed_templates_name_the_file_and_template(tmp_path, lines, problem):
    path = tmp_path / "d.yaml"
    path.write_text(dialogue_file(*lines))
    with pytest.raises(ConfigError) as err:
        read_dialogues(path)
    assert err.value.file == str(path) and "templates[0] (t0)" in err.value.key
    assert problem in err.value.problem


def test_too_few_templates_and_bad_names_are_refused(tmp_path):
    path = tmp_path / "d.yaml"
    good = ("feeler: I feel {emotion}.", "other: It is late.", "feeler: Yes.")
    path.write_text(dialogue_file(*good, count=3))
    with pytest.raises(ConfigError, match="at least 4 templates"):
        read_dialogues(path)
    path.write_text(dialogue_file(*good).replace("[[Ann, Bo]]", "[[Ann, Ann]]"))
    with pytest.raises(ConfigError, match="names\\[0\\]: expected two different"):
        read_dialogues(path)


# ---------------------------------------------------------------- span pooling, real model


def test_dialogue_and_reply_means_equal_the_mean_of_transformers_hidden_states(smollm2):
    """One decoding run reads each dialogue and the reply the model writes: every span's
    mean equals the mean of transformers' own hidden states of a plain pass over the
    dialogue's tokens followed by the reply's, on the tokens the span covers; the reply is
    the greedy continuation up to the first line break, its span its tokens before it."""
    from emotion_vectors.jobs.speakers import read_with_replies

    model, tok = smollm2.model, smollm2.tokenizer
    built = build_dialogues(read_dialogues(SHIPPED), ["calm"])[:3]
    pooling = Pooling(batch_size=1, max_length=256, sink_ratio=None)
    got, replies = read_with_replies(model, tok, built, [1, 20], pooling, reply_tokens=8)
    for i, d in enumerate(built):
        enc = tok(d.text, return_offsets_mapping=True)
        offsets, ids = enc["offset_mapping"], enc["input_ids"]
        # The greedy reply, one token at a time, without any cache or batch.
        new = []
        with torch.inference_mode():
            for _ in range(8):
                token = int(model(input_ids=torch.tensor([ids + new])).logits[0, -1].argmax())
                new.append(token)
                if "\n" in tok.decode([token]) or token == tok.eos_token_id:
                    break
            hidden = model(input_ids=torch.tensor([ids + new]), output_hidden_states=True)
        text = tok.decode(new, skip_special_tokens=True)
        assert replies[i] == text.split("\n")[0].rstrip()
        chosen = {kind: [j for j, (s, e) in enumerate(offsets)
                         if any(s < b and e > a for a, b in ranges)]
                  for kind, ranges in d.spans.items()}  # fmt: skip
        # Reply tokens: those with characters of the reply (the line break's token only if
        # it also holds some).
        ends = [len(tok.decode(new[: k + 1], skip_special_tokens=True)) for k in range(len(new))]
        starts = [0, *ends[:-1]]
        reply, lead = replies[i], len(replies[i]) - len(replies[i].lstrip())
        inside = [
            starts[k] < len(reply) and ends[k] > max(lead, starts[k]) for k in range(len(new))
        ]
        chosen["reply"] = [len(ids) + k for k, keep in enumerate(inside) if keep]
        assert all(chosen.values()) and 0 not in chosen["own"]
        for kind, positions in chosen.items():
            for layer in (1, 20):
                expected = hidden.hidden_states[layer][0, positions].mean(dim=0).numpy()
                np.testing.assert_allclose(got[layer][kind][i], expected, rtol=1e-4, atol=1e-4)
    # The colon is one token, the last of the dialogue.
    assert (
        len([j for j, (s, e) in enumerate(offsets) if s < len(d.text) and e > len(d.text) - 1]) == 1
    )


def test_no_reply_leaves_the_reply_span_empty_and_the_dialogue_read_the_same(smollm2):
    from emotion_vectors.jobs.speakers import read_with_replies

    built = build_dialogues(read_dialogues(SHIPPED), ["calm"])[:2]
    pooling = Pooling(batch_size=2, max_length=256, sink_ratio=None)
    read = read_with_replies(smollm2.model, smollm2.tokenizer, built, [20], pooling, 0)
    with_reply = read_with_replies(smollm2.model, smollm2.tokenizer, built, [20], pooling, 6)
    assert read[1] == ["", ""] and np.isnan(read[0][20]["reply"]).all()
    assert all(with_reply[1]) and not np.isnan(with_reply[0][20]["reply"]).any()
    for kind in ("own", "other", "last", "colon"):
        np.testing.assert_allclose(read[0][20][kind], with_reply[0][20][kind], atol=1e-4)


def test_a_span_no_token_covers_is_an_error(smollm2):
    from dataclasses import replace

    from emotion_vectors.jobs.speakers import read_with_replies

    d = build_dialogues(read_dialogues(SHIPPED), ["calm"])[0]
    bad = replace(d, spans={**d.spans, "own": ((len(d.text) + 50, len(d.text) + 60),)})
    with pytest.raises(ValueError, match=f"no token of span 'own' in dialogue {d.id}"):
        read_with_replies(smollm2.model, smollm2.tokenizer, [bad], [1], Pooling(), 0)


# ---------------------------------------------------------------- maths, planted signals


def _planted(k=5, n_t=8, width=40, own_other_same=True, noise=0.05, seed=0):
    """States whose own and other tokens carry the emotion along planted directions (the
    same for both, or orthogonal ones), rows for both next speakers."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.normal(size=(width, 2 * k)))[0].T
    own_dirs = basis[:k]
    other_dirs = own_dirs if own_other_same else basis[k:]
    emotion, template, nxt = [], [], []
    for t in range(n_t):
        for e in range(k):
            for role in ("feeler", "other"):
                emotion.append(e)
                template.append(t)
                nxt.append(role)
    emotion, template = np.array(emotion), np.array(template)
    index = Index(emotion, template, np.array(nxt), k, n_t)
    rows = len(emotion)
    shift = rng.normal(size=(n_t, width))  # a template's own content, shared by every kind
    states = {
        kind: dirs[emotion] + shift[template] + noise * rng.normal(size=(rows, width))
        for kind, dirs in (("own", own_dirs), ("other", other_dirs), ("colon", own_dirs),
                           ("reply", own_dirs))
    }  # fmt: skip
    return states, index


def test_difference_vectors_are_centred_on_the_mean_over_emotions():
    states, index = _planted()
    v = difference_vectors(states["own"], index.emotion, index.n_emotions)
    np.testing.assert_allclose(v.sum(axis=0), 0, atol=1e-9)


@pytest.mark.parametrize("same", [True, False])
def test_held_out_reads_find_planted_emotions_and_only_where_they_are(same):
    states, index = _planted(own_other_same=same)
    for read in (Read("o", "own", "own"), Read("x", "other", "other"),
                 Read("c", "own", "colon", "other")):  # fmt: skip
        rows, scores = held_out_scores(states, index, read)
        assert (scores.argmax(axis=1) == index.emotion[rows]).mean() == 1.0
    rows, scores = held_out_scores(states, index, Read("cross", "own", "other"))
    accuracy = (scores.argmax(axis=1) == index.emotion[rows]).mean()
    assert accuracy == 1.0 if same else accuracy < 0.6
    # Noise alone reads at chance (0.2), on average over draws.
    accuracies = []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        noise = {k: rng.normal(size=v.shape) for k, v in states.items()}
        rows, scores = held_out_scores(noise, index, Read("o", "own", "own"))
        accuracies.append((scores.argmax(axis=1) == index.emotion[rows]).mean())
    assert 0.12 < np.mean(accuracies) < 0.3


@pytest.mark.parametrize("same, lo, hi", [(True, 0.9, 1.01), (False, -0.2, 0.2)])
def test_cross_half_cosines_tell_one_direction_from_two(same, lo, hi):
    states, index = _planted(own_other_same=same)
    halves = cross_half_cosines(states, index, splits=5, seed=0)
    assert halves["own_own"].mean() > 0.9
    shared = (halves["own_other"] - halves["own_other_null"]).mean() / (
        halves["own_own"] - halves["own_other_null"]
    ).mean()
    assert lo < shared < hi


def test_margins_residuals_and_the_crossed_bootstrap():
    scores = np.array([[0.5, 0.1, -0.1], [0.0, 0.2, 0.4]])
    np.testing.assert_allclose(margins(scores, np.array([0, 2])), [0.5, 0.3])
    r = residualised(np.array([1.0, 3.0, 10.0, 14.0]), np.array([0, 0, 1, 1]))
    np.testing.assert_allclose(r, [-1, 1, -2, 2])
    cells = np.arange(12.0).reshape(3, 4)
    draws = crossed_draws(3, 4, 500, seed=0)
    lo, hi = crossed_interval(cells, draws)
    assert lo < cells.mean() < hi
    # The correlation of a planted relation survives the crossed draws.
    _, index = _planted()
    rows = np.arange(len(index.emotion))
    x = np.random.default_rng(0).normal(size=len(rows))
    rs = crossed_r(x, 2 * x + 0.1, rows, index, draws[:50])
    np.testing.assert_allclose(rs, 1.0)
