"""The progress line of long loops (emotion_vectors/progress.py): items pass unchanged, the
line is rate-limited, and inside a job it reaches both the log file and the terminal."""

from __future__ import annotations

import contextlib
import io
import logging
import sys
from pathlib import Path

from emotion_vectors import progress as progress_module
from emotion_vectors.jobs import job_name, logging_to
from emotion_vectors.layout import Layout
from emotion_vectors.progress import progress

JOB = "emotion-vectors [m/templates/model_analyses]: "


def terminal() -> contextlib.redirect_stderr[io.StringIO]:
    """A StringIO standing in for the user's terminal (sys.stderr), to enter in the test
    itself: pytest's capture puts its own sys.stderr back before every test phase."""
    return contextlib.redirect_stderr(io.StringIO())


def test_items_pass_unchanged():
    items = [3, "a", None, (1, 2)]
    with terminal():
        assert list(progress(items, "t")) == items
        assert list(progress(iter(items), "t", every=0)) == items
        assert list(progress([], "t", every=0)) == []


def test_every_zero_writes_counts_and_shares():
    with terminal() as out:
        assert list(progress(range(4), "step: things", every=0)) == [0, 1, 2, 3]
    lines = out.getvalue().splitlines()
    assert len(lines) == 4  # after items 1, 2, 3 and the final line
    assert lines[0] == "step: things 1/4 (25 %), 0 s, about 0 s left"
    assert lines[2] == "step: things 3/4 (75 %), 0 s, about 0 s left"
    assert lines[-1] == "step: things 4/4 (100 %) in 0 s"


def test_unknown_total_writes_counts():
    with terminal() as out:
        list(progress(iter("abc"), "letters", every=0))
    lines = out.getvalue().splitlines()
    assert lines[:2] == ["letters 1, 0 s", "letters 2, 0 s"]
    assert lines[-1] == "letters 3 in 0 s"  # not knowing the end, a line after item 3 too


def test_a_fast_loop_writes_nothing():
    with terminal() as out:
        assert sum(progress(range(1000), "fast", every=60)) == sum(range(1000))
    assert out.getvalue() == ""


def test_a_loop_left_early_writes_no_final_line():
    with terminal() as out:
        for _ in progress(range(5), "broken", every=0):
            break
    assert "5/5" not in out.getvalue()


def test_durations_read_in_minutes_and_hours():
    assert progress_module._duration(59.6) == "60 s"
    assert progress_module._duration(128) == "2 min 08 s"
    assert progress_module._duration(3 * 3600 + 5 * 60) == "3 h 05 min"


def test_the_line_reaches_the_log_and_the_terminal(tmp_path):
    log = Path(Layout(tmp_path).log("m", "templates", "model_analyses"))
    root = logging.getLogger()
    level = root.level
    try:
        with terminal() as out:
            with logging_to(log):
                list(progress(range(2), "preference: batches", every=0))
                assert progress_module._terminal is not None
            assert sys.stderr is out  # logging_to gave the terminal back
    finally:
        root.setLevel(level)
    assert progress_module._terminal is None  # and stopped echoing to it
    written = log.read_text()
    assert "preference: batches 1/2 (50 %)" in written
    assert "preference: batches 2/2 (100 %) in 0 s" in written
    shown = out.getvalue().splitlines()
    assert shown == [
        JOB + "preference: batches 1/2 (50 %), 0 s, about 0 s left",
        JOB + "preference: batches 2/2 (100 %) in 0 s",
    ]


def test_job_name_from_its_log_path():
    assert job_name(Layout("results").log("m", "c", "trace_texts")) == "m/c/trace_texts"
    assert job_name(Path("/tmp/job").with_suffix(".log")) == "job"  # outside results/logs
