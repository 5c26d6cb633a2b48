"""File integrity of everything the workflow writes and later reads: the caches
(activations, word embeddings, EmoBank sentences, the steering, preference and attention-sink
nulls, ...) and every job's outputs (activations, vectors, summaries, figures, ...).

Atomic writes keep a killed run from leaving a half-written file, but not a disk that fills
up during a copy, a sync that stops half-way or a flipped byte: those leave a damaged file
under its final name. So every cache entry gets a sidecar, `<entry>.sha256` (the SHA-256 and
size of its bytes, written atomically after the entry), and an entry whose bytes no longer
match is treated as absent: removed, with one warning, and recomputed. The checksum is about
the file's bytes, not what they mean, so it keys nothing and no cache key changes.

Outputs are what Snakemake decides on, and it looks only at their existence and mtimes. So
each job, once it has succeeded, seals its outputs (`seal`: checksum, size and mtime under
`results/.seals/`), and `heal_sealed`, called when the workflow is parsed, removes every
output whose bytes no longer match (hashing only those whose size or mtime changed):
Snakemake then reruns the job that writes it, before any job that would read it. The
public readers (`emotion_vectors.load_vectors` and friends) check the full hash
(`verified`), so a damaged file is an error that names it, never a silent NaN.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

log = logging.getLogger("emotion_vectors")

SIDECAR_SUFFIX = ".sha256"
# Seals of finished outputs: <results>/.seals/<output relative to results>.json.
SEALS = ".seals"


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sidecar(entry: str | Path) -> Path:
    """The checksum file beside a cache entry: `<key>.parquet.sha256`."""
    entry = Path(entry)
    return entry.with_name(entry.name + SIDECAR_SUFFIX)


def write_sidecar(entry: str | Path) -> None:
    """Record the entry's checksum; call it after the entry is in place, so that a sidecar
    never describes bytes that are not there yet."""
    from .store import write_json_atomic  # numpy and pyarrow: not at Snakefile parse time

    write_json_atomic(
        {"sha256": file_sha256(entry), "bytes": os.path.getsize(entry)}, sidecar(entry)
    )


def _read_sidecar(entry: Path) -> dict | None:
    try:
        data = json.loads(sidecar(entry).read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(data, dict) and isinstance(data.get("sha256"), str)
    return data if ok and isinstance(data.get("bytes"), int) else None


def _readable(entry: Path) -> str | None:
    """Why the Parquet file cannot be read in full, or None."""
    import pyarrow.parquet as pq

    try:
        pq.read_table(entry)
    except Exception as err:  # pyarrow raises several types for a damaged file
        return f"unreadable: {str(err).splitlines()[0] if str(err) else type(err).__name__}"
    return None


def entry_problem(entry: str | Path) -> str | None:
    """Why an existing cache entry cannot be trusted, or None when it can.

    An entry without a (readable) sidecar was written before checksums existed, or its
    writer was killed between the entry and the sidecar: entries are written atomically,
    so one that reads in full is complete, and gets its sidecar now instead of being
    recomputed."""
    entry = Path(entry)
    recorded = _read_sidecar(entry)
    if recorded is None:
        problem = _readable(entry)
        if problem is None:
            write_sidecar(entry)
        return problem and f"{problem}, and no checksum recorded"
    size = entry.stat().st_size
    if size != recorded["bytes"]:
        return f"{size} bytes where {recorded['bytes']} were written"
    if file_sha256(entry) != recorded["sha256"]:
        return "its SHA-256 differs from the one recorded when it was written"
    return None


def usable_entry(entry: str | Path) -> bool:
    """Whether a cache entry exists and its bytes are those that were written. A corrupt
    entry is removed (with its sidecar) and logged once, so the caller recomputes it and a
    second look finds it simply absent."""
    entry = Path(entry)
    if not entry.exists():
        return False
    problem = entry_problem(entry)
    if problem is None:
        return True
    log.warning("corrupt cache entry %s (%s): removed, to be recomputed", entry, problem)
    entry.unlink(missing_ok=True)
    sidecar(entry).unlink(missing_ok=True)
    return False


def read_checked_table(entry: str | Path):
    """The pyarrow Table of a cache entry whose bytes are those that were written, else None
    (absent, or corrupt: then removed and logged by `usable_entry`, so the caller recomputes
    it). Readers of a cache never get unverified data."""
    if not usable_entry(entry):
        return None
    import pyarrow.parquet as pq

    return pq.read_table(entry)


def write_checked_table(table, entry: str | Path) -> None:
    """Write a cache entry atomically, then its checksum (what `read_checked_table` checks)."""
    from .store import write_parquet_atomic

    write_parquet_atomic(table, entry)
    write_sidecar(entry)


def file_record(path: str | Path) -> dict:
    """What a seal records of a finished output: checksum, size, mtime."""
    stat = os.stat(path)
    return {"sha256": file_sha256(path), "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def seal_path(path: str | Path, root: str | Path) -> Path | None:
    """Where the seal of `path` lives: <root>/.seals/<path relative to root>.json; None for a
    file outside `root`. Relative paths, so a moved results folder keeps its seals."""
    rel = os.path.relpath(path, root)
    if rel == os.curdir or rel.split(os.sep, 1)[0] in (os.pardir, SEALS):
        return None
    return Path(root, SEALS, rel + ".json")


def seal(paths: Sequence[str | Path], root: str | Path) -> None:
    """Record what a job has just written (every output under `root`): called when the job
    has succeeded, so a seal never describes a file that is not finished."""
    from .store import write_json_atomic  # numpy and pyarrow: not at Snakefile parse time

    for path in paths:
        where = seal_path(path, root)
        if where is not None and os.path.isfile(path):
            write_json_atomic(file_record(path), where)


def _read_seal(where: Path) -> dict | None:
    try:
        data = json.loads(where.read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(data, dict) and isinstance(data.get("sha256"), str)
    return data if ok and isinstance(data.get("bytes"), int) else None


def published_problem(path: Path, recorded: Mapping, strict: bool = False) -> str | None:
    """Why a finished output no longer holds the bytes its job wrote, or None. Cheap when
    nothing changed: unless `strict`, the bytes are hashed only when size or mtime differ."""
    stat = path.stat()
    if stat.st_size != recorded.get("bytes"):
        return f"{stat.st_size} bytes where {recorded.get('bytes')} were written"
    if not strict and stat.st_mtime_ns == recorded.get("mtime_ns"):
        return None
    if file_sha256(path) != recorded.get("sha256"):
        return "its SHA-256 differs from the one recorded when it was written"
    return None


def sealed_problem(path: str | Path, root: str | Path, strict: bool = True) -> str | None:
    """Why `path` cannot be trusted, or None: it is not sealed (written before seals, or not
    by the workflow) or its bytes are those its job wrote."""
    where = seal_path(path, root)
    if where is None or not where.exists():
        return None
    recorded = _read_seal(where)
    if recorded is None:
        return f"its seal {where} is unreadable"
    return published_problem(Path(path), recorded, strict=strict)


class CorruptOutput(OSError):
    """A result file whose bytes are not those its job wrote."""


def verified(path: str | Path, root: str | Path) -> Path:
    """`path`, after checking its bytes against its seal (hashed in full): what the readers
    of results call, so they never return the numbers of a damaged file."""
    problem = sealed_problem(path, root, strict=True)
    if problem:
        raise CorruptOutput(
            f"{path} is corrupt ({problem}); run the workflow again (snakemake --cores 1): "
            "it removes the file and recomputes it"
        )
    return Path(path)


def heal_sealed(root: str | Path, remove: bool = True) -> list[str]:
    """Remove every sealed output under `root` whose bytes no longer match its seal (and its
    seal), so that Snakemake reruns the job that writes it (its output is missing); one
    warning per file, returned. A file whose seal is unreadable cannot be checked and goes
    too. A seal whose file is gone is dropped (a missing output is Snakemake's to notice).
    Files without a seal are left alone. With `remove=False` (a dry run, which must change
    nothing) the warnings only report them."""
    seals = Path(root, SEALS)
    if not seals.is_dir():
        return []
    fate = "removed, so" if remove else "left in place by this dry run; on a real run removed, so"
    warnings = []
    for where in sorted(seals.rglob("*.json")):
        path = Path(root, str(where.relative_to(seals))[: -len(".json")])
        if not path.is_file():
            if remove:
                where.unlink(missing_ok=True)
            continue
        recorded = _read_seal(where)
        problem = (
            published_problem(path, recorded) if recorded else f"its seal {where} is unreadable"
        )
        if problem:
            if remove:
                path.unlink()
                where.unlink(missing_ok=True)
            warnings.append(f"{path} is corrupt ({problem}): {fate} its job runs again")
    return warnings
