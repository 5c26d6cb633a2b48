"""Two-person dialogues for the speakers experiment: the templates file (read and checked
before any job runs) and the dialogues built from it, with the character ranges the
experiment reads.

In a template one person, the *feeler*, says once that they feel {emotion}; every other
line is neutral and the same for every emotion. Each template is built with either person
of a name pair as the feeler and ends with a speaker label for each of them (who replies
next), so per (template, emotion) there are four dialogues. The ranges read:

- `own`: the text of the feeler's lines after the one that names the emotion (the present
  speaker's own emotion, on tokens that do not name it);
- `other`: the text of the other person's lines after it (the other speaker's emotion, on
  the present speaker's tokens);
- `last`: the text of the last line (a control: the context just before the label);
- `colon`: the colon of the last speaker label, where the next reply is about to start.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .config import ConfigError, read_yaml

SLOT = "{emotion}"
ROLES = ("feeler", "other")
# The fewest templates a leave-one-template-out read and a split into halves need.
MIN_TEMPLATES = 4


@dataclass(frozen=True)
class Template:
    id: str
    turns: tuple[tuple[str, str], ...]  # (role, text), in order

    @property
    def emotion_turn(self) -> int:
        return next(i for i, (_, text) in enumerate(self.turns) if SLOT in text)


@dataclass(frozen=True)
class DialogueSet:
    path: str
    source: str
    licence: str
    names: tuple[tuple[str, str], ...]
    templates: tuple[Template, ...]


@dataclass(frozen=True)
class Dialogue:
    id: str
    template: str
    emotion: str
    feeler: str  # the feeler's name
    other: str
    next: str  # "feeler" or "other": who replies next
    text: str
    spans: Mapping[str, tuple[tuple[int, int], ...]]  # own, other, last, colon


def read_dialogues(path: str | Path) -> DialogueSet:
    """The dialogue templates file; a problem is one ConfigError naming the file, the
    template and what is wrong."""
    label = str(path)
    data = read_yaml(Path(path), label)
    if not isinstance(data, dict):
        raise ConfigError(label, "", "expected a mapping with source, licence, names, templates")
    for key in ("source", "licence"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise ConfigError(
                label, key, "missing: say where the dialogues come from and their licence"
            )
    unknown = set(data) - {"source", "licence", "names", "templates"}
    if unknown:
        raise ConfigError(label, sorted(unknown)[0], "unknown key")
    names = _names(data.get("names"), label)
    raw = data.get("templates")
    if not isinstance(raw, list) or len(raw) < MIN_TEMPLATES:
        raise ConfigError(
            label, "templates", f"expected a list of at least {MIN_TEMPLATES} templates"
        )
    templates, seen = [], set()
    for i, entry in enumerate(raw):
        template = _template(entry, f"templates[{i}]", label)
        if template.id in seen:
            raise ConfigError(label, f"templates[{i}].id", f"{template.id!r} is used twice")
        seen.add(template.id)
        templates.append(template)
    return DialogueSet(
        label, data["source"].strip(), data["licence"].strip(), names, tuple(templates)
    )


def _names(value, label: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(label, "names", "expected a list of name pairs, e.g. [[Maya, Tom]]")
    pairs = []
    for i, pair in enumerate(value):
        key = f"names[{i}]"
        if not (
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(n, str) for n in pair)
        ):
            raise ConfigError(label, key, "expected a pair of names")
        a, b = (n.strip() for n in pair)
        if not a or not b or a == b:
            raise ConfigError(label, key, "expected two different, non-empty names")
        if any(c in a + b for c in ":\n{}"):
            raise ConfigError(label, key, "a name may not hold a colon, a brace or a line break")
        pairs.append((a, b))
    return tuple(pairs)


def _template(entry, key: str, label: str) -> Template:
    if not isinstance(entry, dict) or set(entry) != {"id", "turns"}:
        raise ConfigError(label, key, "expected {id, turns}")
    if not isinstance(entry["id"], str) or not entry["id"].strip():
        raise ConfigError(label, f"{key}.id", "expected a non-empty id")
    key = f"{key} ({entry['id']})"
    if not isinstance(entry["turns"], list):
        raise ConfigError(
            label, f"{key}.turns", "expected a list of `feeler: text` / `other: text`"
        )
    turns = []
    for j, turn in enumerate(entry["turns"]):
        where = f"{key}.turns[{j}]"
        if not (isinstance(turn, dict) and len(turn) == 1):
            raise ConfigError(label, where, "expected one `feeler: text` or `other: text`")
        ((role, text),) = turn.items()
        if role not in ROLES:
            raise ConfigError(label, where, f"unknown speaker {role!r}; use feeler or other")
        if not isinstance(text, str) or not text.strip() or "\n" in text.strip():
            raise ConfigError(label, where, "expected one non-empty line of text")
        if text.replace(SLOT, "").count("{") or text.replace(SLOT, "").count("}"):
            raise ConfigError(label, where, "no braces other than {emotion}")
        turns.append((role, " ".join(text.split())))
    slots = [j for j, (_, text) in enumerate(turns) if SLOT in text]
    if len(slots) != 1 or turns[slots[0]][0] != "feeler" or turns[slots[0]][1].count(SLOT) != 1:
        raise ConfigError(label, f"{key}.turns", "{emotion} must stand once, in one feeler line")
    after = {role for role, _ in turns[slots[0] + 1 :]}
    if after != set(ROLES):
        raise ConfigError(
            label, f"{key}.turns", "after the {emotion} line, each speaker needs a line to read"
        )
    return Template(entry["id"].strip(), tuple(turns))


def build_dialogues(dialogue_set: DialogueSet, emotions: Sequence[str]) -> list[Dialogue]:
    """Every dialogue: per template (name pair by template order) and emotion, each person
    of the pair as the feeler, each of them replying next."""
    out = []
    for t, template in enumerate(dialogue_set.templates):
        pair = dialogue_set.names[t % len(dialogue_set.names)]
        for emotion in emotions:
            for feeler, other in (pair, pair[::-1]):
                for nxt in ROLES:
                    out.append(_dialogue(template, emotion, feeler, other, nxt))
    return out


def _dialogue(template: Template, emotion: str, feeler: str, other: str, nxt: str) -> Dialogue:
    text = ""
    spans: dict[str, list[tuple[int, int]]] = {"own": [], "other": [], "last": [], "colon": []}
    slot = template.emotion_turn
    for j, (role, line) in enumerate(template.turns):
        name = feeler if role == "feeler" else other
        head = f"{name}: "
        body = line.replace(SLOT, emotion)
        start = len(text) + len(head)
        text += head + body + "\n"
        if j > slot:
            spans["own" if role == "feeler" else "other"].append((start, start + len(body)))
    spans["last"].append((start, start + len(body)))
    text += f"{feeler if nxt == 'feeler' else other}:"
    spans["colon"].append((len(text) - 1, len(text)))
    ident = f"{template.id}|{emotion}|{feeler}|{nxt}"
    frozen = {k: tuple(v) for k, v in spans.items()}
    return Dialogue(ident, template.id, emotion, feeler, other, nxt, text, frozen)
