"""Human-labelled data shipped with the workflow (config/datasets/, licences in
DATA-LICENSES.md): read, and checked against the sha256 the run config gives for them.

- EmoBank (Buechel & Hahn 2017, CC BY-SA 4.0): 10,062 English sentences, each rated by
  readers and writers for valence, arousal and dominance on 1..5 (the `V`, `A`, `D` columns
  of emobank.csv are the weighted reader+writer means), with the published train/dev/test
  split in the `split` column.
- The Glasgow Norms (Scott et al. 2019, CC BY 4.0): 5,553 English words rated on nine
  scales, 1..9; we read the mean valence (VAL) and arousal (AROU) of each word.

The workflow never downloads: the files are in the repository, and a config entry for a
dataset is {path, sha256}. A file whose checksum differs (edited, truncated, another
version) stops the run at parse time with the file, the key and both checksums.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path


class DatasetError(ValueError):
    """A problem with a dataset file, naming the file (and line or column) at fault."""


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checksum_problem(path: str | Path, expected: str) -> str | None:
    """None when the file exists and has the expected sha256; else what is wrong."""
    path = Path(path)
    if not path.is_file():
        return f"{path} does not exist"
    actual = sha256_of(path)
    if actual != expected.lower():
        return (
            f"{path} has sha256 {actual}, but the config says {expected}: "
            "the file is not the recorded version (edited, truncated or replaced)"
        )
    return None


@dataclass(frozen=True)
class Sentence:
    id: str
    split: str
    valence: float
    arousal: float
    dominance: float
    text: str


EMOBANK_COLUMNS = ("id", "split", "V", "A", "D", "text")
EMOBANK_SPLITS = ("train", "dev", "test")


def read_emobank(path: str | Path, splits: tuple[str, ...] = EMOBANK_SPLITS) -> list[Sentence]:
    """The sentences of the given splits, in file order, empty texts dropped."""
    path = Path(path)
    out: list[Sentence] = []
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in EMOBANK_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DatasetError(f"{path}: missing column(s) {', '.join(missing)}")
        for number, row in enumerate(reader, start=2):
            if row["split"] not in EMOBANK_SPLITS:
                raise DatasetError(f"{path}: line {number}: unknown split {row['split']!r}")
            if row["split"] not in splits or not row["text"].strip():
                continue
            try:
                v, a, d = float(row["V"]), float(row["A"]), float(row["D"])
            except ValueError:
                raise DatasetError(f"{path}: line {number}: a rating is not a number") from None
            out.append(Sentence(row["id"], row["split"], v, a, d, row["text"].strip()))
    return out


@dataclass(frozen=True)
class WordNorm:
    valence: float
    arousal: float


def read_glasgow(path: str | Path) -> dict[str, WordNorm]:
    """{word: (mean valence, mean arousal)} from the Glasgow Norms supplement CSV (two header
    rows: the scale names, then M / SD / N under each). Words are lower-cased; the few that
    the norms rate in two senses ("bank (money)") are kept under their full label."""
    path = Path(path)
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = csv.reader(handle)
        scales = next(rows, [])
        stats = next(rows, [])
        try:
            val, aro = scales.index("VAL"), scales.index("AROU")
        except ValueError:
            raise DatasetError(f"{path}: header row has no VAL and AROU columns") from None
        if stats[val] != "M" or stats[aro] != "M":
            raise DatasetError(f"{path}: second header row must give M under VAL and AROU")
        norms: dict[str, WordNorm] = {}
        for number, row in enumerate(rows, start=3):
            if not row or not row[0].strip():
                continue
            try:
                norms[row[0].strip().lower()] = WordNorm(float(row[val]), float(row[aro]))
            except (ValueError, IndexError):
                raise DatasetError(f"{path}: line {number}: VAL or AROU is not a number") from None
    return norms
