"""How a passage's token states become one vector per layer: the one description of
pooling (`Pooling`) that every set of activations uses (emotion passages, neutral sets,
stories, scenarios, residual norms), with its format version, and the two rules it applies
per passage: which tokens enter the mean, and which positions are attention sinks.

Attention sinks. A model that adds no BOS token (SmolLM2, Qwen2.5) turns the first token of
every passage into an attention sink: on SmolLM2-135M its residual norm at layer 20 is about
22,600 against a median of about 222 for the other tokens, so any mean that includes it is
that one token. `Pooling` leaves out of every mean the first position of the sequence
(`drop_first_position`; with a BOS that position is the BOS, never pooled anyway) and, per
layer, every position whose norm exceeds `sink_ratio` times the median norm of the
passage's own tokens at that layer (`sink_positions`).

`sink_positions` is the one definition of a sink ratio-wise: pooling, the residual norms,
the traces, the preference experiment's option means and the attention-sink profile all
call it, with the one configured ratio (`extraction.sink_ratio`, default `SINK_RATIO`).
Whatever depends on it keys its caches and job parameters on `sink_rule(ratio)`, which
carries `SINK_RULE`: bump that when the rule itself changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

# numpy only inside pool_weights: the Snakefile builds Pooling at parse time, in Snakemake's
# own environment (which has no numpy under --sdm conda).
if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import ArrayLike

# Bump when the pooled numbers an unchanged config produces would change: it is part of
# every activation cache key (`Pooling.fingerprint`).
POOLING_FORMAT = 2
# The sink rule's version (sink_positions) and its default ratio (the config schema's
# default of extraction.sink_ratio is this value, tested).
SINK_RULE = 1
SINK_RATIO = 10.0


def sink_rule(ratio: float | None) -> dict:
    """What a result that leaves sinks out depends on, for its cache key or job params."""
    return {"rule": SINK_RULE, "ratio": None if ratio is None else float(ratio)}


@dataclass(frozen=True)
class Pooling:
    """How the token states of a passage become one vector per layer. Everything that
    changes the pooled numbers is a field, and every field is in `fingerprint()`, so a
    cache key built from it cannot forget a setting."""

    pool_from: str = "after_emotion"  # or "passage_start"
    pool_start: int = 0  # first own token (0-based, after any BOS) that enters the mean
    max_length: int = 512
    batch_size: int = 16
    drop_first_position: bool = True
    sink_ratio: float | None = SINK_RATIO
    # Forward the tokens that template passages share (everything before the emotion slot)
    # once per template: equal to the full pass up to float rounding (activations.py).
    share_prefix: bool = True

    def __post_init__(self) -> None:
        if self.pool_from not in ("after_emotion", "passage_start"):
            raise ValueError(f"pool_from must be after_emotion or passage_start: {self.pool_from}")

    @classmethod
    def from_settings(cls, settings: Mapping, **overrides) -> Pooling:
        """From the config's `extraction` section (unknown keys ignored), with overrides."""
        known = {k: settings[k] for k in cls.__dataclass_fields__ if k in settings}
        return cls(**{**known, **overrides})

    def fingerprint(self) -> dict:
        fields = asdict(self)
        # Sharing prefixes changes the float rounding of what is pooled after the emotion
        # word, so it is part of those keys; whole passages never share one, so their keys
        # (neutral sets, stories, scenarios) stay as they were.
        if self.pool_from == "passage_start":
            del fields["share_prefix"]
        return {"format": POOLING_FORMAT, **fields}

    def from_passage_start(self) -> Pooling:
        """The same pooling over whole passages (texts with no emotion word to pool after)."""
        return replace(self, pool_from="passage_start")


def pool_weights(
    special: ArrayLike,
    pool_start: int,
    starts: Sequence[int] | None = None,
    from_char: int = 0,
    drop_first: bool = False,
) -> np.ndarray:
    """Which tokens of one (unpadded) passage enter its mean: the passage's own tokens
    (not BOS or other added special tokens) from its `pool_start`-th token on, not the
    first position of the sequence when `drop_first`, and, given token start offsets, only
    those that start at or after character `from_char` (e.g. after the emotion word). A
    passage with no such token falls back to its last own token rather than to nothing."""
    import numpy as np

    special = np.asarray(special, dtype=bool)
    own = ~special
    position = np.cumsum(own) - 1  # index among the passage's own tokens
    weights = own & (position >= pool_start)
    if drop_first and len(weights):
        weights[0] = False
    if starts is not None and from_char > 0:
        weights &= np.asarray(starts) >= from_char
    if not weights.any():
        idx = np.flatnonzero(own)
        weights[idx[-1] if idx.size else len(special) - 1] = True
    return weights.astype(np.float32)


def own_median(norms, own):
    """[batch] the median norm of each row's `own` positions (torch's lower median for an
    even count; NaN for a row with none)."""
    import torch

    masked = torch.where(own, norms, torch.full_like(norms, float("nan")))
    return torch.nanmedian(masked, dim=1).values


def sink_positions(norms, own, ratio: float | None):
    """[batch, tokens] bool: own tokens whose norm exceeds `ratio` x the median norm of
    their row's own tokens (own_median). None: none. Torch tensors, or numpy arrays of one
    row or a batch (the answer comes back in the same form)."""
    import numpy as np
    import torch

    if isinstance(norms, np.ndarray):
        single = norms.ndim == 1
        n = torch.from_numpy(np.atleast_2d(norms).astype(np.float64))
        o = torch.from_numpy(np.atleast_2d(np.asarray(own, dtype=bool)))
        flags = sink_positions(n, o, ratio).numpy()
        return flags[0] if single else flags
    if ratio is None:
        return torch.zeros_like(own)
    return own & (norms > ratio * own_median(norms, own)[:, None])
