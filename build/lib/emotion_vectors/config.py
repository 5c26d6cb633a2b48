"""Reading and checking the run configuration: config/config.yaml, config/models.yaml,
emotion lists, passage templates and neutral texts.

Every problem becomes one `ConfigError` that names the file, the key and what is wrong,
so the Snakefile can print a single line and stop before any job runs.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .datasets import checksum_problem
from .wording import naming_emotions

REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = REPO_ROOT / "workflow" / "schemas"

# Emotion names become file names and Snakemake wildcard values: lower-case words
# separated by single spaces or hyphens ("at ease", "grief-stricken"), nothing else.
EMOTION_NAME = re.compile(r"^[a-z]+(?:[ -][a-z]+)*$")
# Most file systems cap a file name at 255 bytes. The longest name the workflow derives from
# an emotion is the temporary file written beside its passages or activations,
# ".<slug>.parquet.<8 random characters>.tmp" (the slug and 22 bytes); the cap on the slug
# leaves room for that and for longer suffixes to come.
FILE_NAME_BYTES = 255
EMOTION_SLUG_BYTES = 200
# Model keys become directory names under results/.
MODEL_KEY = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
EMOTION_SLOT = "{emotion}"


class ConfigError(ValueError):
    """A configuration problem, located by file and key."""

    def __init__(self, file: str | Path, key: str, problem: str) -> None:
        self.file = str(file)
        self.key = key
        self.problem = problem
        super().__init__(f"{self.file}: {key}: {problem}" if key else f"{self.file}: {problem}")


def emotion_slug(emotion: str) -> str:
    """File-name form of an emotion: spaces become underscores ("at ease" -> "at_ease")."""
    return emotion.replace(" ", "_")


def emotion_from_slug(slug: str) -> str:
    return slug.replace("_", " ")


def resolve_path(path: str | Path, workdir: Path | None = None) -> Path:
    """A config path: absolute, else relative to the working directory if it exists there
    (and then left relative when that is the current directory), else under the repository
    root (so the shipped defaults work from any --directory)."""
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    base = Path.cwd() if workdir is None else Path(workdir)
    if (base / p).exists():
        # Relative to the working directory stays relative: Snakemake records input paths
        # and params as given, so a project folder that is copied or moved reruns nothing.
        return p if base.resolve() == Path.cwd().resolve() else base / p
    return _within_project(REPO_ROOT / p)


def _within_project(path: Path) -> Path:
    """A shipped file as seen from a working directory inside the repository (`.test/`):
    relative (`../config/...`), so the whole project can move; absolute from elsewhere."""
    cwd = Path.cwd().resolve()
    if cwd == REPO_ROOT or REPO_ROOT in cwd.parents:
        return Path(os.path.relpath(path, cwd))
    return path


class _StrictLoader(yaml.SafeLoader):
    """YAML for config files: no anchors or aliases (a few lines of aliases can expand to
    billions of values, and a shared value edited in one place changes another), and no key
    written twice in one mapping (YAML keeps the last silently)."""

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            kind = "alias" if isinstance(event, yaml.AliasEvent) else "anchor"
            raise yaml.constructor.ConstructorError(
                None, None, f"YAML {kind}s are not accepted in config files; write the value out",
                event.start_mark,
            )  # fmt: skip
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node.start_mark.line + 1)
            except TypeError:  # an unhashable key: the constructor below says so
                continue
            if first != key_node.start_mark.line + 1:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is written twice (first on line {first})",
                    key_node.start_mark,
                )  # fmt: skip
        return super().construct_mapping(node, deep)


def read_yaml(path: Path, label: str | None = None) -> Any:
    """A YAML config file, strictly (`_StrictLoader`); a problem is one ConfigError that
    names the file and the line."""
    label = label or str(path)
    if not path.exists():
        raise ConfigError(label, "", "file not found")
    try:
        with path.open() as fh:
            return yaml.load(fh, Loader=_StrictLoader)  # a SafeLoader: no arbitrary objects
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(label, "", f"malformed YAML at {where}: {problem}") from None


def locate_key(key: str, sources: Sequence[tuple[str, Any]], default: str) -> str:
    """Which of `sources` ((name, data) in the order they are merged, the last winning)
    set `key` ("steering.strength", "emotions[1]"): the last that holds it, else the
    last that holds its longest present prefix, else `default` (a schema default)."""
    dotted = key.replace("[", ".").replace("]", "")  # "emotions[1]" -> "emotions.1"
    parts = [] if key in ("", "(top level)") else dotted.split(".")
    holds, partial = None, (0, default)
    for name, data in sources:
        node, found = data, 0
        for part in parts:
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                break
            found += 1
        if found == len(parts):
            holds = name
        elif found and found >= partial[0]:
            partial = (found, name)
    return holds or partial[1]


def check_finite(data: Any, label: str, prefix: str = "") -> None:
    """Every number of a config value is finite: YAML's .nan and .inf pass every schema
    bound (NaN compares false), then fail deep inside a job."""
    if isinstance(data, float) and not math.isfinite(data):
        raise ConfigError(label, prefix or "(top level)", f"{data} is not a finite number")
    if isinstance(data, Mapping):
        items = list(data.items())
    else:
        items = list(enumerate(data)) if isinstance(data, list) else []
    for k, v in items:
        check_finite(v, label, f"{prefix}.{k}" if prefix else str(k))


def _json_path(error: Any, prefix: str = "") -> str:
    parts = [prefix] if prefix else []
    parts += [str(p) for p in error.absolute_path]
    return ".".join(parts) if parts else "(top level)"


def validate_schema(data: Any, schema_name: str, label: str, prefix: str = "") -> dict:
    """Validate `data` against workflow/schemas/<schema_name> with snakemake.utils.validate
    (which also fills in the schema's defaults) and turn its error into a ConfigError."""
    import jsonschema
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(label, prefix or "(top level)", "must be a mapping of keys to values")
    check_finite(data, label, prefix)
    try:
        validate(data, str(SCHEMA_DIR / schema_name))
    except WorkflowError as err:
        # snakemake wraps the jsonschema error, which stays reachable as the context.
        cause = err.__cause__ or err.__context__
        if not isinstance(cause, jsonschema.ValidationError):
            cause = None
        if cause is None:
            raise ConfigError(label, "", str(err).splitlines()[0]) from None
        if cause.validator in ("oneOf", "anyOf"):
            # The sub-errors of each alternative mislead ("'all' was expected"); say what
            # the key accepts instead.
            accepts = cause.schema.get("description", "").strip() or "see the schema"
            problem = f"{cause.instance!r} is not accepted here; expected: {accepts}"
            raise ConfigError(label, _json_path(cause, prefix), problem) from None
        raise ConfigError(label, _json_path(cause, prefix), cause.message) from None
    return data


# ---------------------------------------------------------------- emotion lists


def emotion_name_problem(name: Any) -> str | None:
    """Why `name` cannot be an emotion name (it becomes a file name and a wildcard value),
    or None when it can."""
    if isinstance(name, str) and EMOTION_NAME.match(name):
        return _file_name_problem(name)
    return (
        f"{name!r} is not a valid emotion name (lower-case words separated by one space or "
        "hyphen; no path separators, wildcards or shell characters)"
    )


def _file_name_problem(name: str) -> str | None:
    """Why a well-formed emotion name is still too long to become a file name, or None."""
    size = len(emotion_slug(name).encode())
    if size <= EMOTION_SLUG_BYTES:
        return None
    return (
        f"{name[:20]!r}... is {size} bytes long; its files (<name>.parquet and the temporary "
        f"names beside it) would pass the {FILE_NAME_BYTES}-byte file-name limit of common "
        f"file systems: at most {EMOTION_SLUG_BYTES} bytes"
    )


def check_emotions(
    emotions: list[Any], label: str, key: str = "emotions", where: list[str] | None = None
) -> list[str]:
    """`where[i]` names entry i in messages (default: key[i])."""
    if not emotions:
        raise ConfigError(label, key, "the emotion list is empty")
    seen: set[str] = set()
    for i, name in enumerate(emotions):
        at = where[i] if where else f"{key}[{i}]"
        problem = emotion_name_problem(name)
        if problem:
            raise ConfigError(label, at, problem)
        slug = emotion_slug(name)
        if slug in seen:
            raise ConfigError(label, at, f"duplicate emotion {name!r}")
        seen.add(slug)
    return list(emotions)


def read_emotion_list(path: Path) -> list[str]:
    """One emotion per line; blank lines and lines starting with # are ignored."""
    if not path.exists():
        raise ConfigError(path, "", "emotion list not found")
    names, where = [], []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if line and not line.startswith("#"):
            names.append(line)
            where.append(f"line {number}")
    return check_emotions(names, str(path), key="(file)", where=where)


# ---------------------------------------------------------------- passages


def read_templates(path: Path) -> list[dict[str, str]]:
    data = read_yaml(path)
    templates = data.get("templates") if isinstance(data, dict) else None
    if not isinstance(templates, list) or not templates:
        raise ConfigError(path, "templates", "must be a non-empty list of {id, text}")
    ids: set[str] = set()
    out = []
    for i, t in enumerate(templates):
        key = f"templates[{i}]"
        if not isinstance(t, dict) or not isinstance(t.get("text"), str):
            raise ConfigError(path, key, "each template needs a text")
        tid = str(t.get("id", f"t{i + 1:02d}"))
        if tid in ids:
            raise ConfigError(path, f"{key}.id", f"duplicate template id {tid!r}")
        ids.add(tid)
        text = t["text"].strip()
        if text.count(EMOTION_SLOT) != 1:
            raise ConfigError(
                path, f"{key}.text", f"must contain the slot {EMOTION_SLOT} exactly once"
            )
        if "{" in text.replace(EMOTION_SLOT, "") or "}" in text.replace(EMOTION_SLOT, ""):
            raise ConfigError(path, f"{key}.text", "has a brace other than the {emotion} slot")
        out.append({"id": tid, "text": text, "person": str(t.get("person", ""))})
    return out


def read_neutral(path: Path) -> list[str]:
    """One neutral passage per line."""
    if not path.exists():
        raise ConfigError(path, "", "neutral passages not found")
    lines = [ln.strip() for ln in path.read_text().splitlines()]
    return [ln for ln in lines if ln and not ln.startswith("#")]


def read_lines(path: Path, what: str) -> list[str]:
    """Non-empty lines that are not comments (#)."""
    if not path.exists():
        raise ConfigError(path, "", f"{what} not found")
    lines = [ln.strip() for ln in path.read_text().splitlines()]
    return [ln for ln in lines if ln and not ln.startswith("#")]


def read_neutral_dialogues(path: Path) -> list[str]:
    """Neutral dialogues, one per line, turns separated by " || " (rendered one per line)."""
    out = []
    for i, line in enumerate(read_lines(path, "neutral dialogues")):
        turns = [t.strip() for t in line.split("||")]
        if len(turns) < 2 or not all(turns):
            raise ConfigError(path, f"dialogue {i + 1}", "needs at least two turns separated by ||")
        out.append("\n".join(turns))
    return out


def read_synonyms(path: Path) -> dict[str, list[str]]:
    """{emotion: [synonym, ...]} from a YAML file with a top-level `synonyms` mapping."""
    data = read_yaml(path)
    table = data.get("synonyms") if isinstance(data, dict) else None
    if not isinstance(table, dict):
        raise ConfigError(path, "synonyms", "must be a mapping {emotion: [word, ...]}")
    for emotion, words in table.items():
        if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
            raise ConfigError(path, f"synonyms.{emotion}", "must be a list of words or phrases")
    return {str(e): list(w) for e, w in table.items()}


def read_scenarios(
    path: Path,
    synonyms: dict[str, list[str]],
    emotions: list[str] | None = None,
    forms: dict[str, tuple[str, ...]] | None = None,
) -> dict[str, list[str]]:
    """{emotion: [passage, ...]}. A passage that names an emotion defeats the test and is
    refused: its own (its word, a listed form, an inflection or a synonym) or, given the
    run's `emotions`, any of them (their words, forms and inflections)."""
    data = read_yaml(path)
    table = data.get("scenarios") if isinstance(data, dict) else None
    if not isinstance(table, dict) or not table:
        raise ConfigError(path, "scenarios", "must be a mapping {emotion: [passage, ...]}")
    scenario_emotions = check_emotions(list(table), str(path), key="scenarios")
    forms = forms or {}
    for emotion in scenario_emotions:
        passages = table[emotion]
        if not isinstance(passages, list) or not passages:
            raise ConfigError(path, f"scenarios.{emotion}", "must be a non-empty list of passages")
        others = [e for e in (emotions or []) if e != emotion]
        for i, text in enumerate(passages):
            if not isinstance(text, str) or not text.strip():
                raise ConfigError(path, f"scenarios.{emotion}[{i}]", "must be a passage")
            own = naming_emotions(text, [emotion], forms, synonyms)
            named = own or naming_emotions(text, others, forms)
            if named:
                which, word = named[0]
                problem = (
                    f"names its emotion ({word!r})"
                    if which == emotion
                    else f"names {which!r} ({word!r}), an emotion of the run"
                )
                raise ConfigError(path, f"scenarios.{emotion}[{i}]", problem)
    return {e: [t.strip() for t in table[e]] for e in scenario_emotions}


def read_neutral_narrative(
    path: Path, emotions: list[str], forms: dict[str, tuple[str, ...]] | None = None
) -> list[str]:
    """The neutral narrative passages (the scenarios' reference): one per line; at least
    10, and none may name an emotion of the run (a reference that names one would pull
    every scenario toward it)."""
    passages = read_lines(path, "neutral narrative passages")
    if len(passages) < 10:
        raise ConfigError(path, "", f"only {len(passages)} passages; the reference needs 10")
    for i, text in enumerate(passages):
        named = naming_emotions(text, emotions, forms or {})
        if named:
            which, word = named[0]
            raise ConfigError(path, f"passage {i + 1}", f"names {which!r} ({word!r})")
    return passages


# ---------------------------------------------------------------- models


@dataclass(frozen=True)
class ModelSpec:
    """One entry of config/models.yaml."""

    key: str
    source: str
    num_layers: int
    hidden_size: int | None = None
    gguf_file: str | None = None
    revision: str | None = None
    chat: bool = False
    dtype: str = "auto"
    device: str = "auto"
    analysis_layer: int | None = None
    trust_remote_code: bool = False
    allow_pickle: bool = False
    install: str | None = None
    # source parts:<module prefix>: how many part packages, and the joined file's sha256.
    parts: int | None = None
    sha256: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def source_kind(self) -> str:
        return self.source.split(":", 1)[0]

    @property
    def source_target(self) -> str:
        return self.source.split(":", 1)[1]

    @property
    def layer_for_analysis(self) -> int:
        """The configured analysis layer, else about two thirds of the depth (as in the paper)."""
        if self.analysis_layer is not None:
            return self.analysis_layer
        return max(1, round(2 * self.num_layers / 3))

    def fingerprint(self) -> dict:
        """What determines this model's activations (the device does not, up to float noise)."""
        if self.source_kind == "parts":
            # The declared sha256 is the weights, whichever packages carry them: renaming
            # the packages or the assembled file keeps every cache entry.
            return {"weights_sha256": self.sha256, "dtype": self.dtype}
        return {
            "source": self.source,
            "gguf_file": self.gguf_file,
            "revision": self.revision,
            "dtype": self.dtype,
        }


def parse_models(data: Any, label: str) -> dict[str, ModelSpec]:
    data = validate_schema(data, "models.schema.yaml", label)
    models = data["models"]
    specs = {}
    for key, entry in models.items():
        if not MODEL_KEY.match(key):
            raise ConfigError(
                label, f"models.{key}", "model keys are lower-case letters, digits, '.', '_', '-'"
            )
        n = entry["num_layers"]
        layer = entry.get("analysis_layer")
        if layer is not None and not 1 <= layer <= n:
            raise ConfigError(
                label,
                f"models.{key}.analysis_layer",
                f"layer {layer} is outside the model's range 1..{n}",
            )
        if entry.get("device") == "cpu" and entry.get("dtype") == "float16":
            raise ConfigError(
                label,
                f"models.{key}.dtype",
                "float16 on the cpu has partial kernels in PyTorch; use float32, bfloat16 or auto",
            )
        if entry["source"].split(":", 1)[0] != "parts":
            for only in ("parts", "sha256"):
                if only in entry:
                    raise ConfigError(
                        label,
                        f"models.{key}.{only}",
                        "belongs to a model with source parts:<module prefix>",
                    )
        pickled = _pickle_only(entry)
        if pickled is not None and not entry.get("allow_pickle"):
            raise ConfigError(
                label,
                f"models.{key}.allow_pickle",
                f"{pickled} holds pickled weights, which can run code when loaded; convert them "
                "to safetensors, or set allow_pickle: true if you trust the file",
            )
        known = {f for f in ModelSpec.__dataclass_fields__ if f not in ("key", "extra")}
        specs[key] = ModelSpec(
            key=key,
            **{k: v for k, v in entry.items() if k in known},
            extra={k: v for k, v in entry.items() if k not in known},
        )
    return specs


PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


def _pickle_only(entry: Mapping) -> Path | None:
    """The first pickle weight file of a `path:` model folder that has no safetensors and
    no GGUF file to load instead; None otherwise (and for a folder not on this machine)."""
    kind, _, target = entry["source"].partition(":")
    folder = Path(target).expanduser()
    if kind != "path" or entry.get("gguf_file") or not folder.is_dir():
        return None
    if any(folder.glob("*.safetensors")):
        return None
    return next((f for f in sorted(folder.iterdir()) if f.suffix in PICKLE_SUFFIXES), None)


def read_models(path: Path) -> dict[str, ModelSpec]:
    return parse_models(read_yaml(path), str(path))


def resolve_dataset(entry: dict, key: str, label: str, workdir: Path | None) -> dict:
    """A shipped dataset entry {path, sha256}: the path resolved, the file's checksum
    checked before any job runs (emotion_vectors/datasets.py)."""
    path = resolve_path(entry["path"], workdir)
    problem = checksum_problem(path, entry["sha256"])
    if problem:
        raise ConfigError(label, f"{key}.sha256", problem)
    return {"path": str(path), "sha256": entry["sha256"].lower()}


def configfile_arguments(args: list[str]) -> list[str]:
    """The files a snakemake command line passes with --configfile / --configfiles."""
    files, taking = [], False
    for arg in args:
        if arg in ("--configfile", "--configfiles"):
            taking = True
        elif arg.startswith(("--configfile=", "--configfiles=")):
            files.append(arg.split("=", 1)[1])
            taking = False
        elif taking and not arg.startswith("-"):
            files.append(arg)
        else:
            taking = False
    return files


def check_configfiles(args: list[str]) -> str | None:
    """The one-line error for the first --configfile of a snakemake command line that is
    missing, not YAML/JSON, or not a mapping; None when all are readable. Snakemake reads
    these files before the workflow runs and names none of them in its own message."""
    for name in configfile_arguments(args):
        try:
            data = read_yaml(Path(name))
        except ConfigError as err:
            return f"emotion-vectors: configuration error: {err}"
        if data is not None and not isinstance(data, dict):
            return f"emotion-vectors: configuration error: {name}: must be a mapping of keys"
    return None


if __name__ == "__main__":
    # `python -m emotion_vectors.config SNAKEMAKE-ARGS...` (bootstrap.sh run): check the
    # --configfile files first.
    import sys

    message = check_configfiles(sys.argv[1:])
    if message:
        sys.exit(message)
