"""The figure of the behaviour experiment: one dose-response panel per suite."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping

import numpy as np
import pandas as pd

from . import pyplot, save

ARROW = {"raises": "↑", "lowers": "↓"}


def plot_behaviour(shifts: pd.DataFrame, headline: Mapping, model: str, path: str) -> None:
    """Per suite: the shift in the mean log-odds of choosing the behaviour against the
    steering strength, one line per emotion (the paper's predicted emotions thick, with
    their bootstrap interval over items shaded), the random directions' range grey."""
    plt = pyplot()
    suites = list(headline["suites"])
    cols = min(2, len(suites))
    rows = math.ceil(len(suites) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.4 * cols, 4.4 * rows), squeeze=False)
    emotions = headline["emotions"]
    colours = {e: pyplot().get_cmap("tab10")(k % 10) for k, e in enumerate(emotions)}
    for ax, name in zip(axes.ravel(), suites, strict=False):
        _panel(ax, shifts[shifts["suite"] == name], headline["suites"][name], colours, headline)
    for ax in axes.ravel()[len(suites) :]:
        ax.axis("off")
    fig.suptitle(
        f"{model}, layer {headline['layer']}: steering on the assistant turn "
        f"(strength × {headline['unit']:.0f}, the sink-free mean residual norm)",
        fontsize=10,
    )
    save(fig, path)


def _panel(ax, table: pd.DataFrame, suite: Mapping, colours: Mapping, headline: Mapping) -> None:
    strengths = sorted(table["strength"].unique())
    x = np.arange(len(strengths))
    where = {s: k for k, s in enumerate(strengths)}
    rnd = table[table["kind"] == "random"].groupby("strength")["shift"]
    low, high = rnd.min().reindex(strengths), rnd.max().reindex(strengths)
    ax.fill_between(
        x,
        low,
        high,
        color="0.85",
        label=f"{headline['random_directions']} random directions (range)",
    )
    predictions = suite.get("predictions") or {}
    for emotion, rows in table[table["kind"] == "emotion"].groupby("direction", sort=False):
        rows = rows.sort_values("strength")
        xs = [where[s] for s in rows["strength"]]
        predicted = predictions.get(emotion, {})
        label = emotion + (f" (paper {ARROW[predicted['expected']]})" if predicted else "")
        ax.plot(xs, rows["shift"], marker="o", ms=3, lw=2.2 if predicted else 0.9,
                color=colours[emotion], label=label, zorder=3 if predicted else 2)  # fmt: skip
        if predicted:
            ax.fill_between(xs, rows["shift_low"], rows["shift_high"], color=colours[emotion],
                            alpha=0.08, lw=0)  # fmt: skip
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xticks(x, [f"{s:g}" for s in strengths])
    ax.set_xlabel("steering strength")
    ax.set_ylabel("shift in mean log-odds of the behaviour")
    unsteered = suite["unsteered"]
    share = 100 * unsteered["share_behaviour"]
    what = textwrap.shorten(suite["behaviour"], 60, placeholder="…")
    title = (f"{suite['title']} ({suite['items']} items): {what}\n"
             f"unsteered: behaviour chosen in {share:.0f} % of items; ")  # fmt: skip
    verdict = suite.get("holds")
    title += ("no prediction" if verdict is None and not predictions
              else f"paper's predictions {'hold' if verdict else 'do not hold'}"
              f" at {headline['verdict_strength']:g}")  # fmt: skip
    ax.set_title(title, fontsize=8.5)
    ax.legend(fontsize=6.5, loc="best", ncol=2)
