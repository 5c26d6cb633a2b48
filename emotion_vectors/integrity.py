"""File integrity of the caches (activations, EmoBank sentences, the steering, preference and
attention-sink nulls) and of what the extraction job publishes from the activation cache.

Atomic writes keep a killed run from leaving a half-written file, but not a disk that fills
up during a copy or a sync that stops half-way: those leave a truncated file under its
final name. So every cache entry gets a sidecar, `<entry>.sha256` (the SHA-256 and size of
its bytes, written atomically after the entry), and an entry whose bytes no longer match is
treated as absent: removed, with one warning, and recomputed. The checksum is about the
file's bytes, not what they mean, so it keys nothing and no cache key changes.

Published files (results/<model>/<corpus>/activations/*.parquet, ...) are hard links to
cache entries or copies of them, and Snakemake looks only at their existence and mtimes. So
the extraction report records each one's checksum, size and mtime, and `heal_published`,
called when the workflow is parsed, removes any whose bytes no longer match: Snakemake then
reruns that extraction job, which finds the corrupt entry and recomputes just that group.
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
    """What `heal_published` compares a published file against: checksum, size, mtime."""
    stat = os.stat(path)
    return {"sha256": file_sha256(path), "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def published_records(paths: Sequence[str | Path], folder: str | Path) -> dict[str, dict]:
    """{path relative to `folder` (the report's): record}, so the records stay valid when
    the results folder is moved or read from another working directory."""
    return {os.path.relpath(p, folder): file_record(p) for p in paths}


def published_problem(path: Path, recorded: Mapping) -> str | None:
    """Why a published file no longer holds the bytes it was published with, or None. Cheap
    when nothing changed: the bytes are hashed only when size or mtime differ."""
    stat = path.stat()
    if stat.st_size != recorded.get("bytes"):
        return f"{stat.st_size} bytes where {recorded.get('bytes')} were published"
    if stat.st_mtime_ns == recorded.get("mtime_ns"):
        return None
    if file_sha256(path) != recorded.get("sha256"):
        return "its SHA-256 differs from the one recorded when it was published"
    return None


def heal_published(report: str | Path, remove: bool = True) -> list[str]:
    """Remove every file an extraction report lists whose bytes no longer match, so that
    Snakemake reruns the job (its output is missing); one warning per removed file, returned.
    An unreadable report is removed too: the job that rewrites it checks every cache entry.
    Files the report does not list (results from before checksums) are left alone. With
    `remove=False` (a dry run, which must change nothing) the warnings only report them."""
    report = Path(report)
    if not report.exists():
        return []
    try:
        data = json.loads(report.read_text())
    except (OSError, ValueError):
        data = None
    files = data.get("files", {}) if isinstance(data, dict) else None
    fate = "removed, so" if remove else "left in place by this dry run; on a real run removed, so"
    if not isinstance(files, dict):
        if remove:
            report.unlink(missing_ok=True)
        return [f"{report} is unreadable: {fate} its extraction job runs again"]
    warnings = []
    for name, recorded in files.items():
        path = report.parent / name
        problem = path.exists() and published_problem(path, dict(recorded or {}))
        if problem:
            if remove:
                path.unlink()
            warnings.append(f"{path} is corrupt ({problem}): {fate} it is recomputed")
    return warnings
