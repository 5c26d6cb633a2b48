"""The rule of the story corpus and the implicit scenarios: a text about an emotion must not
name it. `forbidden_pattern` matches the emotion word, its inflections ("happy", "happily",
"happiness", "happier") and configured synonyms (each inflected the same way) as whole
words in any case; multi-word emotions ("at ease", "worn out", "grief-stricken") match with
spaces or hyphens between their words. Reviewed word forms (config/emotions/word-forms.yaml,
see wordforms.py) add the derivations no suffix rule finds ("stress" for "stressed",
"jealousy" for "jealous"); `naming_emotions` checks a text against many emotions at once."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType

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


def _form_regex(form: str) -> str:
    """One listed word form as written; its hyphen also matches spaces ("worn-out")."""
    return r"[\s-]+".join(re.escape(w) for w in re.split(r"[\s-]+", form.strip().lower()))


def forbidden_pattern(
    emotion: str, synonyms: Sequence[str] = (), forms: Sequence[str] = ()
) -> re.Pattern[str]:
    """Matches the emotion, its inflections, its synonyms and the given word `forms` (each
    exactly, not inflected further) as whole words, any case."""
    alternatives = [_phrase_regex(p) for p in [emotion, *synonyms] if p.strip()]
    # Longest first, so that "grief-stricken" is reported rather than "grief".
    listed = sorted({f.strip().lower() for f in forms if f.strip()}, key=len, reverse=True)
    alternatives += [_form_regex(f) for f in listed]
    return re.compile(r"(?<![A-Za-z])(?:" + "|".join(alternatives) + r")(?![A-Za-z])", re.I)


@functools.lru_cache(maxsize=4096)
def _cached_pattern(
    emotion: str, synonyms: tuple[str, ...], forms: tuple[str, ...]
) -> re.Pattern[str]:
    return forbidden_pattern(emotion, synonyms, forms)


_NO_SYNONYMS: Mapping[str, Sequence[str]] = MappingProxyType({})


def naming_emotions(
    text: str,
    emotions: Sequence[str],
    table: Mapping[str, Sequence[str]],
    synonyms: Mapping[str, Sequence[str]] = _NO_SYNONYMS,
) -> list[tuple[str, str]]:
    """(emotion, matched text) for every emotion of `emotions` that `text` names: the emotion
    with its generated inflections, its listed word forms in `table` and its `synonyms`.
    Empty when the text names none. Patterns are compiled once and cached."""
    found = []
    for emotion in emotions:
        pattern = _cached_pattern(
            emotion, tuple(synonyms.get(emotion, ())), tuple(table.get(emotion, ()))
        )
        word = find_forbidden(text, pattern)
        if word is not None:
            found.append((emotion, word))
    return found


def find_forbidden(text: str, pattern: re.Pattern[str]) -> str | None:
    """The first forbidden word in `text`, or None when the text obeys the rule."""
    match = pattern.search(text)
    return match.group(0) if match else None
