"""The figure of the speakers experiment: held-out top-1 of each read beside its shallow
control and chance; the cosines of own and other vectors across halves of the templates;
the colon's margin against the reply's."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from . import pyplot, save

ROLE_COLOURS = {"feeler": "#c0392b", "other": "#2c6fbb"}


def plot_speakers(
    headline: Mapping, reads: pd.DataFrame | None, replies: pd.DataFrame | None, model: str, path
) -> None:
    plt = pyplot()
    if headline.get("skipped"):
        fig, ax = plt.subplots(figsize=(6, 2))
        ax.axis("off")
        ax.text(0.5, 0.5, f"speakers experiment skipped:\n{headline['skipped']}", ha="center",
                va="center", fontsize=9)  # fmt: skip
        save(fig, path, dpi=100)
        return
    fig, axes = plt.subplots(1, 3, figsize=(18, 5.6), gridspec_kw={"width_ratios": [1.3, 1.1, 1]})
    _reads_panel(axes[0], headline, reads)
    _cosine_panel(axes[1], headline)
    _reply_panel(axes[2], headline, replies)
    fig.suptitle(
        f"{model}: present and other speaker in {headline['dialogues']} two-person dialogues, "
        f"layer {headline['layer']} ({len(headline['emotions'])} emotions x "
        f"{len(headline['templates'])} templates; every read held out by template; 95 % "
        "crossed bootstrap over emotions and templates)",
        fontsize=9.5,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    save(fig, path, dpi=120, tight=False)


def _reads_panel(ax, headline: Mapping, reads: pd.DataFrame) -> None:
    layer, control = headline["layer"], headline["control_layer"]
    names = list(dict.fromkeys(reads["read"]))[::-1]
    y = np.arange(len(names))
    main = reads[reads["layer"] == layer].set_index("read").loc[names]
    errors = [main["accuracy"] - main["ci_low"], main["ci_high"] - main["accuracy"]]
    ax.barh(y, main["accuracy"], xerr=errors, color="#c0392b", alpha=0.8, capsize=2,
            label=f"layer {layer}")  # fmt: skip
    low = reads[reads["layer"] == control].set_index("read")
    shown = [n for n in names if n in low.index]
    ax.scatter(low.loc[shown, "accuracy"], [names.index(n) for n in shown], marker="D",
               color="0.25", zorder=3, s=18, label=f"layer {control} (control)")  # fmt: skip
    ax.axvline(headline["chance"], color="0.4", ls="--", lw=0.8, label="chance")
    ax.set_yticks(y, names, fontsize=8)
    ax.set_xlim(0, 1.03)
    ax.set_xlabel("held-out top-1 (emotion of the feeler)")
    ax.set_title("Which emotion each read finds", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")


def _cosine_panel(ax, headline: Mapping) -> None:
    cos = headline["cosines"]
    names = {
        "halves_own_own": "own vs own (other half)",
        "halves_other_other": "other vs other (other half)",
        "halves_own_other": "own vs other, same emotion",
        "halves_own_other_null": "own vs other, other emotions",
        "own_run": "own vs the run's vectors",
        "other_run": "other vs the run's vectors",
    }
    y = np.arange(len(names))[::-1]
    means = [cos[k]["mean"] for k in names]
    errors = [[m - cos[k]["ci"][0], cos[k]["ci"][1] - m] for k, m in zip(names, means, strict=True)]
    colours = ["#7f8c8d", "#7f8c8d", "#c0392b", "#bdc3c7", "#2c6fbb", "#2c6fbb"]
    ax.barh(y, means, xerr=np.array(errors).T, color=colours, capsize=3)
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_yticks(y, list(names.values()), fontsize=8)
    ax.set_xlabel(
        f"cosine, mean over emotions (halves: {cos['splits']} random splits of the templates)"
    )
    shared = cos["shared"]
    ax.set_title(
        "Is the other's emotion the speaker's own direction?\n"
        f"own vs other reaches {shared['mean']:.2f} [{shared['ci'][0]:.2f}, "
        f"{shared['ci'][1]:.2f}] of own vs own (0: orthogonal; layer 1: "
        f"{cos['control_shared']['mean']:.2f})",
        fontsize=9,
    )


def _reply_panel(ax, headline: Mapping, replies: pd.DataFrame) -> None:
    reply = headline["reply"]
    ax.set_title("Does the colon predict the reply?", fontsize=10)
    if not reply.get("replies"):
        ax.text(0.5, 0.5, "no replies written (speakers.reply_tokens: 0)", ha="center",
                transform=ax.transAxes, fontsize=8)  # fmt: skip
        return
    for role, colour in ROLE_COLOURS.items():
        rows = replies[replies["next"] == role]
        ax.scatter(rows["colon_margin"], rows["reply_margin"], s=8, alpha=0.5, color=colour,
                   label=f"{role} replies next")  # fmt: skip
    lo, hi = reply["r_ci"]
    controls = ", ".join(f"{k} {v:.2f}" for k, v in reply["controls"].items())
    controls += f"\nthe colon on the other vectors: {reply['other_vectors_r']:.2f}"
    ax.text(0.02, 0.97, f"r within (emotion, next speaker) {reply['r']:.2f} [{lo:.2f}, {hi:.2f}]"
            f"\ncontrols: {controls}", transform=ax.transAxes, va="top", fontsize=8)  # fmt: skip
    ax.axhline(0, color="0.6", lw=0.6)
    ax.axvline(0, color="0.6", lw=0.6)
    ax.set_xlabel("colon: margin of the dialogue's emotion (own vectors)", fontsize=9)
    ax.set_ylabel("model's reply: margin of the same emotion", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
