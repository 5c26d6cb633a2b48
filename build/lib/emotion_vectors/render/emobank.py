"""The figure of the EmoBank experiment: each method's r with human ratings on the test
sentences, with its bootstrap interval, valence and arousal side by side."""

from __future__ import annotations

import pandas as pd

from . import pyplot, save

COLOURS = {"emotion axis": "#c0392b", "baseline": "#7f8c8d", "supervised probe": "#2c6fbb"}


def plot_emobank(table: pd.DataFrame, model: str, layer: int, n_test: int, path) -> None:
    """Horizontal bars of r (test split) per method, 95 % bootstrap intervals over
    sentences; emotion axes red, baselines grey, supervised probes blue."""
    plt = pyplot()
    dimensions = list(dict.fromkeys(table["dimension"]))
    fig, axes = plt.subplots(1, len(dimensions), figsize=(12, 4.6), sharex=True)
    panels = list(axes) if len(dimensions) > 1 else [axes]
    for ax, dimension in zip(panels, dimensions, strict=True):
        rows = table[table["dimension"] == dimension].iloc[::-1]
        y = range(len(rows))
        colours = [COLOURS[k] for k in rows["kind"]]
        errors = [rows["r"] - rows["ci_low"], rows["ci_high"] - rows["r"]]
        ax.barh(y, rows["r"], xerr=errors, color=colours, alpha=0.85, capsize=2)
        labels = [
            f"{m} ({c})" if isinstance(c, str) and "best" in m else m
            for m, c in zip(rows["method"], rows["component"], strict=True)
        ]
        ax.set_yticks(list(y), labels, fontsize=8)
        ax.axvline(0, color="0.3", lw=0.8)
        ax.set_title(f"EmoBank {dimension} (test, n = {n_test})", fontsize=10)
        ax.set_xlabel("Pearson r with human ratings")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in COLOURS.values()]
    fig.legend(handles, list(COLOURS), loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle(
        f"{model}: emotion axes at layer {layer} on human-labelled sentences "
        "(signs and choices fitted on train)",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    save(fig, path, dpi=120, tight=False)
