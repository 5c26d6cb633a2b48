"""The run: a Snakemake config checked against its schemas and every file it names read
and checked (`load_run_config`), so that every problem is one `ConfigError` raised before
any job runs.

This sits above `config` (YAML, schemas, the project's own files) and the modules that read
what an analysis section names (inputs, dialogues, behaviour suites, norms, word forms);
none of them imports it, so the configuration has no import cycle.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from .behaviour import check_template, read_suites
from .config import (
    SCHEMA_DIR,
    ConfigError,
    ModelSpec,
    check_emotions,
    emotion_slug,
    read_emotion_list,
    read_lines,
    read_models,
    read_neutral,
    read_neutral_dialogues,
    read_neutral_narrative,
    read_scenarios,
    read_synonyms,
    read_templates,
    read_yaml,
    resolve_dataset,
    resolve_path,
    validate_schema,
)
from .dialogues import read_dialogues
from .human_norms import NormsError, read_arousal_csv
from .inputs import check_question, read_activities, text_files
from .pooling import Pooling
from .registry import config_sections, select
from .wordforms import read_word_forms


@dataclass(frozen=True)
class RunConfig:
    """Everything the workflow needs, checked."""

    models: dict[str, ModelSpec]
    emotions: list[str]
    templates: list[dict[str, str]]
    neutral: list[str]
    layers: dict[str, list[int]]
    # Every config section, resolved, and the run-wide files (word_forms): by name.
    sections: dict
    corpora: list[str] = field(default_factory=lambda: ["templates"])
    # The files each analysis section names (resolved), for the rules' inputs: a changed
    # file reruns the jobs that read it.
    section_files: dict[str, list[str]] = field(default_factory=dict)
    # The registered analyses this run builds (config `analyses`), in registry order.
    analyses: list[str] = field(default_factory=list)

    @property
    def slugs(self) -> list[str]:
        return [emotion_slug(e) for e in self.emotions]

    def pooling(self, corpus: str = "templates"):
        """How a corpus's passages (and its neutral set) are pooled: the extraction
        settings; stories have no emotion word to pool after and start at their own
        token offset (stories.pool_start)."""
        extraction = self.sections["extraction"]
        if corpus == "stories":
            start = self.sections["stories"]["pool_start"]
            return Pooling.from_settings(extraction, pool_from="passage_start", pool_start=start)
        return Pooling.from_settings(extraction)


def load_run_config(
    config: dict, label: str = "config/config.yaml", workdir: Path | None = None
) -> RunConfig:
    """Validate a Snakemake config dict (filled with schema defaults in place) and
    read everything it points to."""
    # `--config layers=[5,20]` arrives as strings; accept them as layer numbers.
    layers = config.get("layers") if isinstance(config, dict) else None
    if isinstance(layers, list) and all(isinstance(x, str) and x.isdigit() for x in layers):
        config["layers"] = [int(x) for x in layers]
    sections = _validate(config, label)
    analyses = select(config["analyses"], label)
    all_models = read_models(resolve_path(config["models_file"], workdir))
    models = _chosen_models(config, label, all_models)
    if isinstance(config["emotions"], list):
        emotions = check_emotions(config["emotions"], label)
    else:
        emotions = read_emotion_list(resolve_path(config["emotions"], workdir))
    corpus = config["corpus"]
    templates_path = resolve_path(corpus["templates"], workdir)
    neutral_path = resolve_path(corpus["neutral"], workdir)
    neutral = read_neutral(neutral_path)
    # The denoising PCA needs more neutral passages than it removes components,
    # and a handful is too few to estimate a variance spectrum at all.
    if len(neutral) < 10:
        raise ConfigError(
            neutral_path,
            "",
            f"only {len(neutral)} neutral passages; the denoising PCA needs at least 10",
        )
    forms_path = resolve_path(config["word_forms"], workdir)
    forms = read_word_forms(forms_path)
    files: dict[str, list[str]] = {}
    for name in sections:
        sections[name], files[name] = _resolve_section(config[name], name, label, emotions, workdir)
    _check_preference(sections.get("preference"), label)
    _check_behaviour(sections.get("behaviour"), label)
    stories = _story_settings(config, label, all_models, workdir, emotions)
    stories["word_forms"] = str(forms_path)
    scenarios = sections.get("generalisation", {}).get("scenarios")
    if scenarios is not None:
        synonyms = read_synonyms(Path(stories["synonyms"]))
        read_scenarios(Path(scenarios), synonyms, emotions, forms)
        narrative = sections["generalisation"].get("neutral_narrative")
        if narrative is not None:
            read_neutral_narrative(Path(narrative), emotions, forms)
    return RunConfig(
        models=models,
        emotions=emotions,
        templates=read_templates(templates_path),
        neutral=neutral,
        layers={key: _layers(config, label, key, spec) for key, spec in models.items()},
        sections={
            "corpus": {"templates": str(templates_path), "neutral": str(neutral_path)},
            "extraction": dict(config["extraction"]),
            "vectors": dict(config["vectors"]),
            "stories": stories,
            "word_forms": str(forms_path),
            **sections,
        },
        corpora=list(config["corpora"]),
        section_files=files,
        analyses=analyses,
    )


def _validate(config: dict, label: str) -> dict[str, dict]:
    """Validate the top level, then every section a registered analysis reads against its
    own schema (workflow/schemas/<section>.schema.yaml), filling in defaults. Returns the
    sections, validated."""
    if not isinstance(config, dict):
        raise ConfigError(label, "(top level)", "must be a mapping of keys to values")
    names = config_sections()
    sections = {name: config.pop(name, None) for name in names}
    try:
        validate_schema(config, "config.schema.yaml", label)
    finally:
        config.update(sections)
    for name in names:
        config[name] = validate_schema(config[name], f"{name}.schema.yaml", label, prefix=name)
    return {name: config[name] for name in names}


def _chosen_models(config: dict, label: str, all_models: dict[str, ModelSpec]):
    for i, key in enumerate(config["models"]):
        if key not in all_models:
            known = ", ".join(sorted(all_models))
            raise ConfigError(
                label,
                f"models[{i}]",
                f"unknown model {key!r}; {config['models_file']} declares: {known}",
            )
    if len(set(config["models"])) != len(config["models"]):
        raise ConfigError(label, "models", "a model is listed twice")
    models = {k: all_models[k] for k in config["models"]}
    # `--config dtype=... device=...` overrides every model's entry for this run (e.g. all
    # in float32 on a GPU, to compare with a CPU run); the cache keys follow the dtype.
    overrides = {k: config[k] for k in ("dtype", "device") if config.get(k)}
    if overrides:
        models = {k: replace(spec, **overrides) for k, spec in models.items()}
        if overrides.get("dtype") == "float16" and any(s.device == "cpu" for s in models.values()):
            raise ConfigError(
                label, "dtype", "float16 on the cpu has partial kernels in PyTorch; use bfloat16"
            )
    return models


def _layers(config: dict, label: str, key: str, spec: ModelSpec) -> list[int]:
    if config["layers"] == "all":
        return list(range(1, spec.num_layers + 1))
    for i, layer in enumerate(config["layers"]):
        if not 1 <= layer <= spec.num_layers:
            raise ConfigError(
                label,
                f"layers[{i}]",
                f"layer {layer} is outside the range 1..{spec.num_layers} of model {key!r}",
            )
    return sorted(set(config["layers"]) | {spec.layer_for_analysis})


def _resolve_section(
    section: dict, name: str, label: str, emotions: list[str], workdir: Path | None
) -> tuple[dict, list[str]]:
    """A validated section with the values its schema marks (`x-resolve`) read, and the files
    it names: `path` is resolved; `emotion-list` (a file or an inline list) becomes the
    listed emotions present in the run, in the list's order; `arousal-csv` is resolved and
    checked."""
    schema = read_yaml(SCHEMA_DIR / f"{name}.schema.yaml")
    out, files = dict(section), []
    for key, spec in schema.get("properties", {}).items():
        kind, value = spec.get("x-resolve"), out.get(key)
        if kind is None or value is None:
            continue
        if kind == "emotion-list":
            listed = (
                value
                if isinstance(value, list)
                else read_emotion_list(resolve_path(value, workdir))
            )
            out[key] = [e for e in listed if e in set(emotions)]
            continue
        if kind == "dataset":
            out[key] = resolve_dataset(value, f"{name}.{key}", label, workdir)
            files.append(out[key]["path"])
            continue
        if kind == "dialogues":
            out[key] = str(resolve_path(value, workdir))
            read_dialogues(out[key])
            files.append(out[key])
            continue
        if kind == "behaviour-suites":
            out[key] = [str(resolve_path(path, workdir)) for path in value]
            suites = read_suites(out[key], workdir)
            files.extend(out[key])
            files.extend(suite.data_path for suite in suites if suite.data_path)
            continue
        out[key] = str(resolve_path(value, workdir))
        if kind == "text-folder":
            files.extend(text_files(out[key]).values())
            continue
        files.append(out[key])
        if kind == "activities":
            read_activities(Path(out[key]))
        if kind == "arousal-csv":
            try:
                read_arousal_csv(out[key])
            except NormsError as err:
                raise ConfigError(label, f"{name}.{key}", str(err)) from None
    return out, files


def _check_behaviour(section: dict | None, label: str) -> None:
    """What the behaviour schema cannot say: the question's placeholders, and a verdict
    strength that the sweep measures."""
    if section is None:
        return
    problem = check_template(section["question"])
    if problem:
        raise ConfigError(label, "behaviour.question", problem)
    for i, strength in enumerate(section["strengths"]):
        if strength == 0:
            problem = "0 is not a strength: nothing would be steered"
            raise ConfigError(label, f"behaviour.strengths[{i}]", problem)
    if section["verdict_strength"] not in section["strengths"]:
        raise ConfigError(
            label, "behaviour.verdict_strength",
            f"{section['verdict_strength']} is not one of behaviour.strengths",
        )  # fmt: skip


def _check_preference(section: dict | None, label: str) -> None:
    """What the preference schema cannot say: the question's placeholders, and no more
    steered rounds than rounds."""
    if section is None:
        return
    problem = check_question(section["question"])
    if problem:
        raise ConfigError(label, "preference.question", problem)
    if section["steer_rounds"] > section["rounds"]:
        raise ConfigError(
            label,
            "preference.steer_rounds",
            f"{section['steer_rounds']} steered rounds of only {section['rounds']} rounds",
        )


def _story_settings(
    config: dict,
    label: str,
    all_models: dict[str, ModelSpec],
    workdir: Path | None,
    emotions: list[str],
) -> dict:
    """The stories section with its files resolved (and read, when the corpus is used),
    and `judge_emotions` as the list of the run's emotions the judge reads."""
    stories = dict(config["stories"])
    for key in ("topics", "synonyms", "neutral_dialogues"):
        stories[key] = str(resolve_path(stories[key], workdir))
    stories["judge_emotions"] = _judge_emotions(stories.get("judge_emotions"), label, emotions,
                                                workdir)  # fmt: skip
    if "stories" not in config["corpora"]:
        return stories
    writer = stories["writer"]
    if writer not in all_models:
        known = ", ".join(sorted(all_models))
        raise ConfigError(
            label,
            "stories.writer",
            f"unknown model {writer!r}; {config['models_file']} declares: {known}",
        )
    if not all_models[writer].chat:
        raise ConfigError(
            label,
            "stories.writer",
            f"{writer!r} is not an instruct model (chat: false in {config['models_file']}); "
            "the writer needs a chat template",
        )
    topics = read_lines(Path(stories["topics"]), "topics file")
    if not topics:
        raise ConfigError(stories["topics"], "", "no topics (one per line)")
    read_synonyms(Path(stories["synonyms"]))
    read_neutral_dialogues(Path(stories["neutral_dialogues"]))
    stories["writer_spec"] = asdict(all_models[writer])
    return stories


def _judge_emotions(
    value: str | list | None, label: str, emotions: list[str], workdir: Path | None
) -> list[str]:
    """stories.judge_emotions as a list in the run's order: every emotion of the run when
    unset; otherwise the listed ones, each of which must be in the run (a judge asked to
    choose among emotions that have no stories would measure nothing)."""
    if value is None:
        return list(emotions)
    if isinstance(value, list):
        where, listed = label, check_emotions(value, label, "stories.judge_emotions")
    else:
        path = resolve_path(value, workdir)
        where, listed = str(path), read_emotion_list(path)
    missing = [e for e in listed if e not in set(emotions)]
    if missing:
        inline = where == label
        raise ConfigError(
            where,
            "stories.judge_emotions" if inline else "",
            ("" if inline else "the list of stories.judge_emotions names ")
            + f"emotions that are not in this run (no stories to judge): {', '.join(missing)}",
        )
    chosen = set(listed)
    return [e for e in emotions if e in chosen]
