"""The speakers experiment: the dialogue corpus and its character ranges, the span pooling
against transformers' own hidden states, and the maths (held-out decoding, cross-half
cosines, the crossed bootstrap) on planted signals where the answer is known."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emotion_vectors.activations import extract_spans
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


def test_span_means_equal_the_mean_of_transformers_hidden_states(smollm2):
    model, tok = smollm2.model, smollm2.tokenizer
    built = build_dialogues(read_dialogues(SHIPPED), ["calm"])[:3]
    texts = [d.text for d in built]
    spans = [dict(d.spans) for d in built]
    pooling = Pooling(batch_size=2, max_length=256, sink_ratio=None)
    got = extract_spans(model, tok, texts, spans, [1, 20], pooling)
    for i, d in enumerate(built):
        enc = tok(d.text, return_offsets_mapping=True, return_tensors="pt")
        offsets = enc.pop("offset_mapping")[0].tolist()
        with torch.inference_mode():
            hidden = model(**enc, output_hidden_states=True).hidden_states
        for kind, ranges in d.spans.items():
            chosen = [j for j, (s, e) in enumerate(offsets)
                      if any(s < b and e > a for a, b in ranges)]  # fmt: skip
            assert chosen and 0 not in chosen
            for layer in (1, 20):
                expected = hidden[layer][0, chosen].mean(dim=0).numpy()
                np.testing.assert_allclose(got[kind][layer][i], expected, rtol=1e-4, atol=1e-4)
    # The colon is one token, the last.
    assert (
        len([j for j, (s, e) in enumerate(offsets) if s < len(d.text) and e > len(d.text) - 1]) == 1
    )


def test_a_span_no_token_covers_is_an_error(smollm2):
    with pytest.raises(ValueError, match="no token of span 'x'"):
        extract_spans(smollm2.model, smollm2.tokenizer, ["Ann: hello"], [{"x": [(50, 60)]}],
                      [1], Pooling())  # fmt: skip


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


def test_a_reply_is_read_with_its_dialogue_unless_its_tokens_change_the_dialogues(smollm2):
    """One pass reads a dialogue and its reply; a reply whose first characters merge with
    the label's colon into one token (":" + ":)") would change the dialogue's own tokens,
    so that dialogue is read again alone; an empty reply has no reply span."""
    from emotion_vectors.jobs.speakers import reply_passages

    built = build_dialogues(read_dialogues(SHIPPED), ["calm"])[:3]
    full, spans, alone = reply_passages(smollm2.tokenizer, built, [" I see.", ":)", ""])
    assert alone == [1]
    ((a, b),) = spans[0]["reply"]
    assert full[0][a:b] == "I see." and full[0].startswith(built[0].text)
    assert "reply" not in spans[2] and full[2] == built[2].text
