"""The behaviour experiment of model_analyses (emotion_vectors/behaviour.py has the method):
per suite, how steering with each emotion vector, at every strength of the sweep, shifts
the model's log-odds of choosing the behaviour (blackmail, special-casing tests, agreeing
with the user, resisting shutdown), against as many seeded random directions; the paper's
predictions decided against them; and its headline numbers for summary.json."""

from __future__ import annotations

import hashlib
import itertools
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ..architecture import architecture
from ..behaviour import (
    Suite,
    against_random,
    behaviour_prompts,
    debiased_choice,
    read_suites,
    score_prompts,
    shift_table,
)
from ..integrity import read_checked_table, write_checked_table
from ..models import model_fingerprint
from ..preference import answer_ids
from ..render.behaviour import plot_behaviour
from ..stats import holm, measure, percentile_interval
from ..steering import steering_deltas
from ..steering_controls import random_directions
from ..store import cache_key, write_json_atomic

log = logging.getLogger("emotion_vectors")

# Bump when the cached choices an unchanged config produces would change.
CACHE_FORMAT = 1
PREDICTED = {1: "raises", -1: "lowers"}


def run(job, settings: Mapping, outputs: Mapping[str, str]) -> dict:
    started = time.perf_counter()
    layer = job.analysis_layer
    unit = job.residual_norms[layer]
    strengths = [float(s) for s in settings["strengths"]]
    vectors = job.vectors(layer)
    emotions = [e for e in settings["emotions"] if e in vectors]
    width = architecture(job.loaded.model).hidden_size
    count, seed = int(settings["random_directions"]), int(settings["seed"])
    randoms = random_directions(count, width, seed)
    # Condition rows: every (direction, strength), direction-major.
    # A run may hold none of the steered emotions: then only the null is scored.
    matrix = np.stack([vectors[e] for e in emotions]) if emotions else np.zeros((0, width))
    emotion_deltas = _sweep(matrix, strengths, unit)
    random_deltas = _sweep(randoms, strengths, unit)
    conditions = [(e, "emotion", s) for e in emotions for s in strengths] + [
        (f"random {k}", "random", s) for k in range(count) for s in strengths
    ]

    suites = read_suites(settings["suites"])
    t0 = time.perf_counter()
    choices = _choices(job, settings, suites, emotion_deltas, random_deltas)
    seconds = {"choices": round(time.perf_counter() - t0, 1)}
    rows, item_rows, suites_out = [], [], {}
    for suite, (d0, d_random, d_emotion) in zip(suites, choices, strict=True):
        steered = np.vstack([d_emotion, d_random])
        table = _suite_table(suite, conditions, d0, steered, settings)
        rows.append(table)
        item_rows += [
            {"suite": suite.name, "item": item.id, "unsteered_logodds": float(v)}
            for item, v in zip(suite.items, d0, strict=True)
        ]
        suites_out[suite.name] = _suite_summary(suite, d0, table, emotions, settings)

    shifts = pd.concat(rows, ignore_index=True)
    shifts.to_csv(outputs["shifts"], index=False, float_format="%.6g")
    pd.DataFrame(item_rows).to_csv(outputs["items"], index=False, float_format="%.6g")
    with_sinks = job.residual_norms_with_sinks.get(layer)
    headline = {
        **job.describe(),
        "unit": unit,
        "unit_with_sinks": with_sinks,
        # The paper gives strengths relative to the layer's average residual norm over all
        # tokens; ours is the sink-free mean. Its strength s is ours s x this ratio.
        "paper_strength_to_ours": round(with_sinks / unit, 4) if with_sinks else None,
        "strengths": strengths,
        "verdict_strength": float(settings["verdict_strength"]),
        "emotions": emotions,
        "random_directions": count,
        "steered_positions": "the tokens the chat template's generation prompt adds",
        "suites": suites_out,
        "seconds": {**seconds, "total": round(time.perf_counter() - started, 1)},
    }
    write_json_atomic(headline, outputs["json"])
    plot_behaviour(shifts, headline, job.key, outputs["figure"])
    log.info(
        "behaviour: %d suites, %d items, %d conditions in %.1f s (choices %.1f s)",
        len(suites_out), len(item_rows), len(conditions), time.perf_counter() - started,
        seconds["choices"],
    )  # fmt: skip
    return headline


def _sweep(directions: np.ndarray, strengths: Sequence[float], unit: float) -> np.ndarray:
    """[directions x strengths, width] additions, direction-major."""
    if len(directions) == 0:
        return np.zeros((0, directions.shape[1]))
    repeated = np.repeat(directions, len(strengths), axis=0)
    return steering_deltas(repeated, np.tile(strengths, len(directions)), unit)


def _choices(job, settings: Mapping, suites: Sequence[Suite], emotion_deltas, random_deltas):
    """Per suite: ([items] unsteered D, [random conditions, items] D, [emotion conditions,
    items] D). Every suite's prompts are scored together (shortest first, so batches pad
    little). The unsteered and random-direction choices come from the model's cache
    (results/<model>/cache/behaviour_null/) when it has them: they do not depend on the
    emotion vectors, so adding an emotion scores only its own conditions."""
    loaded = job.loaded
    prompts, bounds = [], [0]
    for suite in suites:
        prompts += behaviour_prompts(loaded.tokenizer, loaded.spec.chat, settings["question"],
                                     suite.items)  # fmt: skip
        bounds.append(len(prompts))
    scoring = {
        "model": loaded.model,
        "prompts": prompts,
        "answers": answer_ids(loaded.tokenizer),
        "pad_id": loaded.tokenizer.pad_token_id,
        "layer": job.analysis_layer,
        "batch_size": int(settings["batch_size"]),
    }
    ids = hashlib.sha256(repr([(p.ids, p.span_b) for p in prompts]).encode()).hexdigest()
    key = cache_key(
        {
            "model": model_fingerprint(loaded.spec),
            "prompts": ids,
            "answers": scoring["answers"],
            "layer": job.analysis_layer,
            "unit": job.residual_norms[job.analysis_layer],
            "strengths": [float(s) for s in settings["strengths"]],
            "seed": int(settings["seed"]),
            "count": int(settings["random_directions"]),
            "format": CACHE_FORMAT,
        }
    )
    path = Path(job.cache("behaviour_null")) / f"{key}.parquet"
    table = read_checked_table(path)
    label = f"behaviour: {len(prompts)} prompts x {{}} {{}} conditions"
    if table is not None:
        log.info("behaviour: unsteered and random-direction choices from %s", path.name)
        null = np.array(table.column("values").to_pylist()).reshape(-1, len(prompts))
        d = score_prompts(**scoring, deltas=emotion_deltas,
                          label=label.format(len(emotion_deltas), "emotion"))  # fmt: skip
        emotion = d[1:]
    else:
        both = np.vstack([emotion_deltas, random_deltas]) if len(emotion_deltas) else random_deltas
        d = score_prompts(**scoring, deltas=both,
                          label=label.format(len(both), "emotion and random"))  # fmt: skip
        k = len(emotion_deltas)
        null, emotion = np.vstack([d[:1], d[1 + k :]]), d[1 : 1 + k]
        write_checked_table(pa.table({"values": null.ravel().tolist()}), path)
    # Row 0 of a fresh pass is the same unsteered pass as the cached one: the cached one is
    # kept with its nulls.
    return [
        (debiased_choice(null[0, lo:hi]), debiased_choice(null[1:, lo:hi]),
         debiased_choice(emotion[:, lo:hi]))
        for lo, hi in itertools.pairwise(bounds)
    ]  # fmt: skip


def _suite_table(suite: Suite, conditions, d0, steered, settings: Mapping) -> pd.DataFrame:
    """One row per (direction, strength): the shifts with their bootstrap intervals over
    items, and where the shift lies among the random directions' at that strength."""
    stats = shift_table(d0, steered, int(settings["bootstrap"]), int(settings["seed"]))
    table = pd.DataFrame(conditions, columns=["direction", "kind", "strength"])
    table.insert(0, "suite", suite.name)
    for key, values in stats.items():
        table[key] = values
    z, p, rank = [], [], []
    for _, row in table.iterrows():
        random = table.loc[
            (table["kind"] == "random") & (table["strength"] == row["strength"]), "shift"
        ]
        zi, pi, ri = against_random(row["shift"], random.to_numpy())
        z.append(zi)
        p.append(pi)
        rank.append(ri)
    table["z_random"], table["p_random"], table["rank_random"] = z, p, rank
    return table


def _suite_summary(suite: Suite, d0: np.ndarray, table: pd.DataFrame, emotions, settings) -> dict:
    """The suite's entry of behaviour.json: what it is, the unsteered choices, and at the
    verdict strength every emotion's shift (two-sided against the random directions, Holm
    across emotions) and the paper's predictions (one-sided, Holm across predictions)."""
    alpha, strength = float(settings["alpha"]), float(settings["verdict_strength"])
    at = table[(table["strength"] == strength)]
    emo = at[at["kind"] == "emotion"].set_index("direction")
    rnd = at[at["kind"] == "random"]["shift"].to_numpy()
    two_sided = holm(emo["p_random"].to_numpy())
    shifts = {
        e: measure(
            float(emo.loc[e, "shift"]),
            (float(emo.loc[e, "shift_low"]), float(emo.loc[e, "shift_high"])),
            "bootstrap over items",
            share_shift=float(emo.loc[e, "share_shift"]),
            p_random=float(emo.loc[e, "p_random"]),
            p_holm=float(p_holm),
        )
        for e, p_holm in zip(emo.index, two_sided, strict=True)
    }
    predictions = _predictions(suite, emo, rnd, alpha)
    tested = [v["holds"] for v in predictions.values() if v["holds"] is not None]
    return {
        "title": suite.title,
        "behaviour": suite.behaviour,
        "items": len(suite.items),
        "excluded_items": suite.excluded,
        "source": suite.source,
        "licence": suite.licence,
        "unsteered": {
            "mean_logodds": measure(
                float(d0.mean()), _mean_interval(d0, settings), "bootstrap over items"
            ),
            "share_behaviour": round(float((d0 > 0).mean()), 4),
        },
        "shifts": shifts,
        "random_shift_sd": float(np.std(rnd, ddof=1)),
        "random_shift_abs_max": float(np.max(np.abs(rnd))),
        "beyond_random": int(np.sum(two_sided < alpha)),
        "predictions": predictions,
        "holds": (all(tested) if len(tested) == len(predictions) else None)
        if predictions
        else None,
    }


def _predictions(suite: Suite, emo: pd.DataFrame, rnd: np.ndarray, alpha: float) -> dict:
    """Each of the paper's predictions for the suite at the verdict strength: the emotion's
    shift, its one-sided p among the random directions in the predicted direction (Holm
    across the suite's predictions), and whether it holds: beyond the random directions
    *and* with its bootstrap interval over items on the predicted side of zero (a shift
    beyond the random directions on these items that new items could reverse does not
    count)."""
    out: dict[str, dict[str, Any]] = {}
    ps: list[float] = []
    for emotion, sign in suite.predictions.items():
        if emotion not in emo.index:
            out[emotion] = {"expected": PREDICTED[sign], "tested": False, "holds": None}
            ps.append(np.nan)
            continue
        value = float(emo.loc[emotion, "shift"])
        low, high = float(emo.loc[emotion, "shift_low"]), float(emo.loc[emotion, "shift_high"])
        _, p, rank = against_random(value, rnd, sign)
        out[emotion] = {"expected": PREDICTED[sign], "tested": True, "shift": round(value, 4),
                        "ci": [round(low, 4), round(high, 4)], "p_random": p,
                        "rank_random": rank}  # fmt: skip
        ps.append(p)
    for (emotion, entry), p_holm in zip(out.items(), holm(ps), strict=True):
        if entry["tested"]:
            sign = suite.predictions[emotion]
            beyond_zero = entry["ci"][0] > 0 if sign > 0 else entry["ci"][1] < 0
            entry["p_holm"] = float(p_holm)
            entry["holds"] = bool(p_holm < alpha and beyond_zero)
    return out


def _mean_interval(d0: np.ndarray, settings: Mapping) -> tuple[float, float]:
    """Percentile bootstrap interval over items of the mean unsteered log-odds."""
    rng = np.random.default_rng(int(settings["seed"]))
    idx = rng.integers(0, len(d0), (int(settings["bootstrap"]), len(d0)))
    return percentile_interval(d0[idx].mean(axis=1))


def headline(data: Mapping) -> dict:
    """The behaviour entries of summary.json: per suite, the unsteered share, the verdict
    strength's shifts and predictions, and its verdict."""
    suites = data.get("suites") or {}
    entries = {
        name: {
            "items": s.get("items"),
            "unsteered_share_behaviour": (s.get("unsteered") or {}).get("share_behaviour"),
            "beyond_random": s.get("beyond_random"),
            "random_shift_sd": s.get("random_shift_sd"),
            "shifts": s.get("shifts"),
            "predictions": s.get("predictions"),
        }
        for name, s in suites.items()
    }
    strength = data.get("verdict_strength")
    return {
        "behaviour": {
            "verdict_strength": strength,
            "paper_strength_to_ours": data.get("paper_strength_to_ours"),
            "suites": entries,
        },
        "holds": {f"behaviour_{name}": s.get("holds") for name, s in suites.items()},
        "decided_against": {
            f"behaviour_{name}": (
                f"{data.get('random_directions')} seeded random directions steered at the same "
                f"strength ({strength} x the sink-free mean residual norm): each of the paper's "
                "predictions for the suite must shift the log-odds of the behaviour in its "
                "direction beyond them (one-sided prediction-interval t test, Holm across the "
                "suite's predictions), with its 95 % bootstrap interval over items on that "
                "side of zero"
            )
            for name, s in suites.items()
            if s.get("predictions")
        },
    }
