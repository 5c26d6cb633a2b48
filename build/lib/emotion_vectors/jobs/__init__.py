"""What each Snakemake rule does, as plain functions over paths: one module per stage
(corpus, extraction, vectors, geometry, model_analyses and its experiments lens, steering,
steering_controls; generalisation, uncertainty, export, report). Every script in
workflow/scripts/ only unpacks the `snakemake` object and calls one function here, inside
`workflow_job(snakemake)` (its log, and a seal on its outputs). The maths these jobs apply
lives in the stage modules one level up (vectors.py, geometry.py, ...), their figures and
HTML in render/.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..registry import Analysis


@contextlib.contextmanager
def logging_to(path: str | Path | None) -> Iterator[None]:
    """Send this job's log records and stderr (tqdm, warnings, tracebacks) to its log file;
    progress lines (emotion_vectors.progress) also reach the terminal."""
    from ..config import ConfigError
    from ..models import ModelUnavailable
    from ..progress import echoing_to

    if path is None:
        yield
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    # echoing_to takes sys.stderr before it is replaced: the user's terminal.
    with open(path, "w", buffering=1) as fh, echoing_to(sys.stderr, job_name(path)):
        old = sys.stderr
        sys.stderr = fh
        handler = logging.StreamHandler(fh)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        # Provenance: which release's code ran (a module deployment runs the tagged release
        # it names, extracted under .snakemake/; a clone runs its own tree).
        from .. import __version__

        logging.getLogger("emotion_vectors").info(
            "emotion-vectors %s from %s", __version__, Path(__file__).resolve().parents[1]
        )
        try:
            yield
        except BaseException as err:
            import traceback

            traceback.print_exc(file=fh)
            if isinstance(err, (ModelUnavailable, ConfigError)):
                # The one line a user needs, on the terminal, not only in the log file.
                print(f"emotion-vectors: {err}", file=old)
            raise
        finally:
            root.removeHandler(handler)
            sys.stderr = old


@contextlib.contextmanager
def workflow_job(smk) -> Iterator[None]:
    """The body of a workflow script: logged to the rule's log (`logging_to`) and, when it
    succeeds, every output sealed (integrity.seal), so that a later run notices an output
    whose bytes changed and reruns this job before anything reads it."""
    from ..integrity import seal
    from ..layout import Layout

    with logging_to(smk.log[0]):
        yield
        seal(list(smk.output), Layout().root)


def job_name(log_path: str | Path) -> str:
    """A job's short name from its log file: results/logs/<model>/<corpus>/<rule>.log
    gives <model>/<corpus>/<rule>."""
    parts = Path(log_path).with_suffix("").parts
    if "logs" in parts[:-1]:
        return "/".join(parts[len(parts) - parts[::-1].index("logs") :])
    return parts[-1]


def analysis_function(analysis: Analysis, kind: str) -> Callable:
    """A registered analysis's `run` or `headline` function, in emotion_vectors.jobs.<name>
    (registry.py: the registry says what an analysis is; the jobs package runs it)."""
    return getattr(importlib.import_module(f"{__name__}.{analysis.name}"), kind)


@dataclass(frozen=True)
class LightJob:
    """What a light analysis's `run(job, settings, outputs)` gets from its rule: the
    wildcards, the rule's named inputs (a path, or a list of paths) and named params (all
    but `analysis` and `settings`), and its threads. The model experiments get a
    `jobs.model_analyses.ModelJob` in the same place."""

    model: str | None
    corpus: str | None
    inputs: Mapping[str, Any]
    params: Mapping[str, Any] = field(default_factory=dict)
    threads: int = 1


def run_light_analysis(smk) -> None:
    """The body of workflow/scripts/light_analysis.py: the rule's `params.analysis` names a
    registered light analysis, whose `run(job, settings, outputs)` gets the rule's inputs
    and params as a `LightJob`, its config section (`params.settings`, {} without one) and
    its named outputs."""
    from .. import registry

    analysis = registry.analysis(smk.params.analysis)

    def value(v: Any) -> Any:
        return v if isinstance(v, str | int | float | dict) or v is None else list(v)

    params = dict(smk.params.items())
    settings = params.pop("settings", None) or {}
    params.pop("analysis")
    job = LightJob(
        model=smk.wildcards.get("model"),
        corpus=smk.wildcards.get("corpus"),
        inputs={key: value(v) for key, v in smk.input.items()},
        params={key: value(v) for key, v in params.items()},
        threads=smk.threads,
    )
    analysis_function(analysis, "run")(job, settings, dict(smk.output.items()))
