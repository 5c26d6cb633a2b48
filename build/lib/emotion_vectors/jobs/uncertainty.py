"""The uncertainty job (no model load; reads the pooled activations): a bootstrap over the
passages of every emotion at the analysis layer, for PC1-valence r and implicit-scenario
accuracy; and its headline numbers for summary.json."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import emotion_from_slug
from ..generalisation import scenario_ranks
from ..geometry import correlate, orient, pca
from ..human_norms import load_norms
from ..render.uncertainty import plot_bootstrap
from ..stats import measure, percentile_interval
from ..store import read_activation_matrix, write_json_atomic
from ..uncertainty import PassageSample, bootstrap_statistics
from ..vectors import neutral_subspace
from . import LightJob
from .generalisation import Scenarios

log = logging.getLogger("emotion_vectors")


def run(job: LightJob, settings: Mapping, outputs: Mapping[str, str]) -> dict:
    """The light-analysis entry point (workflow/scripts/light_analysis.py)."""
    scenarios = job.inputs["scenarios"]
    return uncertainty(
        model=str(job.model),
        corpus=str(job.corpus),
        layer=job.params["layer"],
        variance=job.params["variance"],
        activation_files=job.inputs["activations"],
        neutral_file=job.inputs["neutral"],
        scenario_file=scenarios[0] if scenarios else None,
        settings=settings,
        outputs=outputs,
    )


def uncertainty(
    model: str,
    corpus: str,
    layer: int,
    variance: float,
    activation_files: Sequence[str],
    neutral_file: str,
    scenario_file: str | None,
    settings: Mapping,
    outputs: Mapping[str, str],
) -> dict:
    """Percentile bootstrap intervals of the valence r and the scenario accuracy."""
    emotions = [emotion_from_slug(Path(p).stem) for p in activation_files]
    read = [read_activation_matrix(p, layer) for p in activation_files]
    sample = PassageSample(
        {e: m for e, (_, m) in zip(emotions, read, strict=True)},
        {e: ids for e, (ids, _) in zip(emotions, read, strict=True)},
    )
    components = neutral_subspace(read_activation_matrix(neutral_file, layer)[1], variance)
    valence = load_norms(emotions).valence
    scen = Scenarios(scenario_file, [layer]) if scenario_file else None
    candidates = [e for e in dict.fromkeys(scen.labels) if e in emotions] if scen else []
    rows = [emotions.index(e) for e in candidates]

    def statistic(vectors: np.ndarray) -> dict[str, float]:
        result, _ = orient(pca(vectors, 3), emotions, valence)
        out = {
            "valence_r": correlate(result.scores[:, 0], valence).pearson,
            "pc1_variance": float(result.explained[0]),
        }
        if len(candidates) >= 2:
            if scen is None:  # candidates are the scenarios' emotions
                raise ValueError("no scenarios to score")
            acts, ref = scen.passages(layer), scen.reference(layer)
            ranks, _ = scenario_ranks(acts, scen.labels, candidates, vectors[rows], ref)
            out.update(top1=float((ranks == 0).mean()), top3=float((ranks < 3).mean()))
        return out

    replicates, seed = settings["bootstrap"], settings["seed"]
    observed, draws = bootstrap_statistics(
        sample, components.components, statistic, replicates, seed
    )
    table = pd.DataFrame(draws)
    table.insert(0, "replicate", range(1, len(table) + 1))
    table.to_csv(outputs["replicates"], index=False)
    result = {
        "model": model,
        "corpus": corpus,
        "layer": layer,
        "replicates": replicates,
        "seed": seed,
        "unit": "template" if sample.paired else "passage",
        "paired": sample.paired,
        **{
            name: measure(observed[name], percentile_interval(table[name]), "bootstrap")
            for name in observed
        },
    }
    write_json_atomic(result, outputs["json"])
    plot_bootstrap(table, observed, result, outputs["figure"])
    log.info("bootstrap: %s", result)
    return result


def headline(data: Mapping) -> dict:
    """The bootstrap entries of summary.json. The scenario accuracy is relabelled: with the
    scenarios fixed and only the templates resampled it says how much the accuracy depends
    on the templates, and is not an interval on it (generalisation's top-1 is: emotions and
    their scenarios resampled)."""
    keys = ("pc1_variance", "valence_r", "replicates", "unit", "paired")
    out = {k: data.get(k) for k in keys if k in data}
    for k in ("top1", "top3"):
        if k in data:
            out[f"scenario_{k}_templates_resampled"] = data[k]
    return {"bootstrap": out}
