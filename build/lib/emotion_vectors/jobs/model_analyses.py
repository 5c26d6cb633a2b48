"""The one job per (model, corpus) that needs the model itself: it loads the model once and
runs every registered model experiment (registry.model_experiments(): the logit lens, the
steering experiments, their controls) over it, in registry order.

A new experiment that needs the model is a function `run(job, settings, outputs)` and one
registry line: it gets this `ModelJob` (the loaded model, the vectors of every stored layer,
the steering unit, a place to share work with other experiments) and no model load of its
own. Every vector changes when an emotion is added (they are centred on the mean over
emotions), so these experiments rerun together anyway.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import registry
from ..models import LoadedModel, load_for_job
from ..registry import output_name
from ..store import read_residual_norms, read_vector_matrix
from . import analysis_function

log = logging.getLogger("emotion_vectors")


@dataclass
class ModelJob:
    """What the model experiments of one (model, corpus) share."""

    loaded: LoadedModel
    corpus: str
    analysis_layer: int
    layers: list[int]
    vector_file: str
    residual_norms: dict[int, float]  # the steering unit per layer, sinks left out
    caches: Mapping[str, str]  # the experiments' cache folders, by kind (registry `caches`)
    config: Mapping[str, Any]  # every config section by name, and run-wide values
    residual_norms_with_sinks: dict[int, float] = field(default_factory=dict)
    _shared: dict = field(default_factory=dict)
    _matrices: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.loaded.spec.key

    @property
    def emotions(self) -> list[str]:
        return self.matrix(self.analysis_layer)[0]

    def matrix(self, layer: int) -> tuple[list[str], np.ndarray]:
        """(emotions, [emotions, width]) denoised vectors of one layer, read once."""
        if layer not in self._matrices:
            self._matrices[layer] = read_vector_matrix(self.vector_file, layer)
        return self._matrices[layer]

    def vectors(self, layer: int) -> dict[str, np.ndarray]:
        emotions, matrix = self.matrix(layer)
        return dict(zip(emotions, matrix, strict=True))

    def cache(self, kind: str) -> Path:
        """A content-addressed cache folder the experiment declared in the registry."""
        return Path(self.caches[kind])

    def share(self, name: str, factory: Callable[[], Any]) -> Any:
        """An object experiments share (e.g. the steering session and its memo), made once."""
        if name not in self._shared:
            self._shared[name] = factory()
        return self._shared[name]

    def describe(self) -> dict:
        """Where an experiment's numbers come from, for its headline JSON."""
        return {
            "model": self.key,
            "corpus": self.corpus,
            "layer": self.analysis_layer,
            "device": self.loaded.device,
            "dtype": self.loaded.dtype,
        }


def run_model_analyses(
    model: Mapping,
    corpus: str,
    analysis_layer: int,
    layers: Sequence[int],
    vector_file: str,
    norms_file: str,
    config: Mapping[str, Any],
    outputs: Mapping[str, str],
    caches: Mapping[str, str],
    threads: int = 1,
    experiments: Sequence[str] | None = None,
) -> dict[str, float]:
    """The registered model experiments of one (model, corpus), over one model load: those
    named in `experiments` (config `analyses`), or all. `config`: {config section: its
    settings} and the run-wide values; `outputs`: the rule's named outputs."""
    started = time.perf_counter()
    loaded = load_for_job(model, threads)
    timings = {"load": time.perf_counter() - started}
    residual_norms = read_residual_norms(norms_file)
    job = ModelJob(
        loaded, corpus, analysis_layer, list(layers), vector_file, residual_norms, caches, config
    )
    job.residual_norms_with_sinks = read_residual_norms(norms_file, "mean_norm_with_sinks")
    for analysis in registry.model_experiments(experiments):
        t0 = time.perf_counter()
        files = {key: outputs[output_name(analysis.name, key)] for key in analysis.outputs}
        if analysis.section is None:  # every registered model experiment has its section
            raise ValueError(f"model experiment {analysis.name!r} names no config section")
        analysis_function(analysis, "run")(job, config[analysis.section], files)
        timings[analysis.name] = time.perf_counter() - t0
    log.info(
        "model analyses of %s/%s in %.1f s: %s",
        job.key,
        corpus,
        time.perf_counter() - started,
        ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()),
    )
    return timings
