"""The story curve job, per model (runs with the story corpus and the scenario test): every
story and the story corpus's neutral set through the model once, pooled at the analysis
layer from several starts; then the implicit-scenario top-1 of story vectors rebuilt from
n stories per emotion, per start and centring, against the template vectors
(story_curve.py for the method)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..pooling import Pooling
from ..render.story_curve import plot_story_curve
from ..store import read_activation_matrix, write_json_atomic
from ..story_curve import (
    CENTRINGS,
    curve_point,
    every_story,
    neutral_components,
    scenario_hits,
    story_vectors,
    subset_draws,
    subset_sizes,
    valence_point,
)
from .generalisation import Scenarios

log = logging.getLogger("emotion_vectors")


def pooled_stories(
    model: Mapping,
    story_files: Sequence[str],
    neutral_file: str,
    layer: int,
    pooling: Mapping,
    starts: Sequence[int],
    threads: int = 1,
) -> tuple[pd.DataFrame, dict[int, np.ndarray], dict[int, np.ndarray]]:
    """(the stories: emotion, topic; {start: [stories, width]}; {start: [neutral, width]})."""
    from ..activations import extract_from_starts
    from ..models import load_for_job

    stories = pd.concat(
        [pd.read_parquet(f, columns=["emotion", "topic", "text"]) for f in story_files],
        ignore_index=True,
    )
    neutral = pd.read_parquet(neutral_file, columns=["text"])["text"].tolist()
    texts = stories["text"].tolist() + neutral
    loaded = load_for_job(model, threads)
    pooled = extract_from_starts(
        loaded.model,
        loaded.tokenizer,
        texts,
        layer,
        Pooling(**pooling),
        starts,
        label=f"story curve: {len(texts)} passages, batches",
    )
    n = len(stories)
    return stories, {s: p[:n] for s, p in pooled.items()}, {s: p[n:] for s, p in pooled.items()}


def template_states(
    activation_files: Sequence[str], neutral_file: str, emotions: Sequence[str], layer: int
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """({emotion: [passages, width]}, [neutral, width]): the template corpus at one layer."""
    states = {
        e: read_activation_matrix(f, layer)[1]
        for e, f in zip(emotions, activation_files, strict=True)
    }
    return states, read_activation_matrix(neutral_file, layer)[1]


def story_curve(
    model: Mapping,
    story_files: Sequence[str],
    neutral_file: str,
    scenario_file: str,
    template_files: Sequence[str] | None,
    template_neutral: str | None,
    layer: int,
    pooling: Mapping,
    settings: Mapping,
    outputs: Mapping[str, str],
    threads: int = 1,
) -> dict:
    """Writes the curve's table (csv), headline (json) and figure (png); returns the json."""
    from ..human_norms import read_vader_lexicon

    t0 = time.perf_counter()
    # The run's own start is always one of them: the curve ends at the run's own vectors.
    starts = sorted(set(settings["pool_starts"]) | {int(pooling["pool_start"])})
    stories, states, neutral = pooled_stories(
        model, story_files, neutral_file, layer, pooling, starts, threads
    )
    emotions = list(dict.fromkeys(stories["emotion"]))
    topics = {e: stories.loc[stories["emotion"] == e, "topic"].tolist() for e in emotions}
    rows_of = {e: np.flatnonzero(stories["emotion"].to_numpy() == e) for e in emotions}
    scen = Scenarios(scenario_file, [layer])
    candidates = [e for e in dict.fromkeys(scen.labels) if e in emotions]
    if len(candidates) < 2:
        raise ValueError(f"{scenario_file}: fewer than two of the run's emotions have scenarios")
    score = _Scoring(scen, layer, candidates, [emotions.index(e) for e in candidates])
    templates = {}
    if template_files and template_neutral:
        templates = _template_hits(template_files, template_neutral, emotions, score, settings)
    counts = {e: len(t) for e, t in topics.items()}
    plan = _plan(topics, counts, settings)
    per_emotion = {s: {e: states[s][rows_of[e]] for e in emotions} for s in starts}
    valence = read_vader_lexicon()
    rows = [
        {
            "stories_per_emotion": n,
            "subset": "all" if i == len(plan) - 1 else "random",
            "pool_start": start,
            "centring": centring,
            **_point(
                per_emotion[start],
                neutral[start],
                draws,
                centring,
                score,
                templates.get(centring),
                settings,
                valence,
            ),
        }
        for i, (n, draws) in enumerate(plan)
        for start in starts
        for centring in CENTRINGS
    ]
    table = pd.DataFrame(rows)
    table.to_csv(outputs["csv"], index=False)
    result = _headline(table, templates, score.labels, settings, pooling, layer, candidates, counts)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    write_json_atomic(result, outputs["json"])
    plot_story_curve(table, result, model["key"], outputs["png"])
    log.info("story curve of %d stories in %.1f s", len(stories), result["seconds"])
    return result


def _plan(topics: Mapping, counts: Mapping, settings: Mapping) -> list[tuple[int, list]]:
    """[(stories per emotion, [subset per emotion, per draw])]: the random subsets of each
    size, then every story (the run's own vectors), placed at the median count."""
    plan = [
        (n, subset_draws(topics, n, settings["draws"], settings["seed"]))
        for n in subset_sizes(settings["sizes"], counts)
    ]
    plan.append((int(np.median(list(counts.values()))), [every_story(counts)]))
    return plan


class _Scoring:
    """The implicit scenarios at the analysis layer, scored against candidate vectors."""

    def __init__(self, scen: Scenarios, layer: int, candidates: list[str], pick: list[int]):
        self.scen, self.layer, self.candidates, self.pick = scen, layer, candidates, pick
        self.labels = [lab for lab in scen.labels if lab in candidates]
        self.acts, self.reference = scen.passages(layer), scen.reference(layer)

    def hits(self, vectors: np.ndarray) -> np.ndarray:
        """[passages] top-1 hits of the run's vectors (rows in the run's emotion order)."""
        return scenario_hits(
            vectors[self.pick], self.acts, self.scen.labels, self.candidates, self.reference
        )


def _template_hits(files, neutral_file, emotions, score: _Scoring, settings) -> dict:
    """{centring: [passages] hits} of the template vectors centred each way: the same
    treatment as the stories', so a centring that helps both is not credited to them."""
    t_states, t_neutral = template_states(files, neutral_file, emotions, score.layer)
    components = neutral_components(t_neutral, settings["neutral_variance"])
    every = {e: np.arange(len(t_states[e])) for e in emotions}
    return {
        c: score.hits(story_vectors(t_states, every, t_neutral, components, c)) for c in CENTRINGS
    }


def _point(states, neutral, draws, centring, score: _Scoring, template_hits, settings,
           valence) -> dict:  # fmt: skip
    """One cell of the curve: top-1 over the draws with its interval, and valence |r|."""
    components = neutral_components(neutral, settings["neutral_variance"])
    vecs = [story_vectors(states, d, neutral, components, centring) for d in draws]
    hits = np.stack([score.hits(v) for v in vecs])
    point = curve_point(hits, template_hits, score.labels, int(settings["bootstrap"]),
                        int(settings["seed"]))  # fmt: skip
    emotions = list(states)
    return {**_flat(point), **_flat(valence_point(emotions, vecs, valence), "valence")}


def _flat(point: Mapping, prefix: str | None = None) -> dict:
    out = {}
    for key, value in point.items():
        name = f"{prefix}_{key}" if prefix else key
        if isinstance(value, list):
            out[f"{name}_low"], out[f"{name}_high"] = value
        else:
            out[name] = value
    return out


def _row(r: pd.Series) -> dict:
    """One point of the table as the headline carries it."""
    out = {
        "n": int(r["stories_per_emotion"]),
        "subset": r["subset"],
        "pool_start": int(r["pool_start"]),
        "centring": r["centring"],
        "top1": float(r["top1"]),
        "ci": [float(r["ci_low"]), float(r["ci_high"])],
        "valence_abs_r": None if pd.isna(r["valence_abs_r"]) else float(r["valence_abs_r"]),
    }
    if "minus_templates" in r and not pd.isna(r["minus_templates"]):
        out["minus_templates"] = float(r["minus_templates"])
        out["minus_templates_ci"] = [
            float(r["minus_templates_ci_low"]),
            float(r["minus_templates_ci_high"]),
        ]
    return out


def _headline(table, templates, labels, settings, pooling, layer, candidates, counts) -> dict:
    """The run's own pooling (its start, centred on the emotions) along the sizes, the
    templates' top-1 under each centring with its interval (`templates_top1`: the run's
    template vectors), and the best cell with every story."""
    from ..generalisation import accuracy_interval

    own = table[(table["pool_start"] == pooling["pool_start"]) & (table["centring"] == "emotions")]
    out = {
        "layer": layer,
        "candidates": candidates,
        "passages": len(labels),
        "chance": 1 / len(candidates),
        "sizes": sorted(table["stories_per_emotion"].unique().tolist()),
        "stories_per_emotion": {e: int(n) for e, n in counts.items()},
        "pool_starts": sorted(table["pool_start"].unique().tolist()),
        "centrings": list(CENTRINGS),
        "draws": int(settings["draws"]),
        "configured_start": int(pooling["pool_start"]),
        "method": "top-1 of story vectors from n stories per emotion (topic-balanced random "
        "subsets); interval: bootstrap over subsets and scenarios (emotions, then passages) "
        "together; difference from templates paired on the same scenario resamples",
    }
    for centring, hits in templates.items():
        key = "templates_top1" if centring == "emotions" else f"templates_top1_{centring}"
        ci = accuracy_interval(hits, labels, int(settings["bootstrap"]), settings["seed"])
        out[key] = {"value": float(np.mean(hits)), "ci": list(ci)}
    out["configured"] = [_row(r) for _, r in own.iterrows()]
    out["every_story"] = [_row(r) for _, r in table[table["subset"] == "all"].iterrows()]
    every = table[table["subset"] == "all"]
    best = every.loc[every["top1"].idxmax()]
    out["every_story_best"] = {
        "pool_start": int(best["pool_start"]),
        "centring": best["centring"],
        "top1": float(best["top1"]),
        "ci": [float(best["ci_low"]), float(best["ci_high"])],
        "note": "the best start and centring with every story, picked on these scenarios: "
        "descriptive, not a claim",
    }
    return out
