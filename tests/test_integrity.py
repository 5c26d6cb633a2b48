"""Checksums of cache entries and published files: a corrupt one is noticed, reported once
and removed, an intact one is left alone (and, unchanged, not even hashed)."""

from __future__ import annotations

import json
import logging
import os

import pyarrow as pa
import pytest

from emotion_vectors import integrity
from emotion_vectors.config import ConfigError
from emotion_vectors.integrity import (
    CorruptOutput,
    entry_problem,
    heal_sealed,
    seal,
    seal_path,
    sidecar,
    usable_entry,
    verified,
    write_sidecar,
)
from emotion_vectors.run_config import load_run_config
from emotion_vectors.store import link_or_copy, write_parquet_atomic


def _entry(folder, name="0123abcd.parquet", checksum=True):
    path = folder / name
    write_parquet_atomic(pa.table({"x": list(range(2000))}), path)
    if checksum:
        write_sidecar(path)
    return path


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_an_intact_entry_is_usable(tmp_path):
    entry = _entry(tmp_path)
    assert json.loads(sidecar(entry).read_text())["bytes"] == entry.stat().st_size
    assert usable_entry(entry)
    assert not usable_entry(tmp_path / "absent.parquet")


def test_a_truncated_entry_is_removed_with_one_warning(tmp_path, caplog):
    entry = _entry(tmp_path)
    _truncate(entry)
    with caplog.at_level(logging.WARNING, logger="emotion_vectors"):
        assert not usable_entry(entry)
        assert not usable_entry(entry)  # the second look finds it absent, silently
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and str(entry) in warnings[0]
    assert "bytes where" in warnings[0]
    assert not entry.exists() and not sidecar(entry).exists()


def test_a_changed_byte_is_caught_by_the_checksum(tmp_path):
    entry = _entry(tmp_path)
    data = bytearray(entry.read_bytes())
    data[len(data) // 2] ^= 0xFF
    entry.write_bytes(bytes(data))
    assert "SHA-256" in entry_problem(entry)


def test_an_entry_without_checksum_is_adopted_when_it_reads_in_full(tmp_path):
    # Written before checksums existed, or its writer was killed before the sidecar.
    entry = _entry(tmp_path, checksum=False)
    assert usable_entry(entry)
    assert sidecar(entry).exists()
    broken = _entry(tmp_path, "broken.parquet", checksum=False)
    _truncate(broken)
    assert "no checksum" in entry_problem(broken)
    assert not usable_entry(broken) and not broken.exists()


def test_an_unreadable_sidecar_counts_as_none(tmp_path):
    entry = _entry(tmp_path)
    sidecar(entry).write_text('{"sha2')
    assert usable_entry(entry)
    assert json.loads(sidecar(entry).read_text())["bytes"] == entry.stat().st_size


def _published(tmp_path):
    """A results folder with two sealed outputs, hard links to cache entries as the
    extraction job publishes them."""
    root = tmp_path / "results"
    cache = root / "m" / "cache"
    outputs = []
    for name in ("happy", "sad"):
        entry = _entry(cache, f"{name}-key.parquet")
        outputs.append(root / "m" / "templates" / "activations" / f"{name}.parquet")
        link_or_copy(entry, outputs[-1])
    seal(outputs, root)
    return root, outputs


def test_intact_sealed_outputs_are_not_hashed(tmp_path, monkeypatch):
    root, outputs = _published(tmp_path)
    seals = sorted(str(p.relative_to(root)) for p in (root / ".seals").rglob("*.json"))
    assert seals == [
        ".seals/m/templates/activations/happy.parquet.json",
        ".seals/m/templates/activations/sad.parquet.json",
    ]

    def no_hashing(path):
        raise AssertionError(f"hashed {path}")

    monkeypatch.setattr(integrity, "file_sha256", no_hashing)
    assert heal_sealed(root) == []
    assert all(p.exists() for p in outputs)


def test_a_touched_but_intact_output_is_kept(tmp_path):
    root, outputs = _published(tmp_path)
    stat = outputs[0].stat()
    os.utime(outputs[0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert heal_sealed(root) == []
    assert outputs[0].exists()
    assert verified(outputs[0], root) == outputs[0]


def test_a_truncated_output_is_removed_with_one_warning(tmp_path):
    root, outputs = _published(tmp_path)
    entry = root / "m" / "cache" / "sad-key.parquet"
    linked = os.path.samefile(entry, outputs[1])
    _truncate(outputs[1])
    warnings = heal_sealed(root)
    assert len(warnings) == 1 and str(outputs[1]) in warnings[0], warnings
    assert "bytes where" in warnings[0] and "its job runs again" in warnings[0]
    assert not outputs[1].exists() and outputs[0].exists()
    assert not seal_path(outputs[1], root).exists()
    # Behind a hard link the cache entry is truncated too: the job's own check catches it.
    assert usable_entry(entry) is not linked
    assert heal_sealed(root) == []  # a missing output is Snakemake's to notice


def test_a_dry_run_reports_a_corrupt_output_and_changes_nothing(tmp_path):
    root, outputs = _published(tmp_path)
    _truncate(outputs[1])
    before = outputs[1].read_bytes()
    warnings = heal_sealed(root, remove=False)
    assert len(warnings) == 1 and str(outputs[1]) in warnings[0] and "dry run" in warnings[0]
    assert outputs[1].read_bytes() == before
    seal_path(outputs[0], root).write_text('{"sha256": "ab')
    warnings = heal_sealed(root, remove=False)
    assert len(warnings) == 2 and "unreadable" in warnings[0], warnings
    assert outputs[0].exists() and seal_path(outputs[0], root).exists()


def test_same_size_different_bytes_is_caught_on_parse_and_on_read(tmp_path):
    root, outputs = _published(tmp_path)
    data = bytearray(outputs[0].read_bytes())
    data[100] ^= 0xFF
    outputs[0].unlink()  # break the hard link: the cache entry stays intact
    outputs[0].write_bytes(bytes(data))
    with pytest.raises(CorruptOutput, match="SHA-256") as info:
        verified(outputs[0], root)
    assert str(outputs[0]) in str(info.value) and "snakemake" in str(info.value)
    warnings = heal_sealed(root)
    assert len(warnings) == 1 and "SHA-256" in warnings[0]
    assert not outputs[0].exists()


def test_a_reader_hashes_in_full_even_when_size_and_mtime_match(tmp_path):
    """A flip that kept size and mtime escapes the cheap check at parse time, not a reader."""
    root, outputs = _published(tmp_path)
    stat = outputs[1].stat()
    data = bytearray(outputs[1].read_bytes())
    data[-50] ^= 0x01
    outputs[1].unlink()
    outputs[1].write_bytes(bytes(data))
    os.utime(outputs[1], ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert heal_sealed(root) == []
    with pytest.raises(CorruptOutput):
        verified(outputs[1], root)


def test_an_unreadable_seal_removes_its_output_and_a_stale_seal_goes(tmp_path):
    root, outputs = _published(tmp_path)
    seal_path(outputs[0], root).write_text('{"sha256": "ab')
    warnings = heal_sealed(root)
    assert len(warnings) == 1 and "unreadable" in warnings[0] and str(outputs[0]) in warnings[0]
    assert not outputs[0].exists() and not seal_path(outputs[0], root).exists()
    outputs[1].unlink()  # deleted by hand: Snakemake reruns its job; the seal is stale
    assert heal_sealed(root) == [] and not seal_path(outputs[1], root).exists()
    # Files without a seal (from before seals, or not the workflow's) are left alone.
    (root / "notes.txt").write_text("mine")
    assert heal_sealed(root) == [] and verified(root / "notes.txt", root)


def test_files_outside_the_results_folder_are_not_sealed(tmp_path):
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("x")
    assert seal_path(outside, tmp_path / "results") is None
    seal([outside], tmp_path / "results")
    assert not (tmp_path / "results").exists()


def test_relinking_leaves_no_temporary_link_behind(tmp_path):
    entry = _entry(tmp_path / "cache")
    out = tmp_path / "out" / "happy.parquet"
    link_or_copy(entry, out)
    link_or_copy(entry, out)
    assert sorted(p.name for p in out.parent.iterdir()) == ["happy.parquet"]


def test_an_emotion_name_too_long_for_a_file_name_is_refused():
    with pytest.raises(ConfigError) as info:
        load_run_config({"emotions": ["happy", "a" * 300]}, label="config/config.yaml")
    err = info.value
    assert (err.file, err.key) == ("config/config.yaml", "emotions[1]")
    assert "300 bytes" in err.problem and "255-byte" in err.problem
    assert "a" * 100 not in str(err)  # the message names it, it does not repeat it
    # At the cap the name is accepted (the scenario test would find it in no passage).
    run = load_run_config({"emotions": ["a" * 200], "generalisation": {"scenarios": None}})
    assert run.emotions == ["a" * 200]


def test_a_checked_cache_table_is_read_only_when_its_bytes_are_those_written(tmp_path, caplog):
    """The steering, preference and attention-sink caches: a flipped byte that still
    decompresses, garbage, or a truncation is caught, removed once with one warning that
    names the entry, and the caller recomputes it."""
    import pyarrow as pa

    from emotion_vectors.integrity import read_checked_table, write_checked_table

    entry = tmp_path / "cache" / "steering_null" / "key.parquet"
    table = pa.table({"word": ["happy", "sad"] * 50, "change": [float(i) for i in range(100)]})
    write_checked_table(table, entry)
    assert read_checked_table(entry).equals(table)
    data = bytearray(entry.read_bytes())
    data[len(data) // 3] ^= 0x01
    entry.write_bytes(bytes(data))
    with caplog.at_level("WARNING", logger="emotion_vectors"):
        assert read_checked_table(entry) is None
    assert not entry.exists() and str(entry) in caplog.text
    assert read_checked_table(entry) is None  # now simply absent
    write_checked_table(table, entry)
    entry.write_bytes(b"garbage")
    assert read_checked_table(entry) is None and not entry.exists()
