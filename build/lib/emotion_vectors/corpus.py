"""Passages: template passages per emotion and the neutral set. They do not depend on the
model, so they are written once and shared by every model of a sweep."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from .config import EMOTION_SLOT, read_yaml


def render(template: str, emotion: str) -> str:
    """Fill the {emotion} slot. Templates put the slot after a form of "feel", which reads
    naturally for adjectives, multi-word emotions ("felt at ease") and the noun "hope"."""
    return template.replace(EMOTION_SLOT, emotion)


def emotion_start(template: str) -> int:
    """Character offset of the emotion slot: every passage of a template shares the text
    before it (extraction forwards that prefix once)."""
    return template.index(EMOTION_SLOT)


def emotion_end(template: str, emotion: str) -> int:
    """Character offset just after the emotion word in the rendered template."""
    return template.index(EMOTION_SLOT) + len(emotion)


def template_passages(emotion: str, templates: Sequence[dict[str, str]]) -> pd.DataFrame:
    """One row per template: emotion, passage_id (the template id), template_id, person, text,
    emotion_start, the character offset of the emotion word (the text before it is the same
    for every emotion), and emotion_end, just after it (pooling can start there, so that the
    word's own tokens do not dominate the mean)."""
    return pd.DataFrame(
        {
            "emotion": emotion,
            "passage_id": [t["id"] for t in templates],
            "template_id": [t["id"] for t in templates],
            "person": [t.get("person", "") for t in templates],
            "text": [render(t["text"], emotion) for t in templates],
            "emotion_start": [emotion_start(t["text"]) for t in templates],
            "emotion_end": [emotion_end(t["text"], emotion) for t in templates],
        }
    )


def neutral_passages(texts: Sequence[str]) -> pd.DataFrame:
    """The neutral set, with stable ids n001, n002, ..."""
    return pd.DataFrame(
        {
            "passage_id": [f"n{i + 1:03d}" for i in range(len(texts))],
            "text": list(texts),
        }
    )


def scenario_passages(path: str | Path) -> pd.DataFrame:
    """emotion, passage_id, text of every scenario passage, in file order (the config check
    has already refused any passage that names an emotion of the run)."""
    table = read_yaml(Path(path))["scenarios"]
    rows = [
        {"emotion": e, "passage_id": f"{e.replace(' ', '_')}-{i + 1}", "text": t.strip()}
        for e, texts in table.items()
        for i, t in enumerate(texts)
    ]
    return pd.DataFrame(rows)
