"""The story checks, per subject model: the judge job (the model asked which emotion each
story expresses; one small model job) and the model-free summary the generalisation job
adds to its JSON (form, length, near-duplicates, the judge's agreement)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ..corpus import scenario_passages
from ..models import load_for_job
from ..progress import progress
from ..sampling import next_token_log_probs
from ..store import write_parquet_atomic
from ..story_checks import (
    JUDGE_OPENING,
    agreement_table,
    first_answer_tokens,
    form_problems,
    judge_prompt,
    judged,
    near_duplicates,
    rotated,
)

log = logging.getLogger("emotion_vectors")

FORMS = ("code", "list", "refusal")


def read_stories(files: Sequence[str]) -> pd.DataFrame:
    frames = [pd.read_parquet(f, columns=["emotion", "passage_id", "text"]) for f in files]
    return pd.concat(frames, ignore_index=True)


def judge_stories(
    model: Mapping,
    story_files: Sequence[str],
    emotions: Sequence[str],
    output: str,
    threads: int = 1,
    batch_size: int = 16,
    scenario_file: str | None = None,
) -> pd.DataFrame:
    """log P(first answer token of each emotion) after the judge's question, per story:
    a table of source, emotion, passage_id, then one column per candidate emotion. With
    `scenario_file` the implicit scenarios of the run's emotions are judged the same way
    (source "scenarios"): passages written to convey their emotion, which tell how well
    this judge reads a clear case, so that a low agreement on the stories can be laid on
    the stories rather than on the judge."""
    stories = read_stories(story_files).assign(source="stories")
    if scenario_file:
        scen = scenario_passages(scenario_file)
        scen = scen[scen["emotion"].isin(emotions)].assign(source="scenarios")
        stories = pd.concat([stories, scen], ignore_index=True)
    loaded = load_for_job(model, threads)
    tok = loaded.tokenizer
    started = time.perf_counter()
    rows = []
    for k, text in enumerate(stories["text"]):
        user = judge_prompt(text, rotated(emotions, k))
        chat = tok.apply_chat_template(
            [{"role": "user", "content": user}], add_generation_prompt=True, tokenize=False
        )
        rows.append(tok(chat + JUDGE_OPENING, add_special_tokens=False)["input_ids"])
    first = first_answer_tokens(tok, emotions)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    chunks = []
    starts = range(0, len(rows), batch_size)
    for b in progress(starts, f"{loaded.spec.key} judging stories: batches"):
        log_probs = next_token_log_probs(loaded.model, rows[b : b + batch_size], pad, batch_size)
        chunks.append(log_probs[:, first].numpy())
    scores = np.concatenate(chunks) if chunks else np.zeros((0, len(emotions)))
    table = stories[["source", "emotion", "passage_id"]].copy()
    for j, e in enumerate(emotions):
        table[e] = scores[:, j]
    meta = {
        b"first_tokens": ",".join(map(str, first)).encode(),
        b"seconds": f"{time.perf_counter() - started:.1f}".encode(),
    }
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    write_parquet_atomic(arrow.replace_schema_metadata(meta), output)
    log.info("judged %d stories in %.0f s", len(table), time.perf_counter() - started)
    return table


def story_quality(
    story_files: Sequence[str],
    judgements: str | None,
    emotions: Sequence[str],
    report: str | None = None,
    word_forms: str | None = None,
) -> dict:
    """Form, length and near-duplicates of the accepted stories; with the word forms of
    every emotion (config/emotions/word-forms.yaml), how many name an emotion other than
    their own (the rule forbids only their own); with the writer's report, how many were
    written and rejected; with the judge's table, its agreement with the intended
    emotions."""
    stories = read_stories(story_files)
    words = stories["text"].str.split().str.len()
    problems = [form_problems(t) for t in stories["text"]]
    dup = near_duplicates(stories["text"].tolist())
    same_emotion = [
        j >= 0 and stories["emotion"].iat[j] == stories["emotion"].iat[i] for i, j in enumerate(dup)
    ]
    n = len(stories)
    out: dict = {
        "stories": n,
        "words": {
            "median": float(words.median()),
            "p05": float(words.quantile(0.05)),
            "p95": float(words.quantile(0.95)),
        },
        "form": {kind: round(sum(kind in p for p in problems) / n, 4) for kind in FORMS},
        "near_duplicate_share": round(sum(j >= 0 for j in dup) / n, 4),
        "near_duplicate_same_emotion_share": round(sum(same_emotion) / n, 4),
        "examples": {
            kind: stories["text"].iat[next(i for i, p in enumerate(problems) if kind in p)][:300]
            for kind in FORMS
            if any(kind in p for p in problems)
        },
    }
    if word_forms:
        out["names_another_emotion"] = other_emotions_named(stories, word_forms, emotions)
    if report:
        out["writing"] = writing_summary(json.loads(Path(report).read_text()))
    if judgements:
        import pyarrow.parquet as pq

        table = pd.read_parquet(judgements)
        meta = pq.read_schema(judgements).metadata or {}
        first = meta.get(b"first_tokens", b"").decode().split(",")
        candidates = [e for e in emotions if e in table.columns]
        for source, key in (("stories", "judge"), ("scenarios", "judge_on_scenarios")):
            rows = table[table["source"] == source]
            if rows.empty:
                continue
            credit = judged(rows[candidates].to_numpy())
            judge = agreement_table(rows["emotion"].tolist(), credit, candidates)
            judge["emotions_sharing_a_first_token"] = len(first) - len(set(first))
            out[key] = judge
    return out


def writing_summary(report: Mapping) -> dict:
    """What the writer did: stories requested, generated, accepted, given up; the rejection
    rate overall and per emotion, and the words that caused it."""
    per = report.get("per_emotion", {})
    return {
        "writer": report.get("writer"),
        "requested": sum(s.get("requested", 0) for s in per.values()),
        "generated": report.get("stories_generated"),
        "accepted": report.get("stories_accepted"),
        "given_up": sum(s.get("given_up", 0) for s in per.values()),
        "rejection_rate": report.get("rejection_rate"),
        "rejection_by_emotion": {e: s.get("rejection_rate") for e, s in per.items()},
        "forbidden_words_found": _merged(s.get("forbidden_words_found", {}) for s in per.values()),
    }


def _merged(counts) -> dict:
    total: dict[str, int] = {}
    for c in counts:
        for word, n in c.items():
            total[word] = total.get(word, 0) + n
    return dict(sorted(total.items(), key=lambda kv: -kv[1])[:10])


def other_emotions_named(stories: pd.DataFrame, word_forms: str, emotions: Sequence[str]) -> dict:
    """The share of stories that name an emotion other than their own: any of the word
    forms table's emotions, and one of the run's; and the emotions named most often."""
    from ..wordforms import read_word_forms
    from ..wording import naming_emotions

    table = read_word_forms(Path(word_forms))
    every = list(table)
    named_any, named_run = 0, 0
    counts: dict[str, int] = {}
    for own, text in zip(stories["emotion"], stories["text"], strict=True):
        others = [e for e, _ in naming_emotions(text, every, table) if e != own]
        named_any += bool(others)
        named_run += any(e in emotions for e in others)
        for e in others:
            counts[e] = counts.get(e, 0) + 1
    n = len(stories)
    return {
        "any_emotion_share": round(named_any / n, 4) if n else None,
        "run_emotion_share": round(named_run / n, 4) if n else None,
        "most_named": dict(sorted(counts.items(), key=lambda kv: -kv[1])[:8]),
    }
