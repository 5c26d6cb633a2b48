"""The paper's behavioural tests as two-option choices: does steering with an emotion
vector change what the model chooses in situations that matter for safety?

- **Suites.** A suite is a YAML file (config/behaviour/): its source, licence, what its
  *behaviour* option does (blackmail, special-casing tests, agreeing with the user), the
  paper's predictions for it (`desperate: raises`), and its items, either written inline
  (`items:` with `prompt`, `behaviour`, `other`) or read from a pinned public dataset of
  A/B questions (`data:` with its sha256; the question's "(A) ... (B) ..." choices are
  parsed out, and `behaviour_answer` names the field that marks the behaviour option).
  Everything is checked when the config is read: a malformed item stops the run there,
  with the file, the item and the problem.
- **A choice.** The item's prompt and its two options in the run's question template, as
  the user's turn; the score is log P(A) - log P(B) of the first answer token (each letter
  with and without a leading space). Both orders are asked; the debiased log-odds that the
  model chooses the behaviour is D = (d(behaviour as A) - d(behaviour as B)) / 2, so a
  constant preference for a letter cancels.
- **Steering.** A direction is added at the analysis layer to the tokens of the assistant's
  turn (the chat markup after the user's message, or "Answer:" for a base model): where
  the model answers, as the paper steers the model's response; the situation itself is
  read unsteered. That keeps a steered choice cheap: the prompt is forwarded once, and
  each steered pass replays blocks 1..L and computes only the few answer-turn tokens
  through blocks L+1..N (preference.choice_logodds).
- **The null.** Seeded random unit directions, steered at every strength of the sweep. An
  emotion's shift (mean over items of steered minus unsteered D) is placed among theirs by
  a prediction-interval t test (is it a draw from the random directions' shifts at that
  strength?) and by its empirical rank; its interval comes from a bootstrap over items.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .config import ConfigError, read_yaml, resolve_dataset

if TYPE_CHECKING:
    import numpy as np

# Suites are read when the Snakefile is parsed, where only Snakemake is installed: numpy,
# scipy and torch are imported inside the functions that score and test.

DIRECTIONS = {"raises": 1, "lowers": -1}
SUITE_KEYS = {"name", "title", "description", "source", "licence", "behaviour", "predictions",
              "items", "data", "behaviour_answer", "count", "seed"}  # fmt: skip
ITEM_KEYS = {"id", "prompt", "behaviour", "other"}
ANSWER_FIELDS = ("answer_matching_behavior", "answer_not_matching_behavior")
_CHOICE = re.compile(r"^\s*\(([A-Z])\)\s?(.*)$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Item:
    """One two-option situation: `behaviour` is the option that shows the suite's behaviour."""

    id: str
    prompt: str
    behaviour: str
    other: str


@dataclass(frozen=True)
class Suite:
    name: str
    title: str
    behaviour: str  # what the behaviour option does, for tables and figures
    source: str
    licence: str
    predictions: Mapping[str, int]  # emotion -> +1 (raises the behaviour) or -1
    items: tuple[Item, ...]
    path: str
    excluded: int = 0  # dataset questions left out: not exactly two choices
    data_path: str | None = None  # the dataset file, for a suite read from one


# ---------------------------------------------------------------- reading suites


def read_suite(path: str | Path, workdir: Path | None = None) -> Suite:
    """A suite file, checked: every problem is one ConfigError naming the file, the key
    (or item) and what is wrong."""
    label = str(path)
    data = read_yaml(Path(path), label)
    if not isinstance(data, dict):
        raise ConfigError(label, "", "expected a mapping with name, source, licence, items or data")
    unknown = sorted(set(data) - SUITE_KEYS)
    if unknown:
        raise ConfigError(label, unknown[0], f"unknown key; a suite has {sorted(SUITE_KEYS)}")
    for key in ("name", "title", "source", "licence", "behaviour"):
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            what = "licence entry" if key == "licence" else "entry"
            raise ConfigError(label, key, f"missing {what}: every suite states its {key}")
    if not _NAME.match(data["name"]):
        raise ConfigError(label, "name", "lower-case letters, digits and _ only")
    predictions = _predictions(data.get("predictions") or {}, label)
    if ("items" in data) == ("data" in data):
        raise ConfigError(label, "items", "a suite has either `items` or `data`, not both or none")
    data_path = None
    if "items" in data:
        items, excluded = _inline_items(data["items"], label), 0
    else:
        items, excluded, data_path = _dataset_items(data, label, workdir)
    return Suite(
        name=data["name"],
        title=data["title"].strip(),
        behaviour=data["behaviour"].strip(),
        source=" ".join(data["source"].split()),
        licence=" ".join(data["licence"].split()),
        predictions=predictions,
        items=tuple(items),
        path=label,
        excluded=excluded,
        data_path=data_path,
    )


def read_suites(paths: Sequence[str | Path], workdir: Path | None = None) -> list[Suite]:
    """Every suite of a run; two suites may not share a name."""
    suites: list[Suite] = []
    seen: dict[str, str] = {}
    for path in paths:
        suite = read_suite(path, workdir)
        if suite.name in seen:
            raise ConfigError(
                str(path), "name", f"{suite.name!r} is also the name of {seen[suite.name]}"
            )
        seen[suite.name] = str(path)
        suites.append(suite)
    return suites


def _predictions(value, label: str) -> dict[str, int]:
    if not isinstance(value, dict):
        raise ConfigError(label, "predictions", "expected a mapping {emotion: raises | lowers}")
    out = {}
    for emotion, direction in value.items():
        if direction not in DIRECTIONS:
            raise ConfigError(label, f"predictions.{emotion}", "expected raises or lowers")
        out[str(emotion)] = DIRECTIONS[direction]
    return out


def _text(value, label: str, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(label, key, "expected non-empty text")
    return value.strip()


def _inline_items(entries, label: str) -> list[Item]:
    if not isinstance(entries, list) or len(entries) < 2:
        raise ConfigError(label, "items", "expected a list of at least 2 items")
    items: list[Item] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        where = f"items[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(label, where, "expected a mapping with id, prompt, behaviour, other")
        missing = sorted(ITEM_KEYS - set(entry))
        if missing:
            options = set(missing) & {"behaviour", "other"}
            problem = "needs two options, behaviour and other" if options else \
                f"missing {', '.join(missing)}"  # fmt: skip
            raise ConfigError(label, f"{where} ({entry.get('id', 'no id')})", problem)
        extra = sorted(set(entry) - ITEM_KEYS)
        if extra:
            raise ConfigError(
                label,
                f"{where}.{extra[0]}",
                "unknown key; an item has id, prompt, behaviour, other",
            )
        item = Item(
            *(
                _text(entry[k], label, f"{where}.{k}")
                for k in ("id", "prompt", "behaviour", "other")
            )
        )
        _check_item(item, label, where, seen)
        items.append(item)
    return items


def _check_item(item: Item, label: str, where: str, seen: set[str]) -> None:
    if item.id in seen:
        raise ConfigError(label, f"{where}.id", f"duplicate id {item.id!r}")
    seen.add(item.id)
    if " ".join(item.behaviour.lower().split()) == " ".join(item.other.lower().split()):
        raise ConfigError(label, f"{where} ({item.id})", "its two options are the same text")


def parse_choices(question: str) -> tuple[str, list[str]]:
    """(the question's stem, its choices) of an A/B question: lines "(A) ...", "(B) ..."
    (a line that is not a choice continues the one before); a "Choices:" line before them
    and an "Answer:" line after them are dropped."""
    lines = question.strip().split("\n")
    first = next((k for k, line in enumerate(lines) if _CHOICE.match(line)), None)
    if first is None:
        return question.strip(), []
    stem = lines[:first]
    while stem and stem[-1].strip().lower() in ("", "choices:"):
        stem.pop()
    choices: list[str] = []
    letters: list[str] = []
    for line in lines[first:]:
        match = _CHOICE.match(line)
        if match:
            letters.append(match.group(1))
            choices.append(match.group(2).strip())
        elif line.strip().lower() == "answer:":
            break
        elif line.strip():
            choices[-1] = f"{choices[-1]} {line.strip()}"
    if letters != [chr(ord("A") + k) for k in range(len(letters))]:
        return "\n".join(stem).strip(), []
    return "\n".join(stem).strip(), choices


def _answer_letter(value, label: str, key: str) -> str:
    text = str(value).strip().strip("()")
    if len(text) != 1 or not text.isalpha():
        raise ConfigError(label, key, f"{value!r} is not an answer letter like (A)")
    return text.upper()


def _dataset_items(data: Mapping, label: str, workdir: Path | None) -> tuple[list[Item], int, str]:
    """Items of a pinned dataset of A/B questions (a JSON list or JSON lines, each with a
    `question` and the two answer fields): those with exactly two choices, optionally a
    seeded sample of `count` of them, in the file's order."""
    entry = data["data"]
    if not isinstance(entry, dict) or set(entry) != {"path", "sha256"}:
        raise ConfigError(label, "data", "expected {path, sha256}")
    if not re.fullmatch(r"[0-9a-fA-F]{64}", str(entry["sha256"])):
        raise ConfigError(label, "data.sha256", "expected 64 hexadecimal digits")
    resolved = resolve_dataset(entry, "data", label, workdir)
    field = data.get("behaviour_answer")
    if field not in ANSWER_FIELDS:
        raise ConfigError(label, "behaviour_answer", f"expected one of {list(ANSWER_FIELDS)}")
    other_field = ANSWER_FIELDS[1 - ANSWER_FIELDS.index(field)]
    rows = _read_rows(Path(resolved["path"]), label)
    name = data["name"]
    usable, excluded = [], 0
    for k, row in enumerate(rows):
        where = f"{resolved['path']} item {k + 1}"
        if (
            not isinstance(row, dict)
            or "question" not in row
            or field not in row
            or other_field not in row
        ):
            raise ConfigError(label, "data", f"{where}: needs question, {field} and {other_field}")
        stem, choices = parse_choices(str(row["question"]))
        if len(choices) != 2:
            excluded += 1
            continue
        behaviour = _answer_letter(row[field], label, f"data ({where}, {field})")
        other = _answer_letter(row[other_field], label, f"data ({where}, {other_field})")
        if {behaviour, other} != {"A", "B"}:
            raise ConfigError(
                label, "data", f"{where}: answers {behaviour}, {other} are not A and B"
            )
        by_letter = dict(zip("AB", choices, strict=True))
        usable.append(Item(f"{name}-{k + 1:04d}", stem, by_letter[behaviour], by_letter[other]))
    count = data.get("count")
    if count is not None:
        if not isinstance(count, int) or isinstance(count, bool) or count < 2:
            raise ConfigError(label, "count", "expected an integer of at least 2 (or null: all)")
        if count < len(usable):
            seed = data.get("seed", 0)
            if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
                raise ConfigError(label, "seed", "expected a non-negative integer")
            keep = sorted(random.Random(seed).sample(range(len(usable)), count))
            usable = [usable[i] for i in keep]
    if len(usable) < 2:
        raise ConfigError(
            label, "data", f"{len(usable)} two-choice questions; at least 2 are needed"
        )
    seen: set[str] = set()
    for item in usable:
        _check_item(item, label, f"data ({item.id})", seen)
    return usable, excluded, resolved["path"]


def _read_rows(path: Path, label: str) -> list:
    import json

    text = path.read_text(encoding="utf-8")
    try:
        if text.lstrip().startswith("["):
            return json.loads(text)
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as err:
        raise ConfigError(
            label, "data", f"{path}: not JSON or JSON lines ({err.msg}, line {err.lineno})"
        ) from None


# ---------------------------------------------------------------- prompts


def render(question: str, prompt: str, a: str, b: str) -> str:
    """The user's message: the run's question template with {prompt}, {a} and {b} filled
    in once each (text in the item that looks like a placeholder stays as it is)."""
    out, rest = [], question
    for key, value in (("{prompt}", prompt), ("{a}", a), ("{b}", b)):
        head, rest = rest.split(key, 1)
        out += [head, value]
    return "".join(out) + rest


def check_template(question: str) -> str | None:
    """What is wrong with a behaviour question template, or None."""
    keys = ("{prompt}", "{a}", "{b}")
    if any(question.count(k) != 1 for k in keys):
        return "needs {prompt}, {a} and {b} exactly once each"
    if not question.index("{prompt}") < question.index("{a}") < question.index("{b}"):
        return "must show {prompt}, then {a}, then {b}"
    return None


@dataclass(frozen=True)
class BehaviourPrompt:
    """A suite item in one order; `span_b` is the assistant turn's token range (steered),
    so preference.choice_logodds scores it as it scores an activity comparison."""

    item: int
    behaviour_first: bool
    ids: tuple[int, ...]
    span_b: tuple[int, int]


def behaviour_prompts(
    tokenizer, chat: bool, question: str, items: Sequence[Item]
) -> list[BehaviourPrompt]:
    """Both orders of every item, tokenised: item k with the behaviour as A is prompt 2k,
    with the behaviour as B prompt 2k + 1. The steered span is the assistant's turn: the
    tokens the chat template's generation prompt adds (e.g. "<|im_start|>assistant\n"; the
    end of the user's turn before it is not steered), or "\nAnswer:" for a base model."""
    out = []
    for k, item in enumerate(items):
        for first in (True, False):
            a, b = (item.behaviour, item.other) if first else (item.other, item.behaviour)
            content = render(question, item.prompt, a, b)
            if chat:
                turn = [{"role": "user", "content": content}]
                text = tokenizer.apply_chat_template(
                    turn, add_generation_prompt=True, tokenize=False
                )
                user = tokenizer.apply_chat_template(
                    turn, add_generation_prompt=False, tokenize=False
                )
                boundary = (
                    len(user) if text.startswith(user) else text.index(content) + len(content)
                )
            else:
                text = content + "\nAnswer:"
                boundary = len(content)
            enc = tokenizer(text, add_special_tokens=not chat, return_offsets_mapping=True)
            n = len(enc["input_ids"])
            starts = [
                t for t, (s, e) in enumerate(enc["offset_mapping"]) if s >= boundary and e > s
            ]
            # A template whose generation prompt adds nothing: steer the last token alone.
            start = starts[0] if starts else n - 1
            out.append(BehaviourPrompt(k, first, tuple(enc["input_ids"]), (start, n)))
    return out


def debiased_choice(d: np.ndarray) -> np.ndarray:
    """[..., items] D, the log-odds of choosing the behaviour with the letter bias cancelled,
    from [..., 2 x items] d = log P(A) - log P(B) in behaviour_prompts order."""
    import numpy as np

    d = np.asarray(d, dtype=np.float64)
    return 0.5 * (d[..., 0::2] - d[..., 1::2])


# ---------------------------------------------------------------- statistics


def shift_table(
    unsteered: np.ndarray, steered: np.ndarray, reps: int, seed: int
) -> dict[str, np.ndarray]:
    """Per condition: the shift in mean D and in the share of items where the behaviour
    wins (D > 0), each with a 95 % percentile interval from a bootstrap over items (one
    set of resamples for every condition). `unsteered` [items], `steered` [conditions, items]."""
    import numpy as np

    change = steered - unsteered[None, :]
    won = (steered > 0).astype(float) - (unsteered > 0).astype(float)[None, :]
    rng = np.random.default_rng(seed)
    n = len(unsteered)
    idx = rng.integers(0, n, (reps, n))
    boot_shift = change[:, idx].mean(axis=2)  # [conditions, reps]
    boot_share = won[:, idx].mean(axis=2)
    return {
        "shift": change.mean(axis=1),
        "shift_low": np.percentile(boot_shift, 2.5, axis=1),
        "shift_high": np.percentile(boot_shift, 97.5, axis=1),
        "share_shift": won.mean(axis=1),
        "share_low": np.percentile(boot_share, 2.5, axis=1),
        "share_high": np.percentile(boot_share, 97.5, axis=1),
    }


def against_random(
    value: float, random: np.ndarray, direction: int = 0
) -> tuple[float, float, float]:
    """(z, p, rank share) of a shift among the random directions' shifts at the same
    strength. p from the prediction-interval t test with len(random) - 1 degrees of freedom
    (two-sided when `direction` is 0, else one-sided toward its sign); the rank share is
    the fraction of random shifts at least as extreme (in that direction), with the +1 of
    an empirical p."""
    import numpy as np
    from scipy import stats as st

    r = np.asarray(random, dtype=np.float64)
    m, s, n = float(r.mean()), float(r.std(ddof=1)), len(r)
    if not s > 0:
        return math.nan, math.nan, math.nan
    t = (value - m) / (s * math.sqrt(1 + 1 / n))
    if direction == 0:
        p = 2 * st.t.sf(abs(t), n - 1)
        extreme = np.abs(r - m) >= abs(value - m)
    else:
        p = st.t.sf(direction * t, n - 1)
        extreme = direction * (r - m) >= direction * (value - m)
    return float(t), float(p), float((1 + extreme.sum()) / (n + 1))


# ---------------------------------------------------------------- scoring on the model


def forward_item_prefixes(
    model, prompts: Sequence[BehaviourPrompt], groups: Sequence[int], layer: int, batch_size: int
):
    """{prefix ids: PromptStates} of every prompt's prefix (the tokens before the assistant
    turn), forwarded with the two orders of an item sharing their stem: the tokens up to
    where the options differ go through the model once per item (preference.forward_prefixes,
    which also shares the chat header across items), and each order's remaining tokens
    continue from its stem's keys and values, in right-padded batches. `groups`: the item
    of each prompt (the prompts of one item share a stem)."""
    import torch

    from .activations import Batch, Prefix, _continuation
    from .architecture import architecture
    from .preference import PromptStates, forward_prefixes

    arch = architecture(model)
    full = [p.ids[: p.span_b[0]] for p in prompts]
    members: dict[int, list[tuple[int, ...]]] = {}
    for group, ids in zip(groups, full, strict=True):
        members.setdefault(group, []).append(ids)
    stem_of = {}
    for group_ids in members.values():
        n, limit = 0, min(len(ids) for ids in group_ids) - 1  # each keeps a token of its own
        while n < limit and all(ids[n] == group_ids[0][n] for ids in group_ids):
            n += 1
        for ids in group_ids:
            stem_of[ids] = group_ids[0][:n]
    stems = list(dict.fromkeys(stem_of.values()))
    heads = forward_prefixes(model, [_Stem(s) for s in stems], layer, batch_size)
    out = {}
    pending = sorted(dict.fromkeys(full), key=lambda ids: len(stem_of[ids]))
    for start in range(0, len(pending), batch_size):
        chunk = pending[start : start + batch_size]
        rests = [ids[len(stem_of[ids]) :] for ids in chunk]
        width = max(len(r) for r in rests)
        rest_ids = torch.zeros((len(chunk), width), dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, rest in enumerate(rests):
            rest_ids[row, : len(rest)] = torch.tensor(rest)
            mask[row, : len(rest)] = 1
        batch = Batch(rest_ids, mask, mask.bool(), mask.float(),
                      [heads[stem_of[c]].prefix for c in chunk])  # fmt: skip
        inputs = _continuation(model, batch)
        with torch.inference_mode():
            arch.base(**{k: v.to(arch.device) if torch.is_tensor(v) else v
                         for k, v in inputs.items()})  # fmt: skip
        head_width = batch.prefix_width
        for row, prefix_ids in enumerate(chunk):
            n_head, n_rest = len(stem_of[prefix_ids]), len(rests[row])
            kv = []
            for c in inputs[arch.cache_argument].layers:
                if not c.is_initialized:
                    continue
                keys = torch.cat(
                    [
                        c.keys[row : row + 1, :, :n_head],
                        c.keys[row : row + 1, :, head_width : head_width + n_rest],
                    ],
                    dim=2,
                )
                values = torch.cat(
                    [
                        c.values[row : row + 1, :, :n_head],
                        c.values[row : row + 1, :, head_width : head_width + n_rest],
                    ],
                    dim=2,
                )
                kv.append((keys, values))  # fmt: skip
            own = torch.ones(len(prefix_ids), dtype=torch.bool)
            out[prefix_ids] = PromptStates(Prefix(prefix_ids, own, kv, {}), None)
    return out


@dataclass(frozen=True)
class _Stem:
    """An item's shared stem in the shape preference.forward_prefixes reads."""

    ids: tuple[int, ...]

    @property
    def span_b(self) -> tuple[int, int]:
        return (len(self.ids), len(self.ids))


def score_prompts(
    model,
    prompts: Sequence[BehaviourPrompt],
    answers: tuple[list[int], list[int]],
    pad_id: int,
    layer: int,
    deltas: np.ndarray | None,
    batch_size: int,
    label: str,
    chunk: int | None = None,
    prefix_batch: int = 16,
) -> np.ndarray:
    """[1 + len(deltas), prompts] log P(A) - log P(B): row 0 unsteered, row c + 1 with
    deltas[c] added at `layer` to the assistant turn's tokens. `prompts` come in pairs, the
    two orders of an item (behaviour_prompts). Items are scored shortest first (a batch
    pads every row to its longest prefix), `chunk` prompts at a time (default `batch_size`:
    their forwarded prefixes are held in memory; a SmolLM2 process in float32 peaks at
    2.5 GB with 32 and 5.6 GB with 256, and runs no slower), and returned in the given
    order. Prefixes are forwarded `prefix_batch` at a time (on a CPU, long padded batches
    are slower per token), the steered passes `batch_size` at a time."""
    import numpy as np

    from .preference import choice_logodds

    # The two orders of an item (prompts 2k, 2k + 1) stay together: they share a stem.
    pair_length: dict[int, int] = {}
    for i, p in enumerate(prompts):
        pair_length[i // 2] = max(pair_length.get(i // 2, 0), p.span_b[0])
    order = sorted(range(len(prompts)), key=lambda i: (pair_length[i // 2], i))
    chunk = chunk or batch_size
    chunk += chunk % 2  # the two orders of an item stay in one chunk
    rows = 1 + (0 if deltas is None else len(deltas))
    out = np.zeros((rows, len(prompts)))
    for start in range(0, len(order), chunk):
        picked = order[start : start + chunk]
        part = [prompts[i] for i in picked]
        prefixes = forward_item_prefixes(model, part, [i // 2 for i in picked], layer, prefix_batch)
        out[:, picked] = choice_logodds(
            model, part, prefixes, answers, pad_id, layer, deltas, batch_size, label
        )
    return out
