"""Figures and the HTML page of the steering experiments."""

from __future__ import annotations

import numpy as np
from markupsafe import Markup

from . import pyplot, render, save


def plot_self(self_table, model: str, layer: int, strength: float, path) -> None:
    """Sorted horizontal bars: the change in log-probability of each emotion's own word."""
    plt = pyplot()
    data = self_table.sort_values("change")
    n = len(data)
    fig, ax = plt.subplots(figsize=(7, max(3.5, 0.14 * n + 1.4)))
    colors = np.where(data["change"] > 0, "#c0392b", "#2c7fb8")
    ax.barh(range(n), data["change"], color=colors)
    ax.set_yticks(range(n), data["emotion"], fontsize=7 if n > 40 else 9)
    ax.set_ylim(-0.7, n - 0.3)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("change in log-probability of the emotion's own word")
    ax.xaxis.set_ticks_position("both")
    ax.tick_params(axis="x", labeltop=True)
    positive = (data["change"] > 0).mean()
    ax.set_title(
        f'Self-steering on "He feels ___": {model}, layer {layer}, strength {strength:g}\n'
        f"{positive:.0%} of {n} emotions raised",
        fontsize=10,
    )
    save(fig, path, dpi=110)


def plot_cross(matrix, model: str, layer: int, strength: float, path) -> None:
    """Heatmap of the change in each word's log-probability (columns) under each steering
    vector (rows), coloured on a scale centred at 0."""
    plt = pyplot()
    values = matrix.to_numpy(dtype=float)
    n = len(matrix)
    limit = float(np.nanmax(np.abs(values))) if values.size else 1.0
    fig, ax = plt.subplots(figsize=(max(5, 0.3 * n + 3), max(4.5, 0.3 * n + 2)))
    image = ax.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set_xticks(range(n), matrix.columns, rotation=90, fontsize=8)
    ax.set_yticks(range(n), matrix.index, fontsize=8)
    ax.set_xlabel("word scored after 'He feels'")
    ax.set_ylabel("steering vector")
    fig.colorbar(image, ax=ax, shrink=0.8, label="change in log-probability")
    ax.set_title(f"Cross-steering: {model}, layer {layer}, strength {strength:g}", fontsize=10)
    save(fig, path, dpi=110)


def plot_strength_sweep(table, model: str, layer: int, path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for emotion, group in table.groupby("emotion", sort=False):
        ax.plot(group["strength"], group["change"], marker="o", label=emotion)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.axvline(0, color="grey", linewidth=0.6, linestyle=":")
    ax.set_xlabel("steering strength (x mean residual norm)")
    ax.set_ylabel("change in log-prob of own word")
    ax.set_title(f"Strength sweep: {model}, layer {layer}", fontsize=10)
    ax.legend(fontsize=8, ncol=2)
    save(fig, path, dpi=110)


def plot_layer_sweep(table, model: str, strength: float, analysis_layer: int, path) -> None:
    plt = pyplot()
    by_layer = table.groupby("layer")["change"]
    mean, positive = by_layer.mean(), by_layer.apply(lambda c: (c > 0).mean())
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.plot(mean.index, mean.values, marker="o", color="#c0392b", label="mean self effect")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.axvline(
        analysis_layer, color="grey", linestyle="--", label=f"analysis layer {analysis_layer}"
    )
    ax.set_xlabel("steered layer")
    ax.set_ylabel("mean change in log-prob of own word")
    twin = ax.twinx()
    twin.plot(
        positive.index,
        100 * positive.values,
        marker="s",
        color="#2c7fb8",
        alpha=0.6,
        label="emotions raised (%)",
    )
    twin.set_ylim(0, 105)
    twin.set_ylabel("emotions raised (%)")
    n = table["emotion"].nunique()
    ax.set_title(f"Layer sweep: {model}, {n} emotions, strength {strength:g}", fontsize=10)
    lines = ax.get_legend_handles_labels()
    more = twin.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="lower right")
    save(fig, path, dpi=110)


def generations_html(title: str, wide) -> str:
    """The completions as a table: one row per steering condition, one column per prompt."""
    table = Markup(wide.to_html(escape=True, border=0))
    return render("generations.html", title=title, table=table)
