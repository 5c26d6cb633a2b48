"""The story corpus: an instruct model writes short stories in which a character feels an
emotion that the story never names, as in the paper.

Three pieces, each testable on its own:

- the rule checker: `forbidden_pattern(emotion, synonyms)` matches the emotion word, its
  inflections ("happy", "happily", "happiness", "happier") and configured synonyms in
  any case; a story that matches is rejected and written again, up to a limit;
- the prompt: one story per generation. A 135M writer does not follow "write several
  stories" (it writes one long one, or a list of titles), so each prompt asks for one short
  story about one character and one topic, and the assistant's turn is opened with the
  story's first word ("I" or the character's name), which fixes the person (first or third,
  alternating) and stops the model from answering with a preamble;
- seeded, batched sampling with left padding: every batch is seeded from (seed, emotion,
  attempt, batch), and batches never mix emotions, so an emotion's stories are the same
  whichever other emotions are written in the same run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .architecture import architecture
from .progress import progress
from .wording import find_forbidden, forbidden_pattern

log = logging.getLogger("emotion_vectors")

# Bump when the stories an unchanged config produces would change.
STORY_FORMAT = 1

# Characters of third-person stories, alternating she / he; first-person stories have none.
CHARACTERS = [
    ("Maya", "she"),
    ("Tom", "he"),
    ("Lena", "she"),
    ("Sam", "he"),
    ("Nora", "she"),
    ("Ben", "he"),
    ("Ines", "she"),
    ("Omar", "he"),
]

# ---------------------------------------------------------------- prompts


@dataclass(frozen=True)
class StoryRequest:
    """One story to write: which emotion, topic, person and character, and its id."""

    emotion: str
    topic: str
    index: int  # the story's number within its emotion, 0-based
    person: str  # "first" or "third"
    character: str  # "" in the first person
    pronoun: str

    @property
    def passage_id(self) -> str:
        return f"s{self.index + 1:03d}"


def story_requests(
    emotion: str, topics: Sequence[str], stories_per_topic: int
) -> list[StoryRequest]:
    """Every story of one emotion: each topic `stories_per_topic` times, the person
    alternating between first and third, the third-person characters rotating."""
    out = []
    for k in range(stories_per_topic):
        for t, topic in enumerate(topics):
            index = len(out)
            # Alternate person along topics, shifted per repetition so that each topic gets
            # both persons when it is written twice.
            first = (t + k) % 2 == 0
            name, pronoun = CHARACTERS[index % len(CHARACTERS)]
            out.append(
                StoryRequest(
                    emotion=emotion,
                    topic=topic,
                    index=index,
                    person="first" if first else "third",
                    character="" if first else name,
                    pronoun="I" if first else pronoun,
                )
            )
    return out


def story_prompt(request: StoryRequest, sentences: int) -> tuple[str, str]:
    """(user message, opening of the assistant's turn). The opening is the story's first
    word, which fixes the person and skips any preamble ("Sure! Here is a story ...")."""
    emotion = request.emotion
    if request.person == "first":
        who = "yourself, in the first person (I, me, my),"
        opening = "I"
    else:
        who = f"{request.character}, in the third person ({request.pronoun}),"
        opening = request.character
    user = (
        f"Write a short story of {sentences} sentences about {who} who feels {emotion} "
        f"while {request.topic}. Never use the word '{emotion}' or any word that means the "
        "same: show the feeling only through what the character does, thinks, says and "
        "notices. Write only the story, no title."
    )
    return user, opening


def clean_story(opening: str, completion: str) -> str:
    """The story as written: its opening word plus the completion, cut after the last full
    sentence (generation stops at a token budget, often mid-sentence), whitespace folded."""
    text = (opening + completion).replace("*", "").strip()
    text = re.sub(r"\s+", " ", text)
    ends = [m.end() for m in re.finditer(r"[.!?][\"')\u201d]?(?=\s|$)", text)]
    if ends:
        text = text[: ends[-1]]
    return text.strip()


# ---------------------------------------------------------------- settings and seeds


@dataclass(frozen=True)
class WriterSettings:
    """The `stories` section of the config that decides what is written."""

    topics: tuple[str, ...]
    stories_per_topic: int
    sentences: int
    max_new_tokens: int
    temperature: float
    top_p: float
    seed: int
    batch_size: int
    max_attempts: int
    min_words: int
    synonyms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    forms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def fingerprint(self, emotion: str) -> dict:
        """What determines one emotion's stories (batch size does: sampling is batched)."""
        return {
            "format": STORY_FORMAT,
            "topics": list(self.topics),
            "stories_per_topic": self.stories_per_topic,
            "sentences": self.sentences,
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "seed": self.seed,
            "batch_size": self.batch_size,
            "max_attempts": self.max_attempts,
            "min_words": self.min_words,
            "synonyms": sorted(self.synonyms.get(emotion, ())),
            "forms": sorted(self.forms.get(emotion, ())),
        }


def batch_seed(seed: int, emotion: str, attempt: int, batch: int) -> int:
    """A seed per (emotion, attempt, batch), independent of which other emotions run."""
    digest = hashlib.sha256(f"{seed}|{emotion}|{attempt}|{batch}".encode()).digest()
    return int.from_bytes(digest[:8], "little") % (2**63)


def story_cache_key(writer: Mapping, emotion: str, settings: WriterSettings) -> str:
    payload = json.dumps(
        {"writer": dict(writer), "emotion": emotion, "settings": settings.fingerprint(emotion)},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


# ---------------------------------------------------------------- generation


@dataclass
class Throughput:
    """Counted over every generated story, accepted or not."""

    stories: int = 0
    new_tokens: int = 0
    seconds: float = 0.0
    # CPU time of this process: on a shared machine wall time says more about the other
    # jobs than about the writer; CPU seconds per token carry over to a quiet machine.
    cpu_seconds: float = 0.0

    def add(self, seconds: float, cpu_seconds: float, new_tokens: int, stories: int) -> None:
        self.seconds += seconds
        self.cpu_seconds += cpu_seconds
        self.new_tokens += new_tokens
        self.stories += stories

    def as_dict(self, threads: int) -> dict:
        def per_second(x: float) -> float | None:
            return round(x / self.seconds, 3) if self.seconds else None

        return {
            "stories_generated": self.stories,
            "new_tokens": self.new_tokens,
            "generation_seconds": round(self.seconds, 2),
            "generation_cpu_seconds": round(self.cpu_seconds, 2),
            "threads": threads,
            "tokens_per_second": per_second(self.new_tokens),
            "stories_per_second": per_second(self.stories),
        }


def generate_batch(
    model, tokenizer, prompts: Sequence[str], settings: WriterSettings, seed: int
) -> tuple[list[str], int]:
    """Sample one completion per prompt (left-padded batch, seeded); returns the texts and
    the number of new tokens generated (up to each row's end of sequence)."""
    import torch

    device = architecture(model).device
    tokenizer.padding_side = "left"  # generation appends on the right: pad on the left
    enc = tokenizer(list(prompts), return_tensors="pt", padding=True, add_special_tokens=False)
    torch.manual_seed(seed)
    with torch.inference_mode():
        out = model.generate(
            input_ids=enc["input_ids"].to(device),
            attention_mask=enc["attention_mask"].to(device),
            max_new_tokens=settings.max_new_tokens,
            do_sample=True,
            temperature=settings.temperature,
            top_p=settings.top_p,
            pad_token_id=tokenizer.pad_token_id,
        )
    new = out[:, enc["input_ids"].shape[1] :].cpu()
    texts, count = [], 0
    eos = tokenizer.eos_token_id
    for row in new:
        ids = row.tolist()
        if eos in ids:
            ids = ids[: ids.index(eos)]
        count += len(ids)
        texts.append(tokenizer.decode(ids, skip_special_tokens=True))
    return texts, count


def _batch_prompts(tokenizer, batch: Sequence[StoryRequest], sentences: int):
    """Chat-formatted prompts of a batch, each ending in the story's opening word."""
    prompts, openings = [], []
    for req in batch:
        user, opening = story_prompt(req, sentences)
        chat = tokenizer.apply_chat_template(
            [{"role": "user", "content": user}], add_generation_prompt=True, tokenize=False
        )
        prompts.append(chat + opening)
        openings.append(opening)
    return prompts, openings


@dataclass
class EmotionTally:
    """What happened to one emotion's requests: accepted stories, rejections and why."""

    accepted: dict[int, dict] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=lambda: {"forbidden_word": 0, "too_short": 0})
    words_seen: dict[str, int] = field(default_factory=dict)
    generated: int = 0

    def judge(self, req, story: str, attempt: int, pattern, min_words: int) -> bool:
        """Accept the story (True) or count why it is rejected (False)."""
        bad = find_forbidden(story, pattern)
        if bad is not None:
            self.reasons["forbidden_word"] += 1
            self.words_seen[bad.lower()] = self.words_seen.get(bad.lower(), 0) + 1
            return False
        if len(story.split()) < min_words:
            self.reasons["too_short"] += 1
            return False
        self.accepted[req.index] = {
            "emotion": req.emotion,
            "passage_id": req.passage_id,
            "topic": req.topic,
            "person": req.person,
            "character": req.character,
            "attempt": attempt,
            "text": story,
        }
        return True

    def stats(self, requested: int, given_up: int) -> dict:
        rejected = sum(self.reasons.values())
        return {
            "requested": requested,
            "accepted": len(self.accepted),
            "given_up": given_up,
            "generated": self.generated,
            "rejected": rejected,
            "rejection_rate": round(rejected / self.generated, 4) if self.generated else 0.0,
            "reasons": self.reasons,
            "forbidden_words_found": dict(sorted(self.words_seen.items(), key=lambda kv: -kv[1])),
        }


STORY_COLUMNS = ["emotion", "passage_id", "topic", "person", "character", "attempt", "text"]


def write_emotion(
    model,
    tokenizer,
    emotion: str,
    settings: WriterSettings,
    throughput: Throughput,
    on_story=None,
) -> tuple[pd.DataFrame, dict]:
    """All stories of one emotion, rejecting any that names the emotion (a listed word form,
    an inflection or a synonym) or is shorter than `min_words`, and writing those again
    (new seed) up to `max_attempts` times. Returns the accepted stories and the emotion's
    rejection statistics."""
    pattern = forbidden_pattern(
        emotion, settings.synonyms.get(emotion, ()), settings.forms.get(emotion, ())
    )
    requests = story_requests(emotion, settings.topics, settings.stories_per_topic)
    tally = EmotionTally()
    pending = list(requests)
    for attempt in range(1, settings.max_attempts + 1):
        still = []
        starts = range(0, len(pending), settings.batch_size)
        for b in progress(starts, f"stories: {emotion}, attempt {attempt}, batches"):
            batch = pending[b : b + settings.batch_size]
            prompts, openings = _batch_prompts(tokenizer, batch, settings.sentences)
            t0, c0 = time.perf_counter(), time.process_time()
            seed = batch_seed(settings.seed, emotion, attempt, b // settings.batch_size)
            texts, n_new = generate_batch(model, tokenizer, prompts, settings, seed)
            throughput.add(time.perf_counter() - t0, time.process_time() - c0, n_new, len(batch))
            tally.generated += len(batch)
            for req, opening, completion in zip(batch, openings, texts, strict=True):
                story = clean_story(opening, completion)
                if not tally.judge(req, story, attempt, pattern, settings.min_words):
                    still.append(req)
            if on_story is not None:
                on_story(len(batch))
        pending = still
        if not pending:
            break
    rows = [tally.accepted[i] for i in sorted(tally.accepted)]
    return pd.DataFrame(rows, columns=STORY_COLUMNS), tally.stats(len(requests), len(pending))


_FILES = ("topics", "synonyms", "forms")


def writer_settings(section: Mapping) -> WriterSettings:
    """WriterSettings from the config's stories section (files already resolved)."""
    from .config import read_lines, read_synonyms
    from .wordforms import read_word_forms

    forms = read_word_forms(Path(section["word_forms"])) if section.get("word_forms") else {}
    return WriterSettings(
        topics=tuple(read_lines(Path(section["topics"]), "topics file")),
        synonyms={e: tuple(w) for e, w in read_synonyms(Path(section["synonyms"])).items()},
        forms=forms,
        **{k: section[k] for k in WriterSettings.__dataclass_fields__ if k not in _FILES},
    )
