import os
import sys
from dataclasses import asdict
from pathlib import Path

# Jobs inherit the environment: make the package beside this workflow importable in them
# too (the Snakefile already put it on this process's sys.path).
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        p for p in (workflow.basedir, os.environ.get("PYTHONPATH")) if p
    )
)

from emotion_vectors import paths
from emotion_vectors.config import ConfigError, load_run_config
from emotion_vectors.resources import SIZING_KEYS, job_resources

# Name the config file(s) the values came from: the default, or those of --configfile.
CONFIG_LABEL = " + ".join(str(f) for f in workflow.configfiles) or "config"

try:
    RUN = load_run_config(config, label=CONFIG_LABEL)
except ConfigError as err:
    # One line that names the file, the key and the problem; no traceback, no job run.
    sys.exit(f"emotion-vectors: configuration error: {err}")

RESULTS = "results"
CORPORA = ["templates"]


wildcard_constraints:
    model="[a-z0-9][a-z0-9._-]*",
    emotion="[a-z]+(?:[-_][a-z]+)*",
    corpus="|".join(CORPORA),
    layer="[0-9]+",


def rule_name(prefix, model):
    """Snakemake rule names are identifiers; model keys may hold '-' and '.'."""
    ident = "".join(c if c.isalnum() else "_" for c in model)
    return f"{prefix}_{ident}"


def passage_files(wildcards):
    return [paths.corpus_file(RESULTS, e, wildcards.corpus) for e in RUN.emotions]


def model_params(model):
    """The model's entry as its jobs see it. Job sizing (parameters, resources) is left
    out: a new partition or memory figure must not rerun finished jobs."""
    params = asdict(RUN.models[model])
    params["extra"] = {k: v for k, v in params["extra"].items() if k not in SIZING_KEYS}
    return params


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


def activation_files(model, corpus):
    return [paths.activation_file(RESULTS, model, e, corpus) for e in RUN.emotions]


def vector_files(model, corpus):
    return [
        paths.vector_file(RESULTS, model, layer, corpus) for layer in RUN.layers[model]
    ]


def analysis_json(kind):
    """Input function: the per-corpus headline JSON of one analysis, in CORPORA order."""

    def inputs(wildcards):
        return [
            f"{RESULTS}/{wildcards.model}/{corpus}/{kind}/{kind}.json"
            for corpus in CORPORA
        ]

    return inputs


# Each analysis rule file registers a function (model, corpus) -> [paths] here, so the
# default target grows with the analyses without this file knowing them.
ANALYSIS_TARGETS = []


def vector_targets():
    targets = []
    for model in RUN.models:
        for corpus in CORPORA:
            targets += vector_files(model, corpus)
            targets.append(paths.vector_meta_file(RESULTS, model, corpus))
    return targets


def all_targets():
    targets = vector_targets()
    for model in RUN.models:
        for corpus in CORPORA:
            for targets_of in ANALYSIS_TARGETS:
                targets += targets_of(model, corpus)
    return targets
