"""The trace_texts job: emotion traces of every text in traces.folder for one (model,
corpus), over one model load; each chat also with the model's own reply."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from ..inputs import read_text_file
from ..models import load_for_job
from ..progress import progress
from ..render.traces import index_page, trace_page
from ..store import write_json_atomic
from ..traces import (
    conversation_for_reply,
    generate_reply,
    neutral_reference,
    top_emotions,
    trace_frame,
    trace_vectors,
)

log = logging.getLogger("emotion_vectors")


def trace_texts(
    model: Mapping, corpus: str, layer: int, vector_file: str, neutral_file: str,
    texts: Mapping[str, str], settings: Mapping, sink_ratio: float | None,
    outputs: Mapping[str, str], pages: Sequence[str], tables: Sequence[str], threads: int = 1,
) -> dict:  # fmt: skip
    started = time.perf_counter()
    loaded = load_for_job(model, threads)
    vectors = trace_vectors(vector_file, layer, settings["emotions"])
    reference = neutral_reference(neutral_file, layer)
    summary: dict = {"model": loaded.spec.key, "corpus": corpus, "layer": layer,
                     "emotions": list(vectors), "texts": {}}  # fmt: skip
    each = zip(texts.items(), pages, tables, strict=True)
    for (name, path), page, table in progress(each, "traces: texts", total=len(texts)):
        source = read_text_file(path)
        sections = [
            ("as written", trace_frame(loaded, source, vectors, reference, layer, sink_ratio))
        ]
        reply = None
        if isinstance(source, list) and settings["reply_tokens"] > 0 and loaded.spec.chat:
            asked = conversation_for_reply(source)
            if asked is not None:
                reply = generate_reply(loaded, asked, settings["reply_tokens"])
                chat = [*asked, {"role": "assistant", "content": reply}]
                sections.append(
                    ("with the model's own reply", trace_frame(loaded, chat, vectors, reference,
                                                               layer, sink_ratio))
                )  # fmt: skip
        frames = []
        for label, frame in sections:
            frames.append(frame.assign(source=label))
        pd.concat(frames).to_csv(table, index=False, float_format="%.5g")
        with open(page, "w", encoding="utf-8") as fh:
            fh.write(trace_page(name, sections, loaded.spec.key, layer, settings["top_k"]))
        summary["texts"][name] = {
            "file": Path(path).name,
            "reply": reply,
            **{label: top_emotions(frame, settings["top_k"]) for label, frame in sections},
        }
        log.info("traced %s (%d tokens%s)", name, len(sections[0][1]),
                 f"; reply: {reply!r}" if reply is not None else "")  # fmt: skip
    summary["seconds"] = round(time.perf_counter() - started, 1)
    write_json_atomic(summary, outputs["json"])
    with open(outputs["index"], "w", encoding="utf-8") as fh:
        fh.write(index_page(summary))
    return summary
