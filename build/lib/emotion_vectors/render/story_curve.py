"""The story curve figure: implicit-scenario top-1 of story vectors against the number of
stories per emotion, one panel per centring, one line per pooling start, the template
vectors' top-1 and chance as references."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from . import pyplot, save


def plot_story_curve(table: pd.DataFrame, result: Mapping, model: str, output: str) -> None:
    plt = pyplot()
    centrings = list(result["centrings"])
    fig, axes = plt.subplots(1, len(centrings), figsize=(5.2 * len(centrings), 4.6), sharey=True)
    axes = list(axes) if len(centrings) > 1 else [axes]
    colours = plt.get_cmap("viridis")
    starts = result["pool_starts"]
    for ax, centring in zip(axes, centrings, strict=True):
        key = "templates_top1" if centring == "emotions" else f"templates_top1_{centring}"
        templates = result.get(key)
        for i, start in enumerate(starts):
            sub = table[(table["centring"] == centring) & (table["pool_start"] == start)]
            sub = sub.sort_values("stories_per_emotion")
            colour = colours(i / max(1, len(starts) - 1) * 0.85)
            own = start == result["configured_start"]
            label = f"pooled from token {start}" + (" (the run's)" if own else "")
            x = sub["stories_per_emotion"]
            ax.plot(x, sub["top1"], "-o", ms=3.5, lw=2 if own else 1.2, color=colour, label=label)
            ax.fill_between(x, sub["ci_low"], sub["ci_high"], color=colour, alpha=0.12, lw=0)
        if templates:
            ax.axhline(templates["value"], color="tab:blue", lw=1.2,
                       label="template vectors, centred the same way")  # fmt: skip
            ax.axhspan(*templates["ci"], color="tab:blue", alpha=0.08, lw=0)
        ax.axhline(result["chance"], color="grey", lw=1, ls="--", label="chance")
        ax.set_xscale("log", base=2)
        last = max(result["sizes"])
        ax.set_xticks(
            result["sizes"], [f"{n} (all)" if n == last else str(n) for n in result["sizes"]]
        )
        ax.set_xlabel("stories per emotion")
        name = "the mean over emotions" if centring == "emotions" else "the neutral set"
        ax.set_title(f"centred on {name}", fontsize=10)
        ax.set_ylim(0, 1)
    axes[0].set_ylabel(f"implicit scenarios top-1 ({result['passages']} passages)")
    axes[-1].legend(fontsize=7, loc="upper right")
    fig.suptitle(
        f"{model}, layer {result['layer']}: story vectors from n stories per emotion "
        "(topic-balanced random subsets; all: every story, at the median count)\n"
        "bands: 95 % intervals over subsets and scenarios",
        fontsize=10,
    )
    save(fig, output)
