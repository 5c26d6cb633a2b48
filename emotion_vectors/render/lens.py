"""Figures and the HTML table of the logit lens."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
from markupsafe import Markup

from ..lens import FormIndex, LensResult
from . import pyplot, render, save


def write_summary_html(summary: pd.DataFrame, model: str, layer: int, top_k: int,
                       hit_rate: Mapping, path: str) -> None:  # fmt: skip
    ci = hit_rate.get("ci") or [None, None]
    page = render(
        "lens.html",
        title=f"Logit lens: {model}",
        model=model,
        layer=layer,
        top_k=top_k,
        hit_rate=f"{hit_rate['value']:.1%}",
        n=hit_rate["n"],
        ci=None if None in ci else [f"{ci[0]:.1%}", f"{ci[1]:.1%}"],
        chance=f"{hit_rate['chance']:.1%}",
        p=f"{hit_rate['p']:.3g}",
        table=Markup(summary.to_html(index=False, escape=True, border=0)),
    )
    Path(path).write_text(page)


def plot_top_tokens(
    result: LensResult, index: FormIndex, emotions: Sequence[str], model: str, layer: int, path
) -> None:
    """One panel per emotion: its promoted tokens and their logit change, own forms in red."""
    plt = pyplot()
    cols = min(4, len(emotions))
    nrows = -(-len(emotions) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.6 * cols, 3.4 * nrows), squeeze=False)
    for ax in axes.flat[len(emotions) :]:
        ax.axis("off")
    for ax, emotion in zip(axes.flat, emotions, strict=False):
        i = result.emotions.index(emotion)
        toks = result.promoted[i][::-1]
        labels = [repr(t)[1:-1] or "␣" for _, t, _ in toks]
        colors = ["#c0392b" if index.is_form(t, emotion) else "#7f8c8d" for _, t, _ in toks]
        ax.barh(range(len(toks)), [c for _, _, c in toks], color=colors)
        ax.set_yticks(range(len(toks)), labels, fontsize=9)
        ax.set_title(f"{emotion} ({'hit' if result.hits[i] else 'no hit'})", fontsize=11)
        ax.tick_params(axis="x", labelsize=8)
        ax.set_xlabel("logit change", fontsize=9)
    fig.suptitle(
        f"Logit lens: top promoted tokens, {model}, layer {layer} (red: a form of the emotion)",
        fontsize=12,
    )
    save(fig, path, dpi=120)


def plot_hit_rate_by_layer(table: pd.DataFrame, model: str, layer: int, top_k: int, path):
    """Hit rate by layer with its Wilson band, and the chance rate by layer."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.8))
    ax.fill_between(
        table["layer"], 100 * table["ci_low"], 100 * table["ci_high"], color="C0", alpha=0.2
    )
    ax.plot(table["layer"], 100 * table["hit_rate"], marker="o", label="own word forms")
    ax.plot(
        table["layer"], 100 * table["chance_rate"], color="0.4", ls=":", label="chance (others')"
    )
    ax.axvline(layer, color="grey", linestyle="--", label=f"analysis layer {layer}")
    ax.set_xlabel("layer")
    ax.set_ylabel(f"emotions with a form in top {top_k} (%)")
    ax.set_ylim(bottom=0)
    title = f"Logit-lens hit rate by layer, {model}\n(band: 95 % Wilson interval)"
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    save(fig, path, dpi=120)
