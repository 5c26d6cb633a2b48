"""The reviewed word forms of each emotion (config/emotions/word-forms.yaml): which decoded
tokens count as "a form of the emotion word" in the logit lens, and which words a passage
about any emotion must not use (see wording.naming_emotions).

A form is one lower-case word, optionally with one internal hyphen ("self-confident"), of
the emotion's own lexeme family: inflections and same-concept derivations, never synonyms
or words that merely share letters ("easy" is not a form of "at ease"). An emotion that the
file does not list falls back to the generated inflections of `wording.word_forms`."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from .config import ConfigError, emotion_name_problem, read_yaml
from .wording import word_forms

# One word of lower-case letters with at most one internal hyphen.
FORM = re.compile(r"^[a-z]+(?:-[a-z]+)?$")
# Word-start markers of byte-level BPE ("Ġ"; "Ċ" is its newline) and SentencePiece ("▁").
_MARKERS = frozenset("ĠĊ▁")


def read_word_forms(path: Path) -> dict[str, tuple[str, ...]]:
    """{emotion: (form, ...)} from a YAML file with a top-level `forms` mapping. Every problem
    raises a ConfigError naming the file and the key (e.g. `forms.happy[2]`)."""
    data = read_yaml(path)
    table = data.get("forms") if isinstance(data, dict) else None
    if not isinstance(table, dict):
        raise ConfigError(path, "forms", "must be a mapping {emotion: [form, ...]}")
    _refuse_duplicate_emotions(path)
    out: dict[str, tuple[str, ...]] = {}
    for emotion, words in table.items():
        key = f"forms.{emotion}"
        problem = emotion_name_problem(emotion)
        if problem:
            raise ConfigError(path, key, problem)
        if not isinstance(words, list):
            raise ConfigError(path, key, "must be a list of word forms (may be empty: [])")
        seen: set[str] = set()
        for i, word in enumerate(words):
            if not isinstance(word, str) or not FORM.match(word):
                raise ConfigError(
                    path,
                    f"{key}[{i}]",
                    f"{word!r} is not a word form (lower-case letters, at most one internal "
                    "hyphen)",
                )
            if word in seen:
                raise ConfigError(path, f"{key}[{i}]", f"duplicate form {word!r}")
            seen.add(word)
        out[emotion] = tuple(words)
    return out


def _refuse_duplicate_emotions(path: Path) -> None:
    """YAML keeps the last of two equal keys silently; a reviewed list must not lose one."""
    root = yaml.compose(path.read_text())
    forms = next(
        (v for k, v in getattr(root, "value", ()) if getattr(k, "value", None) == "forms"), None
    )
    seen: set[str] = set()
    for key, _ in getattr(forms, "value", ()):
        name = getattr(key, "value", None)
        if isinstance(name, str):
            if name in seen:
                line = key.start_mark.line + 1
                raise ConfigError(path, f"forms.{name}", f"listed twice (again at line {line})")
            seen.add(name)


def forms_of(emotion: str, table: Mapping[str, Sequence[str]]) -> frozenset[str]:
    """The listed forms of `emotion`; for an emotion the table lacks, the generated
    inflections of a single-word emotion (`wording.word_forms`), or nothing for a phrase."""
    if emotion in table:
        return frozenset(table[emotion])
    if " " in emotion.strip():
        return frozenset()
    return frozenset(word_forms(emotion))


def bare_token(token: str) -> str:
    """A decoded token without surrounding whitespace, word markers and non-letters, lower
    case: " Happy" -> "happy", "Ġhappiness" -> "happiness", "▁sad" -> "sad", "sad." -> "sad"."""
    start, end = 0, len(token)
    while start < end and (token[start] in _MARKERS or not token[start].isalpha()):
        start += 1
    while end > start and (token[end - 1] in _MARKERS or not token[end - 1].isalpha()):
        end -= 1
    return token[start:end].lower()


def token_is_form(token: str, forms: frozenset[str]) -> bool:
    """Whether a decoded token is exactly one of `forms` once stripped (see `bare_token`).
    Fragments never match: "angr" is not "angry"."""
    return bare_token(token) in forms
