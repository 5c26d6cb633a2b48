"""The cross-model comparison page."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..report import ALPHA, MOST
from . import render

COLUMNS = [
    ("model", "model"),
    ("emotions", "emotions"),
    ("analysis_layer", "layer"),
    ("pc1_variance", "PC1 var."),
    ("pc2_variance", "PC2 var."),
    ("valence_r", "PC1–valence r [95 % CI]"),
    ("valence_controls", "valence controls"),
    ("sanity", "sanity pairs"),
    ("lens_hit_rate", "lens hit rate [95 % CI]"),
    ("lens_chance", "lens chance"),
    ("steering_beats_random", "own vector beats random directions"),
    ("self_steering", "own word raised"),
    ("shuffled_steering", "raised by a shuffled vector"),
    ("steering_strength", "strength"),
    ("preference_r", "preferences: r(correlation with Elo, steered Elo shift)"),
    ("preference_controls", "preference controls"),
    ("scenario_top1", "implicit scenarios top-1"),
    ("scenario_controls", "scenario controls"),
]
VERDICTS = ["valence_geometry", "logit_lens", "steering", "preference", "implicit_scenarios"]


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "holds" if value else "does not hold"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def comparison_html(rows: Sequence[Mapping[str, Any]]) -> str:
    head = [label for _, label in COLUMNS] + [v.replace("_", " ") for v in VERDICTS]
    body = []
    for row in rows:
        cells = [{"text": _fmt(row.get(key)), "cls": ""} for key, _ in COLUMNS]
        for name in VERDICTS:
            v = row.get(f"holds:{name}")
            cells.append({"text": _fmt(v), "cls": "" if v is None else ("ok" if v else "no")})
        body.append(cells)
    return render(
        "comparison.html",
        title="emotion-vectors: models compared",
        head=head,
        rows=body,
        alpha=str(ALPHA),
        most=f"{MOST:.0%}",
    )
