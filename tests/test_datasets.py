"""The shipped human-labelled data: the files are the recorded versions, they read as
documented, and a file that is not the recorded version is refused with its path."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from emotion_vectors.datasets import (
    DatasetError,
    checksum_problem,
    read_emobank,
    read_glasgow,
    sha256_of,
)

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "config" / "datasets"
LICENCES = ROOT / "DATA-LICENSES.md"


def _recorded_checksums() -> dict[str, str]:
    """{file name: sha256} as DATA-LICENSES.md records them, section by section."""
    text = LICENCES.read_text()
    sections = re.findall(r"`config/datasets/([\w.-]+)`(.*?)(?=\n## |\Z)", text, re.S)
    return {
        name: re.search(r"\*\*sha256:\*\* `([0-9a-f]{64})`", body).group(1)
        for name, body in sections
    }


def test_every_shipped_file_is_the_recorded_version():
    recorded = _recorded_checksums()
    shipped = {p.name for p in DATA.iterdir() if p.is_file()}
    assert shipped == set(recorded), "DATA-LICENSES.md must list every file in config/datasets"
    for name, digest in recorded.items():
        assert sha256_of(DATA / name) == digest, name
        assert checksum_problem(DATA / name, digest.upper()) is None


def test_emobank_has_the_published_split():
    sentences = read_emobank(DATA / "emobank.csv")
    counts = {s: sum(x.split == s for x in sentences) for s in ("train", "dev", "test")}
    # 10,062 rows, a handful of them with an empty text (dropped).
    assert 10_000 <= len(sentences) <= 10_062
    assert 990 <= counts["test"] <= 1000 and 990 <= counts["dev"] <= 1000
    assert all(1.0 <= x.valence <= 5.0 and 1.0 <= x.arousal <= 5.0 for x in sentences)
    test = read_emobank(DATA / "emobank.csv", ("test",))
    assert [x.id for x in test] == [x.id for x in sentences if x.split == "test"]


def test_glasgow_rates_emotion_words_plausibly():
    norms = read_glasgow(DATA / "glasgow-norms.csv")
    assert len(norms) > 5000
    # Valence on 1..9: a pleasant word far above an unpleasant one; arousal likewise.
    assert norms["happy"].valence > 7 > 3 > norms["sad"].valence
    assert norms["calm"].arousal < norms["angry"].arousal


def test_a_changed_file_is_refused_naming_it(tmp_path):
    copy = tmp_path / "emobank.csv"
    shutil.copy(DATA / "emobank.csv", copy)
    digest = sha256_of(copy)
    with open(copy, "a") as handle:
        handle.write("x\n")
    problem = checksum_problem(copy, digest)
    assert problem is not None and str(copy) in problem and digest in problem
    assert "does not exist" in checksum_problem(tmp_path / "gone.csv", digest)


def test_malformed_files_name_the_line(tmp_path):
    bad = tmp_path / "bank.csv"
    bad.write_text("id,split,V,A,D,text\na,train,3,x,3,Hello\n")
    with pytest.raises(DatasetError, match=r"bank.csv: line 2: a rating is not a number"):
        read_emobank(bad)
    bad.write_text("id,split,V,A,D,text\na,holdout,3,3,3,Hello\n")
    with pytest.raises(DatasetError, match="unknown split 'holdout'"):
        read_emobank(bad)
    words = tmp_path / "norms.csv"
    words.write_text("Words,AROU,VAL\n,SD,M\nhappy,1,2\n")
    with pytest.raises(DatasetError, match="second header row"):
        read_glasgow(words)
