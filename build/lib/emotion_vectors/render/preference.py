"""The figure of the preference experiment."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from . import pyplot, save

COLOURS = {"pleasant": "#2ca25f", "neutral": "#969696", "unpleasant": "#de2d26"}


def plot_preference(
    elo: pd.DataFrame, shifts: pd.DataFrame, headline: Mapping, model: str, path: str
) -> None:
    """Left: every activity's Elo (with its standard error), coloured by category; right:
    per direction, its correlation with Elo across activities against the Elo shift
    steering with it causes (bootstrap intervals), emotions labelled, random directions
    in grey: the paper's figure."""
    plt = pyplot()
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(14, max(5.0, 0.13 * len(elo))), gridspec_kw={"width_ratios": [1, 1.3]},
        layout="constrained",
    )  # fmt: skip
    _elo_panel(left, elo, headline, model)
    _shift_panel(right, shifts, headline)
    save(fig, path, tight=False)


def _elo_panel(ax, elo: pd.DataFrame, headline: Mapping, model: str) -> None:
    from matplotlib.patches import Patch

    data = elo.sort_values("elo")
    y = np.arange(len(data))
    ax.barh(y, data["elo"] - 1000, left=1000, xerr=data["elo_se"], height=0.75,
            color=[COLOURS.get(c, "0.5") for c in data["category"]],
            error_kw={"elinewidth": 0.5, "ecolor": "0.3"})  # fmt: skip
    ax.set_yticks(y, data["activity"], fontsize=6)
    ax.axvline(1000, color="black", lw=0.6)
    ax.set_xlabel("Elo (unsteered; line: ±1 standard error, bootstrap over pairs)")
    gap = headline.get("categories", {}).get("pleasant_minus_unpleasant") or {}
    reliability = headline.get("reliability")
    title = f"{model}: what it would rather do"
    if gap.get("value") is not None:
        ci = gap.get("ci") or [np.nan, np.nan]
        title += f"\npleasant − unpleasant {gap['value']:.1f} Elo [{ci[0]:.1f}, {ci[1]:.1f}]"
    if reliability is not None:
        title += f"; split-half reliability {reliability:.2f}"
    ax.set_title(title, fontsize=9)
    handles = [Patch(color=colour, label=cat) for cat, colour in COLOURS.items()]
    ax.legend(handles=handles, fontsize=7, loc="lower right")


def _shift_panel(ax, shifts: pd.DataFrame, headline: Mapping) -> None:
    emo = shifts[shifts["kind"] == "emotion"]
    rnd = shifts[shifts["kind"] == "random"]
    ax.errorbar(
        rnd["r_projection_elo"], rnd["elo_shift"],
        yerr=[rnd["elo_shift"] - rnd["shift_low"], rnd["shift_high"] - rnd["elo_shift"]],
        fmt="o", color="0.65", ms=4, elinewidth=0.5, label="random directions",
    )  # fmt: skip
    ax.errorbar(
        emo["r_projection_elo"], emo["elo_shift"],
        yerr=[emo["elo_shift"] - emo["shift_low"], emo["shift_high"] - emo["elo_shift"]],
        xerr=[emo["r_projection_elo"] - emo["r_low"], emo["r_high"] - emo["r_projection_elo"]],
        fmt="o", color="#c0392b", ms=4, elinewidth=0.4, alpha=0.85, label="emotion vectors",
    )  # fmt: skip
    for _, row in emo.iterrows():
        ax.annotate(row["direction"], (row["r_projection_elo"], row["elo_shift"]),
                    fontsize=6, xytext=(3, 2), textcoords="offset points")  # fmt: skip
    ax.axhline(0, color="black", lw=0.6)
    ax.axvline(0, color="black", lw=0.6)
    ax.set_xlabel("r(projection of the activity on the direction, Elo) across activities")
    ax.set_ylabel("Elo shift when steering option B with the direction")
    rel = headline.get("relation") or {}
    if rel.get("value") is not None:
        ci = rel.get("ci") or [np.nan, np.nan]
        random_r = rel.get("random_directions_r")
        ax.set_title(
            f"layer {headline['layer']}, strength {headline['strength']:g}: across "
            f"{rel.get('n')} emotions r = {rel['value']:.2f} [{ci[0]:.2f}, {ci[1]:.2f}], "
            f"shuffle p = {rel['p']:.2g}"
            + (
                f"\n(across the random directions r = {random_r:.2f})"
                if random_r is not None
                else ""
            ),
            fontsize=9,
        )
    ax.legend(fontsize=7, loc="upper left")
