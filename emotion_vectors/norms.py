"""Human norms for emotion words: valence from the VADER lexicon, arousal from a user CSV.

Valence comes from `vader_lexicon.txt`, shipped (MIT licence) inside the vaderSentiment
package: each line is `token<TAB>mean<TAB>sd<TAB>[ten ratings]`, the mean of ten human
ratings on a -4 (most negative) .. +4 (most positive) scale. It rates single tokens, so an
emotion gets a valence only when its exact name is a token there (hyphenated words such as
"self-confident" are tokens). Multi-word emotions ("at ease", "worn out", "on edge") stay
unknown: building a phrase rating from its words ("worn" is -1.2, "edge" is not rated)
would be our guess, not a human rating. On the paper's 171 emotions that leaves 139 rated.

The usual arousal norms (Warriner et al. 2013, NRC VAD) may not be redistributed, so the
workflow ships none; users point `geometry.arousal_csv` at their own copy, reduced to the
two columns `word` and `arousal`.
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


@dataclass(frozen=True)
class Norms:
    """Human ratings of a run's emotions, aligned with its emotion list."""

    valence: np.ndarray  # per emotion, NaN where unrated
    valence_source: str
    arousal: np.ndarray | None  # None when no arousal file is configured
    arousal_source: str | None


def load_norms(emotions: Sequence[str], arousal_csv: str | None = None) -> Norms:
    """VADER valence for every emotion, and arousal from the user's CSV when given."""
    valence = norms_for(emotions, read_vader_lexicon())
    if arousal_csv is None:
        return Norms(valence, vader_source(), None, None)
    arousal = norms_for(emotions, read_arousal_csv(arousal_csv))
    return Norms(valence, vader_source(), arousal, arousal_csv)
