"""The steering-controls experiment of model_analyses: the "He feels" self effect of every
emotion against seeded random directions and against shuffled emotion vectors, at the same
strength, at the analysis layer and at every layer of the layer sweep; and its headline
numbers for summary.json. A word's random-direction effects do not depend on the emotion
vectors, so they are cached per word (results/<model>/cache/steering_null/): adding an
emotion computes only the new word's."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..architecture import architecture
from ..models import model_fingerprint
from ..progress import progress
from ..render.steering_controls import plot_controls
from ..report import MOST
from ..steering import SteeringRun, SteeringSession
from ..steering_controls import random_directions, shuffled_partners, summarise, word_table
from ..store import write_json_atomic, write_parquet_atomic
from .extraction import cache_key
from .steering import session_of, sweep_layers

log = logging.getLogger("emotion_vectors")

# 2: the LM head is read out in float32 whatever the model dtype (Architecture.log_probs).
NULL_FORMAT = 2


def random_effects(
    job, session: SteeringSession, layer: int, words: Sequence[str], count: int, seed: int,
    strength: float,
) -> pd.DataFrame:  # fmt: skip
    """(word, direction, change) of `count` random directions at `layer` for every word,
    computing only the words missing from the per-model cache."""
    key = cache_key(
        {
            "model": model_fingerprint(job.loaded.spec),
            "prompt": list(session.prompt),
            "layer": layer,
            "strength": strength,
            "unit": job.norms[layer],
            "seed": seed,
            "count": count,
            "format": NULL_FORMAT,
        }
    )
    path = job.cache("steering_null") / f"{key}.parquet"
    have = pq.read_table(path).to_pandas() if path.exists() else pd.DataFrame()
    missing = [w for w in dict.fromkeys(words) if have.empty or w not in set(have["word"])]
    log.info("random directions at layer %d: %d words cached, computing %s", layer,
             len(words) - len(missing), missing)  # fmt: skip
    if missing:
        width = architecture(job.loaded.model).hidden_size
        names = [f"random {i}" for i in range(count)]
        vectors = dict(zip(names, random_directions(count, width, seed), strict=True))
        run = SteeringRun(layer, names, [strength] * count, [missing] * count)
        rows = session.effects(f"random:{seed}", vectors, run)
        fresh = pd.DataFrame(
            {
                "word": [r["word"] for r in rows],
                "direction": [int(r["emotion"].split()[1]) for r in rows],
                "change": [r["change"] for r in rows],
            }
        )
        have = pd.concat([have, fresh], ignore_index=True) if not have.empty else fresh
        write_parquet_atomic(pa.Table.from_pandas(have, preserve_index=False), path)
    return have[have["word"].isin(set(words))].assign(layer=layer)


def layer_controls(
    job, session, layer: int, words: Sequence[str], count: int, seed: int, strength: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(word table, random effects) of `words` steered at `layer`."""
    vectors = job.vectors(layer)
    words = [w for w in words if w in vectors]
    partners = shuffled_partners(words, seed)
    run = SteeringRun(
        layer,
        words + [partners[w] for w in words],
        [strength] * (2 * len(words)),
        [[w] for w in words] * 2,
    )
    rows = session.effects(job.vector_file, vectors, run)
    own = {r["word"]: r["change"] for r in rows[: len(words)]}
    shuffled = {r["word"]: r["change"] for r in rows[len(words) :]}
    null = random_effects(job, session, layer, words, count, seed, strength)
    table = word_table(own, shuffled, null).assign(layer=layer)
    table["shuffled_vector"] = [partners[w] for w in table["emotion"]]
    return table, null


def run(job, settings: Mapping, outputs: Mapping[str, str]) -> dict:
    steering = job.settings["steering"]
    session = session_of(job, steering)
    strength, seed, alpha = float(steering["strength"]), settings["seed"], settings["alpha"]
    words, null = layer_controls(
        job, session, job.analysis_layer, job.emotions, settings["random_directions"], seed,
        strength,
    )  # fmt: skip
    words.sort_values("p").to_csv(outputs["words"], index=False)
    sweep, nulls = [], [null]
    swept = sweep_layers(job, steering["layer_stride"])
    for layer in progress(swept, "steering controls: layer sweep"):
        table, layer_null = layer_controls(
            job, session, layer, steering["cross_emotions"], settings["sweep_random_directions"],
            seed, strength,
        )  # fmt: skip
        sweep.append({"layer": layer, **_layer_row(table, alpha)})
        nulls.append(layer_null)
    layers = pd.DataFrame(sweep)
    layers.to_csv(outputs["layers"], index=False)
    pd.concat(nulls, ignore_index=True).to_csv(outputs["random"], index=False)
    plot_controls(words, layers, job.key, job.analysis_layer, strength, alpha, outputs["figure"])
    headline = {
        **job.describe(),
        "strength": strength,
        "random_directions": settings["random_directions"],
        "sweep_random_directions": settings["sweep_random_directions"],
        "seed": seed,
        **summarise(words, alpha),
        "by_layer": layers.to_dict(orient="records"),
    }
    write_json_atomic(headline, outputs["json"])
    log.info("steering controls: %s", {k: v for k, v in headline.items() if k != "by_layer"})
    return headline


def _layer_row(table: pd.DataFrame, alpha: float) -> dict:
    return {
        "emotions": len(table),
        "own_mean": float(table["own"].mean()),
        "shuffled_mean": float(table["shuffled"].mean()),
        "random_mean": float(table["random_mean"].mean()),
        "random_p95_mean": float(table["random_p95"].mean()),
        "own_positive": float((table["own"] > 0).mean()),
        "beats_random": float((table["p"] < alpha).mean()),
    }


def headline(data: Mapping) -> dict:
    """The steering-control entries of summary.json."""
    keys = ("beats_random", "own_positive", "shuffled_positive", "median_own_minus_random")
    beats = (data.get("beats_random") or {}).get("value")
    return {
        **{f"steering_{k}": data.get(k) for k in (*keys, "smallest_p")},
        "steering_random_directions": data.get("random_directions"),
        # Holds when most emotions' own vectors beat the random directions.
        "holds": {"steering": None if beats is None else bool(beats > MOST)},
    }
