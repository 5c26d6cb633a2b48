"""The preference experiment of model_analyses (emotion_vectors/preference.py has the
method): the model's Elo over everyday activities, each emotion direction's correlation
with it across activities, the Elo shift steering with that direction causes, and the same
for seeded random directions as the null; and its headline numbers for summary.json."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ..architecture import architecture
from ..inputs import read_activities
from ..integrity import read_checked_table, write_checked_table
from ..models import model_fingerprint
from ..pooling import sink_rule
from ..preference import (
    Comparisons,
    SteeredComparison,
    answer_ids,
    bootstrap_elo_se,
    bootstrap_over_activities,
    choice_logodds,
    choice_prompts,
    column_correlations,
    elo_shifts,
    fit_elo,
    forward_prefixes,
    option_means,
    pair_design,
    projections,
    split_half_reliability,
    to_elo,
)
from ..render.preference import plot_preference
from ..report import below
from ..stats import measure, pearson, percentile_interval
from ..steering import steering_deltas
from ..steering_controls import random_directions
from ..store import cache_key, write_json_atomic

log = logging.getLogger("emotion_vectors")

# Bootstrap refits of the Bradley-Terry scores for their standard errors (a figure's error
# bars; the headline intervals use `preference.bootstrap` replicates over activities).
SE_REPLICATES = 200
# Bump when the cached comparisons would be computed differently from the same inputs.
# 2: the LM head is read out in float32 whatever the model dtype (Architecture.log_probs).
CACHE_FORMAT = 2


@dataclass
class Design:
    """The activities, the seeded pairs and their prompts in both orders: ordered prompt
    k < len(pairs) shows pair k as (i, j), prompt k + len(pairs) as (j, i); `steered` are
    the prompts of the steered rounds."""

    activities: list
    pairs: list[tuple[int, int, int]]
    ordered: list[tuple[int, int]]
    steered: list[int]

    @property
    def texts(self) -> list[str]:
        return [a.text for a in self.activities]

    def partner(self, k: int) -> int:
        """The same pair in the other order."""
        n = len(self.pairs)
        return k + n if k < n else k - n


def run(job, settings: Mapping, outputs: Mapping[str, str]) -> dict:
    started = time.perf_counter()
    design, scoring = _setup(job, settings)
    t_prefix = time.perf_counter() - started
    names, kinds, directions, k = _directions(job, settings)
    deltas = steering_deltas(
        directions, float(settings["strength"]), job.residual_norms[scoring["layer"]]
    )
    t0 = time.perf_counter()
    # The unsteered comparisons, the random directions' steered ones and the activities'
    # states do not depend on the emotion vectors: cached, so adding an emotion reruns only
    # the emotion directions' steered passes.
    control = _vector_free_part(job, settings, scoring, design.steered, deltas[k:])
    d = control["unsteered"]
    emotion_rows = _score(scoring, design.steered, deltas[:k], "emotion directions")[1:]
    d_steered = np.vstack([d[design.steered], emotion_rows, control["random"]])
    t_forward = time.perf_counter() - t0

    ridge, n = float(settings["ridge"]), len(design.activities)
    comparisons = Comparisons(design.pairs, d[: len(design.pairs)], d[len(design.pairs) :])
    scores, _ = fit_elo(n, comparisons, ridge)
    shift, rows = _shifts(design, d, d_steered, scores, ridge, names, kinds)
    pd.DataFrame(rows).to_csv(outputs["comparisons"], index=False)
    proj = projections(control["means"], directions)
    elo_table = _elo_table(design, to_elo(scores), comparisons, proj[:, :k], names[:k], settings)
    elo_table.to_csv(outputs["elo"], index=False, float_format="%.6g")
    shifts = _shift_table(names, kinds, proj, to_elo(scores), shift, settings)
    shifts.to_csv(outputs["shifts"], index=False, float_format="%.6g")

    headline = {
        **job.describe(),
        "strength": float(settings["strength"]),
        "unit": job.residual_norms[scoring["layer"]],
        "activities": n,
        "pairs": len(design.pairs),
        "steered_comparisons_per_direction": len(design.steered),
        "directions": k,
        "random_directions": len(names) - k,
        "elo_sd": round(float(np.std(elo_table["elo"], ddof=1)), 2),
        "reliability": split_half_reliability(n, comparisons, ridge),
        "categories": _categories(elo_table, int(settings["bootstrap"]), settings["seed"]),
        "position_bias": round(float(np.mean(d)), 4),
        **_relation(shifts, proj, to_elo(scores), shift, k, settings),
        **_shift_summary(shifts, k),
        "seconds": {"prefixes": round(t_prefix, 1), "comparisons": round(t_forward, 1)},
    }
    write_json_atomic(headline, outputs["json"])
    plot_preference(elo_table, shifts, headline, job.key, outputs["figure"])
    log.info(
        "preference: %d activities, %d pairs, %d directions in %.1f s (prefixes %.1f s, "
        "comparisons %.1f s); across emotions r = %s", n, len(design.pairs), len(names),
        time.perf_counter() - started, t_prefix, t_forward, headline["relation"]["value"],
    )  # fmt: skip
    return headline


def _setup(job, settings: Mapping) -> tuple[Design, dict]:
    """The design, and what scoring a prompt needs: the prompts with their forwarded
    prefixes, the answer tokens, the layer, padding and batch size."""
    loaded = job.loaded
    activities = read_activities(Path(settings["activities"]))
    pairs = pair_design(len(activities), settings["rounds"], settings["seed"])
    ordered = [(i, j) for i, j, _ in pairs] + [(j, i) for i, j, _ in pairs]
    steered = [k for k, (*_, r) in enumerate(pairs) if r < settings["steer_rounds"]]
    design = Design(activities, pairs, ordered, steered + [k + len(pairs) for k in steered])
    prompts = choice_prompts(
        loaded.tokenizer, loaded.spec.chat, settings["question"], design.texts, ordered
    )
    scoring = {
        "model": loaded.model,
        "prompts": prompts,
        "prefixes": forward_prefixes(loaded.model, prompts, job.analysis_layer),
        "answers": answer_ids(loaded.tokenizer),
        "layer": job.analysis_layer,
        "pad_id": loaded.tokenizer.pad_token_id,
        "batch_size": int(settings["batch_size"]),
    }
    return design, scoring


def _directions(job, settings: Mapping) -> tuple[list[str], list[str], np.ndarray, int]:
    """(names, kinds, [directions, width], number of emotions): the run's emotions of
    `preference.emotions`, then the seeded random directions."""
    vectors = job.vectors(job.analysis_layer)
    emotions = [e for e in settings["emotions"] if e in vectors]
    count = int(settings["random_directions"])
    width = architecture(job.loaded.model).hidden_size
    randoms = random_directions(count, width, settings["seed"])
    names = emotions + [f"random {k}" for k in range(count)]
    kinds = ["emotion"] * len(emotions) + ["random"] * count
    return names, kinds, np.stack([vectors[e] for e in emotions] + list(randoms)), len(emotions)


def _shifts(design: Design, d, d_steered, scores, ridge: float, names, kinds):
    """([activities, directions] Elo shift of every steered activity, NaN where never
    steered; one row per steered comparison and direction)."""
    shift = np.full((len(design.activities), len(names)), np.nan)
    rows, texts = [], design.texts
    for c, name in enumerate(names):
        steered_rows = []
        for pos, k in enumerate(design.steered):
            opponent, target = design.ordered[k]
            unsteered = 0.5 * (d[design.partner(k)] - d[k])  # the partner shows target as A
            # Option B is the target: its log-odds of being chosen is -d.
            change = -(d_steered[c + 1, pos] - d_steered[0, pos])
            steered_rows.append(SteeredComparison(target, opponent, unsteered, change))
            rows.append({"direction": name, "kind": kinds[c], "target": texts[target],
                         "opponent": texts[opponent], "unsteered_logodds": unsteered,
                         "change": change})  # fmt: skip
        for target, value in elo_shifts(scores, steered_rows, ridge).items():
            shift[target, c] = value
    return shift, rows


def _elo_table(design: Design, elo, comparisons, proj, emotions, settings) -> pd.DataFrame:
    """Per activity: category, Elo, its bootstrap standard error, comparisons, and its
    projection on every steered emotion; best first."""
    n = len(design.activities)
    se = bootstrap_elo_se(n, comparisons, float(settings["ridge"]), SE_REPLICATES,
                          settings["seed"])  # fmt: skip
    table = pd.DataFrame(
        {
            "activity": design.texts,
            "category": [a.category for a in design.activities],
            "elo": elo,
            "elo_se": se,
            "comparisons": _degree(n, design.pairs),
        }
    )
    projected = pd.DataFrame(proj, columns=[f"proj:{e}" for e in emotions])
    return pd.concat([table, projected], axis=1).sort_values("elo", ascending=False)


def _shift_table(names, kinds, proj, elo, shift, settings) -> pd.DataFrame:
    """Per direction: its mean Elo shift and projection-Elo r, each with a bootstrap
    interval over activities, and the shift against the random directions'."""
    r = column_correlations(proj, elo)
    mean_shift = np.nanmean(shift, axis=0)
    boot_r, boot_shift, _ = bootstrap_over_activities(
        proj, elo, shift, int(settings["bootstrap"]), settings["seed"]
    )
    random_shift = mean_shift[np.array(kinds) == "random"]
    spread = float(np.std(random_shift, ddof=1)) if len(random_shift) > 1 else np.nan
    random_max = float(np.max(np.abs(random_shift))) if len(random_shift) else np.nan
    shift_ci = [percentile_interval(boot_shift[:, c]) for c in range(len(names))]
    r_ci = [percentile_interval(boot_r[:, c]) for c in range(len(names))]
    return pd.DataFrame(
        {
            "direction": names,
            "kind": kinds,
            "elo_shift": mean_shift,
            "shift_low": [lo for lo, _ in shift_ci],
            "shift_high": [hi for _, hi in shift_ci],
            "shift_z": mean_shift / spread,
            "beyond_random": np.abs(mean_shift) > random_max,
            "r_projection_elo": r,
            "r_low": [lo for lo, _ in r_ci],
            "r_high": [hi for _, hi in r_ci],
        }
    )


def _shift_summary(shifts: pd.DataFrame, k: int) -> dict:
    """The headline's view of the shifts: the emotions' typical size, the random
    directions' spread and largest, how many emotions lie beyond them, the extremes."""
    emotion = shifts["elo_shift"].to_numpy()[:k]
    random = shifts.loc[shifts["kind"] == "random", "elo_shift"].to_numpy()
    return {
        "emotion_shift_abs_median": round(float(np.median(np.abs(emotion))), 2),
        "random_shift_sd": float(np.std(random, ddof=1)) if len(random) > 1 else None,
        "random_shift_abs_max": float(np.max(np.abs(random))) if len(random) else None,
        "beyond_random": int(shifts["beyond_random"][:k].sum()),
        "largest": _extremes(shifts[shifts["kind"] == "emotion"]),
    }


def _score(scoring: Mapping, rows: list[int], deltas: np.ndarray | None, what: str) -> np.ndarray:
    """choice_logodds of the prompts `rows`: [1 + len(deltas), rows]; `what` for its
    progress line."""
    label = f" x {len(deltas)} {what}" if deltas is not None else f", {what}"
    return choice_logodds(
        scoring["model"], [scoring["prompts"][k] for k in rows], scoring["prefixes"],
        scoring["answers"], scoring["pad_id"], scoring["layer"], deltas, scoring["batch_size"],
        f"preference: {len(rows)} prompts{label}",
    )  # fmt: skip


def null_key(job, scoring: Mapping, steered: list[int], settings: Mapping, count: int,
             fingerprint: Mapping | None = None) -> str:  # fmt: skip
    """The cache key of the vector-free part: the model, the prompts, the steered rows and
    answers, the layer and its unit, the null's strength, seed and size, and the sink rule
    of the option means."""
    return cache_key(
        {
            "model": fingerprint or model_fingerprint(job.loaded.spec),
            "prompts": hashlib.sha256(
                repr([p.ids for p in scoring["prompts"]]).encode()
            ).hexdigest(),
            "steered": steered,
            "answers": scoring["answers"],
            "layer": scoring["layer"],
            "unit": job.residual_norms[scoring["layer"]],
            "strength": float(settings["strength"]),
            "seed": int(settings["seed"]),
            "count": count,
            "sinks": sink_rule(job.config["sink_ratio"]),
            "format": CACHE_FORMAT,
        }
    )


def _vector_free_part(job, settings: Mapping, scoring: dict, steered: list[int],
                      random_deltas: np.ndarray) -> dict[str, np.ndarray]:  # fmt: skip
    """{unsteered: d of every prompt, random: [directions, steered prompts] d under each
    random direction, means: [activities, width] states}, from the model's cache
    (results/<model>/cache/preference_null/) when it has them."""
    scoring["model"] = job.loaded.model
    prompts = scoring["prompts"]
    key = null_key(job, scoring, steered, settings, len(random_deltas))
    path = job.cache("preference_null") / f"{key}.parquet"
    table = read_checked_table(path)
    if table is not None:
        arrays = dict(zip(table.column("name").to_pylist(), table.column("values").to_pylist(),
                          strict=True))  # fmt: skip
        log.info("preference: unsteered and random-direction comparisons from %s", path.name)
        width = len(arrays["means"]) // len(arrays["activity"])
        return {
            "unsteered": np.array(arrays["unsteered"]),
            "random": np.array(arrays["random"]).reshape(len(random_deltas), len(steered)),
            "means": np.array(arrays["means"]).reshape(-1, width),
        }
    d = np.zeros(len(prompts))
    random = _score(scoring, steered, random_deltas, "random directions")
    d[steered] = random[0]
    rest = sorted(set(range(len(prompts))) - set(steered))
    if rest:
        d[rest] = _score(scoring, rest, None, "unsteered")[0]
    n = 1 + max(p.first for p in prompts)
    means = option_means(prompts, scoring["prefixes"], n, job.config["sink_ratio"],
                         job.loaded.tokenizer.all_special_ids)  # fmt: skip
    out = {"unsteered": d, "random": random[1:], "means": means}
    names = ["unsteered", "random", "means", "activity"]
    values = [d.tolist(), random[1:].ravel().tolist(), means.ravel().tolist(),
              [float(i) for i in range(n)]]  # fmt: skip
    write_checked_table(pa.table({"name": names, "values": values}), path)
    return out


def _degree(n: int, pairs) -> list[int]:
    degree = [0] * n
    for i, j, _ in pairs:
        degree[i] += 2  # both orders
        degree[j] += 2
    return degree


def _categories(elo_table: pd.DataFrame, reps: int, seed: int) -> dict:
    """Mean Elo per category, and pleasant minus unpleasant with a bootstrap interval over
    activities: does the model prefer what people find pleasant at all?"""
    means = elo_table.groupby("category")["elo"].mean().round(1).to_dict()
    pleasant = elo_table.loc[elo_table["category"] == "pleasant", "elo"].to_numpy()
    unpleasant = elo_table.loc[elo_table["category"] == "unpleasant", "elo"].to_numpy()
    out = {"mean_elo": means}
    if len(pleasant) and len(unpleasant):
        rng = np.random.default_rng(seed)
        boot = [
            rng.choice(pleasant, len(pleasant)).mean()
            - rng.choice(unpleasant, len(unpleasant)).mean()
            for _ in range(reps)
        ]
        out["pleasant_minus_unpleasant"] = measure(
            float(pleasant.mean() - unpleasant.mean()), percentile_interval(boot), "bootstrap"
        )
    return out


def _relation(shifts: pd.DataFrame, proj, elo, shift_matrix, k: int, settings: Mapping) -> dict:
    """The paper's test across the emotion directions: does a direction's correlation with
    Elo (across activities) predict the Elo shift steering with it causes? Its interval by
    bootstrap over activities, its p by shuffling the shifts across emotions; and the same
    correlation across the random directions."""
    r = shifts["r_projection_elo"].to_numpy()
    shift = shifts["elo_shift"].to_numpy()
    value = pearson(r[:k], shift[:k])
    reps, seed = int(settings["bootstrap"]), int(settings["seed"])
    _, _, across = bootstrap_over_activities(proj[:, :k], elo, shift_matrix[:, :k], reps, seed)
    rng = np.random.default_rng(seed)
    permutations = int(settings["permutations"])
    null = np.array([pearson(r[:k], rng.permutation(shift[:k])) for _ in range(permutations)])
    p = float((1 + np.sum(null >= value)) / (len(null) + 1))
    random_r = pearson(r[k:], shift[k:]) if len(r) - k > 2 else None
    return {
        "relation": measure(
            value,
            percentile_interval(across),
            "bootstrap over activities",
            n=k,
            p=p,
            null_p95=float(np.percentile(null, 95)),
            random_directions_r=random_r,
        ),
        "projection_r_abs_max": round(float(np.nanmax(np.abs(r[:k]))), 3),
        "random_projection_r_abs_max": round(float(np.nanmax(np.abs(r[k:]))), 3)
        if len(r) > k
        else None,
        "holds": below(p) and value > 0,
    }


def _extremes(table: pd.DataFrame) -> dict:
    """The three directions that raise Elo most and the three that lower it most."""
    ordered = table.sort_values("elo_shift")

    def pick(rows: pd.DataFrame) -> dict:
        return {
            d: round(float(s), 1) for d, s in zip(rows["direction"], rows["elo_shift"], strict=True)
        }

    return {"raise": pick(ordered.tail(3).iloc[::-1]), "lower": pick(ordered.head(3))}


def headline(data: Mapping) -> dict:
    """The preference entries of summary.json."""
    relation = data.get("relation") or {}
    return {
        "preference_relation_r": relation,
        "preference_reliability": data.get("reliability"),
        "preference_pleasant_minus_unpleasant": (data.get("categories") or {}).get(
            "pleasant_minus_unpleasant"
        ),
        "preference_beyond_random": data.get("beyond_random"),
        "preference_directions": data.get("directions"),
        "preference_projection_r_abs_max": data.get("projection_r_abs_max"),
        "preference_random_projection_r_abs_max": data.get("random_projection_r_abs_max"),
        "preference_random_shift_sd": data.get("random_shift_sd"),
        "preference_largest_shifts": data.get("largest"),
        "preference_position_bias": data.get("position_bias"),
        "holds": {"preference": data.get("holds") if relation else None},
    }
