"""Speed measures of issue "seed scale in minutes": half precision against float32 (time,
and what it changes in the vectors and every headline number), the small quick run, and
the rerun after adding one emotion with what bounds it. Writes bench/speed.json; `render`
puts its rows into bench/RESULTS.md (between the speed markers), as bench/run.py does for
its own measures.

    python bench/speed.py precision --model smollm2-135m-instruct   # ~8 min
    python bench/speed.py precision --model qwen2.5-coder-1.5b-instruct   # ~45 min
    python bench/speed.py precision --model qwen2.5-coder-1.5b-instruct --only bfloat16
    python bench/speed.py precision --model qwen2.5-coder-1.5b-instruct \
        --against docs/findings/qwen2.5-coder-1.5b-instruct.summary.json   # vs a committed run
    python bench/speed.py centring       # neutral vs mean centring, on the float32 run
    python bench/speed.py quick          # 4 emotions, geometry + steering, ~1 min
    python bench/speed.py add-one        # 30 seed emotions, then one more, ~5 min
    python bench/speed.py growth --before b8b346a   # default run now vs at a commit, ~5 min
    python bench/speed.py behaviour-growth --before 570e320   # the same, before the behaviour
                                                              # experiment (issue 22)
    python bench/speed.py behaviour-floor  # what behaviour and speakers cost at least, ~1 min
    python bench/speed.py render         # bench/speed.json -> bench/RESULTS.md

Runs happen in bench/work/speed/ (kept, so `precision --reuse` compares finished runs
again). Timings on a 2-core machine are noisy: compare within one run of this script.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from run import analyses_timings, machine, rule_seconds  # noqa: E402

from emotion_vectors.layout import Layout  # noqa: E402
from emotion_vectors.store import read_vector_matrix  # noqa: E402
from emotion_vectors.workflow_run import run_snakemake  # noqa: E402

WORK = ROOT / "bench" / "work" / "speed"
OUTPUT = ROOT / "bench" / "speed.json"
RESULTS_MD = ROOT / "bench" / "RESULTS.md"
BEGIN, END = "<!-- speed.py begin -->", "<!-- speed.py end -->"
DEFAULT_MODEL = "smollm2-135m-instruct"
QUICK_EMOTIONS = ["happy", "sad", "calm", "afraid"]
ADDED = "wistful"  # not among the seed's 30 (nor the paper's 171)
TARGETS = {  # issue "seed scale in minutes"
    "qwen2.5-coder-1.5b-instruct": ("the 171-emotion study", "≤ 15 min", 15 * 60),
    DEFAULT_MODEL: ("the complete default run", "≤ 0.6× float32", None),
}


def cpu_flags() -> list[str]:
    """The CPU's bfloat16 / AMX / AVX-512 flags from /proc/cpuinfo (Linux)."""
    wanted = ("amx", "avx512_bf16", "avx512f", "avx512_fp16", "avx_vnni", "avx512_vnni")
    flags: set[str] = set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("flags"):
                flags |= set(line.split(":", 1)[1].split())
    return sorted(f for f in flags if f.startswith(wanted))


def timed_run(workdir: Path, *config: str, clean: bool = True) -> dict:
    """One snakemake run of the workflow in `workdir` (`config`: --config items)."""
    if clean:
        shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    proc = run_snakemake(workdir, "--config", *config, timeout=None)
    seconds = time.perf_counter() - t0
    log = proc.stdout + proc.stderr
    (workdir / f"snakemake-output-{int(time.time())}.txt").write_text(log)
    return {"wall_s": round(seconds, 1), "rules_s": rule_seconds(log)}


def model_analyses_s(workdir: Path, model: str) -> dict:
    return analyses_timings(
        Path(Layout(workdir / "results").log(model, "templates", "model_analyses"))
    )


# ---------------------------------------------------------------- what a dtype changes


def vector_agreement(a: Path, b: Path, model: str, analysis_layer: int) -> dict:
    """Cosine of every (emotion, layer) vector of run `b` with its counterpart in run `a`,
    raw and denoised: the minimum (and where), the median, and at the analysis layer."""
    files = [Layout(d / "results").vectors(model) for d in (a, b)]
    meta = json.loads(Path(Layout(a / "results").vector_meta(model)).read_text())
    out = {}
    for denoised in (True, False):
        cosines, where = [], []
        for layer in meta["layers"]:
            (ea, ma), (eb, mb) = (read_vector_matrix(f, layer, denoised) for f in files)
            assert ea == eb, "the two runs have different emotions"
            ma, mb = ma.astype(np.float64), mb.astype(np.float64)
            cos = (ma * mb).sum(1) / np.linalg.norm(ma, axis=1) / np.linalg.norm(mb, axis=1)
            cosines.append(cos)
            where += [(e, layer) for e in ea]
        flat = np.concatenate(cosines)
        at = cosines[meta["layers"].index(analysis_layer)]
        worst = int(flat.argmin())
        out["denoised" if denoised else "raw"] = {
            "min": round(float(flat.min()), 5),
            "min_at": {"emotion": where[worst][0], "layer": where[worst][1]},
            "median": round(float(np.median(flat)), 5),
            "min_analysis_layer": round(float(at.min()), 5),
            "layers_below_0_99": [
                layer for layer, c in zip(meta["layers"], cosines, strict=True) if c.min() < 0.99
            ],
            "vectors": int(flat.size),
        }
    return out


def headline_measures(summary: Mapping, prefix: str = "") -> dict[str, dict]:
    """{path: {value, ci}} of every number of a summary.json (its default corpus: the
    per-corpus copies under `corpora` are left out): measures with their 95 % interval,
    plain numbers without."""
    skip = {
        "num_layers",
        "num_layers_stored",
        "analysis_layer",
        "layer",
        "emotions",
        "n",
        "hits",
        "candidates",
        "passages",
        "replicates",
        "chance",
        "p",
        "null_p95",
    }
    out: dict[str, dict] = {}
    for key, value in sorted(summary.items()):
        name = f"{prefix}{key}"
        if key in skip or key in ("corpora", "holds"):
            continue
        if isinstance(value, Mapping) and isinstance(value.get("value"), int | float):
            ci = value.get("ci") or [None, None]
            out[name] = {"value": value["value"], "ci": ci if None not in ci else None}
        elif isinstance(value, Mapping):
            out.update(headline_measures(value, f"{name}."))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[name] = {"value": value, "ci": None}
    return out


def headline_agreement(reference: Mapping, other: Mapping) -> list[dict]:
    """Every headline number of `other` beside `reference`'s, with `inside`: whether it lies
    in the reference's 95 % interval (None where the measure has none)."""
    ref, new = headline_measures(reference), headline_measures(other)
    rows = []
    for name in ref:
        if name not in new:
            continue
        a, b = ref[name], new[name]
        ci = a["ci"]
        inside = None if ci is None else bool(ci[0] <= b["value"] <= ci[1])
        rows.append(
            {"measure": name, "float32": a, "bfloat16": b, "inside": inside, "verdicts": None}
        )
    holds_a, holds_b = reference.get("holds", {}), other.get("holds", {})
    for name in sorted(set(holds_a) | set(holds_b)):
        rows.append(
            {
                "measure": f"holds.{name}",
                "float32": holds_a.get(name),
                "bfloat16": holds_b.get(name),
                "inside": None,
                # None where one run has no such verdict (an analysis it did not run).
                "verdicts": None
                if None in (holds_a.get(name), holds_b.get(name))
                else holds_a.get(name) == holds_b.get(name),
            }
        )
    return rows


def warm(model: str, dtype: str) -> float:
    """Load the model once in `dtype`, outside the timing: the first load of a GGUF model
    writes its conversion cache (minutes for the 1.5B), a one-time cost of any first run."""
    import subprocess

    code = (
        "from pathlib import Path; from emotion_vectors.config import read_models; "
        "from emotion_vectors.models import load_model; "
        f"load_model(read_models(Path('config/models.yaml'))[{model!r}], dtype={dtype!r})"
    )
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    return round(time.perf_counter() - t0, 1)


def precision(model: str, reuse: bool, only: str | None = None) -> dict | None:
    """The study of `model` in float32 and in bfloat16, back to back on this machine
    (`only`: run that dtype alone, and compare nothing yet)."""
    runs = {}
    for dtype in [only] if only else ("float32", "bfloat16"):
        workdir = WORK / "precision" / model / dtype
        summary = Path(Layout(workdir / "results").summary(model))
        if reuse and summary.exists():
            runs[dtype] = json.loads((workdir / "timing.json").read_text())
            continue
        print(f"speed: {model} in {dtype}: first load {warm(model, dtype)} s", file=sys.stderr)
        runs[dtype] = timed_run(workdir, f"models=[{model}]", f"dtype={dtype}")
        runs[dtype]["analyses_s"] = model_analyses_s(workdir, model)
        (workdir / "timing.json").write_text(json.dumps(runs[dtype], indent=1))
    if only:
        return None
    dirs = {d: WORK / "precision" / model / d for d in runs}
    summaries = {
        d: json.loads(Path(Layout(p / "results").summary(model)).read_text())
        for d, p in dirs.items()
    }
    layer = summaries["float32"]["analysis_layer"]
    return {
        "model": model,
        "date": time.strftime("%Y-%m-%d"),
        "runs": runs,
        "ratio": round(runs["bfloat16"]["wall_s"] / runs["float32"]["wall_s"], 3),
        "vectors": vector_agreement(dirs["float32"], dirs["bfloat16"], model, layer),
        "headlines": headline_agreement(summaries["float32"], summaries["bfloat16"]),
        "dtypes": {d: s.get("dtype") for d, s in summaries.items()},
    }


def precision_against_snapshot(model: str, snapshot: Path, seed_scale: Path) -> dict:
    """The bfloat16 study of `model` (run by `precision --only bfloat16`) against a committed
    float32 summary.json (docs/findings/) and that float32 run's timing (bench/seed-scale.json):
    for a model whose float32 study takes longer than a session affords. The float32 numbers
    then come from an earlier run, possibly of older code and another machine: said so."""
    workdir = WORK / "precision" / model / "bfloat16"
    run = json.loads((workdir / "timing.json").read_text())
    bf16 = json.loads(Path(Layout(workdir / "results").summary(model)).read_text())
    ref = json.loads(snapshot.read_text())
    timing = json.loads(seed_scale.read_text()) if seed_scale.exists() else {}
    f32 = {"wall_s": timing.get("wall_s"), "machine": timing.get("machine"),
           "date": timing.get("date")}  # fmt: skip
    return {
        "model": model,
        "date": time.strftime("%Y-%m-%d"),
        "reference": {"summary": str(snapshot.relative_to(ROOT)), **f32},
        "runs": {"float32": f32, "bfloat16": run},
        "ratio": round(run["wall_s"] / f32["wall_s"], 3) if f32["wall_s"] else None,
        "vectors": None,
        "headlines": headline_agreement(ref, bf16),
        "dtypes": {"float32": ref.get("dtype"), "bfloat16": bf16.get("dtype")},
    }


# ---------------------------------------------------------------- small and incremental


def quick() -> dict:
    """4 emotions, vectors plus geometry and steering, from a clean results/ (the default
    dtype, `auto`)."""
    workdir = WORK / "quick"
    emotions = ",".join(QUICK_EMOTIONS)
    run = timed_run(workdir, f"emotions=[{emotions}]", "analyses=[geometry,steering]")
    run["analyses_s"] = model_analyses_s(workdir, DEFAULT_MODEL)
    return {"emotions": QUICK_EMOTIONS, "analyses": ["geometry", "steering"], **run}


def add_one() -> dict:
    """The seed's 30 emotions, complete; then the same plus one: what reruns, how long, and
    how far the 30 vectors and the headline numbers move (every vector is centred on the
    mean over all emotions, so adding one moves them all)."""
    workdir = WORK / "add-one"
    seed = (ROOT / "config" / "emotions" / "seed-30.txt").read_text().split("\n")
    seed = [e for e in seed if e.strip() and not e.startswith("#")]
    full = timed_run(workdir, "emotions=config/emotions/seed-30.txt")
    before = {
        "summary": json.loads(Path(Layout(workdir / "results").summary(DEFAULT_MODEL)).read_text()),
        "vectors": WORK / "add-one-before",
    }
    shutil.rmtree(before["vectors"], ignore_errors=True)
    for name in ("vectors", "vector_meta"):
        kept = Path(getattr(Layout(before["vectors"] / "results"), name)(DEFAULT_MODEL))
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(getattr(Layout(workdir / "results"), name)(DEFAULT_MODEL), kept)
    listing = workdir / "seed-31.txt"
    listing.write_text("\n".join([*seed, ADDED]) + "\n")
    rerun = timed_run(workdir, f"emotions={listing}", clean=False)
    rerun["analyses_s"] = model_analyses_s(workdir, DEFAULT_MODEL)
    after = json.loads(Path(Layout(workdir / "results").summary(DEFAULT_MODEL)).read_text())
    return {
        "emotions": len(seed),
        "added": ADDED,
        "full": full,
        "rerun": rerun,
        "share": round(rerun["wall_s"] / full["wall_s"], 3),
        "movement": movement(before["vectors"], workdir, seed),
        "headlines": headline_agreement(before["summary"], after),
    }


def movement(before: Path, after: Path, emotions: list[str]) -> dict:
    """Cosine of each of the first run's vectors with the same emotion's after the
    addition, over every layer (denoised)."""
    files = [Layout(d / "results").vectors(DEFAULT_MODEL) for d in (before, after)]
    meta = json.loads(Path(Layout(after / "results").vector_meta(DEFAULT_MODEL)).read_text())
    cosines = []
    for layer in meta["layers"]:
        (ea, ma), (eb, mb) = (read_vector_matrix(f, layer) for f in files)
        index = {e: i for i, e in enumerate(eb)}
        mb = mb[[index[e] for e in ea]]
        cos = (ma * mb).sum(1) / np.linalg.norm(ma, axis=1) / np.linalg.norm(mb, axis=1)
        cosines.append(cos)
    flat = np.concatenate(cosines)
    return {"min": round(float(flat.min()), 5), "median": round(float(np.median(flat)), 5)}


def _layer_means(workdir: Path, model: str, layer: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(emotions, [emotions, width] mean pooled activation, [neutral passages, width])."""
    from emotion_vectors.store import read_activation_matrix

    layout = Layout(workdir / "results")
    meta = json.loads(Path(layout.vector_meta(model)).read_text())
    emotions = meta["emotions"]
    means = np.stack(
        [
            read_activation_matrix(layout.activations(model, e), layer)[1]
            .astype(np.float64)
            .mean(0)
            for e in emotions
        ]
    )
    neutral = read_activation_matrix(layout.neutral_activations(model), layer)[1]
    return emotions, means, neutral.astype(np.float64)


def centring(workdir: Path, model: str, variance: float = 0.5) -> dict:
    """What centring on the neutral reference instead of the mean over emotions would do, at
    the analysis layer of a finished run: how alike the vectors become (their shared
    component), how far each moves, and PC1-valence r under both; and, for the paper's
    centring, how far the seed's 30 vectors move when any one other emotion is added."""
    from emotion_vectors.geometry import valence_axis_r
    from emotion_vectors.human_norms import read_vader_lexicon
    from emotion_vectors.vectors import cosine_matrix, neutral_subspace, project_out

    layer = json.loads(Path(Layout(workdir / "results").vector_meta(model)).read_text())[
        "analysis_layer"
    ]
    emotions, means, neutral = _layer_means(workdir, model, layer)
    basis = neutral_subspace(neutral, variance).components
    paper = project_out(means - means.mean(0), basis)
    by_neutral = project_out(means - neutral.mean(0), basis)
    off = ~np.eye(len(emotions), dtype=bool)
    common = by_neutral.mean(0)
    own = (
        (paper * by_neutral).sum(1)
        / np.linalg.norm(paper, axis=1)
        / np.linalg.norm(by_neutral, axis=1)
    )
    vader = read_vader_lexicon()
    rated = [i for i, e in enumerate(emotions) if e in vader]
    valence = np.array([vader[emotions[i]] for i in rated])
    out = {
        "layer": layer,
        "emotions": len(emotions),
        "mean_pairwise_cosine": {
            "mean": round(float(cosine_matrix(paper)[off].mean()), 4),
            "neutral": round(float(cosine_matrix(by_neutral)[off].mean()), 4),
        },
        "shared_share": round(float(common @ common / (by_neutral**2).sum(1).mean()), 4),
        "own_cosine": {
            "min": round(float(own.min()), 4),
            "median": round(float(np.median(own)), 4),
        },
        "valence_r": {
            name: round(
                float(valence_axis_r(v[rated], [emotions[i] for i in rated], valence, 3)), 4
            )
            for name, v in (("mean", paper), ("neutral", by_neutral))
        },
    }
    seed = [
        e
        for e in (ROOT / "config" / "emotions" / "seed-30.txt").read_text().split("\n")
        if e.strip() and not e.startswith("#")
    ]
    index = [emotions.index(e) for e in seed if e in emotions]
    base = project_out(means[index] - means[index].mean(0), basis)
    worst = 1.0
    for extra in (i for i in range(len(emotions)) if i not in index):
        group = means[[*index, extra]]
        moved = project_out(group - group.mean(0), basis)[: len(index)]
        cos = (base * moved).sum(1) / np.linalg.norm(base, axis=1) / np.linalg.norm(moved, axis=1)
        worst = min(worst, float(cos.min()))
    out["add_one_min_cosine"] = {
        "seed_emotions": len(index),
        "candidates": len(emotions) - len(index),
        "min": round(worst, 5),
    }
    return out


# ---------------------------------------------------------------- RESULTS.md


def _fmt(m: object) -> str:
    if not isinstance(m, Mapping):
        return str(m)
    v = m["value"]
    text = f"{v:.3g}" if isinstance(v, float) and not math.isnan(v) else str(v)
    if m.get("ci"):
        text += f" [{m['ci'][0]:.3g}, {m['ci'][1]:.3g}]"
    return text


def precision_rows(p: Mapping) -> list[str]:
    model, runs = p["model"], p["runs"]
    what, target, limit = TARGETS.get(p["model"], ("the study", "faster", None))
    f32, b16 = runs["float32"]["wall_s"], runs["bfloat16"]["wall_s"]
    if limit is None:
        ok, shown = (
            p["ratio"] <= 0.6,
            f"{b16 / 60:.1f} min vs {f32 / 60:.1f} min = **{p['ratio']:.2f}×**",
        )
    else:
        ok, shown = (
            b16 <= limit,
            f"**{b16 / 60:.1f} min** (float32 {f32 / 60:.1f} min, {p['ratio']:.2f}×)",
        )
    outside = [r["measure"] for r in p["headlines"] if r["inside"] is False]
    flipped = [r["measure"] for r in p["headlines"] if r["verdicts"] is False]
    headline_row = (
        f"| bf16 | ... headline numbers inside their float32 95 % interval; verdicts unchanged "
        f"| all | {len(outside)} outside{': ' + ', '.join(outside) if outside else ''}; "
        f"{len(flipped)} verdicts changed{': ' + ', '.join(flipped) if flipped else ''} | "
        f"**{'met' if not outside and not flipped else 'not met'}** |"
    )
    if p.get("reference"):
        ref = p["reference"]
        return [
            f"| bf16 | {what}, {model}, bfloat16 (`dtype: auto` here), from a clean `results/`; "
            f"float32: the committed study of {ref['date']} ({ref['machine']}) | {target} | "
            f"**{b16 / 60:.1f} min** (float32 then {f32 / 60:.1f} min) | "
            f"**{'met' if limit is None or b16 <= limit else 'not met'}** |",
            "| bf16 | ... vectors vs float32 | – | not measured: no float32 vectors of this "
            "model in this session (its float32 study takes 35 min) | – |",
            headline_row.replace(
                "float32 95 % interval", f"float32 95 % interval ({ref['summary']})"
            ),
        ]
    v = p["vectors"]["denoised"]
    return [
        f"| bf16 | {what}, {model}, bfloat16 (`dtype: auto` here) vs float32, from a clean "
        f"`results/` | {target} | {shown} | **{'met' if ok else 'not met'}** |",
        f"| bf16 | ... every vector (denoised, {v['vectors']}: all emotions × layers) vs its "
        f"float32 counterpart | cosine ≥ 0.99 | min **{v['min']:.4f}** ({v['min_at']['emotion']}, "
        f"layer {v['min_at']['layer']}), median {v['median']:.5f}, analysis layer min "
        f"{v['min_analysis_layer']:.4f}; layers with a vector below 0.99: "
        f"{', '.join(map(str, v['layers_below_0_99'])) or 'none'} "
        f"| **{'met' if v['min'] >= 0.99 else 'not met'}** |",
        headline_row,
    ]


def agreement_table(p: Mapping) -> list[str]:
    where = (
        f"float32 from {p['reference']['summary']} (a run of {p['reference']['date']})"
        if p.get("reference")
        else "same machine, same run of bench/speed.py"
    )
    lines = [
        f"Headline numbers of {p['model']} (summary.json, default corpus), float32 vs "
        f"bfloat16, {where}:",
        "",
        "| measure | float32 [95 % CI] | bfloat16 [95 % CI] | inside float32 CI |",
        "| --- | --- | --- | --- |",
    ]
    quiet = []
    for r in p["headlines"]:
        if r["inside"] is None and r["verdicts"] is None and not r["measure"].startswith("holds."):
            a, b = r["float32"]["value"], r["bfloat16"]["value"]
            if abs(a - b) <= 0.02 * max(abs(a), abs(b), 1e-12):
                quiet.append(r["measure"])  # no interval, and within 2 %: not listed
                continue
        inside = {True: "yes", False: "**no**", None: "–"}[r["inside"]]
        if r["measure"].startswith("holds.") and r["verdicts"] is None:
            inside = "not in both runs"
        if r["verdicts"] is not None:
            inside = "same verdict" if r["verdicts"] else "**verdict changed**"
        lines.append(
            f"| {r['measure']} | {_fmt(r['float32'])} | {_fmt(r['bfloat16'])} | {inside} |"
        )
    lines += [
        "",
        f"Numbers without an interval that moved by at most 2 % are not listed ({len(quiet)}).",
    ]
    return lines


def _top(seconds: Mapping[str, float], n: int = 5) -> str:
    ranked = sorted(seconds.items(), key=lambda kv: -kv[1])[:n]
    return ", ".join(f"{k} {v:.0f} s" for k, v in ranked)


def precision_bound(p: Mapping) -> str:
    """What the bfloat16 run's time is made of, against float32's, per rule."""
    f32, b16 = p["runs"]["float32"], p["runs"]["bfloat16"]
    model_rules = ("extract_activations", "model_analyses", "residual_norms",
                   "scenario_activations", "trace_texts")  # fmt: skip
    heavy = {
        d: sum(r["rules_s"].get(k, 0) for k in model_rules) for d, r in (("f", f32), ("b", b16))
    }
    light = {
        d: sum(v for k, v in r["rules_s"].items() if k not in model_rules)
        for d, r in (("f", f32), ("b", b16))
    }
    return (
        f"What bounds the {p['model']} ratio: the jobs that run the model took "
        f"{heavy['b']:.0f} s in bfloat16 against {heavy['f']:.0f} s in float32 "
        f"({heavy['b'] / max(heavy['f'], 1):.2f}×); the light jobs (passages, vectors, "
        f"geometry, figures, reports: process starts and matplotlib) took {light['b']:.0f} s "
        f"against {light['f']:.0f} s and do not use the model; the rest is Snakemake's own "
        f"bookkeeping. Longest jobs in bfloat16: {_top(b16['rules_s'])}; in float32: "
        f"{_top(f32['rules_s'])}. Model analyses in bfloat16: {_top(b16.get('analyses_s', {}), 7)}."
    )


def centring_note(model: str, c: Mapping) -> str:
    a = c["add_one_min_cosine"]
    return (
        f"Centring ({model}, layer {c['layer']}, {c['emotions']} emotions, float32 run). "
        f"Adding any one of the other {a['candidates']} emotions to the seed's "
        f"{a['seed_emotions']} "
        f"moves each of their vectors to a cosine of at least {a['min']:.4f} with what it was: "
        "the mean over emotions barely moves, yet every vector's bytes change, so Snakemake "
        "reruns everything downstream. Centring on the neutral reference instead would make "
        "each vector depend on its own passages only, but the vectors would then share one "
        "component (narrative passages minus the expository neutral set): their mean pairwise "
        f"cosine would be {c['mean_pairwise_cosine']['neutral']:.3f} (paper's centring: "
        f"{c['mean_pairwise_cosine']['mean']:.3f}), the shared component would carry "
        f"{100 * c['shared_share']:.0f} % of their squared norm, and each vector's cosine with "
        f"its paper-centred self would be {c['own_cosine']['median']:.2f} (median; min "
        f"{c['own_cosine']['min']:.2f}). PC1-valence r is the same under both "
        f"({c['valence_r']['mean']:.3f} vs {c['valence_r']['neutral']:.3f}: PCA removes any "
        "common offset), but cosines, the logit lens and steering read that shared component. "
        "So `vectors.centre: neutral` is not offered: it would make adding an emotion cheap by "
        "changing what every vector means."
    )


def add_one_note(a: Mapping) -> str:
    return (
        f"What bounds add-one: the rerun took {a['rerun']['wall_s']:.0f} s; its longest jobs "
        f"were {_top(a['rerun']['rules_s'])}; model analyses "
        f"{_top(a['rerun'].get('analyses_s', {}), 7)}. "
        f"The {a['emotions']} vectors moved to a cosine of at least {a['movement']['min']:.4f} "
        f"(median {a['movement']['median']:.5f}) with their values before {a['added']} was "
        f"added; {sum(1 for r in a['headlines'] if r['inside'] is False)} headline numbers "
        "left their interval of the run before, and "
        f"{sum(1 for r in a['headlines'] if r['verdicts'] is False)} verdicts changed."
    )


# ---------------------------------------------------------------- what a change costs


def _source_at(commit: str) -> Path:
    """A checkout of this repository at `commit` (a git worktree under bench/work)."""
    tree = WORK / "source" / commit
    if not (tree / "Snakefile").exists():
        shutil.rmtree(tree, ignore_errors=True)
        subprocess.run(["git", "worktree", "prune"], cwd=ROOT, check=True)
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(tree), commit], cwd=ROOT, check=True
        )
    return tree


def warm_model(source: Path) -> None:
    """Load the default model once with the package in `source`: the first load on a machine
    dequantises the GGUF file into a per-user cache (~16 s here), which the first timed run
    would pay and the second would not."""
    code = (
        "from pathlib import Path; from emotion_vectors.config import read_models; "
        "from emotion_vectors.models import load_model; "
        f"load_model(read_models(Path('config/models.yaml'))[{DEFAULT_MODEL!r}])"
    )
    env = {**os.environ, "PYTHONPATH": str(source)}
    subprocess.run([sys.executable, "-c", code], cwd=source, env=env, check=True,
                   capture_output=True)  # fmt: skip


def timed_default_run(source: Path, workdir: Path) -> dict:
    """The complete default run (dtype auto) of the workflow in `source`, from a clean
    `results/`, its package first on the path (the installed one is this checkout's), with
    the model's conversion cache warm."""
    warm_model(source)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(source / "Snakefile"),
           "--directory", str(workdir), "--cores", "2"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(source)}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - t0
    log = proc.stdout + proc.stderr
    (workdir / "snakemake-output.txt").write_text(log)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{log[-3000:]}")
    return {"wall_s": round(seconds, 1), "rules_s": rule_seconds(log),
            "analyses_s": model_analyses_s(workdir, DEFAULT_MODEL)}  # fmt: skip


def growth(before: str) -> dict:
    """The complete default run with the code at `before` and with this checkout's, one
    after the other on the same machine: what the change added to the run."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", before], cwd=ROOT, capture_output=True, text=True,
        check=True,
    ).stdout.strip()  # fmt: skip
    runs = {
        "before": timed_default_run(_source_at(commit), WORK / "growth" / "before"),
        "after": timed_default_run(ROOT, WORK / "growth" / "after"),
    }
    summary = json.loads(
        Path(Layout(WORK / "growth" / "after" / "results").summary(DEFAULT_MODEL)).read_text()
    )
    return {"before_commit": commit, "runs": runs, "machine": machine(),
            "cpu_flags": cpu_flags(), "dtype": summary.get("dtype"),
            "ratio": runs["after"]["wall_s"] / runs["before"]["wall_s"]}  # fmt: skip


def behaviour_floor() -> dict:
    """What the behaviour and speakers experiments of the default run cost at least: their
    tokens (prompt tokens once, each steered condition's answer-turn tokens through the
    blocks above the analysis layer, the dialogues and their replies), at the bare batched
    forward rate of the model on this machine. Reads the designs from the last
    behaviour-growth run (bench/work/speed/growth/after)."""
    import pyarrow.parquet as pq
    import torch

    from emotion_vectors.behaviour import behaviour_prompts, read_suites
    from emotion_vectors.config import read_models
    from emotion_vectors.models import load_model

    results = WORK / "growth" / "after" / "results"
    behaviour = json.loads((results / DEFAULT_MODEL / "templates" / "behaviour" /
                            "behaviour.json").read_text())  # fmt: skip
    settings = read_schema_defaults("behaviour")
    loaded = load_model(read_models(ROOT / "config" / "models.yaml")[DEFAULT_MODEL], "cpu",
                        behaviour["dtype"])  # fmt: skip
    torch.set_num_threads(2)
    model, tokenizer = loaded.model, loaded.tokenizer
    blocks = model.config.num_hidden_layers
    prompts = []
    for suite in read_suites([ROOT / p for p in settings["suites"]], ROOT):
        prompts += behaviour_prompts(tokenizer, loaded.spec.chat, settings["question"],
                                     suite.items)  # fmt: skip
    header = _common(p.ids for p in prompts)
    unique = header
    for a, b in zip(prompts[::2], prompts[1::2], strict=True):
        unique += len(a.ids) + len(b.ids) - _common([a.ids, b.ids]) - header
    span = sum(p.span_b[1] - p.span_b[0] for p in prompts)
    conditions = len(behaviour["strengths"]) * (
        len(behaviour["emotions"]) + behaviour["random_directions"]
    )
    above = blocks - behaviour["layer"]
    steered = conditions * span * above / blocks + span  # full-depth token equivalents
    cache = next((results / DEFAULT_MODEL / "cache" / "speakers").glob("*.parquet"))
    replies = pq.read_table(cache).column("reply").to_pylist()
    speakers_json = json.loads((results / DEFAULT_MODEL / "templates" / "speakers" /
                                "speakers.json").read_text())  # fmt: skip
    from emotion_vectors.dialogues import build_dialogues, read_dialogues

    dialogues_file = (results.parent / speakers_json["dialogues_file"]).resolve()
    dialogues = build_dialogues(read_dialogues(dialogues_file),
                                speakers_json["emotions"])  # fmt: skip
    dialogue_tokens = sum(len(t) for t in tokenizer([d.text for d in dialogues])["input_ids"])
    reply_tokens = sum(len(t) for t in tokenizer(replies, add_special_tokens=False)["input_ids"])
    x = torch.randint(100, 20000, (32, 160))
    rates = []
    with torch.inference_mode():
        model.model(input_ids=x)
        for _ in range(5):
            t0 = time.perf_counter()
            model.model(input_ids=x)
            rates.append(x.numel() / (time.perf_counter() - t0))
    rate = float(np.median(rates))
    return {"rate_tokens_s": round(rate), "dtype": behaviour["dtype"], "blocks": blocks,
            "layer": behaviour["layer"], "prompts": len(prompts), "prompt_tokens": unique,
            "steered_tokens": span, "conditions": conditions,
            "behaviour_tokens": round(unique + steered), "dialogues": len(dialogues),
            "dialogue_tokens": dialogue_tokens, "reply_tokens": reply_tokens,
            "behaviour_floor_s": round((unique + steered) / rate, 1),
            "speakers_floor_s": round((dialogue_tokens + reply_tokens) / rate, 1)}  # fmt: skip


def _common(rows) -> int:
    rows = [list(r) for r in rows]
    n = 0
    while all(len(r) > n for r in rows) and all(r[n] == rows[0][n] for r in rows):
        n += 1
    return n


def read_schema_defaults(section: str) -> dict:
    import yaml

    schema = yaml.safe_load((ROOT / "workflow" / "schemas" / f"{section}.schema.yaml").read_text())
    return {k: v["default"] for k, v in schema["properties"].items() if "default" in v}


def floor_note(f: Mapping, g: Mapping, target: float = 1.25) -> str:
    before, after = g["runs"]["before"], g["runs"]["after"]
    allowed = (target - 1) * before["wall_s"]
    parts = after.get("analyses_s", {})
    floor = f["behaviour_floor_s"] + f["speakers_floor_s"]
    return (
        f"What bounds behaviour growth: {target:g}× of the run before allows "
        f"{allowed:.0f} s more. At the bare batched forward rate of {DEFAULT_MODEL} here "
        f"({f['rate_tokens_s']} tokens/s, batch 32 × 160, {f['dtype']}, all {f['blocks']} "
        f"blocks), the behaviour design ({f['prompts']} prompts: {f['prompt_tokens']} "
        f"distinct prompt tokens, and {f['conditions']} steered conditions × "
        f"{f['steered_tokens']} answer-turn tokens through the {f['blocks'] - f['layer']} "
        f"blocks above layer {f['layer']}) takes at least {f['behaviour_floor_s']:.0f} s, and "
        f"the speakers' {f['dialogues']} dialogues ({f['dialogue_tokens']} tokens) with "
        f"their replies ({f['reply_tokens']} tokens) {f['speakers_floor_s']:.0f} s: "
        f"{floor:.0f} s at the least, against {parts.get('behaviour', 0):.0f} + "
        f"{parts.get('speakers', 0):.0f} s measured. "
        + ("So no implementation of this design meets the target on this machine: it needs "
           "fewer items, conditions or dialogues, or a faster machine."
           if floor > allowed else
           "So the target is within reach of this design; the gap is implementation.")
    )  # fmt: skip


def growth_row(
    g: Mapping,
    label: str = "growth",
    what: str = "before the human-labelled benchmarks and the stronger controls",
    target: float = 1.2,
) -> str:
    b, a = g["runs"]["before"], g["runs"]["after"]
    added = {k: v for k, v in a["rules_s"].items() if v - b["rules_s"].get(k, 0.0) >= 2}
    grew = ", ".join(
        f"{k} {b['rules_s'].get(k, 0.0):.0f}→{v:.0f} s" for k, v in sorted(added.items())
    )
    parts = {k: v for k, v in a.get("analyses_s", {}).items() if k != "total"}
    before_parts = b.get("analyses_s", {})
    inside = ", ".join(
        f"{k} {before_parts.get(k, 0.0):.0f}→{v:.0f} s"
        for k, v in sorted(parts.items())
        if v - before_parts.get(k, 0.0) >= 2
    )
    if inside:
        grew += f" (inside model_analyses: {inside})"
    ok = g["ratio"] <= target
    # Measured later than the rows above, perhaps on another machine: it says where.
    where = f" ({g['dtype']}), on {g['machine']}" if g.get("machine") else ""
    return (
        f"| {label} | the complete default run, {DEFAULT_MODEL}, `dtype: auto`{where}, the "
        "model's conversion cache warm for both, from a clean "
        f"`results/`: this checkout vs commit {g['before_commit']} ({what}); jobs that grew: "
        f"{grew or 'none'} | ≤ {target:g}× | "
        f"{a['wall_s'] / 60:.1f} min vs {b['wall_s'] / 60:.1f} min = **{g['ratio']:.2f}×** | "
        f"**{'met' if ok else 'not met'}** |"
    )


def render(data: Mapping) -> str:
    lines = [
        BEGIN,
        "",
        "## Speed: half precision, small runs, adding one emotion",
        "",
        f"Measured by `python bench/speed.py` on {data.get('machine') or machine()} (rows that"
        " name another machine excepted). CPU flags: "
        f"{', '.join(data.get('cpu_flags', [])) or 'none of interest'}.",
        "",
        "| # | measure | target | measured | |",
        "| --- | --- | --- | --- | --- |",
    ]
    for p in data.get("precision", {}).values():
        lines += precision_rows(p)
    if "quick" in data:
        q = data["quick"]
        ok = q["wall_s"] <= 120
        lines.append(
            f"| quick | {len(q['emotions'])} emotions ({', '.join(q['emotions'])}), vectors plus "
            f"`analyses: [{', '.join(q['analyses'])}]`, {DEFAULT_MODEL}, from a clean `results/` "
            f"| ≤ 2 min | **{q['wall_s']:.0f} s** | **{'met' if ok else 'not met'}** |"
        )
    if "add_one" in data:
        a = data["add_one"]
        lines.append(
            f"| add-one | add {a['added']} to the complete {a['emotions']}-emotion run: rerun vs "
            f"full run | ≤ 15 % | {a['rerun']['wall_s']:.0f} s / {a['full']['wall_s']:.0f} s = "
            f"**{100 * a['share']:.0f} %** | **{'met' if a['share'] <= 0.15 else 'not met'}** |"
        )
    if "growth" in data:
        lines.append(growth_row(data["growth"]))
    if "behaviour_growth" in data:
        lines.append(growth_row(data["behaviour_growth"], "behaviour growth",
                                "before the behaviour experiment", 1.25))  # fmt: skip
    lines.append("")
    if "behaviour_floor" in data and "behaviour_growth" in data:
        lines += [floor_note(data["behaviour_floor"], data["behaviour_growth"]), ""]
    for p in data.get("precision", {}).values():
        lines += [*agreement_table(p), ""]
    for p in data.get("precision", {}).values():
        if not p.get("reference"):
            lines += [precision_bound(p), ""]
        else:
            b = p["runs"]["bfloat16"]
            lines += [f"The {p['model']} study in bfloat16, per job: {_top(b['rules_s'], 8)}; "
                      f"model analyses: {_top(b.get('analyses_s', {}), 7)}.", ""]  # fmt: skip
    for model, c in data.get("centring", {}).items():
        lines += [centring_note(model, c), ""]
    if "add_one" in data:
        lines += [add_one_note(data["add_one"]), ""]
    lines += [END]
    return "\n".join(lines)


def write_block(block: str, begin: str = BEGIN, end: str = END) -> None:
    """Put `block` (which starts with `begin` and ends with `end`) into bench/RESULTS.md in
    place of the block between the same markers, or at the end the first time."""
    text = RESULTS_MD.read_text()
    if begin in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    RESULTS_MD.write_text(text)


def write_results(data: Mapping) -> None:
    write_block(render(data))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "measure",
        choices=[
            "precision",
            "quick",
            "add-one",
            "centring",
            "growth",
            "behaviour-growth",
            "behaviour-floor",
            "render",
        ],
    )
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--reuse", action="store_true", help="compare finished runs again")
    parser.add_argument("--only", choices=["float32", "bfloat16"], help="run one dtype alone")
    parser.add_argument("--before", default="b8b346a", help="growth: the commit compared with")
    parser.add_argument(
        "--against", help="a committed float32 summary.json to compare the bfloat16 run with"
    )
    args = parser.parse_args()
    data = json.loads(OUTPUT.read_text()) if OUTPUT.exists() else {}
    # The header names the machine of the first measures; a later one on another machine
    # records its own (growth) rather than relabelling the rows measured before it.
    data.setdefault("cpu_flags", cpu_flags())
    data.setdefault("machine", machine())
    if args.measure == "precision":
        if args.against:
            data.setdefault("precision", {})[args.model] = precision_against_snapshot(
                args.model, ROOT / args.against, ROOT / "bench" / "seed-scale.json"
            )
            OUTPUT.write_text(json.dumps(data, indent=1) + "\n")
            write_results(data)
            print(render(data))
            return
        result = precision(args.model, args.reuse, args.only)
        if result is None:
            return
        data.setdefault("precision", {})[args.model] = result
    elif args.measure == "quick":
        data["quick"] = quick()
    elif args.measure == "add-one":
        data["add_one"] = add_one()
    elif args.measure == "growth":
        data["growth"] = growth(args.before)
    elif args.measure == "behaviour-growth":
        data["behaviour_growth"] = growth(args.before)
    elif args.measure == "behaviour-floor":
        data["behaviour_floor"] = behaviour_floor()
    elif args.measure == "centring":
        workdir = WORK / "precision" / args.model / "float32"
        data.setdefault("centring", {})[args.model] = centring(workdir, args.model)
    OUTPUT.write_text(json.dumps(data, indent=1) + "\n")
    write_results(data)
    print(render(data))


if __name__ == "__main__":
    main()
