"""Checksums of cache entries and published files: a corrupt one is noticed, reported once
and removed, an intact one is left alone (and, unchanged, not even hashed)."""

from __future__ import annotations

import json
import logging
import os

import pyarrow as pa
import pytest

from emotion_vectors import integrity
from emotion_vectors.config import ConfigError, load_run_config
from emotion_vectors.integrity import (
    entry_problem,
    heal_published,
    published_records,
    sidecar,
    usable_entry,
    write_sidecar,
)
from emotion_vectors.store import link_or_copy, write_json_atomic, write_parquet_atomic


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
    """A report beside two published files, as the extraction job writes it."""
    cache = tmp_path / "cache"
    folder = tmp_path / "templates"
    outputs = []
    for name in ("happy", "sad"):
        entry = _entry(cache, f"{name}-key.parquet")
        outputs.append(folder / "activations" / f"{name}.parquet")
        link_or_copy(entry, outputs[-1])
    report = folder / "report.json"
    write_json_atomic({"files": published_records(outputs, folder)}, report)
    return report, outputs


def test_intact_published_files_are_not_hashed(tmp_path, monkeypatch):
    report, outputs = _published(tmp_path)
    assert sorted(json.loads(report.read_text())["files"]) == [
        "activations/happy.parquet",
        "activations/sad.parquet",
    ]

    def no_hashing(path):
        raise AssertionError(f"hashed {path}")

    monkeypatch.setattr(integrity, "file_sha256", no_hashing)
    assert heal_published(report) == []
    assert all(p.exists() for p in outputs)


def test_a_touched_but_intact_published_file_is_kept(tmp_path):
    report, outputs = _published(tmp_path)
    stat = outputs[0].stat()
    os.utime(outputs[0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert heal_published(report) == []
    assert outputs[0].exists()


def test_a_truncated_published_file_is_removed_with_one_warning(tmp_path):
    report, outputs = _published(tmp_path)
    entry = tmp_path / "cache" / "sad-key.parquet"
    linked = os.path.samefile(entry, outputs[1])
    _truncate(outputs[1])
    warnings = heal_published(report)
    assert len(warnings) == 1 and str(outputs[1]) in warnings[0]
    assert not outputs[1].exists() and outputs[0].exists()
    # Behind a hard link the cache entry is truncated too: the job's own check catches it.
    assert usable_entry(entry) is not linked
    assert heal_published(report) == []  # a missing output is Snakemake's to notice


def test_a_dry_run_reports_a_corrupt_file_and_changes_nothing(tmp_path):
    report, outputs = _published(tmp_path)
    _truncate(outputs[1])
    before = outputs[1].read_bytes()
    warnings = heal_published(report, remove=False)
    assert len(warnings) == 1 and str(outputs[1]) in warnings[0] and "dry run" in warnings[0]
    assert outputs[1].read_bytes() == before
    report.write_text('{"files": {"activ')
    assert "left in place by this dry run" in heal_published(report, remove=False)[0]
    assert report.exists()


def test_same_size_different_bytes_is_caught(tmp_path):
    report, outputs = _published(tmp_path)
    data = bytearray(outputs[0].read_bytes())
    data[100] ^= 0xFF
    outputs[0].unlink()  # break the hard link: the cache entry stays intact
    outputs[0].write_bytes(bytes(data))
    warnings = heal_published(report)
    assert len(warnings) == 1 and "SHA-256" in warnings[0]
    assert not outputs[0].exists()


def test_an_unreadable_report_is_removed_and_an_old_one_ignored(tmp_path):
    report, outputs = _published(tmp_path)
    report.write_text('{"files": {"activ')
    assert heal_published(report) == [
        f"{report} is unreadable: removed, so its extraction job runs again"
    ]
    assert not report.exists()
    assert heal_published(report) == []
    write_json_atomic({"computed": []}, report)  # from before checksums: nothing to compare
    _truncate(outputs[0])
    assert heal_published(report) == []


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
