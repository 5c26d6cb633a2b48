"""The figure of the steering controls."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import pyplot, save


def plot_controls(
    words: pd.DataFrame, layers: pd.DataFrame, model: str, layer: int, strength: float,
    alpha: float, path: str,
) -> None:  # fmt: skip
    """Left: every emotion's own-word change (sorted) against the 5-95 % band of the random
    directions and the shuffled vector's change; right: the same means per steered layer."""
    plt = pyplot()
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(13, 4.6), gridspec_kw={"width_ratios": [2.2, 1]}, layout="constrained"
    )
    data = words.sort_values("own").reset_index(drop=True)
    x = np.arange(len(data))
    left.fill_between(
        x, data["random_p05"], data["random_p95"], color="0.8", step="mid",
        label="random directions, 5-95 %",
    )  # fmt: skip
    left.plot(x, data["random_mean"], color="0.5", lw=0.8, label="random directions, mean")
    left.scatter(x, data["shuffled"], s=7, color="#2c7fb8", label="shuffled vector", zorder=3)
    significant = data["p"] < alpha
    left.scatter(x[~significant], data["own"][~significant], s=9, color="#e6a09a", zorder=4,
                 label=f"own vector, p ≥ {alpha:g}")  # fmt: skip
    left.scatter(x[significant], data["own"][significant], s=9, color="#c0392b", zorder=4,
                 label=f"own vector, p < {alpha:g}")  # fmt: skip
    left.axhline(0, color="black", lw=0.6)
    if len(data) <= 40:
        left.set_xticks(x, data["emotion"], rotation=90, fontsize=7)
    else:
        left.set_xlabel("emotions, sorted by the own vector's change")
    left.set_ylabel("change in log-prob of the emotion's word")
    left.set_title(
        f'"He feels ___" at layer {layer}, strength {strength:g}: {int(significant.sum())} of '
        f"{len(data)} own vectors beat the random directions (p < {alpha:g})",
        fontsize=10,
    )
    left.legend(fontsize=7, loc="upper left")
    right.plot(layers["layer"], layers["own_mean"], "o-", color="#c0392b", label="own vector")
    right.plot(layers["layer"], layers["shuffled_mean"], "s--", color="#2c7fb8", label="shuffled")
    right.plot(layers["layer"], layers["random_mean"], "^:", color="0.4", label="random, mean")
    right.plot(layers["layer"], layers["random_p95_mean"], color="0.7", lw=0.8,
               label="random, 95th pct")  # fmt: skip
    right.axhline(0, color="black", lw=0.6)
    right.axvline(layer, color="grey", ls="--", lw=0.8)
    right.set_xlabel("steered layer")
    right.set_ylabel("mean change over the cross emotions")
    right.set_title("Layer sweep, same controls", fontsize=10)
    right.legend(fontsize=7)
    fig.suptitle(f"Steering controls: {model}", fontsize=11)
    save(fig, path, dpi=120, tight=False)
