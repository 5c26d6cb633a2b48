"""The attention-sink profile on the real embedded model: SmolLM2's first token is a sink
from the middle layers on, and no other position is."""

from __future__ import annotations

import numpy as np

from emotion_vectors.attention_sinks import position_norms, sink_layer
from emotion_vectors.config import read_neutral

from .conftest import ROOT


def test_the_sink_layer_starts_the_longest_run_above_the_threshold():
    assert sink_layer([1, 20, 3, 40, 60, 5], [1, 2, 3, 4, 5, 6], 10) == 4
    assert sink_layer([1, 2, 3], [1, 2, 3], 10) is None


def test_smollm2_sinks_at_its_first_token_from_the_middle_layers(smollm2):
    texts = read_neutral(ROOT / "config" / "corpus" / "neutral.txt")[:16]
    layers, first, beyond, others = position_norms(smollm2.model, smollm2.tokenizer, texts, 10)
    median = np.median(first, axis=1)
    assert layers == list(range(1, 31))
    # The measurement: ~22,600 against a median of ~222 at layer 20 (about 100x).
    assert 50 < median[19] < 200
    assert median[4] < 10  # not yet at layer 5
    assert sink_layer(median, layers, 10) == 12  # the jump the issue found (layer 11 to 12)
    # Elsewhere almost nothing exceeds the ratio.
    assert beyond.sum() < 0.001 * others * len(layers)
