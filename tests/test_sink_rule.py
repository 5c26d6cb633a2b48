"""One sink rule (pooling.sink_positions) with one ratio (extraction.sink_ratio): every user
decides a sink the same way, and what depends on it is keyed on it."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
import yaml

from emotion_vectors.pooling import SINK_RATIO, own_median, sink_positions, sink_rule
from emotion_vectors.preference import ChoicePrompt, PromptStates, option_means
from emotion_vectors.traces import sink_flags

from .conftest import ROOT

# Own tokens of norms 1..6 (an even count: torch's lower median, 3) and one big position.
NORMS = np.array([5.0, 1.0, 2.0, 3.0, 4.0, 6.0, 29.0, 31.0])
OWN = np.array([False, True, True, True, True, True, True, True])


def test_the_default_ratio_is_the_schemas():
    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    extraction = schema["properties"]["extraction"]["properties"]
    assert extraction["sink_ratio"]["default"] == SINK_RATIO
    sinks = yaml.safe_load((ROOT / "workflow/schemas/attention_sinks.schema.yaml").read_text())
    assert "ratio" not in sinks["properties"]  # one key: extraction.sink_ratio


def test_the_rule_on_tensors_and_on_numpy_rows_agrees():
    assert own_median(torch.tensor(NORMS)[None], torch.tensor(OWN)[None]).item() == 4.0
    flags = sink_positions(NORMS, OWN, 7.0)  # 7 x median 4 = 28
    assert flags.tolist() == [False] * 6 + [True, True]
    batch = sink_positions(torch.tensor(NORMS)[None], torch.tensor(OWN)[None], 7.0)
    assert batch[0].tolist() == flags.tolist()
    assert not sink_positions(NORMS, OWN, None).any()
    assert not sink_positions(NORMS, OWN, 8.0).any()  # 8 x 4 = 32: nothing beyond


def test_traces_flag_what_the_rule_finds_and_the_first_position():
    flags = sink_flags(NORMS, ~OWN, first_is_sink=True, ratio=7.0)
    assert flags.tolist() == [True] + [False] * 5 + [True, True]
    assert sink_flags(NORMS, ~OWN, first_is_sink=False, ratio=7.0).tolist() == (
        sink_positions(NORMS, OWN, 7.0).tolist()
    )


def test_preference_option_means_leave_out_what_the_rule_finds():
    """Option A spans the big positions; the median is over the prompt's own tokens, so a
    special token (position 0) neither counts in it nor is a sink."""
    ids = (99, 1, 2, 3, 4, 5, 6, 7)
    states = torch.zeros(len(ids), 2)
    states[:, 0] = torch.tensor(NORMS, dtype=torch.float32)
    prompt = ChoicePrompt(first=0, second=1, ids=(*ids, 8, 9), span_a=(4, 8), span_b=(8, 9))
    prefixes = {ids: PromptStates(prefix=None, states=states)}
    means = option_means([prompt], prefixes, 1, 7.0, special_ids=[99])
    assert means[0, 0] == pytest.approx((4.0 + 6.0) / 2)  # 29 and 31 left out
    everything = option_means([prompt], prefixes, 1, None, special_ids=[99])
    assert everything[0, 0] == pytest.approx((4 + 6 + 29 + 31) / 4)


def test_what_depends_on_the_rule_is_keyed_on_it():
    from emotion_vectors.jobs.attention_sinks import profile_key
    from emotion_vectors.jobs.preference import null_key

    assert sink_rule(10) == {"rule": 1, "ratio": 10.0} and sink_rule(None)["ratio"] is None
    assert profile_key({"m": 1}, ["a"], 10.0) != profile_key({"m": 1}, ["a"], 8.0)
    job = SimpleNamespace(
        loaded=SimpleNamespace(spec=SimpleNamespace()),
        residual_norms={5: 1.0},
        config={"sink_ratio": 10.0},
    )
    scoring = {"prompts": [], "answers": ["A", "B"], "layer": 5}
    settings = {"strength": 0.5, "seed": 0}
    ten = null_key(job, scoring, [0], settings, 4, fingerprint={"m": 1})
    job.config["sink_ratio"] = 8.0
    assert null_key(job, scoring, [0], settings, 4, fingerprint={"m": 1}) != ten
