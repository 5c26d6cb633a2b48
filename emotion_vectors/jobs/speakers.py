"""The speakers experiment of model_analyses (the paper's present-speaker and other-speaker
probes; emotion_vectors/speakers.py has the maths, dialogues.py the corpus): in two-person
dialogues where one person says they feel an emotion and the other does not, which emotion
the model's states carry on each speaker's later tokens and at the colon before the next
reply; whether "own emotion" and "other's emotion" are one direction; and whether the colon
predicts the emotion of the reply the model then writes. Its headline numbers for
summary.json.

The pooled dialogue states and the model's replies do not depend on the emotion vectors, so
they are cached per model (results/<model>/cache/speakers/), keyed on the model, the
pooling, the dialogues file, the emotions, the layers and the reply length: adding an
emotion to the run reads no dialogue again."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ..activations import length_sorted_batches, span_means, span_weights, tokenize
from ..architecture import architecture
from ..dialogues import ROLES, Dialogue, build_dialogues, read_dialogues
from ..integrity import file_sha256, read_checked_table, write_checked_table
from ..models import model_fingerprint
from ..pooling import Pooling
from ..progress import progress
from ..render.speakers import plot_speakers
from ..sampling import greedy_with_states
from ..speakers import (
    Index,
    Read,
    cell_means,
    cross_half_cosines,
    crossed_draws,
    crossed_interval,
    crossed_r,
    difference_vectors,
    emotion_interval,
    held_out_scores,
    margins,
    residualised,
)
from ..steering import unit_rows
from ..store import cache_key, write_json_atomic

log = logging.getLogger("emotion_vectors")

# Bump when the cached states or replies an unchanged config produces would change.
CACHE_FORMAT = 2
KINDS = ("own", "other", "last", "colon", "reply")
# The shallow control: one block of attention has mixed the context into each token.
CONTROL_LAYER = 1
# What is decoded (held out by template). Own and other tokens lie before the last label,
# so they are read on the rows where the feeler replies next (the others hold the same).
READS = (
    Read("own vectors, own tokens", "own", "own"),
    Read("other vectors, other tokens", "other", "other"),
    Read("own vectors, other tokens", "own", "other"),
    Read("other vectors, own tokens", "other", "own"),
    Read("run vectors, own tokens", "run", "own"),
    Read("run vectors, other tokens", "run", "other"),
    Read("own vectors, colon, feeler next", "own", "colon", "feeler"),
    Read("other vectors, colon, feeler next", "other", "colon", "feeler"),
    Read("own vectors, colon, other next", "own", "colon", "other"),
    Read("other vectors, colon, other next", "other", "colon", "other"),
)
OTHER_READ = "other vectors, other tokens"
COLON_NEXT = ("own vectors, colon, feeler next", "own vectors, colon, other next")
MIN_EMOTIONS = 3


def run(job, settings: Mapping, outputs: Mapping[str, str]) -> dict:
    started = time.perf_counter()
    layer = job.analysis_layer
    run_emotions, run_matrix = job.matrix(layer)
    emotions = [e for e in settings["emotions"] if e in run_emotions]
    dialogue_set = read_dialogues(settings["dialogues"])
    base = {
        **job.describe(),
        "dialogues_file": settings["dialogues"],
        "source": dialogue_set.source,
        "licence": dialogue_set.licence,
        "emotions": emotions,
        "templates": [t.id for t in dialogue_set.templates],
    }
    if len(emotions) < MIN_EMOTIONS:
        reason = f"{len(emotions)} of speakers.emotions in the run; at least {MIN_EMOTIONS} needed"
        return _write_skipped(base, reason, outputs)
    dialogues = build_dialogues(dialogue_set, emotions)
    layers = sorted({CONTROL_LAYER, layer})
    states, replies = dialogue_states(job, settings, dialogues, layers)
    index = _index(dialogues, emotions, [t.id for t in dialogue_set.templates])
    run_vectors = run_matrix[[run_emotions.index(e) for e in emotions]]
    draws = crossed_draws(len(emotions), index.n_templates, settings["bootstrap"],
                          settings["seed"])  # fmt: skip
    reads, read_rows = _reads(states, index, layers, layer, run_vectors, draws)
    halves = {
        at: cross_half_cosines(states[at], index, settings["splits"], settings["seed"])
        for at in layers
    }
    cosine = _cosines(states[layer], index, run_vectors, halves, layer, emotions, settings)
    reply, reply_rows = _reply(states, index, layer, replies, dialogues, draws)
    pd.DataFrame(read_rows).to_csv(outputs["reads"], index=False, float_format="%.6g")
    pd.DataFrame(cosine.pop("rows")).to_csv(outputs["cosines"], index=False, float_format="%.6g")
    pd.DataFrame(reply_rows).to_csv(outputs["replies"], index=False, float_format="%.6g")
    headline = {
        **base,
        "dialogues": len(dialogues),
        "control_layer": CONTROL_LAYER,
        "chance": 1 / len(emotions),
        "bootstrap": settings["bootstrap"],
        "reads": reads,
        "cosines": cosine,
        "reply": reply,
        "verdicts": _verdicts(reads, cosine, reply),
        "seconds": round(time.perf_counter() - started, 1),
    }
    write_json_atomic(headline, outputs["json"])
    plot_speakers(headline, pd.DataFrame(read_rows), pd.DataFrame(reply_rows), job.key,
                  outputs["figure"])  # fmt: skip
    log.info("speakers: %d dialogues in %.1f s; %s", len(dialogues), headline["seconds"],
             headline["verdicts"])  # fmt: skip
    return headline


# ---------------------------------------------------------------- states and replies


def dialogue_states(
    job, settings: Mapping, dialogues: Sequence[Dialogue], layers: Sequence[int]
) -> tuple[dict[int, dict[str, np.ndarray]], list[str]]:
    """({layer: {kind: [dialogues, width]}} pooled states of own, other, colon and reply
    tokens (reply NaN where the model wrote none), [reply text]), from the cache when this
    model read these dialogues this way before."""
    pool = Pooling(**{**job.config["passage_pooling"], "batch_size": settings["batch_size"]})
    key = cache_key(
        {
            "model": model_fingerprint(job.loaded.spec),
            "pooling": pool.fingerprint(),
            "dialogues": file_sha256(settings["dialogues"]),
            "ids": [d.id for d in dialogues],
            "layers": list(layers),
            "reply_tokens": settings["reply_tokens"],
            "format": CACHE_FORMAT,
        }
    )
    entry = job.cache("speakers") / f"{key}.parquet"
    table = read_checked_table(entry)
    if table is not None:
        log.info("speakers: %d dialogues from the cache", len(dialogues))
        return _from_table(table, layers), table.column("reply").to_pylist()
    states, replies = read_with_replies(
        job.loaded.model, job.loaded.tokenizer, dialogues, layers, pool,
        int(settings["reply_tokens"]),
    )  # fmt: skip
    write_checked_table(_to_table(dialogues, states, replies), entry)
    return states, replies


def read_with_replies(
    model,
    tokenizer,
    dialogues: Sequence[Dialogue],
    layers: Sequence[int],
    pool: Pooling,
    reply_tokens: int,
) -> tuple[dict[int, dict[str, np.ndarray]], list[str]]:
    """({layer: {kind: [dialogues, width]}} the states of each dialogue's own, other, last
    and colon tokens and of its reply's tokens pooled (reply NaN where the model wrote
    none), [the model's greedy reply up to its first line break]). Both come from the passes
    that write the reply: the prefill reads the dialogue, and every reply token is fed back
    once (sampling.greedy_with_states), so the dialogue goes through the model once and the
    reply is read as the model wrote it, token for token. A row holds the dialogue's tokens
    then the reply's; sinks are found among them as pooling finds them in any passage."""
    tok = tokenize(tokenizer, [d.text for d in dialogues], pool.max_length, offsets=True)
    width = architecture(model).hidden_size
    states = {at: {kind: np.full((len(dialogues), width), np.nan, np.float32) for kind in KINDS}
              for at in layers}  # fmt: skip
    replies = [""] * len(dialogues)
    stops = [i for i in (tokenizer.eos_token_id,) if i is not None]
    # A reply ends at its first line break: rows stop there, not after `reply_tokens`.
    vocabulary = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])
    breaks = [i for i, text in enumerate(vocabulary) if "\n" in text]
    batches = length_sorted_batches(tok.lengths, pool.batch_size)
    for chunk in progress(batches, f"speakers: {len(dialogues)} dialogues and replies, batches"):
        continued = greedy_with_states(
            model, [tok.input_ids[i] for i in chunk], layers, max_new_tokens=reply_tokens,
            stop_ids=stops, pad_id=tokenizer.pad_token_id, end_ids=breaks,
        )  # fmt: skip
        for i, row in zip(chunk, continued, strict=True):
            replies[i], in_reply = _reply_tokens(tokenizer, row.tokens)
            own = np.concatenate([~np.asarray(tok.special[i], dtype=bool), in_reply])
            tail = np.zeros(len(row.tokens), np.float32)
            weights = {kind: np.concatenate([span_weights(tok, i, ranges), tail])
                       for kind, ranges in dialogues[i].spans.items()}  # fmt: skip
            for kind, w in weights.items():
                if not w.any():
                    raise ValueError(f"no token of span {kind!r} in dialogue {dialogues[i].id}")
            weights["reply"] = np.concatenate(
                [np.zeros(tok.lengths[i], np.float32), in_reply.astype(np.float32)]
            )
            for at in layers:
                for kind, mean in span_means(row.states[at], own, weights, pool.sink_ratio).items():
                    states[at][kind][i] = mean
    return states, replies


def _reply_tokens(tokenizer, tokens: Sequence[int]) -> tuple[str, np.ndarray]:
    """(the reply: the decoded new tokens up to the first line break, trailing space cut;
    [new tokens] True where a token's characters overlap that reply's, leading space
    excluded). A token's characters are found by decoding the tokens up to it."""
    text = tokenizer.decode(tokens, skip_special_tokens=True)
    reply = text.split("\n")[0].rstrip()
    lead = len(reply) - len(reply.lstrip())
    inside = np.zeros(len(tokens), dtype=bool)
    if not reply.strip():
        return reply, inside
    start = 0
    for k in range(len(tokens)):
        end = len(tokenizer.decode(tokens[: k + 1], skip_special_tokens=True))
        inside[k] = start < len(reply) and end > lead and end > start
        start = end
    return reply, inside


def _to_table(dialogues, states, replies) -> pa.Table:
    columns = {"id": [d.id for d in dialogues], "reply": list(replies)}
    for layer, kinds in states.items():
        for kind, x in kinds.items():
            flat = pa.array(np.ascontiguousarray(x, dtype=np.float32).ravel())
            columns[f"{kind}_{layer}"] = pa.FixedSizeListArray.from_arrays(flat, x.shape[1])
    return pa.table(columns)


def _from_table(table: pa.Table, layers) -> dict[int, dict[str, np.ndarray]]:
    out: dict[int, dict[str, np.ndarray]] = {}
    for layer in layers:
        out[layer] = {}
        for kind in KINDS:
            column = table.column(f"{kind}_{layer}").combine_chunks()
            width = column.type.list_size
            out[layer][kind] = column.values.to_numpy().reshape(-1, width)
    return out


def _index(dialogues: Sequence[Dialogue], emotions: Sequence[str], templates: Sequence[str]):
    return Index(
        emotion=np.array([emotions.index(d.emotion) for d in dialogues]),
        template=np.array([templates.index(d.template) for d in dialogues]),
        next=np.array([d.next for d in dialogues]),
        n_emotions=len(emotions),
        n_templates=len(templates),
    )


# ---------------------------------------------------------------- measures


def _reads(states, index, layers, layer, run_vectors, draws):
    """({read: accuracy at the analysis layer, interval, control-layer accuracy and the
    paired difference}, table rows per read and layer)."""
    out, rows, at_layer = {}, [], {}
    for read in READS:
        cells = {}
        for at in layers:
            if read.vectors == "run" and at != layer:
                continue  # the run's vectors are read at the analysis layer only
            rows_, scores = held_out_scores(states[at], index, read,
                                            run_vectors if at == layer else None)  # fmt: skip
            correct = (scores.argmax(axis=1) == index.emotion[rows_]).astype(float)
            cells[at] = cell_means(correct, rows_, index)
            lo, hi = crossed_interval(cells[at], draws)
            rows.append({"read": read.name, "vectors": read.vectors, "tokens": read.tokens,
                         "next": read.next, "layer": at, "accuracy": float(cells[at].mean()),
                         "ci_low": lo, "ci_high": hi})  # fmt: skip
        at_layer[read.name] = cells[layer]
        entry = {
            "accuracy": float(cells[layer].mean()),
            "ci": list(crossed_interval(cells[layer], draws)),
        }
        if CONTROL_LAYER in cells and layer != CONTROL_LAYER:
            diff = cells[layer] - cells[CONTROL_LAYER]
            entry["control_accuracy"] = float(cells[CONTROL_LAYER].mean())
            entry["minus_control"] = float(diff.mean())
            entry["minus_control_ci"] = list(crossed_interval(diff, draws))
        out[read.name] = entry
    # Exploratory (defined after the first runs, no verdict): does the colon read the
    # feeler's emotion more when the feeler replies next than when the other person does?
    diff = at_layer[COLON_NEXT[0]] - at_layer[COLON_NEXT[1]]
    out["colon: feeler next minus other next (own vectors)"] = {
        "accuracy": float(diff.mean()), "ci": list(crossed_interval(diff, draws)), "paired": True
    }  # fmt: skip
    return out, rows


def _cosines(states, index, run_vectors, by_layer, layer, emotions, settings) -> dict:
    """The cosines of own and other vectors: across halves of the templates (per emotion,
    with the emotion-bootstrap interval of their mean) and from every template."""
    feeler = index.next == "feeler"
    k, reps, seed = index.n_emotions, settings["bootstrap"], settings["seed"]
    halves = by_layer[layer]
    own = unit_rows(difference_vectors(states["own"][feeler], index.emotion[feeler], k))
    other = unit_rows(difference_vectors(states["other"][feeler], index.emotion[feeler], k))
    run = unit_rows(run_vectors)
    full = {
        "own_other": np.sum(own * other, axis=1),
        "own_run": np.sum(own * run, axis=1),
        "other_run": np.sum(other * run, axis=1),
    }
    out: dict[str, Any] = {}
    for name, values in {**{f"halves_{k_}": v for k_, v in halves.items()}, **full}.items():
        out[name] = {"mean": float(values.mean()), "ci": list(emotion_interval(values, reps, seed))}
    gap = halves["own_own"] - halves["own_other"]
    out["halves_own_own_minus_own_other"] = {
        "mean": float(gap.mean()), "ci": list(emotion_interval(gap, reps, seed))
    }  # fmt: skip
    # The share of what a matched pair reaches (own vs own, above the unrelated level) that
    # own vs other reaches: 0 is orthogonal (the paper), 1 the same direction. A ratio of
    # means, its interval over emotions by the same draws.
    out["shared"] = _shared(halves, reps, seed)
    # The same at the control layer: is the dissociation deeper than one block's mixing?
    control = by_layer[CONTROL_LAYER]
    out["control_shared"] = _shared(control, reps, seed)
    out["shared_minus_control"] = _shared(halves, reps, seed, minus=control)
    out["splits"] = settings["splits"]
    out["rows"] = [
        {"emotion": e, **{f"halves_{k_}": float(v[i]) for k_, v in halves.items()},
         **{k_: float(v[i]) for k_, v in full.items()}}
        for i, e in enumerate(emotions)
    ]  # fmt: skip
    return out


def _shared(
    halves: Mapping[str, np.ndarray], reps: int, seed: int, minus: Mapping | None = None
) -> dict:
    """The share (own vs other above the unrelated level, over own vs own above it), with
    its bootstrap interval over emotions; with `minus`, the paired difference from the
    share of those cross-half cosines (the same emotion draws)."""
    n = len(halves["own_own"])
    draws = np.random.default_rng(seed).integers(0, n, (reps, n))

    def share(h: Mapping[str, np.ndarray], rows) -> np.ndarray:
        top = (h["own_other"] - h["own_other_null"])[rows]
        bottom = (h["own_own"] - h["own_other_null"])[rows]
        return top.mean(axis=-1) / bottom.mean(axis=-1)

    everyone = np.arange(n)
    value, ratios = share(halves, everyone), share(halves, draws)
    if minus is not None:
        value, ratios = value - share(minus, everyone), ratios - share(minus, draws)
    return {"mean": float(value), "ci": _percentiles(ratios)}


def _reply(
    states: Mapping[int, Mapping[str, np.ndarray]],
    index: Index,
    layer: int,
    replies: Sequence[str],
    dialogues: Sequence[Dialogue],
    draws: Sequence[tuple[np.ndarray, np.ndarray]],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Whether the colon predicts the reply: per dialogue, the margin of its emotion in the
    own vectors at the colon and over the reply's tokens (both held out by template),
    correlated within each (emotion, next speaker) group; against the stronger of two
    controls, the colon at the control layer and the last line before the label at the
    analysis layer (the context the colon sees)."""
    has = np.array([bool(r.strip()) for r in replies])
    rows: list[dict[str, Any]] = []
    if not has.any():
        return {"replies": 0}, rows
    keep = np.flatnonzero(has)
    # (layer, tokens, vectors) of each predictor, and of the reply (own vectors: the one
    # who replies is the present speaker).
    sources = {
        "colon": (layer, "colon", "own"),
        "colon, other vectors": (layer, "colon", "other"),
        f"layer {CONTROL_LAYER} colon": (CONTROL_LAYER, "colon", "own"),
        "last line": (layer, "last", "own"),
        "reply": (layer, "reply", "own"),
    }
    values = {
        name: _margins(states[at], index, tokens, vectors, keep)
        for name, (at, tokens, vectors) in sources.items()
    }
    groups = index.emotion[keep] * 2 + (index.next[keep] == "feeler")
    x = {name: residualised(v, groups) for name, v in values.items()}
    y = x.pop("reply")
    r = {name: float(np.corrcoef(v, y)[0, 1]) for name, v in x.items()}
    controls = [name for name in x if name not in ("colon", "colon, other vectors")]
    strongest = max(controls, key=lambda name: r[name])
    boot = {name: crossed_r(x[name], y, keep, index, draws) for name in ("colon", strongest)}
    out = {
        "replies": int(has.sum()),
        "r": r["colon"],
        "r_ci": _percentiles(boot["colon"]),
        "controls": {name: r[name] for name in controls},
        "other_vectors_r": r["colon, other vectors"],
        "strongest_control": strongest,
        "control_r": r[strongest],
        "minus_control_ci": _percentiles(boot["colon"] - boot[strongest]),
        "r_between_groups": float(np.corrcoef(values["colon"], values["reply"])[0, 1]),
        "distinct_replies": len({replies[i] for i in keep.tolist()}),
    }
    for j, i in enumerate(keep.tolist()):
        d = dialogues[i]
        rows.append({"id": d.id, "emotion": d.emotion, "template": d.template, "next": d.next,
                     "reply": replies[i], **{f"{k.replace(' ', '_')}_margin": v[j]
                                            for k, v in values.items()}})  # fmt: skip
    return out, rows


def _margins(states, index: Index, tokens: str, vectors: str, keep: np.ndarray) -> np.ndarray:
    """[kept rows] margin of each dialogue's emotion in the `vectors` (own, other), read on
    `tokens` held out by template (each next-speaker group centred on its own)."""
    margin: dict[int, float] = {}
    for role in ROLES:
        where, scores = held_out_scores(states, index, Read(tokens, vectors, tokens, role))
        margin.update(zip(where, margins(scores, index.emotion[where]), strict=True))
    return np.array([margin[i] for i in keep])


def _percentiles(values: np.ndarray) -> list[float]:
    lo, hi = np.nanpercentile(values, [2.5, 97.5])
    return [float(lo), float(hi)]


def _verdicts(reads: Mapping, cosine: Mapping, reply: Mapping) -> dict:
    """Decided as fixed before any result was seen: each holds when the interval of its
    difference from its control lies above 0."""
    other = reads[OTHER_READ].get("minus_control_ci")
    gap = cosine["halves_own_own_minus_own_other"]["ci"]
    reply_ci = reply.get("minus_control_ci")
    return {
        "other_speaker_read": None if other is None else bool(other[0] > 0),
        # Two directions at the analysis layer, and more so than one block into the model.
        "present_other_distinct": bool(gap[0] > 0 and cosine["shared_minus_control"]["ci"][1] < 0),
        # The paper's "nearly orthogonal", read as: own vs other shares less than half of
        # what a matched pair reaches (upper end of its interval below 0.5).
        "present_other_orthogonal": bool(cosine["shared"]["ci"][1] < 0.5),
        "colon_predicts_reply": None if reply_ci is None else bool(reply_ci[0] > 0),
    }


def _write_skipped(base: dict, reason: str, outputs: Mapping[str, str]) -> dict:
    log.warning("speakers: skipped: %s", reason)
    headline = {**base, "skipped": reason}
    for key in ("reads", "cosines", "replies"):
        pd.DataFrame().to_csv(outputs[key], index=False)
    write_json_atomic(headline, outputs["json"])
    plot_speakers(headline, None, None, "", outputs["figure"])
    return headline


# ---------------------------------------------------------------- summary.json


def headline(data: Mapping) -> dict:
    """The speakers entries of summary.json."""
    if data.get("skipped"):
        return {"speakers_skipped": data["skipped"]}
    reads, cos, reply = data["reads"], data["cosines"], data["reply"]

    def measure(entry: Mapping) -> dict:
        return {"value": entry["mean"], "ci": entry["ci"]}

    out = {
        "speakers_dialogues": data["dialogues"],
        "speakers_emotions": len(data["emotions"]),
        "speakers_templates": len(data["templates"]),
        "speakers_chance": data["chance"],
        "speakers_reads": {
            name: {
                "value": r["accuracy"],
                "ci": r["ci"],
                "control": r.get("control_accuracy"),
                "minus_control_ci": r.get("minus_control_ci"),
            }
            for name, r in reads.items()
        },
        "speakers_own_other_cosine": measure(cos["own_other"]),
        "speakers_own_other_shared": {
            **measure(cos["shared"]),
            "control": cos["control_shared"]["mean"],
            "minus_control_ci": cos["shared_minus_control"]["ci"],
        },
        "speakers_halves": {
            k: measure(cos[f"halves_{k}"]) for k in ("own_own", "own_other", "own_other_null")
        },
        "speakers_reply_r": {
            "value": reply.get("r"),
            "ci": reply.get("r_ci"),
            "replies": reply.get("replies"),
            "control": reply.get("control_r"),
            "control_name": reply.get("strongest_control"),
            "other_vectors": reply.get("other_vectors_r"),
            "minus_control_ci": reply.get("minus_control_ci"),
        },
    }
    verdicts = data["verdicts"]
    holds = {f"speakers_{k}": v for k, v in verdicts.items() if v is not None}
    against = {
        "speakers_other_speaker_read": (
            f"the same read at layer {data['control_layer']} (one block of attention over the "
            "context): crossed bootstrap over emotions and templates of the paired difference "
            "in held-out top-1; holds when its interval lies above 0"
        ),
        "speakers_present_other_distinct": (
            "own vectors against own vectors from the other half of the templates (what a "
            "matched pair reaches), and the same vectors at layer "
            f"{data['control_layer']}: holds when the own-own minus own-other cosine across "
            "halves lies above 0 and the share of own-own that own-other reaches lies below "
            "its layer-1 share (paired), both intervals bootstrapped over emotions"
        ),
        "speakers_present_other_orthogonal": (
            "the paper's nearly orthogonal probes: the share of the matched own-own cosine "
            "(above the unrelated level) that own vs other reaches across halves, bootstrap "
            "over emotions; holds when its interval lies below 0.5"
        ),
        "speakers_colon_predicts_reply": (
            f"the stronger of the colon at layer {data['control_layer']} and the last line "
            "before the label (here " + str(reply.get("strongest_control")) + "): r with "
            "the reply's margin within each (emotion, next speaker), paired crossed "
            "bootstrap of the difference; holds when its interval lies above 0"
        ),
    }
    return {
        **out,
        "holds": holds,
        "decided_against": {k: v for k, v in against.items() if k in holds},
    }
