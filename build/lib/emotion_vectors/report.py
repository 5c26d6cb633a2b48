"""Headline numbers: what a verdict is decided at, how a measure is written, and the
cross-model comparison with the Llama-3.2-1B
seed reproduction as a reference row. Each of the seed's results gets a verdict, decided
against its control: a number "holds" when it beats what a shuffled label, a random
direction or another emotion's word forms give (thresholds fixed before looking at any
result, and stated on the comparison page)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# The seed write-up (Llama-3.2-1B-Instruct, 30 emotions, layer 10 of 16, float32): PC1 36.2 %,
# PC2 12.7 %, all five sanity pairs with the expected sign, the logit lens promoting the
# emotion's own words for all 8 emotions shown, and steering at strength 1.0 raising every
# emotion's own word (+1.2 sad to +3.2 loving). It reports no valence correlation, no
# interval and no control; the paper reports r = 0.81 (PC1 vs human valence, 45 words)
# for Claude Sonnet 4.5.
SEED_REFERENCE: dict[str, Any] = {
    "model": "llama-3.2-1b-instruct (seed write-up)",
    "emotions": 30,
    "analysis_layer": "10 / 16",
    "pc1_variance": 0.362,
    "pc2_variance": 0.127,
    "sanity": "5/5",
    "lens_hit_rate": "8 / 8 shown",
    "self_steering": "30 / 30",
    "steering_strength": 1.0,
}

# Significance level of every verdict, and the share of emotions whose own vector must beat
# the random directions for steering to hold ("most emotions").
ALPHA = 0.05
MOST = 0.5


def below(p: float | None, alpha: float = ALPHA) -> bool | None:
    """A verdict from a p-value: True below alpha, None when not measured."""
    return None if p is None else bool(p < alpha)


def fmt_measure(m: Any, digits: int = 2, percent: bool = False) -> str | None:
    """'0.91 [0.87, 0.93]' (or '27 % [20, 34 %]') of a measure dict; None when missing."""
    if not isinstance(m, Mapping) or m.get("value") is None:
        return None

    def f(x: float) -> str:
        return f"{100 * x:.0f}" if percent else f"{x:.{digits}f}"

    ci = m.get("ci") or [None, None]
    unit = " %" if percent else ""
    if None in ci:
        return f"{f(m['value'])}{unit}"
    return f"{f(m['value'])}{unit} [{f(ci[0])}, {f(ci[1])}{unit}]"


def comparison_rows(summaries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per model, headline numbers with intervals and controls, then the seed."""
    rows = []
    for s in summaries:
        valence = s.get("valence_r") or {}
        lens = s.get("lens_hit_rate") or {}
        scen = ((s.get("generalisation") or {}).get("per_corpus") or {}).get(
            s.get("default_corpus")
        ) or {}
        lexical = (s.get("generalisation") or {}).get("lexical_baseline") or {}
        row = {
            "model": s.get("model"),
            "emotions": s.get("emotions"),
            "analysis_layer": f"{s.get('analysis_layer')} / {s.get('num_layers', '?')}",
            "pc1_variance": s.get("pc1_variance"),
            "pc2_variance": s.get("pc2_variance"),
            "valence_r": fmt_measure(valence),
            "valence_controls": _null_controls(valence, "word_embedding_r", "words"),
            "sanity": f"{s['sanity_passed']}/{s['sanity_total']}"
            if s.get("sanity_total")
            else None,
            "lens_hit_rate": fmt_measure(lens, percent=True),
            "lens_chance": None if lens.get("chance") is None else f"{100 * lens['chance']:.2g} %",
            "steering_beats_random": fmt_measure(s.get("steering_beats_random"), percent=True),
            "self_steering": fmt_measure(s.get("self_steering_positive_share"), percent=True),
            "shuffled_steering": fmt_measure(s.get("steering_shuffled_positive"), percent=True),
            "steering_strength": s.get("steering_strength"),
            "preference_r": fmt_measure(s.get("preference_relation_r")),
            "preference_controls": _null_controls(
                s.get("preference_relation_r") or {}, "random_directions_r", "random directions"
            ),
            "scenario_top1": fmt_measure(scen.get("top1")),
            "scenario_controls": _scenario_controls(scen, lexical),
        }
        row.update({f"holds:{k}": v for k, v in (s.get("holds") or {}).items()})
        rows.append(row)
    rows.append(dict(SEED_REFERENCE))
    return rows


def _null_controls(m: Mapping, second: str, label: str) -> str | None:
    """'null p95 0.17; <label> 0.05': a measure's shuffled null and its second control."""
    if m.get("null_p95") is None:
        return None
    text = f"null p95 {m['null_p95']:.2f}"
    if m.get(second) is not None:
        text += f"; {label} {m[second]:.2f}"
    return text


def _scenario_controls(entry: Mapping, lexical: Mapping) -> str | None:
    top1 = entry.get("top1") or {}
    if top1.get("chance") is None:
        return None
    text = f"chance {top1['chance']:.2f}"
    if (lexical.get("top1") or {}).get("value") is not None:
        text += f"; words {lexical['top1']['value']:.2f}"
    return text
