"""Human norms for emotion words: valence from the VADER lexicon, valence and arousal from
the Glasgow Norms (shipped, config/datasets/), arousal from a user CSV when one is given.

Valence comes from `vader_lexicon.txt`, shipped (MIT licence) inside the vaderSentiment
package: each line is `token<TAB>mean<TAB>sd<TAB>[ten ratings]`, the mean of ten human
ratings on a -4 (most negative) .. +4 (most positive) scale. It rates single tokens, so an
emotion gets a valence only when its exact name is a token there (hyphenated words such as
"self-confident" are tokens). Multi-word emotions ("at ease", "worn out", "on edge") stay
unknown: building a phrase rating from its words ("worn" is -1.2, "edge" is not rated)
would be our guess, not a human rating. On the paper's 171 emotions that leaves 139 rated.

The Glasgow Norms (Scott et al. 2019, CC BY 4.0; emotion_vectors/datasets.py) rate 5,553
words for valence and arousal on 1..9. They rate 82 of the 171 emotion words exactly; for
the others we take the first form of the emotion's reviewed word-form list
(config/emotions/word-forms.yaml: the same lexeme family, never a synonym) that the norms
rate ("amazed" -> "amaze", "panicked" -> "panic"), and record which word was used. On the
171 that gives 115 rated (82 exact, 33 via a form); multi-word emotions stay unrated
unless a listed form is rated.

The usual arousal norms (Warriner et al. 2013, NRC VAD) may not be redistributed; users
may point `geometry.arousal_csv` at their own copy (columns `word` and `arousal`), which
then replaces the Glasgow arousal.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import TYPE_CHECKING

# numpy only where it is used: the config check (Snakefile parse time) reads norms files.
if TYPE_CHECKING:
    import numpy as np

VADER_PACKAGE = "vaderSentiment"
VADER_FILE = "vader_lexicon.txt"


class NormsError(ValueError):
    """A problem with a norms file, naming the file (and line or column) at fault."""


def vader_lexicon_path() -> Path:
    """The lexicon file inside the installed vaderSentiment package."""
    try:
        path = resources.files(VADER_PACKAGE).joinpath(VADER_FILE)
    except ModuleNotFoundError:
        raise NormsError(
            f"the {VADER_PACKAGE} package is not installed (pip install vadersentiment==3.3.2); "
            "it provides the human valence ratings"
        ) from None
    if not path.is_file():
        raise NormsError(f"{VADER_FILE} not found inside the installed {VADER_PACKAGE} package")
    return Path(str(path))


def vader_source() -> str:
    """Where the valence numbers came from, for outputs."""
    try:
        version = metadata.version(VADER_PACKAGE)
    except metadata.PackageNotFoundError:
        version = "unknown version"
    return f"VADER lexicon ({VADER_PACKAGE} {version}, {VADER_FILE}; mean rating, -4..4)"


def read_vader_lexicon(path: str | Path | None = None) -> dict[str, float]:
    """{token: mean valence} from a VADER lexicon file (default: the installed one)."""
    path = vader_lexicon_path() if path is None else Path(path)
    lexicon: dict[str, float] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2:
            raise NormsError(f"{path}: line {number}: expected token<TAB>mean<TAB>...")
        try:
            lexicon[fields[0]] = float(fields[1])
        except ValueError:
            raise NormsError(
                f"{path}: line {number}: mean rating {fields[1]!r} is not a number"
            ) from None
    return lexicon


def read_arousal_csv(path: str | Path) -> dict[str, float]:
    """{word: arousal} from a CSV with (at least) the columns `word` and `arousal`.

    Words are compared in lower case, so "Calm" in the file matches the emotion "calm".
    A word listed twice is an error rather than a silent choice between two ratings.
    """
    path = Path(path)
    if not path.is_file():
        raise NormsError(f"{path}: arousal norms file not found (geometry.arousal_csv)")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        columns = [c.strip() for c in (reader.fieldnames or [])]
        missing = [c for c in ("word", "arousal") if c not in columns]
        if missing:
            raise NormsError(
                f"{path}: missing column(s) {', '.join(missing)}; the file needs the columns "
                f"'word' and 'arousal' (found: {', '.join(columns) or 'none'})"
            )
        reader.fieldnames = columns
        norms: dict[str, float] = {}
        for row in reader:
            line = reader.line_num
            word = (row["word"] or "").strip().lower()
            value = (row["arousal"] or "").strip()
            if not word:
                raise NormsError(f"{path}: line {line}: column 'word' is empty")
            try:
                arousal = float(value)
            except ValueError:
                raise NormsError(
                    f"{path}: line {line}: column 'arousal' of {word!r} is {value!r}, not a number"
                ) from None
            if not math.isfinite(arousal):
                raise NormsError(f"{path}: line {line}: column 'arousal' of {word!r} is {value}")
            if word in norms:
                raise NormsError(f"{path}: line {line}: word {word!r} is listed twice")
            norms[word] = arousal
    if not norms:
        raise NormsError(f"{path}: no rows under the header")
    return norms


def norms_for(emotions: Sequence[str], norms: Mapping[str, float]) -> np.ndarray:
    """One rating per emotion (exact, lower-case match), NaN where the norms lack it."""
    import numpy as np

    return np.array([norms.get(e.lower(), np.nan) for e in emotions], dtype=np.float64)


GLASGOW_SOURCE = "Glasgow Norms (Scott et al. 2019, CC BY 4.0; mean rating, 1..9)"
# The middle of the Glasgow scale (1..9) and of VADER's (-4..4): the sign of a rating.
GLASGOW_NEUTRAL = 5.0
VADER_NEUTRAL = 0.0


@dataclass(frozen=True)
class GlasgowMatch:
    """The Glasgow ratings of a run's emotions and the word each was read from."""

    valence: np.ndarray  # per emotion, NaN where no form is rated
    arousal: np.ndarray
    word: list[str]  # the rated word used ("" where none)
    match: list[str]  # "exact", "form" or "none"


def glasgow_for(
    emotions: Sequence[str], glasgow: Mapping, forms: Mapping[str, Sequence[str]]
) -> GlasgowMatch:
    """Each emotion's Glasgow valence and arousal: the emotion word itself when rated, else
    the first of its listed word forms that is rated (list order: the reviewed file puts
    the closest forms first), else NaN. `glasgow`: {word: WordNorm} (datasets.read_glasgow)."""
    import numpy as np

    from .wordforms import forms_of

    valence, arousal, words, matches = [], [], [], []
    for emotion in emotions:
        name = emotion.lower()
        listed = list(forms[emotion]) if emotion in forms else sorted(forms_of(emotion, forms))
        word = name if name in glasgow else next((f for f in listed if f in glasgow), "")
        rating = glasgow.get(word) if word else None
        valence.append(rating.valence if rating else np.nan)
        arousal.append(rating.arousal if rating else np.nan)
        words.append(word)
        matches.append("exact" if word == name else "form" if word else "none")
    return GlasgowMatch(np.array(valence), np.array(arousal), words, matches)


@dataclass(frozen=True)
class Norms:
    """Human ratings of a run's emotions, aligned with its emotion list."""

    valence: np.ndarray  # VADER, per emotion, NaN where unrated
    valence_source: str
    arousal: np.ndarray | None  # the user's CSV, else Glasgow; None when neither
    arousal_source: str | None
    glasgow: GlasgowMatch | None = None  # None when no Glasgow file is configured
    glasgow_source: str | None = None


def load_norms(
    emotions: Sequence[str],
    arousal_csv: str | None = None,
    glasgow_csv: str | None = None,
    word_forms: str | None = None,
) -> Norms:
    """VADER valence for every emotion; the Glasgow valence and arousal (with word-form
    fallback from the `word_forms` file) when `glasgow_csv` is given; arousal from the
    user's CSV when given, else from Glasgow."""
    from .datasets import read_glasgow
    from .wordforms import read_word_forms

    valence = norms_for(emotions, read_vader_lexicon())
    glasgow, source = None, None
    if glasgow_csv is not None:
        forms = read_word_forms(Path(word_forms)) if word_forms else {}
        glasgow = glasgow_for(emotions, read_glasgow(glasgow_csv), forms)
        # The file's name, not its path: results must not depend on where the project lies.
        source = f"{GLASGOW_SOURCE}: {Path(glasgow_csv).name}"
    if arousal_csv is not None:
        arousal = norms_for(emotions, read_arousal_csv(arousal_csv))
        return Norms(valence, vader_source(), arousal, arousal_csv, glasgow, source)
    if glasgow is not None:
        return Norms(valence, vader_source(), glasgow.arousal, source, glasgow, source)
    return Norms(valence, vader_source(), None, None)
