"""Benchmarks: the workflow against the bare forward pass, incremental and Snakemake
overheads, memory, and the end-to-end run. Writes bench/RESULTS.md.

    ./bootstrap.sh bench            # everything (~45 min on 2 cores)
    ./bootstrap.sh bench --quick    # a 30-emotion subset for measure 1, for a first look
    python bench/run.py --only memory   # one group of measures, as JSON (development)

Every figure is measured in this one run, on this machine, and printed against its target.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from emotion_vectors.config import read_emotion_list, read_models  # noqa: E402
from emotion_vectors.layout import Layout  # noqa: E402
from emotion_vectors.run_config import load_run_config  # noqa: E402
from emotion_vectors.workflow_run import run_snakemake  # noqa: E402

MODEL = "smollm2-135m-instruct"
WORK = ROOT / "bench" / "work"
RESULTS_MD = ROOT / "bench" / "RESULTS.md"
ADDED_EMOTION = "wistful"  # not one of the paper's 171


def snakemake(workdir: Path, *args: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = run_snakemake(workdir, *args, cores=os.cpu_count() or 1, timeout=None)
    return time.perf_counter() - t0, proc.stdout + proc.stderr


def rule_seconds(log: str) -> dict[str, float]:
    """Wall seconds of each rule's jobs (summed per rule) from a snakemake log: a job starts
    at the timestamp above its `rule X:` / `jobid: N` lines and ends at `Finished jobid: N`.
    Snakemake stamps whole seconds, so each figure is good to about a second."""
    stamp, pending, started, names = None, None, {}, {}
    seconds: dict[str, float] = {}
    for line in log.splitlines():
        text = line.strip()
        if text.startswith("[") and text.endswith("]"):
            with contextlib.suppress(ValueError):
                stamp = datetime.strptime(text[1:-1], "%a %b %d %H:%M:%S %Y")
        elif text.startswith(("rule ", "localrule ")) and text.endswith(":"):
            pending = text.split(" ", 1)[1][:-1]
        elif text.startswith("jobid: ") and pending:
            started[text[7:]], names[text[7:]] = stamp, pending
            pending = None
        elif text.startswith("Finished jobid: "):
            job = text.split()[2]
            if job in started and stamp is not None:
                name = names[job]
                seconds[name] = seconds.get(name, 0.0) + (stamp - started[job]).total_seconds()
    return seconds


def analyses_timings(log_file: Path) -> dict[str, float]:
    """{part: seconds} of the last model_analyses job in its log ("model analyses of m/c in
    T s: load a s, logit lens b s, ..."), with "total"."""
    lines = [line for line in log_file.read_text().splitlines() if "model analyses of" in line]
    if not lines:
        return {}
    head, _, parts = lines[-1].partition(" s: ")
    timings = {"total": float(head.rsplit(" in ", 1)[1])}
    for name, value in re.findall(r"([a-z][a-z_ ]*?) ([0-9.]+) s", parts):
        timings[name] = float(value)
    return timings


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM; Python {platform.python_version()},"
        f" torch {torch.__version__} ({torch.get_num_threads()} threads)"
    )


# ---------------------------------------------------------------- 1. extraction efficiency


def bench_extraction(emotions: list[str]) -> dict:
    """The workflow's extraction function and a bare batched model(**batch) loop, in this
    process, over the same passages, with the same dtype, batch size and threads; each side
    includes one model load."""
    import torch

    from emotion_vectors.corpus import neutral_passages, template_passages
    from emotion_vectors.jobs.extraction import extract_activations
    from emotion_vectors.models import load_model

    run = load_run_config({"emotions": emotions})
    spec = run.models[MODEL]
    extraction = run.sections["extraction"]
    tmp = Path(tempfile.mkdtemp(prefix="bench-extract-", dir=WORK))
    files = []
    texts: list[str] = []
    import pyarrow as pa

    from emotion_vectors.store import write_parquet_atomic

    for e in run.emotions:
        df = template_passages(e, run.templates)
        path = tmp / "corpus" / f"{e.replace(' ', '_')}.parquet"
        write_parquet_atomic(pa.Table.from_pandas(df, preserve_index=False), path)
        files.append(str(path))
        texts += list(df["text"])
    neutral = neutral_passages(run.neutral)
    neutral_table = pa.Table.from_pandas(neutral, preserve_index=False)
    write_parquet_atomic(neutral_table, tmp / "neutral.parquet")
    texts += list(neutral["text"])
    threads = torch.get_num_threads()

    # Bare loop first, so that neither side profits from a warm page cache the other paid for.
    t0 = time.perf_counter()
    loaded = load_model(spec, device="cpu")
    tok = loaded.tokenizer
    tok.padding_side = "right"
    n_tokens = 0
    with torch.inference_mode():
        for i in range(0, len(texts), extraction["batch_size"]):
            batch = tok(
                texts[i : i + extraction["batch_size"]],
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=extraction["max_length"],
            )
            loaded.model(**batch)
            n_tokens += int(batch["attention_mask"].sum())
    bare = time.perf_counter() - t0
    del loaded

    # The workflow's own job, on the same passages, each time into an empty scratch results
    # folder (an empty cache): every template passage whole (as before shared prefixes),
    # then with shared prefixes (the default).
    timings = {}
    for share in (False, True):
        t0 = time.perf_counter()
        scratch = Layout(tmp / f"results-{share}")
        stats = extract_activations(
            model={**spec.__dict__},
            layers=run.layers[MODEL],
            pooling=asdict(run.pooling()) | {"share_prefix": share},
            passage_files=files,
            neutral_file=str(tmp / "neutral.parquet"),
            outputs=[scratch.activations(MODEL, Path(f).stem) for f in files],
            neutral_output=scratch.neutral_activations(MODEL),
            words_output=scratch.word_embeddings(MODEL),
            report=scratch.extraction_report(MODEL),
            cache=scratch.cache(MODEL, "activations"),
            words_cache=scratch.cache(MODEL, "words"),
            threads=threads,
        )
        timings[share] = (time.perf_counter() - t0, stats)
    shutil.rmtree(tmp, ignore_errors=True)
    (whole_s, whole), (workflow, stats) = timings[False], timings[True]
    return {
        "emotions": len(run.emotions),
        "passages": len(texts),
        "tokens": n_tokens,
        "bare_s": bare,
        "workflow_s": workflow,
        "ratio": workflow / bare,
        "workflow_tokens_per_s": stats.get("tokens_per_second"),
        "bare_tokens_per_s": n_tokens / bare,
        "whole_s": whole_s,
        "whole_tokens": whole["tokens_forwarded"],
        "shared_tokens": stats["tokens_forwarded"],
        "shared_prefixes": stats.get("shared_prefixes"),
        "whole_forward_s": whole["forward_seconds"],
        "shared_forward_s": stats["forward_seconds"],
    }


# ---------------------------------------------------------------- 2., 3., 5. workflow runs


def bench_workflow_runs() -> dict:
    work = WORK / "run"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    full_list = read_emotion_list(ROOT / "config" / "emotions" / "all-171.txt")
    (work / "emotions-172.txt").write_text("\n".join([*full_list, ADDED_EMOTION]) + "\n")
    (work / "plus-one.yaml").write_text(f"emotions: {work / 'emotions-172.txt'}\n")
    (work / "params.yaml").write_text(
        f"emotions: {work / 'emotions-172.txt'}\nvectors: {{neutral_variance: 0.6}}\n"
    )
    out: dict = {}
    layout = Layout(work / "results")
    out["full_s"], log = snakemake(work)
    out["full_rules"] = rule_seconds(log)
    out["full_analyses"] = analyses_timings(Path(layout.log(MODEL, "templates", "model_analyses")))
    out["preference"] = json.loads(Path(layout.output("preference", "json", MODEL)).read_text())
    t0 = time.perf_counter()
    snakemake(work, "--report", str(work / "report.html"))
    out["report_s"] = time.perf_counter() - t0
    out["end_to_end_s"] = out["full_s"] + out["report_s"]

    noop = []
    for _ in range(3):
        seconds, log = snakemake(work)
        assert "Nothing to be done" in log, log[-2000:]
        noop.append(seconds)
    out["noop_s"] = statistics.median(noop)

    out["plus_one_s"], log = snakemake(work, "--configfile", str(work / "plus-one.yaml"))
    out["plus_one_rules"] = rule_seconds(log)
    report = json.loads(Path(layout.extraction_report(MODEL)).read_text())
    out["plus_one_computed"] = report["computed"]
    out["plus_one_passages"] = report["passages_forwarded"]
    out["plus_one_extraction"] = {
        k: report.get(k) for k in ("seconds", "model_load_seconds", "forward_seconds")
    }
    out["plus_one_analyses"] = analyses_timings(
        Path(layout.log(MODEL, "templates", "model_analyses"))
    )

    out["params_s"], log = snakemake(work, "--configfile", str(work / "params.yaml"))
    out["params_ran_extraction"] = "rule extract_activations" in log
    out["params_rules"] = sorted(
        {
            line.split("rule ", 1)[1].rstrip(":").strip()
            for line in log.splitlines()
            if line.strip().startswith(("rule ", "localrule "))
        }
    )

    all_models = sorted(read_models(ROOT / "config" / "models.yaml"))
    dry = []
    for _ in range(3):
        models = f"models=[{','.join(all_models)}]"
        seconds, _log = snakemake(WORK / "dry", "-n", "--config", models)
        dry.append(seconds)
    out["dry_models"] = len(all_models)
    out["dry_s"] = statistics.median(dry)
    return out


# ---------------------------------------------------------------- 4. memory


MEMORY_SNIPPET = """
import json, resource, sys, tempfile
from pathlib import Path
sys.path.insert(0, {root!r})
import pyarrow as pa
from dataclasses import asdict
try:  # the run's configuration moved out of config.py (a commit compared may predate it)
    from emotion_vectors.run_config import load_run_config
except ImportError:
    from emotion_vectors.config import load_run_config
from emotion_vectors.corpus import neutral_passages, template_passages
from emotion_vectors.jobs.extraction import extract_activations
from emotion_vectors.layout import Layout
from emotion_vectors.store import write_parquet_atomic
run = load_run_config({{"models": [{model!r}], "emotions": {emotions!r}}})
spec = run.models[{model!r}]
tmp = Path(tempfile.mkdtemp())
files = []
for e in run.emotions:
    p = tmp / (e.replace(" ", "_") + ".parquet")
    df = template_passages(e, run.templates)
    if {long!r}:
        df["text"] = [" ".join([t] * 6) for t in df["text"]]  # ~450-token passages
    write_parquet_atomic(pa.Table.from_pandas(df, preserve_index=False), p)
    files.append(str(p))
write_parquet_atomic(pa.Table.from_pandas(neutral_passages(run.neutral), preserve_index=False),
                     tmp / "neutral.parquet")
out = Layout(tmp / "results")
stats = extract_activations(
    {{**spec.__dict__}}, run.layers[{model!r}], asdict(run.pooling()), files,
    str(tmp / "neutral.parquet"), [out.activations({model!r}, Path(f).stem) for f in files],
    out.neutral_activations({model!r}), out.word_embeddings({model!r}),
    out.extraction_report({model!r}), out.cache({model!r}), out.cache({model!r}, "words"))
# VmHWM, not ru_maxrss: Linux carries the parent's peak across fork and exec into the
# child's ru_maxrss, so a child of a big parent would report the parent's peak.
status = Path("/proc/self/status")
if status.exists():
    peak_kb = next(int(line.split()[1]) for line in status.read_text().splitlines()
                   if line.startswith("VmHWM:"))
else:  # macOS: ru_maxrss in bytes, and no such inheritance
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
print(json.dumps({{"maxrss_kb": peak_kb,
                  "passages": stats["passages_forwarded"], "tokens": stats["tokens_forwarded"],
                  "converted": not stats.get("from_conversion_cache", True)}}))
"""


def weights_bytes(model: str) -> int:
    from emotion_vectors.models import load_model

    spec = read_models(ROOT / "config" / "models.yaml")[model]
    loaded = load_model(spec, device="cpu")
    return sum(p.numel() * 4 for p in loaded.model.parameters())


def bench_memory(
    model: str, emotions: list[str], long: bool = False, first_load: bool = False
) -> dict:
    """Peak RSS of an extraction job in a fresh process. Loaded once here first, so the
    measured job loads the converted copy; `first_load` measures instead a job that finds
    no converted copy (an empty conversion cache) and dequantises the GGUF file itself."""
    weights = weights_bytes(model)
    code = MEMORY_SNIPPET.format(root=str(ROOT), model=model, emotions=emotions, long=long)
    env = dict(os.environ)
    empty = tempfile.mkdtemp(prefix="bench-conversion-", dir=WORK)
    if first_load:
        env["EMOTION_VECTORS_CACHE"] = empty
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    shutil.rmtree(empty, ignore_errors=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    rss = data["maxrss_kb"] * 1024
    limit = 2 * weights + 2**30
    return {
        "model": model,
        "emotions": len(emotions),
        "long": long,
        "rss": rss,
        "weights": weights,
        "limit": limit,
        "passages": data["passages"],
        "tokens": data["tokens"],
        "converted": data["converted"],
    }


# Measures that could not run on this machine, with why: written under the table.
SKIPPED: list[str] = []


def bench_memories() -> list[dict]:
    seed = read_emotion_list(ROOT / "config" / "emotions" / "seed-30.txt")
    memory = [bench_memory(MODEL, seed), bench_memory(MODEL, seed, long=True)]
    try:
        memory.append(bench_memory("gemma-3-270m", seed[:4]))
        memory.append(bench_memory("gemma-3-270m", seed[:4], first_load=True))
    except Exception as err:  # report it (here and in RESULTS.md), keep the other measures
        SKIPPED.append(f"gemma-3-270m skipped: {err}")
        print(SKIPPED[-1], file=sys.stderr)
    return memory


# ---------------------------------------------------------------- report


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def bound_of_rerun(runs: dict) -> str:
    """Where the add-one-emotion rerun's time goes, from its own jobs' logs, for a 2b that
    is not met."""
    rules, ex, an = runs["plus_one_rules"], runs["plus_one_extraction"], runs["plus_one_analyses"]
    model_rules = {"extract_activations", "model_analyses", "trace_texts"}
    light = sum(sec for name, sec in rules.items() if name not in model_rules)
    forward = {k: v for k, v in an.items() if k not in ("total", "load")}
    budget = 0.15 * runs["full_s"]
    return (
        "What bounds 2b: every emotion vector is centred on the mean over all emotions, so"
        " adding one changes all of them, and everything downstream of the vectors reruns in"
        f" full. Of the {runs['plus_one_s']:.0f} s rerun, the model analyses job took"
        f" {rules.get('model_analyses', 0):.0f} s: {an.get('load', 0):.1f} s to start torch"
        " and transformers and load the model, then "
        + ", ".join(f"{k} {v:.1f} s" for k, v in forward.items())
        + f" ({sum(forward.values()):.0f} s of steered and lens passes over all"
        " vectors, and their figures). The extraction job took"
        f" {rules.get('extract_activations', 0):.0f} s, of which {ex.get('forward_seconds', 0):.1f}"
        f" s forward pass of the new passages and {ex.get('model_load_seconds', 0):.1f} s model"
        f" load with its imports. The emotion traces (trace_texts, a model job of their own)"
        f" took {rules.get('trace_texts', 0):.0f} s. The light jobs (passages, vectors, geometry,"
        " uncertainty, export,"
        f" generalisation, summary) took {light:.0f} s of job wall time, mostly process starts"
        " and figures; they cannot run beside a model job, which takes every core. The rest"
        " is Snakemake's start and bookkeeping. The 15 % target would be"
        f" {budget:.0f} s, {runs['plus_one_s'] - budget:.0f} s less than measured."
    )


# The jobs and model experiments that exist only to control the headline numbers (issue:
# all controls together may add at most 25 % to the default run).
CONTROL_RULES = ("uncertainty", "geometry_controls_plot")
CONTROL_EXPERIMENTS = ("steering_controls",)


def bound_of_full_run(runs: dict) -> str:
    """What bounds measure 5, from the run's own job times."""
    rules = sorted(runs["full_rules"].items(), key=lambda kv: -kv[1])
    analyses = runs["full_analyses"]
    parts = ", ".join(f"{k} {v:.0f} s" for k, v in analyses.items() if k != "total")
    return (
        f"What bounds 5: the run took {runs['full_s']:.0f} s; its longest jobs were "
        + ", ".join(f"{name} {sec:.0f} s" for name, sec in rules[:4])
        + f". The model analyses job ({analyses.get('total', 0):.0f} s: {parts}) now holds the"
        " preference experiment, and the emotion traces are a job of their own (trace_texts);"
        f" the 5-minute target would need {runs['end_to_end_s'] - 300:.0f} s less."
    )


def controls_cost(runs: dict) -> dict:
    """Seconds of the default run spent on controls, and the run's time without them.
    Counted: the control-only jobs and model experiments. Not counted (inside other jobs,
    a few seconds together): the lens and geometry permutations, the lexical baseline, the
    neutral reference passages of the scenario job and the word embeddings."""
    parts = {r: runs["full_rules"].get(r, 0.0) for r in CONTROL_RULES}
    parts |= {e: runs["full_analyses"].get(e, 0.0) for e in CONTROL_EXPERIMENTS}
    seconds = sum(parts.values())
    without = runs["full_s"] - seconds
    return {"parts": parts, "seconds": seconds, "without_s": without,
            "ratio": runs["full_s"] / without}  # fmt: skip


def preference_rows(runs: dict) -> list[str]:
    """9: the preference experiment's share of the complete default run, and what bounds
    it (its own timings, from preference.json)."""
    seconds = runs["full_analyses"].get("preference")
    if seconds is None:
        return []
    share = seconds / runs["full_s"]
    about = runs.get("preference", {})
    parts = about.get("seconds", {})
    return [
        f"| 9 | the preference experiment (inside `model_analyses`) vs the complete default run"
        f" ({about.get('activities')} activities, {about.get('pairs')} pairs in both orders,"
        f" {about.get('directions', 0) + about.get('random_directions', 0)} steered directions"
        f" × {about.get('steered_comparisons_per_direction')} comparisons; prefixes"
        f" {parts.get('prefixes', 0):.0f} s, comparisons {parts.get('comparisons', 0):.0f} s)"
        f" | ≤ 30 % | {seconds:.0f} s / {runs['full_s']:.0f} s = **{100 * share:.0f} %** |"
        f" {verdict(share <= 0.30)} |"
    ]


def shared_prefix_rows(ex: dict) -> list[str]:
    """Measure 7: the extraction stage with shared prefixes against every passage whole."""
    if "whole_s" not in ex:
        return []
    tokens = ex["shared_tokens"] / ex["whole_tokens"]
    ratio = ex["workflow_s"] / ex["whole_s"]
    return [
        f"| 7a | tokens through the model, shared prefixes vs every passage whole"
        f" ({ex['passages']} passages, {ex['shared_prefixes']} prefixes) | fewer |"
        f" {ex['shared_tokens']} vs {ex['whole_tokens']} = **{tokens:.2f}×** |"
        f" {verdict(tokens < 1)} |",
        f"| 7b | extraction stage time, shared prefixes vs every passage whole (one model load"
        f" each; forward passes alone {ex['shared_forward_s']:.1f} s vs"
        f" {ex['whole_forward_s']:.1f} s) | ≤ 0.4× | {ex['workflow_s']:.1f} s vs"
        f" {ex['whole_s']:.1f} s = **{ratio:.2f}×** | {verdict(ratio <= 0.4)} |",
    ]


SEED_SCALE = ROOT / "bench" / "seed-scale.json"


def seed_scale_rows() -> list[str]:
    """Measure 8, from bench/seed-scale.json (bench/seed_scale.py, a run of its own)."""
    if not SEED_SCALE.exists():
        return []
    d = json.loads(SEED_SCALE.read_text())
    minutes = d["wall_s"] / 60
    peak = max(d["peak_gib"].values()) if d["peak_gib"] else float("nan")
    return [
        f"| 8 | the complete 171-emotion study on {d['model']}, every analysis, from a clean"
        f" `results/` (`bench/seed_scale.py`, measured {d['date']}; peak memory of its largest"
        f" job {peak:.1f} GiB) | ≤ {d['target_min']} min | **{minutes:.1f} min** |"
        f" {verdict(minutes <= d['target_min'] and d['complete'])} |",
    ]


def seed_scale_note() -> list[str]:
    if not SEED_SCALE.exists():
        return []
    d = json.loads(SEED_SCALE.read_text())
    rules = sorted(d["rules_s"].items(), key=lambda kv: -kv[1])
    ex = d["extraction"]
    return [
        "",
        "The seed-scale study (8), per job: wall seconds and peak memory (GiB, sampled): "
        + ", ".join(
            f"{name} {sec:.0f} s"
            + (f" / {d['peak_gib'][name]:.1f} GiB" if name in d["peak_gib"] else "")
            for name, sec in rules
            if sec >= 1
        )
        + f". Extraction: {ex['passages_forwarded']} passages, {ex['tokens_forwarded']} tokens"
        f" forwarded ({ex['shared_prefixes']} shared prefixes) in {ex['forward_seconds']:.0f} s"
        f" after a {ex['model_load_seconds']:.0f} s model load. Model analyses: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in d["analyses_s"].items())
        + f". Machine: {d['machine']}.",
    ]


def write_results(machine_desc: str, ex: dict, runs: dict, memory: list[dict], quick: bool) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Measured by `./bootstrap.sh bench` on {time.strftime('%Y-%m-%d')}, all in one run on:",
        f"{machine_desc}.",
        "Timings on a shared 2-core machine are noisy; ratios within this run are what counts.",
        "",
        "| # | measure | target | measured | |",
        "| --- | --- | --- | --- | --- |",
        f"| 1 | extraction stage vs a bare batched `model(**batch)` loop"
        f" ({ex['emotions']} emotions,"
        f" {ex['passages']} passages, {ex['tokens']} tokens; one model load each) | ≤ 1.25× |"
        f" {ex['workflow_s']:.1f} s vs {ex['bare_s']:.1f} s = **{ex['ratio']:.2f}×** |"
        f" {verdict(ex['ratio'] <= 1.25)} |",
        f"| 2a | add one emotion to the complete default run: passages through the model |"
        f" that emotion's only | {runs['plus_one_passages']} passages"
        f" ({', '.join(runs['plus_one_computed'])}) |"
        f" {verdict(runs['plus_one_computed'] == [ADDED_EMOTION])} |",
        f"| 2b | ... time of that rerun vs the full run | ≤ 15 % |"
        f" {runs['plus_one_s']:.1f} s / {runs['full_s']:.1f} s ="
        f" **{100 * runs['plus_one_s'] / runs['full_s']:.1f} %** |"
        f" {verdict(runs['plus_one_s'] <= 0.15 * runs['full_s'])} |",
        f"| 2c | change `vectors.neutral_variance`: extraction reruns? | no forward pass |"
        f" {'extraction ran' if runs['params_ran_extraction'] else 'no extraction'};"
        f" {runs['params_s']:.1f} s; rules: {', '.join(runs['params_rules'])} |"
        f" {verdict(not runs['params_ran_extraction'])} |",
        f"| 3a | no-op rerun of the complete default run (median of 3) | < 5 s |"
        f" {runs['noop_s']:.2f} s | {verdict(runs['noop_s'] < 5)} |",
        f"| 3b | dry run, {runs['dry_models']} models × 171 emotions (median of 3) | < 10 s |"
        f" {runs['dry_s']:.2f} s | {verdict(runs['dry_s'] < 10)} |",
    ]
    for m in memory:
        label = "long passages (~450 tokens)" if m["long"] else "template passages"
        if m["converted"]:
            # The model's very first job on a machine also dequantises the GGUF file and
            # writes the converted copy that later jobs load.
            label += "; first load on the machine (GGUF dequantised and converted)"
        lines.append(
            f"| 4 | peak RSS of extraction, {m['model']}, {m['emotions']} emotions, {label} |"
            f" ≤ 2 × {m['weights'] / 2**30:.2f} GiB + 1 GiB = {m['limit'] / 2**30:.2f} GiB |"
            f" {m['rss'] / 2**30:.2f} GiB | {verdict(m['rss'] <= m['limit'])} |"
        )
    first = [m for m in memory if m["converted"] and m["rss"] > m["limit"]]
    cached = {m["model"]: m for m in memory if not m["converted"] and not m["long"]}
    memory_note = [
        f"What bounds 4 on a first load: {m['model']}'s very first job on a machine runs"
        " transformers' GGUF loader, which dequantises the file to float32 tensors while it"
        f" builds the model: {m['rss'] / 2**30:.2f} GiB, about twice the float32 weights plus"
        " the runtime (we have not traced which copies it holds). It happens once per machine and"
        " model: the job writes the converted weights to ~/.cache/emotion-vectors/converted/,"
        " and every later job loads those"
        + (
            f" ({cached[m['model']]['rss'] / 2**30:.2f} GiB, the row above)."
            if m["model"] in cached
            else "."
        )
        for m in first
    ]
    lines.append(
        f"| 5 | complete default run from a clean `results/` (171 emotions, all analyses) plus"
        f" `snakemake --report` | ≤ 5 min | {runs['full_s'] / 60:.1f} min +"
        f" {runs['report_s']:.0f} s = **{runs['end_to_end_s'] / 60:.1f} min** |"
        f" {verdict(runs['end_to_end_s'] <= 300)} |"
    )
    cost = controls_cost(runs)
    parts = ", ".join(f"{k} {v:.0f} s" for k, v in cost["parts"].items())
    lines.append(
        f"| 6 | the default run with all its controls vs without them (random directions,"
        f" shuffled vectors, bootstrap, null figures; jobs and experiments that exist only"
        f" for the controls) | ≤ 1.25× | {runs['full_s']:.0f} s vs {cost['without_s']:.0f} s"
        f" = **{cost['ratio']:.2f}×** ({parts}) | {verdict(cost['ratio'] <= 1.25)} |"
    )
    lines += shared_prefix_rows(ex)
    lines += seed_scale_rows()
    lines += preference_rows(runs)
    per_rule = sorted(runs["plus_one_rules"].items(), key=lambda kv: -kv[1])
    lines += [
        "",
        "Rules of the add-one-emotion rerun (2b), wall seconds per rule (jobs may overlap): "
        + ", ".join(f"{name} {sec:.0f}" for name, sec in per_rule)
        + ".",
    ]
    if runs["end_to_end_s"] > 300:
        lines += ["", bound_of_full_run(runs)]
    if runs["plus_one_s"] > 0.15 * runs["full_s"]:
        lines += ["", bound_of_rerun(runs)]
    for note in memory_note:
        lines += ["", note]
    for skipped in SKIPPED:
        lines += ["", f"Not measured in this run: {skipped}."]
    lines += seed_scale_note()
    lines += [
        "",
        f"Throughput: workflow {ex['workflow_tokens_per_s']} tokens/s in its forward passes,"
        f" bare loop {ex['bare_tokens_per_s']:.0f} tokens/s including its model load.",
    ]
    if quick:
        lines += ["", "_Quick mode: measure 1 used the 30-emotion subset._"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 emotions for measure 1")
    parser.add_argument(
        "--only",
        choices=["extraction", "runs", "memory"],
        help="one group of measures, printed as JSON, for development (RESULTS.md untouched):"
        " extraction (1), runs (2, 3, 5), memory (4)",
    )
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("TQDM_DISABLE", "1")
    emotions = read_emotion_list(
        ROOT / "config" / "emotions" / ("seed-30.txt" if args.quick else "all-171.txt")
    )
    desc = machine()
    if args.only:
        measure = {"extraction": lambda: bench_extraction(emotions), "runs": bench_workflow_runs}
        measure["memory"] = bench_memories
        print(json.dumps(measure[args.only](), indent=1, default=str))
        return
    print("1/4 extraction vs bare loop ...", file=sys.stderr)
    ex = bench_extraction(emotions)
    print(json.dumps(ex), file=sys.stderr)
    print("2/4 workflow runs ...", file=sys.stderr)
    runs = bench_workflow_runs()
    print(json.dumps(runs), file=sys.stderr)
    print("3/4 memory ...", file=sys.stderr)
    memory = bench_memories()
    print("4/4 writing bench/RESULTS.md", file=sys.stderr)
    RESULTS_MD.write_text(write_results(desc, ex, runs, memory, args.quick))
    print(RESULTS_MD.read_text())


if __name__ == "__main__":
    main()
