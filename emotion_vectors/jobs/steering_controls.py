"""The steering-controls experiment of model_analyses: the self effect of every emotion (the
log-prob change of its word when steered with its own vector) against nulls at the same
strength: seeded random unit directions (isotropic), other emotions' vectors and
covariance-matched Gaussian directions (in-distribution), and shuffled vectors; after "He
feels" for every emotion word, and for the off-template words (synonyms and inflections
absent from every template passage) and after the other frames for a subset of emotions;
the isotropic null also at every layer of the layer sweep. Its headline numbers go to
summary.json. A word's isotropic and covariance-matched effects do not depend on the other
words, so they are cached per word (results/<model>/cache/steering_null/): adding an emotion
computes only the new word's isotropic null (the covariance changes with the vectors, so
its draws are recomputed)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ..architecture import architecture
from ..config import read_synonyms, read_templates
from ..corpus import render
from ..integrity import read_checked_table, write_checked_table
from ..models import model_fingerprint
from ..progress import progress
from ..render.steering_controls import plot_controls
from ..report import MOST
from ..steering import SteeringRun, SteeringSession, word_ids
from ..steering_controls import (
    content_key,
    covariance_directions,
    null_stats,
    off_template_words,
    other_sample,
    random_directions,
    resampled_share,
    shuffled_partners,
    summarise,
    word_table,
)
from ..store import cache_key, write_json_atomic
from ..wordforms import read_word_forms
from .steering import session_of, sweep_layers

log = logging.getLogger("emotion_vectors")

# 2: the LM head is read out in float32 whatever the model dtype (Architecture.log_probs).
# 3: the null's kind in the key (isotropic, covariance-matched).
NULL_FORMAT = 3
# The nulls of a test, and those drawn from the emotion vectors' own distribution.
NULLS = ("isotropic", "other_emotions", "covariance")
IN_DISTRIBUTION = ("other_emotions", "covariance")


def null_effects(
    job, session: SteeringSession, layer: int, words: Sequence[str], directions: np.ndarray,
    strength: float, identity: Mapping,
) -> pd.DataFrame:  # fmt: skip
    """(word, direction, change) of every row of `directions` at `layer` for every word,
    computing only the words missing from the per-model cache; `identity` says what the
    directions are (kind, seed, count, and the vectors' content for covariance draws)."""
    key = cache_key(
        {
            "model": model_fingerprint(job.loaded.spec),
            "prompt": list(session.prompt),
            "layer": layer,
            "strength": strength,
            "unit": job.residual_norms[layer],
            "format": NULL_FORMAT,
            **identity,
        }
    )
    path = job.cache("steering_null") / f"{key}.parquet"
    cached = read_checked_table(path)
    have = cached.to_pandas() if cached is not None else pd.DataFrame()
    missing = [w for w in dict.fromkeys(words) if have.empty or w not in set(have["word"])]
    log.info("%s null at layer %d: %d words cached, computing %s", identity["null"], layer,
             len(set(words)) - len(missing), missing)  # fmt: skip
    if missing:
        names = [f"{identity['null']} {i}" for i in range(len(directions))]
        vectors = dict(zip(names, directions, strict=True))
        run = SteeringRun(layer, names, [strength] * len(names), [missing] * len(names))
        rows = session.effects(f"{identity['null']}:{key}", vectors, run)
        fresh = pd.DataFrame(
            {
                "word": [r["word"] for r in rows],
                "direction": [int(r["emotion"].split()[-1]) for r in rows],
                "change": [r["change"] for r in rows],
            }
        )
        have = pd.concat([have, fresh], ignore_index=True) if not have.empty else fresh
        write_checked_table(pa.Table.from_pandas(have, preserve_index=False), path)
    # In the order a run computing every word at once produces (direction, then word as
    # requested), whatever order the cache filled in: the tables do not depend on history.
    order = {word: i for i, word in enumerate(dict.fromkeys(words))}
    chosen = have[have["word"].isin(set(order))]
    rank = chosen["direction"].to_numpy() * len(order) + chosen["word"].map(order).to_numpy()
    return chosen.iloc[np.argsort(rank, kind="stable")].reset_index(drop=True).assign(layer=layer)


def random_effects(
    job, session: SteeringSession, layer: int, words: Sequence[str], count: int, seed: int,
    strength: float,
) -> pd.DataFrame:  # fmt: skip
    """The isotropic null: `count` seeded random unit directions."""
    width = architecture(job.loaded.model).hidden_size
    directions = random_directions(count, width, seed)
    identity = {"null": "isotropic", "seed": seed, "count": count}
    return null_effects(job, session, layer, words, directions, strength, identity)


def covariance_effects(
    job, session: SteeringSession, layer: int, words: Sequence[str], count: int, seed: int,
    strength: float,
) -> pd.DataFrame:  # fmt: skip
    """The covariance-matched null: `count` draws from N(0, Σ) of the layer's vectors."""
    _, matrix = job.matrix(layer)
    directions = covariance_directions(matrix, count, seed)
    identity = {"null": "covariance", "seed": seed, "count": count, "vectors": content_key(matrix)}
    return null_effects(job, session, layer, words, directions, strength, identity)


def null_matrix(effects: pd.DataFrame, words: Sequence[str]) -> np.ndarray:
    """[words, draws] changes of a null's long table, in the order of `words`."""
    wide = effects.pivot_table(index="word", columns="direction", values="change")
    return wide.reindex(index=list(words)).to_numpy(dtype=np.float64)


def other_effects(
    job, session: SteeringSession, layer: int, targets: Sequence[tuple[str, str]],
    sample: Sequence[str], strength: float,
) -> np.ndarray:  # fmt: skip
    """[words, sample] changes of every target word under the sampled emotions' vectors,
    NaN where the vector is the word's own emotion's."""
    words = list(dict.fromkeys(w for w, _ in targets))
    run = SteeringRun(layer, list(sample), [strength] * len(sample), [words] * len(sample))
    rows = session.effects(job.vector_file, job.vectors(layer), run)
    change = {(r["emotion"], r["word"]): r["change"] for r in rows}
    return np.array(
        [[np.nan if e == own else change[(e, w)] for e in sample] for w, own in targets]
    )


def own_effects(
    job, session: SteeringSession, layer: int, targets: Sequence[tuple[str, str]],
    strength: float,
) -> np.ndarray:  # fmt: skip
    """The change of each target word under its own emotion's vector."""
    run = SteeringRun(
        layer, [e for _, e in targets], [strength] * len(targets), [[w] for w, _ in targets]
    )
    return np.array(
        [r["change"] for r in session.effects(job.vector_file, job.vectors(layer), run)]
    )


def frame_test(
    job, session: SteeringSession, targets: Sequence[tuple[str, str]], settings: Mapping,
    strength: float, isotropic: pd.DataFrame | None,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:  # fmt: skip
    """One test (a frame and a set of words): per target (word, emotion) the own change and,
    against each null, its mean, sd, z, p, share beaten and empirical p; and the nulls'
    [words, draws] matrices. `isotropic`: the words' random-direction effects, if any."""
    layer, seed = job.analysis_layer, settings["seed"]
    words = [w for w, _ in targets]
    sample = other_sample(job.emotions, settings["other_emotions"], seed)
    nulls = {
        "other_emotions": other_effects(job, session, layer, targets, sample, strength),
        "covariance": null_matrix(
            covariance_effects(
                job, session, layer, words, settings["covariance_directions"], seed, strength
            ),
            words,
        ),
    }
    if isotropic is not None:
        nulls = {"isotropic": null_matrix(isotropic, words), **nulls}
    own = own_effects(job, session, layer, targets, strength)
    table = pd.DataFrame({"word": words, "emotion": [e for _, e in targets], "own": own})
    for name, matrix in nulls.items():
        stats = null_stats(own, matrix)
        table = pd.concat([table, stats.add_prefix(f"{name}_")], axis=1)
    return table, nulls


def off_template_targets(job, settings: Mapping) -> list[tuple[str, str]]:
    """(word, emotion) of the off-template words of `off_template_emotions`: synonyms, then
    word forms, absent from every rendered template passage of the run; a word whose first
    token is the first token of a run emotion's word is left out too (steering could raise
    it by raising the emotion word's own first token)."""
    synonyms = read_synonyms(Path(settings["synonyms"]))
    forms = read_word_forms(Path(job.config["word_forms"]))
    emotions = job.emotions
    candidates = {e: [*synonyms.get(e, []), *forms.get(e, [])] for e in emotions}
    templates = read_templates(Path(job.config["templates"]))
    passages = [render(t["text"], e) for t in templates for e in emotions]
    tokenizer = job.loaded.tokenizer
    firsts = {word_ids(tokenizer, e)[0] for e in emotions}

    def distinct_first_token(word: str) -> bool:
        return word_ids(tokenizer, word)[0] not in firsts

    chosen = [e for e in settings["off_template_emotions"] if e in set(emotions)]
    table = off_template_words(
        chosen, candidates, passages, settings["off_template_words"], distinct_first_token
    )
    return [(w, e) for e, ws in table.items() for w in ws]


def all_tests(
    job, settings: Mapping, strength: float, null: pd.DataFrame
) -> tuple[pd.DataFrame, dict]:
    """Every test: "He feels" on every emotion word (all nulls) and on the off-template
    words, and each frame on the emotion words of the off-template emotions and on their
    off-template words (in-distribution nulls). `null`: the emotion words' isotropic null
    after "He feels". Returns the long per-word table and {test: (own, nulls, emotions)}."""
    steering = job.config["steering"]
    he_feels = session_of(job, steering)
    off = off_template_targets(job, settings)
    subset = list(dict.fromkeys(e for _, e in off))
    count, seed, layer = settings["random_directions"], settings["seed"], job.analysis_layer
    off_words = [w for w, _ in off]
    off_null = (
        random_effects(job, he_feels, layer, off_words, count, seed, strength) if off else None
    )
    prefix = steering["answer_prefix"]
    tests = [(prefix, he_feels, "emotion word", [(e, e) for e in job.emotions], null)]
    tests.append((prefix, he_feels, "off-template word", off, off_null))
    for frame in settings["frames"]:
        session = job.share(
            f"steering frame {frame['answer_prefix']}",
            lambda f=frame: SteeringSession.open(job.loaded, {**steering, **f}, job.residual_norms),
        )
        label = frame["answer_prefix"]
        tests.append((label, session, "emotion word", [(e, e) for e in subset], None))
        tests.append((label, session, "off-template word", off, None))
    tables, matrices = [], {}
    for label, session, kind, targets, isotropic in progress(tests, "steering controls: tests"):
        if not targets:
            continue
        table, nulls = frame_test(job, session, targets, settings, strength, isotropic)
        tables.append(table.assign(frame=label, kind=kind))
        matrices[f"{label} / {kind}"] = (table["own"].to_numpy(), nulls, table["emotion"])
    return pd.concat(tables, ignore_index=True), matrices


def summaries_of(matrices: Mapping, settings: Mapping) -> dict:
    """{test: {null: share beating it (z-test p < alpha) and median z, each with its
    interval resampling the null's draws and the emotions}}."""
    alpha, seed, draws = settings["alpha"], settings["seed"], settings["bootstrap"]
    return {
        test: {
            name: resampled_share(own, matrix, groups, alpha, draws, seed)
            for name, matrix in nulls.items()
        }
        for test, (own, nulls, groups) in matrices.items()
    }


def verdict(summaries: Mapping) -> tuple[bool | None, dict]:
    """Holds when, in every test, the share of words whose own vector beats the stronger
    in-distribution null (the one fewer words beat) has its interval above MOST. Returns the
    verdict and, per test, the stronger null with its share."""
    weakest = {}
    for test, nulls in summaries.items():
        name = min(IN_DISTRIBUTION, key=lambda n: nulls[n]["share"]["value"])
        weakest[test] = {"null": name, **nulls[name]["share"]}
    if not weakest:
        return None, weakest
    return all(w["ci"][0] > MOST for w in weakest.values()), weakest


def layer_controls(
    job, session, layer: int, words: Sequence[str], count: int, seed: int, strength: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(word table, random effects) of `words` steered at `layer`: own, shuffled, isotropic."""
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
    steering = job.config["steering"]
    session = session_of(job, steering)
    strength, seed, alpha = float(steering["strength"]), settings["seed"], settings["alpha"]
    words, null = layer_controls(
        job, session, job.analysis_layer, job.emotions, settings["random_directions"], seed,
        strength,
    )  # fmt: skip
    tests, matrices = all_tests(job, settings, strength, null)
    he_feels = tests[
        (tests["frame"] == steering["answer_prefix"]) & (tests["kind"] == "emotion word")
    ]
    extra = he_feels.drop(columns=["word", "own", "frame", "kind"]).set_index("emotion")
    words = words.join(extra.drop(columns=[c for c in extra if c.startswith("isotropic_")]),
                       on="emotion")  # fmt: skip
    words.sort_values("p").to_csv(outputs["words"], index=False)
    tests.to_csv(outputs["tests"], index=False)
    sweep, nulls = [], [null]
    for layer in progress(sweep_layers(job, steering["layer_stride"]), "steering controls: sweep"):
        table, layer_null = layer_controls(
            job, session, layer, steering["cross_emotions"], settings["sweep_random_directions"],
            seed, strength,
        )  # fmt: skip
        sweep.append({"layer": layer, **_layer_row(table, alpha)})
        nulls.append(layer_null)
    layers = pd.DataFrame(sweep)
    layers.to_csv(outputs["layers"], index=False)
    pd.concat(nulls, ignore_index=True).to_csv(outputs["random"], index=False)
    summaries = summaries_of(matrices, settings)
    holds, against = verdict(summaries)
    plot_controls(words, layers, tests, summaries, job.key, job.analysis_layer, strength, alpha,
                  outputs["figure"])  # fmt: skip
    headline = {
        **job.describe(),
        "strength": strength,
        **{
            k: settings[k]
            for k in (
                "random_directions",
                "sweep_random_directions",
                "other_emotions",
                "covariance_directions",
                "bootstrap",
            )
        },
        "seed": seed,
        "frames": [steering["answer_prefix"], *(f["answer_prefix"] for f in settings["frames"])],
        "off_template_words": _off_template_listing(tests),
        **summarise(words, alpha),
        "tests": summaries,
        "in_distribution": {"holds": holds, "stronger_null": against},
        "by_layer": layers.to_dict(orient="records"),
    }
    write_json_atomic(headline, outputs["json"])
    log.info("steering controls: %s", {k: headline[k] for k in ("beats_random", "in_distribution")})
    return headline


def _off_template_listing(tests: pd.DataFrame) -> dict[str, list[str]]:
    off = tests[tests["kind"] == "off-template word"].drop_duplicates(["emotion", "word"])
    return {e: list(g["word"]) for e, g in off.groupby("emotion", sort=False)}


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
    tests = data.get("tests") or {}
    frames = data.get("frames") or ["He feels"]
    main = tests.get(f"{frames[0]} / emotion word", {})
    decided = data.get("in_distribution") or {}
    out = {
        **{f"steering_{k}": data.get(k) for k in (*keys, "smallest_p")},
        "steering_random_directions": data.get("random_directions"),
        **{f"steering_beats_{n}": main.get(n, {}).get("share") for n in NULLS},
        **{f"steering_median_z_{n}": main.get(n, {}).get("median_z") for n in NULLS},
        # Per test (frame / words): the share beating the stronger in-distribution null.
        "steering_in_distribution_by_test": decided.get("stronger_null"),
    }
    if "holds" not in decided:  # a run from before the in-distribution nulls
        return {**out, "holds": {"steering": None if beats is None else bool(beats > MOST)}}
    return {
        **out,
        "holds": {"steering": decided["holds"]},
        "decided_against": {
            "steering": (
                "the in-distribution nulls at the same strength (other emotions' vectors and "
                'covariance-matched Gaussian directions): in every test ("'
                + '", "'.join(frames)
                + '"; the emotion words and the off-template words absent from every template '
                "passage), the share of words whose own vector beats the stronger null (z-test "
                "p < alpha) has its interval, resampling the null's draws and the emotions, "
                "above one half"
            )
        },
    }
