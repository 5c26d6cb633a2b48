"""The cross-model comparison page."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from ..report import ALPHA, MOST
from . import html_page

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
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in COLUMNS)
    head += "".join(f"<th>{html.escape(v.replace('_', ' '))}</th>" for v in VERDICTS)
    body = []
    for row in rows:
        cells = "".join(f"<td>{html.escape(_fmt(row.get(key)))}</td>" for key, _ in COLUMNS)
        for name in VERDICTS:
            v = row.get(f"holds:{name}")
            cls = "" if v is None else (" class='ok'" if v else " class='no'")
            cells += f"<td{cls}>{html.escape(_fmt(v))}</td>"
        body.append(f"<tr>{cells}</tr>")
    criteria = (
        f"Each verdict is decided against a control, at p &lt; {ALPHA}: <b>valence geometry</b>"
        " holds when |r(PC1, human valence)| lies beyond the shuffled-label null (valence "
        "ratings permuted; its 95th percentile is shown as null p95, and 'words' is the same "
        "PCA on the input embeddings of the emotion words); <b>logit lens</b> when the hit "
        "rate beats the chance rate (the same top tokens scored against other emotions' word "
        "forms; permutation p); <b>steering</b> when the emotion's own vector raises its word "
        f"more than the random unit directions (empirical p) for more than {MOST:.0%} of the "
        "emotions; <b>preference</b> when, across the steered emotions, an emotion's "
        "correlation with the model's Elo over activities predicts the Elo shift steering "
        "with it causes (r &gt; 0, p of shuffling the shifts across emotions; 'random "
        "directions' is the same r across seeded random directions); <b>implicit "
        "scenarios</b> when top-1 accuracy beats chance (binomial p; "
        "'words' is the lexical baseline of the passages' input embeddings). Intervals: "
        "Fisher (r), Wilson (proportions). The last row is the Llama-3.2-1B seed write-up, "
        "as published: it gives no intervals or controls."
    )
    style = (
        "td,th{border:1px solid #bbb;text-align:right}td:first-child{text-align:left}"
        ".ok{background:#d9f2d9}.no{background:#f7d4d4}"
    )
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    page = f"<h1>Models compared</h1>{table}<p>{criteria}</p>"
    return html_page("emotion-vectors: models compared", page, style)
