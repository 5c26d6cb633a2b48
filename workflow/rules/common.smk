import sys
from dataclasses import asdict
from pathlib import Path

from emotion_vectors import registry
from emotion_vectors.registry import output_name
from emotion_vectors.config import (
    ConfigError,
    ModelSpec,
    locate_key,
    read_yaml,
)
from emotion_vectors.run_config import load_run_config
from emotion_vectors.integrity import heal_sealed
from emotion_vectors.layout import Layout
from emotion_vectors.pooling import sink_rule
from emotion_vectors.resources import SIZING_KEYS, job_resources
from snakemake.exceptions import WorkflowError

# Where the config's values come from, in the order Snakemake merges them (a later one
# wins): the `configfile:` and every --configfile, then --config. Each file is read again
# strictly (no YAML aliases, no key written twice), which Snakemake's own reading allows.
CONFIG_FILES = list(
    dict.fromkeys(
        str(f) for f in [*workflow.configfiles, *workflow.config_settings.configfiles]
    )
)
CONFIG_LABEL = CONFIG_FILES[-1] if CONFIG_FILES else "config"

try:
    CONFIG_SOURCES = [(f, read_yaml(Path(f))) for f in CONFIG_FILES]
    if workflow.config_settings.config:
        CONFIG_SOURCES.append(("--config", dict(workflow.config_settings.config)))
    RUN = load_run_config(config, label=CONFIG_LABEL)
except ConfigError as err:
    # One line that names the file holding the key, the key and the problem; no traceback,
    # no job run.
    if err.file == CONFIG_LABEL and err.key:
        err = ConfigError(
            locate_key(
                err.key, CONFIG_SOURCES, CONFIG_FILES[0] if CONFIG_FILES else "config"
            ),
            err.key,
            err.problem,
        )
    sys.exit(f"emotion-vectors: configuration error: {err}")

# The rule files of the light analyses, from the registry (workflow/Snakefile includes them).
try:
    LIGHT_RULE_FILES = registry.rule_files()
except ConfigError as err:
    sys.exit(f"emotion-vectors: configuration error: {err}")

# Every path comes from the layout (emotion_vectors/layout.py); rules chain on each other's
# outputs (rules.X.output) wherever one rule reads what another writes.
RESULTS = "results"
LAYOUT = Layout(RESULTS)
# The corpora of this run (config `corpora`), side by side under results/<model>/<corpus>/.
CORPORA = RUN.corpora

# Snakemake sees only existence and mtimes, so a damaged output (a disk that filled up, a
# bad sync, a flipped byte) would be read by every later job. Every job seals its outputs
# when it succeeds (integrity.seal); here every sealed output whose bytes no longer match is
# removed, before any job runs, so Snakemake reruns the job that writes it. Cheap when
# nothing changed (size and mtime are compared first). Only in the main process: a cluster
# job re-parses this file while other jobs may be sealing. A dry run (-n) changes nothing:
# it only reports them. Snakemake sets its dry-run flag only after the workflow is parsed;
# read the command line.
DRY_RUN = workflow.dryrun or any(
    arg in ("--dry-run", "--dryrun")
    or (arg[:1] == "-" and arg[1:2] != "-" and arg[1:].isalpha() and "n" in arg[1:])
    for arg in sys.argv[1:]
)
if workflow.is_main_process:
    for warning in heal_sealed(RESULTS, remove=not DRY_RUN):
        print(f"emotion-vectors: warning: {warning}", file=sys.stderr)


wildcard_constraints:
    model="[a-z0-9][a-z0-9._-]*",
    emotion="[a-z]+(?:[-_][a-z]+)*",
    corpus="|".join(CORPORA),
    layer="[0-9]+",


def model_params(model):
    """The model's entry as its jobs see it. Job sizing (parameters, resources) is left
    out: a new partition or memory figure must not rerun finished jobs."""
    params = asdict(RUN.models[model])
    params["extra"] = {k: v for k, v in params["extra"].items() if k not in SIZING_KEYS}
    return params


def pooling_params(corpus):
    """How the corpus's passages are pooled (pooling.Pooling, one dict); in the params of
    every job that pools, so a new setting reruns exactly those jobs."""
    return asdict(RUN.pooling(corpus))


def analysis_layer(wildcards):
    return RUN.models[wildcards.model].layer_for_analysis


def passage_files(wildcards):
    return [LAYOUT.passages(e, wildcards.corpus) for e in RUN.emotions]


# What each job that loads a model asks for (memory, GPUs, runtime, partition), from
# config/models.yaml: the model-loading rules take their resources from MODEL_RESOURCES
# and their threads from model_threads. `gpu` is both SLURM's --gpus and, in a local run,
# the token that profiles/default limits to one (one model on the accelerator at a time).
JOB_RESOURCES = {m: job_resources(spec) for m, spec in RUN.models.items()}


def model_threads(wildcards):
    # SLURM's --cpus-per-task. Snakemake caps threads at --cores (and --max-threads), so a
    # laptop run uses what it is given.
    return JOB_RESOURCES[wildcards.model].cpus


def _model_resource(name):
    # None drops the resource for that model's jobs (e.g. no partition: the default one).
    return lambda wildcards: JOB_RESOURCES[wildcards.model].as_snakemake().get(name)


MODEL_RESOURCES = {
    name: _model_resource(name)
    for name in ("mem_mb", "gpu", "runtime", "slurm_partition", "slurm_extra")
}


# ---------------------------------------------------------------- registered analyses


def analysis_output(name, key, model="{model}", corpus="{corpus}"):
    """Output `key` of the registered analysis `name` (registry.py), in the form rules take:
    wrapped for `snakemake --report` when the registry gives it a caption."""
    entry = registry.analysis(name)
    out = entry.outputs[key]
    path = LAYOUT.output(name, key, model, corpus)
    if out.caption is None:
        return path
    return report(
        path,
        caption=f"../report/{out.caption}.rst",
        category=entry.title,
        subcategory="{model}",
        labels=lambda w, label=out.label: {
            "corpus": w.get("corpus", "all corpora"),
            "file": label,
        },
    )


def analysis_outputs(name, keys=None):
    """{key: output} of a registered analysis, for a rule's `output: **...`."""
    keys = keys or registry.analysis(name).outputs
    return {key: analysis_output(name, key) for key in keys}


def settings_of(analysis):
    """The config section a registered analysis reads, resolved."""
    return RUN.sections[registry.analysis(analysis).section]


# Targets beyond the registered ones (a figure across models, files named by layer): each
# rule file may register a function (model, corpus) -> [paths] here, under the analysis it
# belongs to (None: every run), so the default target follows config `analyses`.
EXTRA_TARGETS = {}


def extra_targets(analysis, targets_of):
    EXTRA_TARGETS.setdefault(analysis, []).append(targets_of)


def selected(name):
    """Whether the run builds the registered analysis `name` (config `analyses`)."""
    return name in RUN.analyses


def extraction_targets(model, corpus):
    """What an extraction job publishes. Targets, so that a missing one reruns its job:
    Snakemake 9 takes a missing intermediate file whose consumers are up to date for one
    removed on purpose (like a temp file), so deleting an activation file, by hand or by
    heal_sealed above, would otherwise recompute nothing."""
    return [LAYOUT.activations(model, e, corpus) for e in RUN.emotions] + [
        LAYOUT.neutral_activations(model, corpus),
        LAYOUT.word_embeddings(model, corpus),
    ]


def vector_targets():
    return [
        path
        for model in RUN.models
        for corpus in CORPORA
        for path in (
            *extraction_targets(model, corpus),
            LAYOUT.vectors(model, corpus),
            LAYOUT.vector_meta(model, corpus),
        )
    ]


# The texts of the emotion traces (traces.folder), by name (the file's stem).
TRACE_FILES = {Path(f).stem: f for f in RUN.section_files["traces"]}


def trace_files(kind):
    """The trace_texts rule's per-text outputs: pages (html) or tables (csv)."""
    return [LAYOUT.trace("{model}", name, "{corpus}", kind) for name in TRACE_FILES]


def trace_targets(model, corpus):
    return [
        LAYOUT.trace(model, name, corpus, kind)
        for name in TRACE_FILES
        for kind in ("html", "csv")
    ]


def all_targets(wildcards=None):
    """Everything (rule all, the default target). An input function, so that a run with
    too few emotions for the analyses stops here, before any job, only when the analyses
    are asked for: `snakemake vectors` or `export` need no minimum."""
    needed = settings_of("geometry")["pca_components"] + 1
    pca_based = selected("geometry") or selected("uncertainty")
    if pca_based and len(RUN.emotions) < needed:
        raise WorkflowError(
            "emotion-vectors: configuration error: "
            f"{locate_key('emotions', CONFIG_SOURCES, CONFIG_LABEL)}: emotions: "
            f"{len(RUN.emotions)} emotions; the analyses compare emotions and need at least "
            f"{needed} (geometry.pca_components + 1). List more, or build only "
            "`snakemake vectors` or `snakemake export`."
        )
    targets = vector_targets()
    for model in RUN.models:
        for corpus in CORPORA:
            for name in RUN.analyses:
                targets += [
                    LAYOUT.output(name, key, model, corpus)
                    for key in registry.analysis(name).targets()
                ]
            for analysis, functions in EXTRA_TARGETS.items():
                if analysis is None or selected(analysis):
                    for targets_of in functions:
                        targets += targets_of(model, corpus)
    return list(dict.fromkeys(targets))


# ---------------------------------------------------------------- input functions

# The implicit-scenario passages of the generalisation test (None: test off).
SCENARIOS = settings_of("generalisation")["scenarios"]
# The emotions whose stories the judge reads (stories.judge_emotions; all by default).
JUDGED = RUN.sections["stories"]["judge_emotions"]


def generalisation_inputs(wildcards):
    inputs = {
        f"vectors_{corpus}": LAYOUT.vectors(wildcards.model, corpus)
        for corpus in CORPORA
    }
    inputs["words"] = LAYOUT.word_embeddings(wildcards.model, CORPORA[0])
    if "stories" in CORPORA:
        inputs["stories"] = [LAYOUT.passages(e, "stories") for e in RUN.emotions]
        inputs["story_report"] = LAYOUT.story_report()
        inputs["word_forms"] = RUN.sections["word_forms"]
        inputs["story_judgements"] = LAYOUT.output(
            "generalisation", "story_judgements", wildcards.model
        )
    if SCENARIOS:
        inputs["scenarios"] = LAYOUT.output(
            "generalisation", "scenario_activations", wildcards.model
        )
        if "stories" in CORPORA:
            inputs["story_curve"] = LAYOUT.output(
                "generalisation", "story_curve", wildcards.model
            )
        # The template grand mean (second reference) and the TF-IDF baseline's passages.
        for corpus in CORPORA:
            inputs[f"activations_{corpus}"] = [
                LAYOUT.activations(wildcards.model, e, corpus) for e in RUN.emotions
            ]
            inputs[f"passages_{corpus}"] = [
                LAYOUT.passages(e, corpus) for e in RUN.emotions
            ]
    return inputs


def story_curve_targets(model, corpus):
    """The story curve's outputs, in runs with stories and the scenario test."""
    if "stories" not in CORPORA or not SCENARIOS:
        return []
    return [
        LAYOUT.output("generalisation", key, model)
        for key in ("story_curve", "story_curve_png")
    ]


def analysis_layer_files(model, corpus):
    """The single-layer control vectors of the model's analysis layer."""
    layer = RUN.models[model].layer_for_analysis
    return [LAYOUT.control_vector(model, e, corpus, layer) for e in RUN.emotions]


# Analyses of this run whose headline numbers enter summary.json.
HEADLINED = [a for a in registry.analyses() if a.headline and selected(a.name)]


def summary_inputs(wildcards):
    """meta_<corpus>, <analysis>_<corpus> (per-corpus analyses) and <analysis> (per-model)."""
    inputs = {f"meta_{c}": LAYOUT.vector_meta(wildcards.model, c) for c in CORPORA}
    for a in HEADLINED:
        if a.scope == "model":
            inputs[a.name] = LAYOUT.output(a.name, "json", wildcards.model)
            continue
        for c in CORPORA:
            inputs[f"{a.name}_{c}"] = LAYOUT.output(a.name, "json", wildcards.model, c)
    return inputs
