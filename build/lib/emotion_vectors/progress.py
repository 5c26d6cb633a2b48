"""A progress line for the loops that make a workflow step run for minutes.

Without it a step that forwards thousands of prompts prints nothing until it ends, and
the user cannot tell a slow job from a stuck one, nor how long it will still take. Every
`every` seconds at most, `progress` writes one short line (count, share, time so far and
time left) to the job's log and to the terminal; a loop shorter than `every` writes
nothing. No tqdm: a job's stderr is its log file (see jobs.logging_to), where a bar's
carriage returns make a mess, and the terminal would never see it.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Iterable, Iterator, Sized
from typing import TextIO, TypeVar

T = TypeVar("T")

log = logging.getLogger("emotion_vectors")

# (the user's terminal, the job's name) while jobs.logging_to sends stderr to a log file.
_terminal: tuple[TextIO, str] | None = None


def progress(
    items: Iterable[T], label: str, total: int | None = None, every: float = 10.0
) -> Iterator[T]:
    """Yield `items` unchanged, writing "label done/total (share), elapsed, about N left"
    after an item when `every` seconds have passed since the last line, and a final
    "label total/total (100 %) in elapsed" when a loop that took at least `every` seconds
    ends. `total` defaults to len(items) when it has one."""
    if total is None and isinstance(items, Sized):
        total = len(items)
    start = last = time.monotonic()
    done = 0
    for item in items:
        yield item
        done += 1
        now = time.monotonic()
        if now - last >= every and (total is None or done < total):
            last = now
            left = _left(done, total, now - start)
            _write(f"{label} {_count(done, total)}, {_duration(now - start)}{left}")
    elapsed = time.monotonic() - start
    if elapsed >= every:
        _write(f"{label} {_count(done, total)} in {_duration(elapsed)}")


def _count(done: int, total: int | None) -> str:
    if not total:
        return str(done)
    return f"{done}/{total} ({100 * done / total:.0f} %)"


def _left(done: int, total: int | None, elapsed: float) -> str:
    if not total or done >= total:
        return ""
    return f", about {_duration(elapsed / done * (total - done))} left"


def _duration(seconds: float) -> str:
    s = round(seconds)
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def _write(line: str) -> None:
    """To the job's log (logging) and the terminal: inside a job the saved one, prefixed
    by the job; outside one, stderr."""
    log.info(line)
    if _terminal is None:
        print(line, file=sys.stderr, flush=True)
    else:
        stream, job = _terminal
        print(f"emotion-vectors [{job}]: {line}", file=stream, flush=True)


@contextlib.contextmanager
def echoing_to(stream: TextIO, job: str) -> Iterator[None]:
    """For jobs.logging_to: while it sends stderr to the log, progress lines also go to
    `stream` (the stderr it replaced), prefixed by `job`."""
    global _terminal
    saved, _terminal = _terminal, (stream, job)
    try:
        yield
    finally:
        _terminal = saved
