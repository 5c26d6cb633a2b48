"""The analyses that need the model itself, for one (model, corpus): the logit lens and the
steering experiments ("He feels ___" self and cross effects, the strength and layer sweeps,
steered generations), run as one workflow job with one model load.

Every emotion vector changes when an emotion is added (they are centred on the mean over
emotions), so all of these rerun together anyway; one job saves a process start and a model
load per analysis, and lets the steering experiments share their work: the unsteered
prompt is run once (blocks below the steered layer are replayed from it, see steering.py),
the unsteered baselines once, and a condition that two experiments share (the analysis
layer at the default strength) is computed once.
"""

from __future__ import annotations

import html
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .steering import (
    PromptPrefix,
    SteeringRun,
    effect_rows,
    he_feels_prompt,
    plot_cross,
    plot_layer_sweep,
    plot_self,
    plot_strength_sweep,
    prompt_prefix,
    residual_norms,
    steered_generations,
    steering_deltas,
    steering_effects,
    word_ids,
    word_logprobs,
)

log = logging.getLogger("emotion_vectors")


def load_for_job(model: Mapping, threads: int):
    """The model of a workflow job, with torch limited to the job's threads."""
    import torch

    from .config import ModelSpec
    from .models import load_model

    if threads and threads > 0:
        torch.set_num_threads(threads)
    return load_model(ModelSpec(**model))


def read_vectors(path) -> dict[str, np.ndarray]:
    """{emotion: denoised vector} of one layer's vector file."""
    from .store import read_vector_matrix

    emotions, matrix = read_vector_matrix(path)
    return dict(zip(emotions, matrix, strict=True))


def read_norms(path) -> dict[int, float]:
    data = json.loads(Path(path).read_text())
    return {int(k): float(v) for k, v in data["mean_norm"].items()}


# ---------------------------------------------------------------- residual norms


def run_residual_norms(model: Mapping, neutral_file: str, output: str, threads: int = 1) -> dict:
    """Mean residual norm of every layer over the neutral passages, as JSON."""
    import pyarrow.parquet as pq

    from .store import write_json_atomic

    started = time.perf_counter()
    loaded = load_for_job(model, threads)
    texts = pq.read_table(neutral_file).column("text").to_pylist()
    norms = residual_norms(loaded.model, loaded.tokenizer, texts)
    data = {
        "model": loaded.spec.key,
        "neutral_passages": len(texts),
        "device": loaded.device,
        "dtype": loaded.dtype,
        "mean_norm": {str(k): round(v, 4) for k, v in norms.items()},
    }
    write_json_atomic(data, output)
    log.info("residual norms in %.1f s: %s", time.perf_counter() - started, data["mean_norm"])
    return data


# ---------------------------------------------------------------- steering


@dataclass
class SteeringSession:
    """One loaded model and one "He feels" prompt, shared by the steering experiments of a
    job. It remembers the unsteered baselines and every steered log-probability it has
    computed, keyed by (vector file, layer, emotion, strength, word), so an experiment
    that repeats a condition of another reads it instead of running it again."""

    loaded: object
    prompt: list[int]
    prefix: PromptPrefix
    norms: dict[int, float]
    batch_size: int
    baselines: dict[str, float] = field(default_factory=dict)
    memo: dict[tuple, float] = field(default_factory=dict)

    @classmethod
    def open(cls, loaded, settings: Mapping, norms: Mapping[int, float]) -> SteeringSession:
        prompt = he_feels_prompt(
            loaded.tokenizer, loaded.spec.chat, settings["question"], settings["answer_prefix"]
        )
        prefix = prompt_prefix(loaded.model, prompt)
        return cls(loaded, prompt, prefix, dict(norms), int(settings["batch_size"]))

    def baseline(self, words: Sequence[str]) -> dict[str, float]:
        """Unsteered log-probability of each word, the missing ones in one prompt pass."""
        missing = [w for w in dict.fromkeys(words) if w not in self.baselines]
        if missing:
            ids = [word_ids(self.loaded.tokenizer, w) for w in missing]
            lps = word_logprobs(self.loaded.model, self.prompt, [ids])[0]
            self.baselines.update(zip(missing, lps, strict=True))
        return {w: self.baselines[w] for w in words}

    def effects(
        self, source: str, vectors: Mapping[str, np.ndarray], run: SteeringRun
    ) -> list[dict]:
        """`steering_effects` rows of `run` (vectors from the file `source`), computing only
        the conditions this session has not computed before."""
        baseline = self.baseline([w for ws in run.words for w in ws])

        def key(emotion, strength, word):
            return (source, run.layer, emotion, float(strength), word)

        todo = [
            (e, s, [w for w in ws if key(e, s, w) not in self.memo])
            for e, s, ws in zip(run.emotions, run.strengths, run.words, strict=True)
        ]
        todo = [(e, s, ws) for e, s, ws in todo if ws]
        if todo:
            fresh = SteeringRun(
                run.layer, [e for e, _, _ in todo], [s for _, s, _ in todo], [w for *_, w in todo]
            )
            for row in steering_effects(
                self.loaded.model,
                self.loaded.tokenizer,
                self.prompt,
                fresh,
                vectors,
                self.norms[run.layer],
                baseline,
                self.batch_size,
                self.prefix,
            ):
                self.memo[key(row["emotion"], row["strength"], row["word"])] = row["logprob"]
        logprobs = [
            [self.memo[key(e, s, w)] for w in ws]
            for e, s, ws in zip(run.emotions, run.strengths, run.words, strict=True)
        ]
        return effect_rows(run, logprobs, baseline)


def steering_effects_job(
    session: SteeringSession,
    corpus: str,
    layer: int,
    vector_file: str,
    cross_emotions: Sequence[str],
    strength: float,
    outputs: Mapping[str, str],
) -> dict:
    """Self-steering of every emotion and the cross-emotion matrix at the analysis layer."""
    import pandas as pd

    from .store import write_json_atomic

    key = session.loaded.spec.key
    vectors = read_vectors(vector_file)
    emotions = list(vectors)
    cross = [e for e in cross_emotions if e in vectors]
    words = [list(dict.fromkeys([e, *cross])) if e in cross else [e] for e in emotions]
    run = SteeringRun(layer, emotions, [strength] * len(emotions), words)
    table = pd.DataFrame(session.effects(vector_file, vectors, run))
    table["baseline_logprob"] = table["word"].map(session.baselines)
    self_table = table[table["emotion"] == table["word"]].sort_values("change", ascending=False)
    self_table.to_csv(outputs["self_table"], index=False)
    matrix = (
        table[table["emotion"].isin(cross)]
        .pivot(index="emotion", columns="word", values="change")
        .reindex(index=cross, columns=cross)
    )
    matrix.to_csv(outputs["cross_table"])
    plot_self(self_table, key, layer, strength, outputs["self_figure"])
    plot_cross(matrix, key, layer, strength, outputs["cross_figure"])
    change = self_table.set_index("emotion")["change"]
    headline = {
        "model": key,
        "corpus": corpus,
        "layer": layer,
        "strength": strength,
        "device": session.loaded.device,
        "dtype": session.loaded.dtype,
        "n_emotions": len(change),
        "self_positive_share": round(float((change > 0).mean()), 4),
        "self_median": round(float(change.median()), 4),
        "self_min": round(float(change.min()), 4),
        "self_max": round(float(change.max()), 4),
        "self_min_emotion": str(change.idxmin()),
        "self_max_emotion": str(change.idxmax()),
    }
    write_json_atomic(headline, outputs["json"])
    log.info("steering effects: %s", headline)
    if len(cross) > 1:
        values = matrix.to_numpy()
        diag = np.diag(values)
        col_best = (values.argmax(axis=0) == np.arange(len(cross))).mean()
        log.info(
            "cross matrix: mean diagonal %.2f, mean off-diagonal %.2f, own vector raises a "
            "word most for %.0f%% of words",
            diag.mean(),
            (values.sum() - diag.sum()) / (len(cross) ** 2 - len(cross)),
            100 * col_best,
        )
    return headline


def strength_sweep_job(
    session: SteeringSession,
    layer: int,
    vector_file: str,
    emotions: Sequence[str],
    strengths: Sequence[float],
    output_table: str,
    output_figure: str,
) -> None:
    """The self effect of a few emotions over a range of strengths (0 = unsteered)."""
    import pandas as pd

    vectors = read_vectors(vector_file)
    emotions = [e for e in emotions if e in vectors]
    pairs = [(e, float(s)) for e in emotions for s in strengths]
    run = SteeringRun(layer, [e for e, _ in pairs], [s for _, s in pairs], [[e] for e, _ in pairs])
    rows = session.effects(vector_file, vectors, run)
    baseline = session.baseline(emotions)
    rows += [
        {
            "layer": layer,
            "emotion": e,
            "strength": 0.0,
            "word": e,
            "logprob": baseline[e],
            "change": 0.0,
        }
        for e in emotions
    ]
    table = pd.DataFrame(rows).sort_values(["emotion", "strength"])
    table.to_csv(output_table, index=False)
    plot_strength_sweep(table, session.loaded.spec.key, layer, output_figure)


def layer_sweep_job(
    session: SteeringSession,
    layers: Sequence[int],
    vector_files: Sequence[str],
    emotions: Sequence[str],
    strength: float,
    analysis_layer: int,
    output_table: str,
    output_figure: str,
) -> None:
    """The self effect of the given emotions, steered at each of `layers` in turn."""
    import pandas as pd

    rows = []
    for layer, path in zip(layers, vector_files, strict=True):
        vectors = read_vectors(path)
        chosen = [e for e in emotions if e in vectors]
        run = SteeringRun(layer, chosen, [strength] * len(chosen), [[e] for e in chosen])
        rows += session.effects(path, vectors, run)
    table = pd.DataFrame(rows)
    table.to_csv(output_table, index=False)
    plot_layer_sweep(table, session.loaded.spec.key, strength, analysis_layer, output_figure)


def generations_job(
    loaded,
    layer: int,
    vector_file: str,
    residual_norm: float,
    settings: Mapping,
    output_table: str,
    output_html: str,
) -> None:
    """Greedy completions of neutral prompts, unsteered and steered toward each emotion."""
    import pandas as pd

    vectors = read_vectors(vector_file)
    emotions = [e for e in settings["generation_emotions"] if e in vectors]
    strength = float(settings["generation_strength"])
    deltas = steering_deltas(np.stack([vectors[e] for e in emotions]), strength, residual_norm)
    conditions = [("(none)", None), *zip(emotions, deltas, strict=True)]
    rows = steered_generations(
        loaded.model,
        loaded.tokenizer,
        settings["generation_prompts"],
        loaded.spec.chat,
        layer,
        conditions,
        settings["max_new_tokens"],
    )
    table = pd.DataFrame(rows)
    table.insert(2, "strength", [0.0 if r["steering"] == "(none)" else strength for r in rows])
    table.to_csv(output_table, index=False)
    wide = table.pivot(index="steering", columns="prompt", values="completion")
    wide = wide.reindex(index=[c for c, _ in conditions], columns=settings["generation_prompts"])
    title = (
        f"Steered generations: {loaded.spec.key}, layer {layer}, strength {strength:g} "
        f"(every position), greedy, {settings['max_new_tokens']} new tokens"
    )
    style = (
        "<style>body{font-family:sans-serif;font-size:13px}td,th{padding:4px 8px;"
        "vertical-align:top;text-align:left;border-bottom:1px solid #ddd;max-width:28em}</style>"
    )
    Path(output_html).write_text(
        f"<html><head><meta charset='utf-8'>{style}</head><body><h2>{html.escape(title)}</h2>"
        f"{wide.to_html(escape=True, border=0)}</body></html>\n"
    )


# ---------------------------------------------------------------- the workflow job


def run_model_analyses(
    model: Mapping,
    corpus: str,
    analysis_layer: int,
    vector_files: Mapping[int, str],
    norms_file: str,
    lens_settings: Mapping,
    steering_settings: Mapping,
    cross_emotions: Sequence[str],
    steering_layers: Sequence[int],
    outputs: Mapping[str, str],
    threads: int = 1,
) -> None:
    """The logit lens and every steering experiment of one (model, corpus), with one model
    load. `vector_files`: {layer: vector file} of every computed layer; `outputs`: the
    rule's named outputs (lens_* and the steering ones)."""
    from .lens import run_lens

    started = time.perf_counter()
    loaded = load_for_job(model, threads)
    timings = {"load": time.perf_counter() - started}

    def timed(name, fn, *args):
        t0 = time.perf_counter()
        fn(*args)
        timings[name] = time.perf_counter() - t0

    layers = sorted(vector_files)
    lens_outputs = {k.removeprefix("lens_"): v for k, v in outputs.items() if k.startswith("lens_")}
    timed(
        "logit lens",
        run_lens,
        loaded,
        corpus,
        analysis_layer,
        layers,
        [vector_files[layer] for layer in layers],
        lens_settings["top_k"],
        lens_settings["figure_emotions"],
        lens_outputs,
    )

    s = steering_settings
    norms = read_norms(norms_file)
    session = SteeringSession.open(loaded, s, norms)
    strength = float(s["strength"])
    analysis_file = vector_files[analysis_layer]
    timed(
        "steering effects",
        steering_effects_job,
        session,
        corpus,
        analysis_layer,
        analysis_file,
        cross_emotions,
        strength,
        {
            k: outputs[k]
            for k in ("json", "self_table", "self_figure", "cross_table", "cross_figure")
        },
    )
    timed(
        "strength sweep",
        strength_sweep_job,
        session,
        analysis_layer,
        analysis_file,
        s["sweep_emotions"],
        [float(x) for x in s["sweep_strengths"]],
        outputs["strength_table"],
        outputs["strength_figure"],
    )
    timed(
        "layer sweep",
        layer_sweep_job,
        session,
        steering_layers,
        [vector_files[layer] for layer in steering_layers],
        cross_emotions,
        strength,
        analysis_layer,
        outputs["layer_table"],
        outputs["layer_figure"],
    )
    timed(
        "generations",
        generations_job,
        loaded,
        analysis_layer,
        analysis_file,
        norms[analysis_layer],
        s,
        outputs["generations_table"],
        outputs["generations_html"],
    )
    log.info(
        "model analyses of %s/%s in %.1f s: %s",
        loaded.spec.key,
        corpus,
        time.perf_counter() - started,
        ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()),
    )
