"""Headline numbers: one summary.json per model, and a cross-model comparison page with the
Llama-3.2-1B seed reproduction as a reference row, saying for each of the seed's three
results whether it holds for each model."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .store import write_json_atomic

# The seed write-up (Llama-3.2-1B-Instruct, 30 emotions, layer 10 of 16, float32): PC1 36.2 %,
# PC2 12.7 %, all five sanity pairs with the expected sign, the logit lens promoting the
# emotion's own words for all 8 emotions shown, and steering at strength 1.0 raising every
# emotion's own word (+1.2 sad to +3.2 loving). It reports no valence correlation; the
# paper reports r = 0.81 (PC1 vs human valence) for Claude Sonnet 4.5.
SEED_REFERENCE: dict[str, Any] = {
    "model": "llama-3.2-1b-instruct (seed write-up)",
    "emotions": 30,
    "analysis_layer": "10 / 16",
    "pc1_variance": 0.362,
    "pc2_variance": 0.127,
    "valence_r": None,
    "sanity": "5/5",
    "lens_hit_rate": 1.0,
    "self_steering_positive_share": 1.0,
    "self_steering_range": "+1.2 (sad) .. +3.2 (loving)",
    "steering_strength": 1.0,
}

# When a result "holds" (thresholds chosen before looking at our numbers, and stated in the
# report): a valence axis (|r| >= 0.5 between PC1 and human valence) with at least 4 of 5
# sanity pairs of the expected sign; a logit lens whose top-10 tokens name the emotion for
# at least half of the emotions; steering that raises the emotion's own word for at least
# 80 % of emotions.
HOLDS = {"valence_r": 0.5, "sanity_share": 0.8, "lens_hit_rate": 0.5, "self_positive": 0.8}


def _read(path: str | Path | None) -> dict | None:
    if path is None or not Path(path).exists():
        return None
    return json.loads(Path(path).read_text())


def corpus_headline(
    geometry: Mapping | None, lens: Mapping | None, steering: Mapping | None
) -> dict[str, Any]:
    """The headline numbers of one (model, corpus) from its analysis JSONs."""
    out: dict[str, Any] = {}
    if geometry:
        ev = list(geometry.get("explained_variance", [])) + [None] * 3
        valence = geometry.get("valence") or {}
        sanity = geometry.get("sanity") or {}
        out.update(
            {
                "layer": geometry.get("layer"),
                "pc1_variance": ev[0],
                "pc2_variance": ev[1],
                "pc3_variance": ev[2],
                "valence_r": valence.get("pearson"),
                "valence_spearman": valence.get("spearman"),
                "valence_n": valence.get("n"),
                "arousal_r": (geometry.get("arousal") or {}).get("pearson_pc2"),
                "sanity_passed": sanity.get("passed"),
                "sanity_total": sanity.get("total"),
            }
        )
    if lens:
        out["lens_hit_rate"] = lens.get("hit_rate")
    if steering:
        out.update(
            {
                "self_steering_positive_share": steering.get("self_positive_share"),
                "self_steering_median": steering.get("self_median"),
                "self_steering_min": steering.get("self_min"),
                "self_steering_min_emotion": steering.get("self_min_emotion"),
                "self_steering_max": steering.get("self_max"),
                "self_steering_max_emotion": steering.get("self_max_emotion"),
                "steering_strength": steering.get("strength"),
            }
        )
    out["holds"] = verdicts(out)
    return out


def verdicts(h: Mapping[str, Any]) -> dict[str, bool | None]:
    """Whether each of the seed's three results holds; None where it was not measured."""
    valence = None
    if h.get("valence_r") is not None and h.get("sanity_total"):
        valence = bool(
            abs(h["valence_r"]) >= HOLDS["valence_r"]
            and h["sanity_passed"] / h["sanity_total"] >= HOLDS["sanity_share"]
        )
    lens = None if h.get("lens_hit_rate") is None else h["lens_hit_rate"] >= HOLDS["lens_hit_rate"]
    share = h.get("self_steering_positive_share")
    steer = None if share is None else share >= HOLDS["self_positive"]
    return {"valence_geometry": valence, "logit_lens": lens, "steering": steer}


def write_summary(
    model: str,
    num_layers: int,
    meta_files: Mapping[str, str],
    geometry_files: Mapping[str, str],
    lens_files: Mapping[str, str],
    steering_files: Mapping[str, str],
    output: str,
    generalisation_file: str | None = None,
) -> dict:
    """results/<model>/summary.json: per corpus headline numbers, the default corpus first
    and also at the top level for quick reading."""
    corpora = {}
    meta = {}
    for corpus, meta_file in meta_files.items():
        meta = _read(meta_file) or {}
        corpora[corpus] = {
            "emotions": len(meta.get("emotions", [])),
            "analysis_layer": meta.get("analysis_layer"),
            "num_layers_stored": len(meta.get("layers", [])),
            "dtype": meta.get("dtype"),
            "device": meta.get("device"),
            **corpus_headline(
                _read(geometry_files.get(corpus)),
                _read(lens_files.get(corpus)),
                _read(steering_files.get(corpus)),
            ),
        }
    first = next(iter(corpora))
    summary = {
        "model": model,
        "num_layers": num_layers,
        "default_corpus": first,
        **corpora[first],
        "corpora": corpora,
    }
    generalisation = _read(generalisation_file)
    if generalisation:
        # Corpus agreement, implicit-scenario accuracy and valence r per corpus.
        summary["generalisation"] = {
            k: generalisation.get(k)
            for k in ("analysis_layer", "corpora", "per_corpus", "agreement", "better_on_scenarios")
            if k in generalisation
        }
    write_json_atomic(summary, output)
    return summary


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "holds" if value else "does not hold"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


COLUMNS = [
    ("model", "model"),
    ("emotions", "emotions"),
    ("analysis_layer", "layer"),
    ("pc1_variance", "PC1 var."),
    ("pc2_variance", "PC2 var."),
    ("valence_r", "PC1–valence r"),
    ("sanity", "sanity pairs"),
    ("lens_hit_rate", "lens hit rate"),
    ("self_steering_positive_share", "self-steering > 0"),
    ("self_steering_range", "self-steering range"),
    ("steering_strength", "strength"),
    ("scenario_top1", "implicit scenarios top-1"),
]


def comparison_rows(summaries: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    rows = []
    for s in summaries:
        row = {key: s.get(key) for key, _ in COLUMNS}
        row["analysis_layer"] = f"{s.get('analysis_layer')} / {s.get('num_layers', '?')}"
        if s.get("sanity_total"):
            row["sanity"] = f"{s['sanity_passed']}/{s['sanity_total']}"
        if s.get("self_steering_min") is not None:
            row["self_steering_range"] = (
                f"{s['self_steering_min']:+.2f} ({s['self_steering_min_emotion']}) .. "
                f"{s['self_steering_max']:+.2f} ({s['self_steering_max_emotion']})"
            )
        row["scenario_top1"] = scenario_cell(s.get("generalisation"))
        for name, verdict in (s.get("holds") or {}).items():
            row[f"holds:{name}"] = verdict
        rows.append(row)
    rows.append(dict(SEED_REFERENCE))
    return pd.DataFrame(rows)


def scenario_cell(generalisation: Mapping | None) -> str | None:
    """Top-1 accuracy on the implicit scenarios per corpus, with chance: the comparison
    page's one look at generalisation beyond the emotion word."""
    per = (generalisation or {}).get("per_corpus") or {}
    # JSON files are written with sorted keys: take the run's corpus order when it is known.
    order = (generalisation or {}).get("corpora") or sorted(per)
    scored = {c: per[c] for c in order if (per.get(c) or {}).get("top1") is not None}
    if not scored:
        return None
    chance = next(iter(scored.values()))["chance_top1"]
    parts = ", ".join(f"{c} {e['top1']:.2f}" for c, e in scored.items())
    return f"{parts} (chance {chance:.2f})"


def write_comparison(summary_files: Sequence[str], csv_out: str, html_out: str) -> pd.DataFrame:
    summaries = []
    for path in summary_files:
        summaries.append(_read(path) or {})
    df = comparison_rows(summaries)
    Path(csv_out).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(csv_out, index=False)
    Path(html_out).write_text(comparison_html(df))
    return df


def comparison_html(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in COLUMNS)
    # In the order of the seed write-up's three results.
    order = ["holds:valence_geometry", "holds:logit_lens", "holds:steering"]
    verdict_cols = [c for c in order if c in df.columns]
    for c in verdict_cols:
        head += f"<th>{html.escape(c.split(':', 1)[1].replace('_', ' '))}</th>"
    body = []
    for _, row in df.iterrows():
        cells = "".join(f"<td>{html.escape(_fmt(_none(row.get(key))))}</td>" for key, _ in COLUMNS)
        for c in verdict_cols:
            v = _none(row.get(c))
            cls = "" if v is None else (" class='ok'" if v else " class='no'")
            cells += f"<td{cls}>{html.escape(_fmt(v if v is None else bool(v)))}</td>"
        body.append(f"<tr>{cells}</tr>")
    criteria = (
        f"valence geometry: |r(PC1, human valence)| &ge; {HOLDS['valence_r']} and at least "
        f"{HOLDS['sanity_share']:.0%} of the sanity pairs with the expected sign; logit lens: "
        f"the top-10 promoted tokens name the emotion for &ge; {HOLDS['lens_hit_rate']:.0%} of "
        f"emotions; steering: the emotion's own word rises for &ge; {HOLDS['self_positive']:.0%}"
        " of emotions. The last row is the Llama-3.2-1B seed write-up, as published."
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>emotion-vectors: models"
        " compared</title><style>body{font-family:sans-serif;margin:1.5em}"
        "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:4px 8px;"
        "text-align:right}td:first-child{text-align:left}.ok{background:#d9f2d9}"
        ".no{background:#f7d4d4}</style></head><body><h1>Models compared</h1>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        f"<p>When a result holds: {criteria}</p></body></html>\n"
    )


def _none(value: Any) -> Any:
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value
