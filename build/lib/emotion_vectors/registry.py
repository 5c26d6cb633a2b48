"""The analyses of the workflow, registered once in workflow/analyses.yaml: what each is
called (its results folder and config section), which files it writes, which of them the
report shows and the default target asks for, and whether its job runs inside the
model-sharing job and feeds summary.json. The config reader, the rules, the
`model_analyses` job, the summary and the API discover analyses here, not from hand lists.

An analysis is one of two kinds:

- a *model experiment* (`experiment: true`) needs the model itself. All of them run in one
  `model_analyses` job per (model, corpus), over one model load, in registry order; its
  function is `emotion_vectors.jobs.<name>:run(job, settings, outputs)`, which the jobs
  package imports by name (`jobs.analysis_function`)
  (jobs/model_analyses.py describes `job`).
- a *light analysis* reads stored vectors or activations; its rules live in
  workflow/rules/<name>.smk and take their outputs from the registry.

With `headline: true`, `emotion_vectors.jobs.<name>:headline(data)` turns the analysis's
`json` output into summary.json entries. See the README, "How to extend".
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from .config import REPO_ROOT, ConfigError, read_yaml, validate_schema

REGISTRY_FILE = REPO_ROOT / "workflow" / "analyses.yaml"


@dataclass(frozen=True)
class Output:
    """One file of an analysis. `caption` (workflow/report/<caption>.rst) puts it in
    `snakemake --report`; `target` makes it part of the default target."""

    file: str
    caption: str | None = None
    label: str | None = None
    target: bool = False


@dataclass(frozen=True)
class Analysis:
    name: str
    title: str  # the report category
    outputs: Mapping[str, Output]
    section: str | None = None
    experiment: bool = False
    headline: bool = False
    scope: str = "corpus"
    folder: str = ""
    files: Mapping[str, str] = field(default_factory=dict)  # written by other jobs
    caches: tuple[str, ...] = ()  # its folders under results/<model>/cache/
    needs: tuple[str, ...] = ()  # analyses it builds on, selected with it

    @property
    def directory(self) -> str:
        return self.folder or self.name

    def targets(self) -> list[str]:
        return [key for key, out in self.outputs.items() if out.target]


def _output(entry: str | Mapping) -> Output:
    if isinstance(entry, str):
        entry = {"file": entry}
    label = entry.get("label") or entry["file"].rsplit(".", 1)[0].replace("_", " ")
    return Output(entry["file"], entry.get("caption"), label, bool(entry.get("target")))


@functools.cache
def _registry() -> tuple[Analysis, ...]:
    label = str(REGISTRY_FILE.relative_to(REPO_ROOT))
    data = validate_schema(read_yaml(REGISTRY_FILE, label), "analyses.schema.yaml", label)
    analyses = []
    for name, entry in data.items():
        outputs = {key: _output(spec) for key, spec in entry["outputs"].items()}
        if entry["headline"] and "json" not in outputs:
            raise ConfigError(label, f"{name}.outputs", "a headline needs a `json` output")
        fields = {k: v for k, v in entry.items() if k not in ("outputs", "caches", "needs")}
        caches, needs = tuple(entry["caches"]), tuple(entry["needs"])
        unknown = [n for n in needs if n not in data]
        if unknown:
            raise ConfigError(label, f"{name}.needs", f"no registered analysis {unknown[0]!r}")
        analyses.append(Analysis(name=name, outputs=outputs, caches=caches, needs=needs, **fields))
    return tuple(analyses)


def analyses() -> tuple[Analysis, ...]:
    """Every registered analysis, in registry order."""
    return _registry()


def analysis(name: str) -> Analysis:
    return next(a for a in _registry() if a.name == name)


def model_experiments(selected: Collection[str] | None = None) -> list[Analysis]:
    """The analyses that run inside the model_analyses job, in order (of `selected` only,
    when given)."""
    return [a for a in _registry() if a.experiment and (selected is None or a.name in selected)]


def select(requested: str | Sequence[str], label: str) -> list[str]:
    """The analyses a run config's `analyses` asks for, in registry order: "all", or a list
    of registered names, each with the analyses it needs. An unknown name is a ConfigError
    that names the registered ones."""
    known = {a.name: a for a in _registry()}
    if requested == "all":
        return list(known)
    chosen: set[str] = set()
    for i, name in enumerate(requested):
        if name not in known:
            raise ConfigError(
                label,
                f"analyses[{i}]",
                f"unknown analysis {name!r}; registered: {', '.join(known)} (or all)",
            )
        pending = [name]
        while pending:
            current = pending.pop()
            if current not in chosen:
                chosen.add(current)
                pending.extend(known[current].needs)
    return [name for name in known if name in chosen]


def rule_files() -> list[str]:
    """`rules/<name>.smk` (relative to workflow/) of every light analysis, in registry order:
    the rule files workflow/Snakefile includes, so registering an analysis is what brings
    its rules in. A missing file is a `ConfigError` naming the analysis and the file."""
    found = []
    for a in _registry():
        if a.experiment:
            continue
        path = REPO_ROOT / "workflow" / "rules" / f"{a.name}.smk"
        if not path.exists():
            problem = (
                f"the analysis {a.name!r} does not run inside model_analyses (no "
                f"`experiment: true`), so its rules belong in workflow/rules/{a.name}.smk, "
                "which does not exist"
            )
            raise ConfigError(REGISTRY_FILE.relative_to(REPO_ROOT), a.name, problem)
        found.append(f"rules/{a.name}.smk")
    return found


def config_sections() -> list[str]:
    """Config sections that registered analyses read, each with its own schema."""
    return list(dict.fromkeys(a.section for a in _registry() if a.section))


def output_name(analysis: str, key: str) -> str:
    """The model_analyses rule's name for output `key` of a model experiment."""
    return f"{analysis}_{key}"
