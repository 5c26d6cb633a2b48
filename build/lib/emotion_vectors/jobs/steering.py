"""The steering experiment of model_analyses: "He feels ___" self-steering of every emotion
and the cross-emotion matrix at the analysis layer, a strength sweep, a layer sweep and
steered generations, sharing one SteeringSession (unsteered prompt, baselines, memo); and
its headline numbers for summary.json."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..progress import progress
from ..render.steering import (
    generations_html,
    plot_cross,
    plot_layer_sweep,
    plot_self,
    plot_strength_sweep,
)
from ..stats import measure, wilson_interval
from ..steering import SteeringRun, SteeringSession, steered_generations, steering_deltas
from ..store import write_json_atomic

log = logging.getLogger("emotion_vectors")

SESSION = "steering"


def session_of(job, settings: Mapping) -> SteeringSession:
    """The job's one "He feels" session (the steering controls use it too)."""
    return job.share(
        SESSION, lambda: SteeringSession.open(job.loaded, settings, job.residual_norms)
    )


def sweep_layers(job, stride: int) -> list[int]:
    """The layer sweep: every stride-th stored layer, and the analysis layer."""
    return sorted(set(job.layers[::stride]) | {job.analysis_layer})


def run(job, settings: Mapping, outputs: Mapping[str, str]) -> dict:
    session = session_of(job, settings)
    timings = {}
    t0 = time.perf_counter()
    headline = effects(job, session, settings, outputs)
    timings["effects"], t0 = time.perf_counter() - t0, time.perf_counter()
    strength_sweep(job, session, settings, outputs)
    timings["strength sweep"], t0 = time.perf_counter() - t0, time.perf_counter()
    layer_sweep(job, session, settings, outputs)
    timings["layer sweep"], t0 = time.perf_counter() - t0, time.perf_counter()
    generations(job, settings, outputs)
    timings["generations"] = time.perf_counter() - t0
    log.info("steering: %s", ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    return headline


def effects(job, session: SteeringSession, settings: Mapping, outputs: Mapping) -> dict:
    """Self-steering of every emotion and the cross-emotion matrix at the analysis layer."""
    layer, strength = job.analysis_layer, float(settings["strength"])
    vectors = job.vectors(layer)
    emotions = list(vectors)
    cross = [e for e in settings["cross_emotions"] if e in vectors]
    words = [list(dict.fromkeys([e, *cross])) if e in cross else [e] for e in emotions]
    run = SteeringRun(layer, emotions, [strength] * len(emotions), words)
    table = pd.DataFrame(session.effects(job.vector_file, vectors, run))
    table["baseline_logprob"] = table["word"].map(session.baselines)
    self_table = table[table["emotion"] == table["word"]].sort_values("change", ascending=False)
    self_table.to_csv(outputs["self_table"], index=False)
    matrix = (
        table[table["emotion"].isin(cross)]
        .pivot(index="emotion", columns="word", values="change")
        .reindex(index=cross, columns=cross)
    )
    matrix.to_csv(outputs["cross_table"])
    plot_self(self_table, job.key, layer, strength, outputs["self_figure"])
    plot_cross(matrix, job.key, layer, strength, outputs["cross_figure"])
    change = self_table.set_index("emotion")["change"]
    headline = {
        **job.describe(),
        "strength": strength,
        "unit": job.residual_norms[layer],
        "unit_with_sinks": job.residual_norms_with_sinks.get(layer),
        "n_emotions": len(change),
        "self_positive": measure(
            float((change > 0).mean()),
            wilson_interval(int((change > 0).sum()), len(change)),
            "wilson",
            n=len(change),
        ),
        "self_median": round(float(change.median()), 4),
        "self_min": round(float(change.min()), 4),
        "self_max": round(float(change.max()), 4),
        "self_min_emotion": str(change.idxmin()),
        "self_max_emotion": str(change.idxmax()),
        "cross": cross_specificity(matrix),
    }
    write_json_atomic(headline, outputs["json"])
    log.info("steering effects: %s", headline)
    return headline


def cross_specificity(matrix: pd.DataFrame) -> dict | None:
    """In the cross matrix (rows: vectors, columns: words): how much more a word's own
    vector raises it than the other vectors do on average (per word, then the mean with a
    t interval over words), and the share of words whose own vector raises them most."""
    from scipy import stats

    values = matrix.to_numpy(dtype=float)
    n = len(values)
    if n < 3:
        return None
    own = np.diag(values)
    others = (values.sum(axis=0) - own) / (n - 1)
    gap = own - others
    sem = gap.std(ddof=1) / np.sqrt(n)
    q = stats.t.ppf(0.975, n - 1)
    best = int((values.argmax(axis=0) == np.arange(n)).sum())
    return {
        "own_minus_others": measure(
            float(gap.mean()), (gap.mean() - q * sem, gap.mean() + q * sem), "t", n=n
        ),
        "own_mean": float(own.mean()),
        "others_mean": float(others.mean()),
        "own_raises_most": measure(best / n, wilson_interval(best, n), "wilson", n=n),
        "chance_raises_most": 1 / n,
    }


def strength_sweep(job, session: SteeringSession, settings: Mapping, outputs: Mapping) -> None:
    """The self effect of a few emotions over a range of strengths (0 = unsteered)."""
    layer = job.analysis_layer
    vectors = job.vectors(layer)
    emotions = [e for e in settings["sweep_emotions"] if e in vectors]
    pairs = [(e, float(s)) for e in emotions for s in settings["sweep_strengths"]]
    run = SteeringRun(layer, [e for e, _ in pairs], [s for _, s in pairs], [[e] for e, _ in pairs])
    rows = session.effects(job.vector_file, vectors, run)
    baseline = session.baseline(emotions)
    rows += [
        {"layer": layer, "emotion": e, "strength": 0.0, "word": e, "logprob": baseline[e],
         "change": 0.0}
        for e in emotions
    ]  # fmt: skip
    table = pd.DataFrame(rows).sort_values(["emotion", "strength"])
    table.to_csv(outputs["strength_table"], index=False)
    plot_strength_sweep(table, job.key, layer, outputs["strength_figure"])


def layer_sweep(job, session: SteeringSession, settings: Mapping, outputs: Mapping) -> None:
    """The self effect of the cross emotions, steered at each layer of the sweep in turn."""
    strength = float(settings["strength"])
    rows = []
    for layer in progress(sweep_layers(job, settings["layer_stride"]), "steering: layer sweep"):
        vectors = job.vectors(layer)
        chosen = [e for e in settings["cross_emotions"] if e in vectors]
        run = SteeringRun(layer, chosen, [strength] * len(chosen), [[e] for e in chosen])
        rows += session.effects(job.vector_file, vectors, run)
    table = pd.DataFrame(rows)
    table.to_csv(outputs["layer_table"], index=False)
    plot_layer_sweep(table, job.key, strength, job.analysis_layer, outputs["layer_figure"])


def generations(job, settings: Mapping, outputs: Mapping) -> None:
    """Greedy completions of neutral prompts, unsteered and steered toward each emotion."""
    layer, loaded = job.analysis_layer, job.loaded
    vectors = job.vectors(layer)
    emotions = [e for e in settings["generation_emotions"] if e in vectors]
    strength = float(settings["generation_strength"])
    deltas = steering_deltas(
        np.stack([vectors[e] for e in emotions]), strength, job.residual_norms[layer]
    )
    conditions = [("(none)", None), *zip(emotions, deltas, strict=True)]
    prompts: Sequence[str] = settings["generation_prompts"]
    rows = steered_generations(
        loaded.model, loaded.tokenizer, prompts, loaded.spec.chat, layer, conditions,
        settings["max_new_tokens"],
    )  # fmt: skip
    table = pd.DataFrame(rows)
    table.insert(2, "strength", [0.0 if r["steering"] == "(none)" else strength for r in rows])
    table.to_csv(outputs["generations_table"], index=False)
    wide = table.pivot(index="steering", columns="prompt", values="completion")
    wide = wide.reindex(index=[c for c, _ in conditions], columns=prompts)
    title = (
        f"Steered generations: {job.key}, layer {layer}, strength {strength:g} "
        f"(every position), greedy, {settings['max_new_tokens']} new tokens"
    )
    Path(outputs["generations_html"]).write_text(generations_html(title, wide))


def headline(data: Mapping) -> dict:
    """The steering entries of summary.json."""
    keys = ("self_median", "self_min", "self_min_emotion", "self_max", "self_max_emotion")
    return {
        "self_steering_positive_share": data.get("self_positive"),
        **{f"self_steering_{k.removeprefix('self_')}": data.get(k) for k in keys},
        "steering_strength": data.get("strength"),
        "steering_unit": data.get("unit"),
        "steering_unit_with_sinks": data.get("unit_with_sinks"),
        "cross_own_minus_others": (data.get("cross") or {}).get("own_minus_others"),
        "cross_own_raises_most": (data.get("cross") or {}).get("own_raises_most"),
    }
