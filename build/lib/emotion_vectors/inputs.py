"""The user's input files that the config names, read and checked: the preference
experiment's activities and the texts of the emotion traces. Kept free of numpy and torch:
the config check runs them when the Snakefile is parsed, in Snakemake's own environment."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .config import ConfigError, read_yaml

CATEGORIES = ("pleasant", "neutral", "unpleasant")
ROLES = ("system", "user", "assistant")


# ---------------------------------------------------------------- preference activities


@dataclass(frozen=True)
class Activity:
    text: str
    category: str


def read_activities(path: Path) -> list[Activity]:
    """The activities file: a YAML mapping {pleasant, neutral, unpleasant: [phrase, ...]}.
    Each phrase completes "Which would you rather do?" (e.g. "wash the dishes")."""
    data = read_yaml(path)
    label = str(path)
    if not isinstance(data, dict) or not data:
        raise ConfigError(label, "", f"expected a mapping of {', '.join(CATEGORIES)} to lists")
    activities, seen = [], set()
    for category, phrases in data.items():
        if category not in CATEGORIES:
            raise ConfigError(label, str(category), f"unknown category; use {CATEGORIES}")
        if not isinstance(phrases, list):
            raise ConfigError(label, category, "expected a list of activity phrases")
        for i, phrase in enumerate(phrases):
            key = f"{category}[{i}]"
            if not isinstance(phrase, str) or not phrase.strip():
                raise ConfigError(label, key, "expected a non-empty phrase")
            text = " ".join(phrase.split())
            if "{" in text or "}" in text or "\n" in phrase:
                raise ConfigError(label, key, f"{phrase!r}: no braces or line breaks")
            if text.lower() in seen:
                raise ConfigError(label, key, f"{text!r} is listed twice")
            seen.add(text.lower())
            activities.append(Activity(text, category))
    if len(activities) < 4:
        raise ConfigError(label, "", f"{len(activities)} activities; at least 4 are needed")
    return activities


def check_question(question: str) -> str | None:
    """What is wrong with a question template, or None: it needs {a} then {b}, once each."""
    if question.count("{a}") != 1 or question.count("{b}") != 1:
        return "needs {a} and {b} exactly once each"
    if question.index("{a}") > question.index("{b}"):
        return "must show {a} before {b}"
    rest = question.replace("{a}", "").replace("{b}", "")
    if "{" in rest or "}" in rest:
        return "has braces other than {a} and {b}"
    return None


# ---------------------------------------------------------------- trace texts


def check_messages(messages: object, where: str = "messages") -> list[dict[str, str]]:
    """A chat as a list of {role, content}; a clear error otherwise."""
    if not isinstance(messages, list) or not messages:
        raise ValueError(f"{where}: expected a non-empty list of {{role, content}} messages")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping) or set(m) != {"role", "content"}:
            raise ValueError(f"{where}[{i}]: expected exactly the keys role and content")
        if m["role"] not in ROLES:
            raise ValueError(f"{where}[{i}].role: {m['role']!r} is not one of {ROLES}")
        if not isinstance(m["content"], str):
            raise ValueError(f"{where}[{i}].content: expected text")
        out.append({"role": m["role"], "content": m["content"]})
    return out


TEXT_SUFFIXES = (".txt", ".json")


def read_text_file(path) -> str | list[dict[str, str]]:
    """A text to trace: a .txt file's text, or a .json file's chat (list of messages)."""
    path = Path(path)
    if path.suffix == ".txt":
        text = path.read_text(encoding="utf-8").strip()
        if not text:
            raise ConfigError(str(path), "", "the text is empty")
        return text
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ConfigError(
            str(path), "", f"malformed JSON at line {err.lineno}: {err.msg}"
        ) from None
    try:
        messages = check_messages(data, "messages")
    except ValueError as err:
        key, _, problem = str(err).partition(": ")
        raise ConfigError(str(path), key, problem) from None
    if not any(m["content"].strip() for m in messages):
        raise ConfigError(str(path), "messages", "every message is empty")
    return messages


def text_files(folder) -> dict[str, str]:
    """{name: path} of the texts in a folder (*.txt, *.json), checked: a name is the file's
    stem, letters, digits, - and _ only, and unique."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(str(folder), "", "folder not found")
    out: dict[str, str] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix not in TEXT_SUFFIXES:
            continue
        if not re.fullmatch(r"[A-Za-z0-9_-]+", path.stem):
            raise ConfigError(str(path), "", "name it with letters, digits, - and _ only")
        if path.stem == "index":
            raise ConfigError(str(path), "", "the name index is taken by the traces' index page")
        if path.stem in out:
            raise ConfigError(str(path), "", f"{out[path.stem]} has the same name")
        read_text_file(path)
        out[path.stem] = str(path)
    return out
