"""The rule of the story corpus and the implicit scenarios: a text about an emotion must not
name it. `forbidden_pattern` matches the emotion word, its inflections ("happy", "happily",
"happiness", "happier") and configured synonyms (each inflected the same way) as whole
words in any case; multi-word emotions ("at ease", "worn out", "grief-stricken") match with
spaces or hyphens between their words."""

from __future__ import annotations

import re
from collections.abc import Sequence

# Endings an English emotion adjective or noun takes ("calm" -> "calmly", "calmness",
# "calmer"); with the y -> i and drop-the-e variants below this covers the inflections of
# the paper's 171 words. Derived words with another stem ("anger" for "angry", "fear" for
# "afraid") are synonyms, listed in the synonyms file.
_SUFFIXES = ("", "s", "es", "d", "ed", "ly", "ness", "er", "est", "ing", "ment", "ments")
_Y_SUFFIXES = ("ies", "ied", "ily", "iness", "ier", "iest")
_E_SUFFIXES = ("ing", "ion", "ions", "edly", "ement", "ements", "ingly")


def word_forms(word: str) -> set[str]:
    """The word and its inflections, lower case."""
    word = word.lower()
    forms = {word + s for s in _SUFFIXES}
    if word.endswith("y") and len(word) > 2:
        forms |= {word[:-1] + s for s in _Y_SUFFIXES}
    if word.endswith("ed") and len(word) > 4:  # "excited" -> excite, exciting, excitement
        stem = word[:-2]
        forms |= {stem, stem + "e", stem + "es"} | {stem + s for s in _E_SUFFIXES}
        forms |= {stem + "e" + s for s in ("ment", "ments", "s")}
    if word.endswith("e") and len(word) > 3:
        forms |= {word[:-1] + s for s in _E_SUFFIXES}
    if word.endswith("ful"):  # "grateful" -> gratefully
        forms.add(word + "ly")
    if word.endswith("ic"):  # "nostalgic" -> nostalgically
        forms.add(word + "ally")
    return forms


def _phrase_regex(phrase: str) -> str:
    """A word or phrase with its inflections. Words of a phrase ("at ease", "worn out",
    "grief-stricken") may be separated by spaces or hyphens; only the last word inflects
    for single words, phrases match as written (plus a plural s)."""
    words = re.split(r"[\s-]+", phrase.strip().lower())
    if len(words) == 1:
        forms = sorted(word_forms(words[0]), key=len, reverse=True)
        return "(?:" + "|".join(re.escape(f) for f in forms) + ")"
    return r"[\s-]+".join(re.escape(w) for w in words) + "s?"


def forbidden_pattern(emotion: str, synonyms: Sequence[str] = ()) -> re.Pattern[str]:
    """Matches the emotion, its inflections and its synonyms as whole words, any case."""
    alternatives = [_phrase_regex(p) for p in [emotion, *synonyms] if p.strip()]
    return re.compile(r"(?<![A-Za-z])(?:" + "|".join(alternatives) + r")(?![A-Za-z])", re.I)


def find_forbidden(text: str, pattern: re.Pattern[str]) -> str | None:
    """The first forbidden word in `text`, or None when the text obeys the rule."""
    match = pattern.search(text)
    return match.group(0) if match else None
