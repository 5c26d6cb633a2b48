"""The figure of the bootstrap."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from . import pyplot, save

LABELS = {
    "pc1_variance": "PC1 share of variance",
    "valence_r": "PC1 vs valence |r|",
    # The scenarios stay fixed here: only the vectors are rebuilt from resampled templates,
    # so this is how much the accuracy depends on the templates, not an interval on it
    # (that one resamples emotions and scenarios: generalisation.json).
    "top1": "scenario top-1, templates resampled",
    "top3": "scenario top-3, templates resampled",
}


def plot_bootstrap(table: pd.DataFrame, observed: Mapping, result: Mapping, path: str) -> None:
    """One histogram per statistic: the replicates, the observed value and the interval."""
    plt = pyplot()
    names = [n for n in LABELS if n in observed]
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.4), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        ax.hist(table[name].dropna(), bins=30, color="0.75")
        ax.axvline(observed[name], color="#c0392b", label=f"observed {observed[name]:.2f}")
        low, high = result[name]["ci"]
        if low is not None:
            ax.axvspan(low, high, color="#c0392b", alpha=0.12, label=f"95 %: {low:.2f}–{high:.2f}")
        ax.set_title(LABELS[name], fontsize=10)
        ax.legend(fontsize=7)
    unit = "templates (paired)" if result["paired"] else "passages within each emotion"
    fig.suptitle(
        f"{result['model']} / {result['corpus']}, layer {result['layer']}: "
        f"{result['replicates']} bootstrap resamples of the {unit}",
        fontsize=10,
    )
    save(fig, path, dpi=110)
