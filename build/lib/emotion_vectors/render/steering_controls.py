"""The figure of the steering controls."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from . import pyplot, save

NULL_STYLE = {
    "isotropic": ("random unit directions", "0.55"),
    "other_emotions": ("other emotions' vectors", "#2c7fb8"),
    "covariance": ("covariance-matched", "#7b3294"),
}


def plot_controls(
    words: pd.DataFrame, layers: pd.DataFrame, tests: pd.DataFrame, summaries: Mapping,
    model: str, layer: int, strength: float, alpha: float, path: str,
) -> None:  # fmt: skip
    """Top left: every emotion's own-word change after "He feels" (sorted) against the
    nulls at the same strength; top right: the isotropic controls per steered layer;
    bottom: the z of the own change against each null, per test (frame and words)."""
    plt = pyplot()
    fig = plt.figure(figsize=(14, 9.5), layout="constrained")
    grid = fig.add_gridspec(2, 2, width_ratios=[2.2, 1])
    _words_panel(fig.add_subplot(grid[0, 0]), words, layer, strength, alpha)
    _layers_panel(fig.add_subplot(grid[0, 1]), layers, layer)
    _z_panel(fig.add_subplot(grid[1, :]), tests, summaries, alpha)
    fig.suptitle(f"Steering controls: {model}", fontsize=11)
    save(fig, path, dpi=120, tight=False)


def _words_panel(ax, words: pd.DataFrame, layer: int, strength: float, alpha: float) -> None:
    data = words.sort_values("own").reset_index(drop=True)
    x = np.arange(len(data))
    ax.fill_between(x, data["random_p05"], data["random_p95"], color="0.85", step="mid",
                    label="random unit directions, 5-95 %")  # fmt: skip
    ax.plot(x, data["random_mean"], color="0.55", lw=0.8, label="random unit directions, mean")
    if "covariance_mean" in data:
        sd = data["covariance_sd"]
        ax.fill_between(x, data["covariance_mean"] - 1.645 * sd, data["covariance_mean"]
                        + 1.645 * sd, color="#7b3294", alpha=0.18, step="mid",
                        label="covariance-matched, mean ± 1.645 sd")  # fmt: skip
    if "other_emotions_mean" in data:
        ax.scatter(x, data["other_emotions_mean"], s=7, color="#2c7fb8", marker="s",
                   label="other emotions' vectors, mean", zorder=3)  # fmt: skip
    beats = data["other_emotions_p"] < alpha if "other_emotions_p" in data else data["p"] < alpha
    ax.scatter(x[~beats], data["own"][~beats], s=9, color="#e6a09a", zorder=4,
               label=f"own vector, p ≥ {alpha:g} vs other emotions")  # fmt: skip
    ax.scatter(x[beats], data["own"][beats], s=9, color="#c0392b", zorder=4,
               label=f"own vector, p < {alpha:g} vs other emotions (z-test)")  # fmt: skip
    ax.axhline(0, color="black", lw=0.6)
    if len(data) <= 40:
        ax.set_xticks(x, data["emotion"], rotation=90, fontsize=7)
    else:
        ax.set_xlabel("emotions, sorted by the own vector's change")
    ax.set_ylabel("change in log-prob of the emotion's word")
    ax.set_title(
        f'"He feels ___" at layer {layer}, strength {strength:g}: {int(beats.sum())} of '
        f"{len(data)} own vectors beat the other emotions' vectors (p < {alpha:g})",
        fontsize=10,
    )
    ax.legend(fontsize=7, loc="upper left", ncols=2, framealpha=0.8)


def _layers_panel(ax, layers: pd.DataFrame, layer: int) -> None:
    ax.plot(layers["layer"], layers["own_mean"], "o-", color="#c0392b", label="own vector")
    ax.plot(layers["layer"], layers["shuffled_mean"], "s--", color="#2c7fb8", label="shuffled")
    ax.plot(layers["layer"], layers["random_mean"], "^:", color="0.4", label="random, mean")
    ax.plot(layers["layer"], layers["random_p95_mean"], color="0.7", lw=0.8,
            label="random, 95th pct")  # fmt: skip
    ax.axhline(0, color="black", lw=0.6)
    ax.axvline(layer, color="grey", ls="--", lw=0.8)
    ax.set_xlabel("steered layer")
    ax.set_ylabel("mean change over the cross emotions")
    ax.set_title("Layer sweep, random unit directions and shuffled vectors", fontsize=10)
    ax.legend(fontsize=7)


def _z_panel(ax, tests: pd.DataFrame, summaries: Mapping, alpha: float) -> None:
    """Per test and null: every word's z (jittered), and the share of words with p < alpha
    with its interval resampling the null's draws and the emotions."""
    from scipy.stats import norm

    rng = np.random.default_rng(0)
    top = ax.get_xaxis_transform()  # x in data, y in axes fraction
    position, ticks, labels = 0.0, [], []
    for test, nulls in summaries.items():
        frame, kind = test.split(" / ")
        rows = tests[(tests["frame"] == frame) & (tests["kind"] == kind)]
        first = position
        for null, (label, colour) in NULL_STYLE.items():
            if null not in nulls:
                continue
            z = np.clip(rows[f"{null}_z"].to_numpy(), -10, 40)
            ax.scatter(position + rng.uniform(-0.3, 0.3, len(z)), z, s=5, color=colour,
                       alpha=0.6)  # fmt: skip
            share = nulls[null]["share"]
            low, high = share.get("ci") or (None, None)
            if share["value"] is None:  # no word of this test has a draw of this null
                text = "–"
            elif low is None or high is None:
                text = f"{share['value']:.0%}"
            else:
                text = f"{share['value']:.0%}\n[{low:.0%}, {high:.0%}]"
            ax.text(position, 0.82, text, transform=top, ha="center", va="bottom",
                    fontsize=6.5, color=colour)  # fmt: skip
            ticks.append(position)
            labels.append(label)
            position += 1
        ax.text((first + position - 1) / 2, 0.99, f'"{frame}"\n{kind}s (n = {len(rows)})',
                transform=top, ha="center", va="top", fontsize=8)  # fmt: skip
        position += 0.8
    ax.axhline(norm.isf(alpha), color="#c0392b", lw=0.8, ls="--",
               label=f"z of p = {alpha:g} (one-sided)")  # fmt: skip
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xticks(ticks, labels, rotation=20, fontsize=7, ha="right")
    low, high = ax.get_ylim()
    ax.set_ylim(low, high + (high - low) * 0.3)  # room for the shares above the points
    ax.set_ylabel("z of the own change against the null (clipped to [-10, 40])")
    ax.set_title(
        "Per test and null: z of each word's own change, and the share of words beating the "
        "null (z-test) with its interval resampling the null's draws and the emotions",
        fontsize=10,
    )
    ax.legend(fontsize=7, loc="lower right")
