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
    from matplotlib.patches import Patch

    fig, (left, right) = plt.subplots(
        1, 2, figsize=(14, max(5.0, 0.13 * len(elo))), gridspec_kw={"width_ratios": [1, 1.3]},
        layout="constrained",
    )  # fmt: skip
    data = elo.sort_values("elo")
    y = np.arange(len(data))
    left.barh(y, data["elo"] - 1000, left=1000, xerr=data["elo_se"], height=0.75,
              color=[COLOURS.get(c, "0.5") for c in data["category"]],
              error_kw={"elinewidth": 0.5, "ecolor": "0.3"})  # fmt: skip
    left.set_yticks(y, data["activity"], fontsize=6)
    left.axvline(1000, color="black", lw=0.6)
    left.set_xlabel("Elo (unsteered; line: ±1 standard error, bootstrap over pairs)")
    cats = headline.get("categories", {})
    gap = cats.get("pleasant_minus_unpleasant") or {}
    reliability = headline.get("reliability")
    title = f"{model}: what it would rather do"
    if gap.get("value") is not None:
        ci = gap.get("ci") or [np.nan, np.nan]
        title += f"\npleasant − unpleasant {gap['value']:.0f} Elo [{ci[0]:.0f}, {ci[1]:.0f}]"
    if reliability is not None:
        title += f"; split-half reliability {reliability:.2f}"
    left.set_title(title, fontsize=9)
    handles = [Patch(color=colour, label=cat) for cat, colour in COLOURS.items()]
    left.legend(handles=handles, fontsize=7, loc="lower right")

    emo = shifts[shifts["kind"] == "emotion"]
    rnd = shifts[shifts["kind"] == "random"]
    right.errorbar(
        rnd["r_projection_elo"], rnd["elo_shift"],
        yerr=[rnd["elo_shift"] - rnd["shift_low"], rnd["shift_high"] - rnd["elo_shift"]],
        fmt="o", color="0.65", ms=4, elinewidth=0.5, label="random directions",
    )  # fmt: skip
    right.errorbar(
        emo["r_projection_elo"], emo["elo_shift"],
        yerr=[emo["elo_shift"] - emo["shift_low"], emo["shift_high"] - emo["elo_shift"]],
        xerr=[emo["r_projection_elo"] - emo["r_low"], emo["r_high"] - emo["r_projection_elo"]],
        fmt="o", color="#c0392b", ms=4, elinewidth=0.4, alpha=0.85, label="emotion vectors",
    )  # fmt: skip
    for _, row in emo.iterrows():
        right.annotate(row["direction"], (row["r_projection_elo"], row["elo_shift"]),
                       fontsize=6, xytext=(3, 2), textcoords="offset points")  # fmt: skip
    right.axhline(0, color="black", lw=0.6)
    right.axvline(0, color="black", lw=0.6)
    right.set_xlabel("r(projection of the activity on the direction, Elo) across activities")
    right.set_ylabel("Elo shift when steering option B with the direction")
    rel = headline.get("relation") or {}
    if rel.get("value") is not None:
        ci = rel.get("ci") or [np.nan, np.nan]
        random_r = rel.get("random_directions_r")
        right.set_title(
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
    right.legend(fontsize=7, loc="upper left")
    save(fig, path, tight=False)
