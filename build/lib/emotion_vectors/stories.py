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

import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .progress import progress
from .sampling import row_seed, sample_rows
from .store import cache_key
from .wording import find_forbidden, forbidden_pattern

log = logging.getLogger("emotion_vectors")

# Bump when the stories an unchanged config produces would change.
STORY_FORMAT = 2

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
    out: list[StoryRequest] = []
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


# The instructions come first and the story's particulars last, so that every prompt of a
# batch shares its opening tokens (run once; emotion_vectors/sampling.py) and a longer,
# more careful instruction costs almost nothing per story.
GUARDED_RULES = (
    "Write a short story of {sentences} sentences. Show what the character feels only "
    "through what they do, think, say and notice. Never name the feeling: do not use the "
    "feeling's word, any form of it, or any word listed after 'Never use'. Write only the "
    "story, no title.\n\n"
)
# One story that keeps the rule (about hunger, which is no emotion of any list), shown
# after the rules by the "guarded" prompt style.
EXAMPLE = (
    "For example, a story about Ana (she) who feels hungry while sitting in a long "
    "meeting. Never use: hungry, hunger, hungrily, starving, famished.\n"
    "Ana checked the clock above the door for the third time since the meeting began. Her "
    "pen drew small circles around the word lunch in her notes. When someone mentioned the "
    "bakery across the street, she looked up so fast that her chair creaked. She pressed a "
    "hand to her stomach as it made a long, low sound. The moment the manager said they "
    "were done, she was already at the door.\n\n"
)


def forbidden_words(emotion: str, synonyms: Sequence[str], forms: Sequence[str]) -> list[str]:
    """The words a story of `emotion` must not use, as the guarded prompt lists them: the
    emotion, its listed forms and its synonyms (the filter also catches inflections)."""
    seen: dict[str, None] = {}
    for word in [emotion, *forms, *synonyms]:
        if word.strip():
            seen.setdefault(word.strip().lower())
    return list(seen)


def story_prompt(
    request: StoryRequest, sentences: int, style: str = "guarded", avoid: Sequence[str] = ()
) -> tuple[str, str]:
    """(user message, opening of the assistant's turn). The opening is the story's first
    word, which fixes the person and skips any preamble ("Sure! Here is a story ...").

    `style` "guarded" (the default) states the rule first, shows one story that keeps it
    (about hunger, which is not an emotion of any list, so it leans on no emotion) and
    ends with the story's particulars and the words to avoid (`avoid`); "listed" is the
    same without the example; "plain" is the first prompt of this project, one sentence
    naming only the emotion word. Measured on the 1.5B writer (bench/RESULTS.md): listing
    the words alone raises the share of stories that name the emotion, the example lowers
    it."""
    emotion = request.emotion
    if request.person == "first":
        who = "yourself, in the first person (I, me, my),"
        opening = "I"
    else:
        who = f"{request.character}, in the third person ({request.pronoun}),"
        opening = request.character
    if style == "plain":
        user = (
            f"Write a short story of {sentences} sentences about {who} who feels {emotion} "
            f"while {request.topic}. Never use the word '{emotion}' or any word that means "
            "the same: show the feeling only through what the character does, thinks, says "
            "and notices. Write only the story, no title."
        )
        return user, opening
    if style not in ("guarded", "listed"):
        raise ValueError(f"unknown story prompt style {style!r} (guarded, listed or plain)")
    words = ", ".join(avoid or [emotion])
    rules = GUARDED_RULES.format(sentences=sentences) + (EXAMPLE if style == "guarded" else "")
    user = rules + (
        f"Now a story about {_who(request)} who feels {emotion} while {request.topic}. "
        f"Never use: {words}."
    )
    return user, opening


def _who(request: StoryRequest) -> str:
    if request.person == "first":
        return "yourself, told in the first person (I),"
    return f"{request.character} ({request.pronoun})"


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
    prompt: str = "guarded"
    synonyms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    forms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def fingerprint(self, emotion: str) -> dict:
        """What determines one emotion's stories. Not the batch size, nor which emotions
        share a batch: every story draws from its own seed (emotion_vectors/sampling.py)."""
        return {
            "format": STORY_FORMAT,
            "topics": list(self.topics),
            "stories_per_topic": self.stories_per_topic,
            "sentences": self.sentences,
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "seed": self.seed,
            "prompt": self.prompt,
            "max_attempts": self.max_attempts,
            "min_words": self.min_words,
            "synonyms": sorted(self.synonyms.get(emotion, ())),
            "forms": sorted(self.forms.get(emotion, ())),
        }


def story_seed(seed: int, request: StoryRequest, attempt: int) -> int:
    """The seed of one attempt at one story: independent of the batch it is sampled in and
    of which other emotions the run writes."""
    return row_seed(seed, request.emotion, request.index, attempt)


def story_cache_key(writer: Mapping, emotion: str, settings: WriterSettings) -> str:
    return cache_key(
        {"writer": dict(writer), "emotion": emotion, "settings": settings.fingerprint(emotion)}
    )


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


def _prompt_rows(tokenizer, batch: Sequence[StoryRequest], settings: WriterSettings):
    """Token ids of each request's chat prompt, ending in the story's opening word, and the
    openings."""
    rows, openings = [], []
    for req in batch:
        avoid = forbidden_words(
            req.emotion, settings.synonyms.get(req.emotion, ()), settings.forms.get(req.emotion, ())
        )
        user, opening = story_prompt(req, settings.sentences, settings.prompt, avoid)
        chat = tokenizer.apply_chat_template(
            [{"role": "user", "content": user}], add_generation_prompt=True, tokenize=False
        )
        rows.append(tokenizer(chat + opening, add_special_tokens=False)["input_ids"])
        openings.append(opening)
    return rows, openings


def stop_token_ids(model, tokenizer) -> list[int]:
    """End-of-sequence ids of the tokenizer and of the model's generation config (Qwen ends
    its turn with <|im_end|>, which only the latter names)."""
    ids = {tokenizer.eos_token_id}
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids.update(configured if isinstance(configured, list) else [configured])
    return sorted(i for i in ids if i is not None)


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


EmotionDone = Callable[[str, pd.DataFrame, dict], None]


@dataclass
class _Queue:
    """Open requests (with their attempt number) and each emotion's progress."""

    order: dict[str, int]
    pending: list[tuple[StoryRequest, int]]
    open: dict[str, int]
    given_up: dict[str, int]

    def next_batch(self, size: int) -> list[tuple[StoryRequest, int]]:
        """The first `size` open requests in (emotion, story) order: a rejected story is
        written again in the next batch, and emotions finish one after another."""
        self.pending.sort(key=lambda item: (self.order[item[0].emotion], item[0].index))
        batch, self.pending = self.pending[:size], self.pending[size:]
        return batch

    def batches(self, size: int):
        while self.pending:
            yield self.next_batch(size)


def write_stories(
    model,
    tokenizer,
    emotions: Sequence[str],
    settings: WriterSettings,
    throughput: Throughput,
    on_emotion: EmotionDone | None = None,
) -> dict[str, tuple[pd.DataFrame, dict]]:
    """All stories of `emotions`, rejecting any that names its emotion (a listed word form,
    an inflection or a synonym) or is shorter than `min_words`, and writing those again
    (next attempt, its own seed) up to `max_attempts` times.

    Batches mix emotions (`_Queue.next_batch`); `on_emotion(emotion, stories, statistics)`
    is called as each emotion finishes (the job stores it then, so a killed run keeps every
    finished emotion). Returns {emotion: (accepted stories, rejection statistics)}."""
    requests = {e: story_requests(e, settings.topics, settings.stories_per_topic) for e in emotions}
    queue = _Queue(
        order={e: i for i, e in enumerate(emotions)},
        pending=[(req, 1) for e in emotions for req in requests[e]],
        open={e: len(r) for e, r in requests.items()},
        given_up=dict.fromkeys(emotions, 0),
    )
    patterns = {
        e: forbidden_pattern(e, settings.synonyms.get(e, ()), settings.forms.get(e, ()))
        for e in emotions
    }
    tallies = {e: EmotionTally() for e in emotions}
    stops = stop_token_ids(model, tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stops[0]
    done: dict[str, tuple[pd.DataFrame, dict]] = {}
    label = f"stories ({len(queue.pending)} requested): batches"
    for batch in progress(queue.batches(settings.batch_size), label):
        rows, openings = _prompt_rows(tokenizer, [req for req, _ in batch], settings)
        t0, c0 = time.perf_counter(), time.process_time()
        sampled = sample_rows(
            model,
            rows,
            [story_seed(settings.seed, req, attempt) for req, attempt in batch],
            max_new_tokens=settings.max_new_tokens,
            temperature=settings.temperature,
            top_p=settings.top_p,
            stop_ids=stops,
            pad_id=pad,
        )
        n_new = sum(len(x.tokens) for x in sampled)
        throughput.add(time.perf_counter() - t0, time.process_time() - c0, n_new, len(batch))
        for (req, attempt), opening, out in zip(batch, openings, sampled, strict=True):
            tally = tallies[req.emotion]
            tally.generated += 1
            story = clean_story(opening, tokenizer.decode(out.tokens, skip_special_tokens=True))
            if tally.judge(req, story, attempt, patterns[req.emotion], settings.min_words):
                queue.open[req.emotion] -= 1
            elif attempt < settings.max_attempts:
                queue.pending.append((req, attempt + 1))
            else:
                queue.open[req.emotion] -= 1
                queue.given_up[req.emotion] += 1
            if queue.open[req.emotion] == 0 and req.emotion not in done:
                accepted = [tally.accepted[i] for i in sorted(tally.accepted)]
                df = pd.DataFrame(accepted, columns=STORY_COLUMNS)
                stats = tally.stats(len(requests[req.emotion]), queue.given_up[req.emotion])
                done[req.emotion] = (df, stats)
                if on_emotion is not None:
                    on_emotion(req.emotion, df, stats)
    return done


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
        **{
            k: section[k]
            for k in WriterSettings.__dataclass_fields__
            if k not in _FILES and k in section
        },
    )
