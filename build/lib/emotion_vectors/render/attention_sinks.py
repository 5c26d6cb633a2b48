"""The figure of the attention-sink profile."""

from __future__ import annotations

import pandas as pd

from . import pyplot, save


def plot_sinks(table: pd.DataFrame, model: str, ratio: float, analysis_layer: int, path) -> None:
    """The first position's norm over the median of the other tokens, by layer (median and
    range over passages, log scale), against the ratio the pooling leaves sinks out at."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4))
    layer, colour = table["layer"], "#c0392b"
    band = (table["first_ratio_min"], table["first_ratio_max"])
    ax.fill_between(layer, *band, color=colour, alpha=0.2, label="first position, range")
    ax.plot(layer, table["first_ratio_median"], "o-", color=colour, ms=3, label="first position")
    ax.axhline(ratio, color="0.3", ls=":", label=f"sink ratio {ratio:g}")
    ax.axhline(1, color="0.6", lw=0.6)
    ax.axvline(analysis_layer, color="grey", ls="--", lw=0.8, label=f"layer {analysis_layer}")
    ax.set_yscale("log")
    ax.set_xlabel("layer")
    ax.set_ylabel("norm / median norm of the other tokens")
    share = table["other_beyond"].sum() / max(1, table["other_tokens"].sum())
    ax.set_title(
        f"Attention sinks: {model}; other positions beyond the ratio: {share:.2%} of tokens",
        fontsize=10,
    )
    ax.legend(fontsize=8)
    save(fig, path, dpi=120)
