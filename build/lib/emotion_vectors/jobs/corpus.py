"""The passage-writing jobs: template passages per emotion and the neutral sets. Passages do
not depend on the model, so they are written once and shared by every model of a sweep.
(The story corpus, which a model writes, is jobs/stories.py.)"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

from .. import corpus as corpus_mod
from ..config import read_neutral, read_neutral_dialogues, read_templates
from ..store import write_parquet_atomic

log = logging.getLogger("emotion_vectors")


def write_template_passages(
    templates_path: str, emotions: Sequence[str], outputs: Sequence[str]
) -> None:
    templates = read_templates(Path(templates_path))
    for emotion, out in zip(emotions, outputs, strict=True):
        df = corpus_mod.template_passages(emotion, templates)
        write_parquet_atomic(pa.Table.from_pandas(df, preserve_index=False), out)
    log.info("wrote %d passages for each of %d emotions", len(templates), len(emotions))


def write_neutral_passages(
    neutral_path: str, output: str, dialogues_path: str | None = None
) -> None:
    """The neutral set: the neutral texts and, for the story corpus, the neutral dialogues."""
    texts = read_neutral(Path(neutral_path))
    if dialogues_path is not None:
        texts += read_neutral_dialogues(Path(dialogues_path))
    df = corpus_mod.neutral_passages(texts)
    write_parquet_atomic(pa.Table.from_pandas(df, preserve_index=False), output)
    log.info("wrote %d neutral passages", len(df))
