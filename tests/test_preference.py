"""The preference experiment: the Bradley-Terry fit (by hand), the both-orders debiasing,
the Elo shift, the pair design, the activities file, and the shared-prefix scoring on the
real model against whole prompts."""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest

from emotion_vectors.config import ConfigError
from emotion_vectors.inputs import read_activities
from emotion_vectors.preference import (
    ELO_SCALE,
    Comparisons,
    SteeredComparison,
    answer_ids,
    bradley_terry,
    choice_logodds,
    choice_prompts,
    debiased,
    elo_shifts,
    fit_elo,
    forward_prefixes,
    option_means,
    pair_design,
    split_half_reliability,
    to_elo,
)

from .conftest import ROOT


def sigmoid(x):
    return 1 / (1 + np.exp(-np.asarray(x, dtype=float)))


def test_bradley_terry_by_hand_on_four_activities():
    # A chain 0-1-2-3 has as many free scores as comparisons, so the fit reproduces each
    # comparison exactly: s0 - s1 = logit(0.8) = ln 4, s1 - s2 = logit(0.5) = 0,
    # s2 - s3 = logit(0.25) = -ln 3. With s3 = x: s2 = x - ln 3, s1 = s2, s0 = s1 + ln 4,
    # and the scores sum to zero: 4x - 3 ln 3 + ln 4 = 0.
    x = (3 * math.log(3) - math.log(4)) / 4
    expected = [x - math.log(3) + math.log(4), x - math.log(3), x - math.log(3), x]
    scores, _ = bradley_terry(4, [0, 1, 2], [1, 2, 3], [0.8, 0.5, 0.25])
    np.testing.assert_allclose(scores, expected, atol=1e-9)
    # Elo: a 3-to-1 favourite is 400 log10(3) = 190.85 points ahead.
    elo = to_elo(scores)
    assert elo[0] - elo[1] == pytest.approx(400 * math.log10(4), abs=1e-6)
    assert elo[2] - elo[3] == pytest.approx(-400 * math.log10(3), abs=1e-6)
    assert elo.mean() == pytest.approx(1000)


def test_bradley_terry_recovers_scores_from_every_pair():
    truth = np.array([1.0, 0.4, -0.3, -1.1])
    truth -= truth.mean()
    pairs = [(i, j) for i in range(4) for j in range(i + 1, 4)]
    p = [sigmoid(truth[i] - truth[j]) for i, j in pairs]
    scores, se = bradley_terry(4, [i for i, _ in pairs], [j for _, j in pairs], p)
    np.testing.assert_allclose(scores, truth, atol=1e-9)
    assert (se > 0).all()


def test_both_orders_cancel_a_preference_for_a_letter():
    rng = np.random.default_rng(0)
    d_fwd, d_rev = rng.normal(size=10), rng.normal(size=10)
    base = debiased(d_fwd, d_rev)
    # Any constant pull towards "A" (or "B") leaves the debiased log-odds unchanged ...
    np.testing.assert_allclose(debiased(d_fwd + 2.5, d_rev + 2.5), base)
    # ... and i over j is exactly minus j over i.
    np.testing.assert_allclose(debiased(d_rev, d_fwd), -base)
    pairs = pair_design(5, 2, seed=1)
    n = len(pairs)
    fwd, rev = rng.normal(size=n), rng.normal(size=n)
    plain, _ = fit_elo(5, Comparisons(pairs, fwd, rev), ridge=0.0)
    biased, _ = fit_elo(5, Comparisons(pairs, fwd + 3.0, rev + 3.0), ridge=0.0)
    np.testing.assert_allclose(plain, biased, atol=1e-9)


def test_ridge_keeps_an_activity_that_always_wins_finite():
    scores, _ = bradley_terry(3, [0, 0, 1], [1, 2, 2], [1.0, 1.0, 0.5], ridge=0.01)
    assert np.isfinite(scores).all() and scores[0] > scores[1] == pytest.approx(scores[2])


def test_pair_design_is_seeded_connected_and_balanced():
    pairs = pair_design(12, 3, seed=4)
    assert pairs == pair_design(12, 3, seed=4) != pair_design(12, 3, seed=5)
    assert len({(i, j) for i, j, _ in pairs}) == len(pairs)
    degree = np.zeros(12, int)
    for i, j, _ in pairs:
        degree[i] += 1
        degree[j] += 1
    assert degree.min() >= 2 and degree.max() <= 6  # two new opponents a round, at most
    # Round 0 alone is one cycle: every activity meets exactly two opponents.
    first = [(i, j) for i, j, r in pairs if r == 0]
    assert len(first) == 12
    assert sorted(np.bincount(np.array(first).ravel(), minlength=12)) == [2] * 12


def test_elo_shift_equals_the_change_against_equal_opponents():
    # Opponents scored like the target, undecided unsteered: a steered log-odds change of
    # delta moves the target's score by exactly delta (Elo: x 400 / ln 10).
    scores = np.zeros(4)
    for delta in (0.0, 0.3, -1.2):
        rows = [SteeredComparison(0, j, 0.0, delta) for j in (1, 2, 3)]
        shift = elo_shifts(scores, rows, ridge=0.0)[0]
        assert shift == pytest.approx(ELO_SCALE * delta, abs=1e-8)


def test_split_half_reliability_is_high_for_consistent_preferences():
    truth = np.linspace(-1, 1, 10)
    pairs = pair_design(10, 4, seed=0)
    fwd = np.array([truth[i] - truth[j] for i, j, _ in pairs]) + 0.7  # a pull towards "A"
    rev = np.array([truth[j] - truth[i] for i, j, _ in pairs]) + 0.7
    assert split_half_reliability(10, Comparisons(pairs, fwd, rev), 0.0) > 0.99
    rng = np.random.default_rng(0)
    noise = Comparisons(pairs, rng.normal(size=len(pairs)), rng.normal(size=len(pairs)))
    assert split_half_reliability(10, noise, 0.0) < 0.9


def test_the_shipped_activities_are_varied(tmp_path):
    activities = read_activities(ROOT / "config" / "preference" / "activities.yaml")
    assert len(activities) >= 60
    counts = {
        c: sum(a.category == c for a in activities) for c in ("pleasant", "neutral", "unpleasant")
    }
    assert min(counts.values()) >= 15
    bad = tmp_path / "a.yaml"
    bad.write_text("fun: [swim, read, nap, run]\n")
    with pytest.raises(ConfigError, match="unknown category"):
        read_activities(bad)


# ---------------------------------------------------------------- on the real model

ACTIVITIES = ["go for a walk in the park", "clean a clogged toilet", "fold the laundry",
              "eat a slice of warm apple pie"]  # fmt: skip
QUESTION = "Which would you rather do? Answer with A or B only.\nA: {a}\nB: {b}"


def _whole_prompt_logodds(model, prompt, answers, layer, delta=None):
    """log P(A) - log P(B) of one whole prompt in one plain forward pass."""
    import torch

    from emotion_vectors.architecture import architecture
    from emotion_vectors.steering import steer

    arch = architecture(model)
    ids = torch.tensor([list(prompt.ids)])
    mask = torch.zeros_like(ids, dtype=torch.bool)
    mask[0, prompt.span_b[0] : prompt.span_b[1]] = True
    ctx = (
        steer(model, layer, delta, positions=mask)
        if delta is not None
        else contextlib.nullcontext()
    )
    with torch.inference_mode(), ctx:
        hidden = arch.base(input_ids=ids).last_hidden_state[0, -1]
        logp = torch.log_softmax(arch.unembedding(hidden).float(), dim=-1)
    a, b = answers
    return float(torch.logsumexp(logp[a], -1) - torch.logsumexp(logp[b], -1))


def test_shared_prefixes_and_replay_give_the_whole_prompts_numbers(smollm2):
    model, tokenizer = smollm2.model, smollm2.tokenizer
    ordered = [(0, 1), (1, 0), (2, 3), (3, 2), (0, 3)]
    prompts = choice_prompts(tokenizer, True, QUESTION, ACTIVITIES, ordered)
    for p in prompts:  # the spans are the activities' tokens
        assert tokenizer.decode(p.ids[p.span_a[0] : p.span_a[1]]).strip() == ACTIVITIES[p.first]
        assert tokenizer.decode(p.ids[p.span_b[0] : p.span_b[1]]).strip() == ACTIVITIES[p.second]
    answers = answer_ids(tokenizer)
    layer = 20
    prefixes = forward_prefixes(model, prompts, layer, batch_size=2)  # several batches
    rng = np.random.default_rng(0)
    deltas = rng.normal(size=(2, 576)) * 20
    got = choice_logodds(model, prompts, prefixes, answers, tokenizer.pad_token_id, layer,
                         deltas, batch_size=3)  # fmt: skip
    assert got.shape == (3, len(prompts))
    for k, prompt in enumerate(prompts):
        assert got[0, k] == pytest.approx(
            _whole_prompt_logodds(model, prompt, answers, layer), abs=2e-4
        )
        for c, delta in enumerate(deltas):
            whole = _whole_prompt_logodds(model, prompt, answers, layer, delta)
            assert got[c + 1, k] == pytest.approx(whole, abs=2e-4)
    # Steering option B moves the answer; a zero vector does not.
    assert np.abs(got[1] - got[0]).max() > 1e-3
    zero = choice_logodds(model, prompts[:2], prefixes, answers, tokenizer.pad_token_id, layer,
                          np.zeros((1, 576)))  # fmt: skip
    np.testing.assert_allclose(zero[1], zero[0], atol=1e-5)
    # Each activity's state is read on its own tokens as option A, the same for every
    # prompt that shows it first.
    means = option_means(prompts, prefixes, 4, sink_ratio=10.0)
    assert means.shape == (4, 576) and np.isfinite(means).all()
    assert not np.allclose(means[0], means[2])
