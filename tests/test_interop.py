"""Our vectors in repeng, steering-vectors and nnsight: the layer numbering (our layer L is
their block index L-1), the scale (their 1.0 is our strength 1.0), pinned on the real
embedded model against our own `steer`; repeng reading our llama.cpp files; the safetensors
file; and the README's examples, executed.

The libraries are optional: these tests skip without them, and fail in CI
(EMOTION_VECTORS_REQUIRE_INTEROP=1)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from emotion_vectors.interop import (
    INSTALL_HINT,
    SharedVectors,
    addition,
    block_index,
    import_library,
    read_safetensors,
    to_repeng,
    to_steering_vectors,
    write_safetensors,
)
from emotion_vectors.layout import Layout

from .conftest import MODEL, ROOT, run_snakemake

EMOTIONS = ["happy", "sad", "calm"]
ANALYSIS, N_LAYERS, WIDTH = 20, 30, 576
# Max |difference| of the change in next-token log-probability, over the whole vocabulary.
TOLERANCE = 1e-4
# What one block off must at least differ by: a hundred times the tolerance.
OFF_BY_ONE = 1e-2
STRENGTHS = [1.0, -0.5]


def library(name: str):
    """The library, or a skip that says how to install it (a failure in CI)."""
    if os.environ.get("EMOTION_VECTORS_REQUIRE_INTEROP") == "1":
        return import_library(name)
    try:
        return import_library(name)
    except ImportError:
        pytest.skip(f"{name} is not installed: {INSTALL_HINT}")


def _frame(rows: dict[str, np.ndarray], **attrs) -> pd.DataFrame:
    width = len(next(iter(rows.values())))
    df = pd.DataFrame(
        np.stack(list(rows.values())).astype(np.float32),
        index=pd.Index(list(rows), name="emotion"),
        columns=[f"d{i}" for i in range(width)],
    )
    df.attrs.update(attrs)
    return df


@pytest.fixture
def tiny() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = {e: rng.normal(size=8) for e in EMOTIONS}
    return _frame(rows, layer=7, model="tiny", corpus="templates", residual_norm=40.0)


# ---------------------------------------------------------------- without a model


def test_our_layer_l_is_block_index_l_minus_1():
    assert block_index(1) == 0 and block_index(ANALYSIS) == 19
    with pytest.raises(ValueError, match="count from 1"):
        block_index(0)


def test_the_addition_is_the_unit_vector_times_the_residual_norm(tiny):
    add = addition(tiny, "sad")
    assert (add.layer, add.block, add.emotion, add.model) == (7, 6, "sad", "tiny")
    assert add.delta.dtype == np.float32
    assert np.linalg.norm(add.delta) == pytest.approx(40.0, rel=1e-6)
    v = tiny.loc["sad"].to_numpy(np.float64)
    np.testing.assert_allclose(add.delta, v / np.linalg.norm(v) * 40.0, rtol=1e-6)
    # A row keeps the frame's attrs: the same addition.
    np.testing.assert_array_equal(addition(tiny.loc["sad"]).delta, add.delta)


def test_a_frame_without_the_steering_unit_is_refused(tiny):
    tiny.attrs["residual_norm"] = None
    with pytest.raises(ValueError, match=r"no residual norm .*/residual_norms\.json"):
        addition(tiny, "happy")
    with pytest.raises(KeyError, match="no vector for 'angry'"):
        addition(tiny, "angry")


def test_a_missing_library_says_how_to_install_it():
    with pytest.raises(ImportError, match=r"WITH_INTEROP=1 \./bootstrap\.sh install"):
        import_library("no_such_steering_library")


def test_repeng_and_steering_vectors_are_keyed_by_block_index(tiny):
    library("repeng")
    library("steering_vectors")
    delta = addition(tiny, "calm").delta
    cv = to_repeng(tiny, "calm")
    assert list(cv.directions) == [6] and cv.model_type == "tiny"
    np.testing.assert_array_equal(cv.directions[6], delta)
    sv = to_steering_vectors(tiny.loc["calm"])
    assert list(sv.layer_activations) == [6] and sv.layer_type == "decoder_block"
    np.testing.assert_array_equal(sv.layer_activations[6].numpy(), delta)


def test_safetensors_round_trip(tmp_path, tiny):
    rng = np.random.default_rng(3)
    shared = SharedVectors(
        model="tiny",
        corpus="templates",
        emotions=EMOTIONS,
        vectors={layer: rng.normal(size=(3, 8)).astype(np.float32) for layer in (1, 2, 7)},
        residual_norms={1: 1.5, 2: 3.25, 7: 40.0},
        analysis_layer=7,
    )
    path = tmp_path / "v.safetensors"
    write_safetensors(shared, path, {"source": "nowhere"})
    assert [p.name for p in tmp_path.iterdir()] == ["v.safetensors"]  # no temporary left
    back = read_safetensors(path)
    assert (back.model, back.corpus, back.emotions) == ("tiny", "templates", EMOTIONS)
    assert back.residual_norms == shared.residual_norms and back.analysis_layer == 7
    for layer, matrix in shared.vectors.items():
        np.testing.assert_array_equal(back.vectors[layer], matrix)
    assert (
        back.metadata["source"] == "nowhere"
        and "block index L-1" in back.metadata["layer_numbering"]
    )
    frame = back.frame()
    assert frame.attrs["layer"] == 7 and frame.attrs["residual_norm"] == 40.0
    np.testing.assert_array_equal(frame.loc["sad"].to_numpy(), shared.vectors[7][1])


# ---------------------------------------------------------------- the real model


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    """`snakemake export` on the embedded model: three emotions, every layer."""
    work = tmp_path_factory.mktemp("interop")
    cfg = work / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({"emotions": EMOTIONS}))
    run_snakemake(work, "export", "--configfile", str(cfg))
    return work / "results"


def _logprobs(model, ids) -> np.ndarray:
    """Next-token log-probabilities after `ids` (a [1, tokens] tensor), float64."""
    import torch

    with torch.inference_mode():
        logits = model(input_ids=ids).logits[0, -1]
    return torch.log_softmax(logits.double(), dim=-1).numpy()


class Bench:
    """The model, a prompt, its unsteered log-probabilities, and our own steering."""

    def __init__(self, loaded, results: Path):
        import torch

        from emotion_vectors.api import load_vectors
        from emotion_vectors.run_config import load_run_config
        from emotion_vectors.steering import he_feels_prompt

        settings = load_run_config({"emotions": EMOTIONS}).sections["steering"]
        prompt = he_feels_prompt(
            loaded.tokenizer, True, settings["question"], settings["answer_prefix"]
        )
        self.model, self.results = loaded.model, results
        self.ids = torch.tensor([prompt])
        self.vectors = load_vectors(MODEL, results=results)
        norms = json.loads(Path(Layout(results).residual_norms(MODEL)).read_text())
        self.norm = norms["mean_norm"][str(ANALYSIS)]
        self.base = _logprobs(self.model, self.ids)

    def change(self, run=None) -> np.ndarray:
        """The change in next-token log-probability that `run(model, ids) -> logits` (or a
        plain forward pass) makes."""
        import torch

        if run is None:
            return _logprobs(self.model, self.ids) - self.base
        with torch.inference_mode():
            logits = run(self.model, self.ids)[0, -1]
        return torch.log_softmax(logits.double(), dim=-1).numpy() - self.base

    def ours(self, emotion: str, strength: float, layer: int = ANALYSIS) -> np.ndarray:
        """Our steering: `steer` with `steering_deltas` (strength x unit(v) x the norm)."""
        from emotion_vectors.steering import steer, steering_deltas

        v = self.vectors.loc[emotion].to_numpy()[None]
        delta = steering_deltas(v, [strength], self.norm)[0]
        with steer(self.model, layer, delta):
            return self.change()


@pytest.fixture(scope="module")
def bench(smollm2, exported) -> Bench:
    return Bench(smollm2, exported)


@pytest.fixture(scope="module")
def nnsight_model(bench):
    """A copy of the model for nnsight, which installs its (idle outside a trace) forward
    wrappers on every module for good: the session's shared model stays as it was."""
    import copy

    library("nnsight")
    twin = copy.deepcopy(bench.model)
    np.testing.assert_array_equal(_logprobs(twin, bench.ids) - bench.base, 0.0)
    return twin


@pytest.fixture
def clean(bench):
    """After the test: the shared model computes exactly what it did before (hooks gone,
    wrapped blocks unwrapped)."""
    yield bench
    np.testing.assert_array_equal(bench.change(), 0.0)


def _agree(name: str, theirs: np.ndarray, ours: np.ndarray) -> float:
    error = float(np.abs(theirs - ours).max())
    print(f"{name}: effect {np.abs(ours).max():.3f} nats, max |difference| {error:.2e}")
    assert np.abs(ours).max() > 0.5  # the steering does something worth comparing
    assert error < TOLERANCE
    return error


def _one_block_off(name: str, shifted: dict[int, np.ndarray], ours: np.ndarray) -> None:
    """The same vector one block early or late must not reproduce our steering."""
    for block, theirs in shifted.items():
        error = float(np.abs(theirs - ours).max())
        print(f"  {name} at block {block} instead of {block_index(ANALYSIS)}: {error:.3f}")
        assert error > OFF_BY_ONE, block


def _repeng_change(bench: Bench, cv, coeff: float) -> np.ndarray:
    repeng = library("repeng")
    steered = repeng.ControlModel(bench.model, list(cv.directions))
    try:
        steered.set_control(cv, coeff)
        return bench.change(lambda _model, ids: steered(input_ids=ids).logits)
    finally:
        steered.unwrap()


@pytest.mark.slow
def test_load_vectors_carries_the_steering_unit(bench):
    assert bench.vectors.attrs["layer"] == ANALYSIS
    assert bench.vectors.attrs["residual_norm"] == bench.norm
    from emotion_vectors.api import load_vectors

    other = load_vectors(MODEL, 12, results=bench.results)
    norms = json.loads(Path(Layout(bench.results).residual_norms(MODEL)).read_text())
    assert other.attrs["residual_norm"] == norms["mean_norm"]["12"] != bench.norm


@pytest.mark.slow
@pytest.mark.parametrize("strength", STRENGTHS)
def test_repeng_steers_as_we_do(clean, strength):
    repeng = library("repeng")  # first: without it, a skip (a failure in CI)
    bench = clean
    cv = to_repeng(bench.vectors, "happy")
    assert list(cv.directions) == [ANALYSIS - 1]
    ours = bench.ours("happy", strength)
    _agree(f"repeng coeff {strength}", _repeng_change(bench, cv, strength), ours)
    if strength == 1.0:
        shifted = {
            b: _repeng_change(bench, repeng.ControlVector(MODEL, {b: cv.directions[19]}), 1.0)
            for b in (ANALYSIS - 2, ANALYSIS)
        }
        _one_block_off("repeng", shifted, ours)


def _sv_change(bench: Bench, sv, multiplier: float) -> np.ndarray:
    with sv.apply(bench.model, multiplier=multiplier):
        return bench.change()


@pytest.mark.slow
@pytest.mark.parametrize("strength", STRENGTHS)
def test_steering_vectors_steer_as_we_do(clean, strength):
    library_ = library("steering_vectors")  # first: without it, a skip (a failure in CI)
    bench = clean
    sv = to_steering_vectors(bench.vectors, "sad")
    assert list(sv.layer_activations) == [ANALYSIS - 1]
    ours = bench.ours("sad", strength)
    _agree(f"steering-vectors multiplier {strength}", _sv_change(bench, sv, strength), ours)
    if strength == 1.0:
        act = sv.layer_activations[ANALYSIS - 1]
        shifted = {
            b: _sv_change(bench, library_.SteeringVector({b: act}, "decoder_block"), 1.0)
            for b in (ANALYSIS - 2, ANALYSIS)
        }
        _one_block_off("steering-vectors", shifted, ours)


def _nnsight_change(bench: Bench, model, emotion: str, strength: float, vectors=None) -> np.ndarray:
    from emotion_vectors.interop import nnsight_steer

    nnsight = library("nnsight")
    lm = nnsight.NNsight(model)

    def run(_model, ids):
        with lm.trace(ids):
            nnsight_steer(lm, bench.vectors if vectors is None else vectors, emotion, strength)
            logits = lm.output.logits.save()
        return logits

    return bench.change(run)


@pytest.mark.slow
@pytest.mark.parametrize("strength", STRENGTHS)
def test_nnsight_steers_as_we_do(clean, nnsight_model, strength):
    bench = clean
    ours = bench.ours("calm", strength)
    theirs = _nnsight_change(bench, nnsight_model, "calm", strength)
    _agree(f"nnsight strength {strength}", theirs, ours)
    if strength == 1.0:
        # nnsight_steer puts layer L at block L-1; a frame that claims layer 19 or 21 for
        # the same vector (and norm) lands one block off.
        shifted = {}
        for layer in (ANALYSIS - 1, ANALYSIS + 1):
            relabelled = bench.vectors.copy()
            relabelled.attrs = {**bench.vectors.attrs, "layer": layer}
            shifted[layer - 1] = _nnsight_change(bench, nnsight_model, "calm", 1.0, relabelled)
        _one_block_off("nnsight", shifted, ours)


@pytest.mark.slow
def test_repeng_reads_our_llama_cpp_export(clean):
    bench = clean
    repeng = library("repeng")
    layout = Layout(bench.results)
    full = repeng.ControlVector.import_gguf(layout.control_vector(MODEL, "sad"))
    assert sorted(full.directions) == [block_index(L) for L in range(2, N_LAYERS + 1)]
    assert full.model_type == MODEL
    ours = to_repeng(bench.vectors, "sad")
    np.testing.assert_array_equal(full.directions[ANALYSIS - 1], ours.directions[ANALYSIS - 1])
    single = repeng.ControlVector.import_gguf(layout.control_vector(MODEL, "sad", layer=ANALYSIS))
    assert list(single.directions) == [ANALYSIS - 1]
    np.testing.assert_array_equal(single.directions[ANALYSIS - 1], ours.directions[19])
    # Only block 19 of the all-layer vector is wrapped: our layer 20 alone.
    only = repeng.ControlVector(MODEL, {ANALYSIS - 1: full.directions[ANALYSIS - 1]})
    _agree("repeng import_gguf", _repeng_change(bench, only, 1.0), bench.ours("sad", 1.0))


@pytest.mark.slow
def test_the_safetensors_export_is_load_vectors(bench):
    from emotion_vectors.api import load_vectors

    path = Path(Layout(bench.results).shared_vectors(MODEL))
    shared = read_safetensors(path)
    assert shared.model == MODEL and shared.emotions == list(bench.vectors.index)
    assert sorted(shared.vectors) == list(range(1, N_LAYERS + 1))
    assert shared.analysis_layer == ANALYSIS
    meta = shared.metadata
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items())
    for key in ("source", "dtype", "scale", "layer_numbering", "emotion_vectors_version"):
        assert meta[key], key
    for layer in (1, ANALYSIS, N_LAYERS):
        ours = load_vectors(MODEL, layer, results=bench.results)
        frame = shared.frame(layer)
        assert shared.vectors[layer].shape == (len(EMOTIONS), WIDTH)
        pd.testing.assert_frame_equal(frame, ours)  # values exact
        assert frame.attrs == ours.attrs
    manifest = json.loads(Path(Layout(bench.results).control_vector_manifest(MODEL)).read_text())
    assert manifest["files"]["safetensors"].endswith("vectors.safetensors")


# ---------------------------------------------------------------- the README's examples


README_SECTION = "## Use in repeng / steering-vectors / nnsight"
RESULTS_ARG = 'results="results"'


def readme_blocks() -> list[str]:
    """The python blocks of the README's section on the steering libraries."""
    text = (ROOT / "README.md").read_text()
    start = text.index(README_SECTION)
    end = text.index("\n## ", start + len(README_SECTION))
    return re.findall(r"```python\n(.*?)```", text[start:end], flags=re.S)


def test_the_readme_has_one_example_per_library():
    blocks = readme_blocks()
    assert len(blocks) == 3
    for block, name in zip(
        blocks, ("to_repeng", "to_steering_vectors", "nnsight_steer"), strict=True
    ):
        assert name in block and RESULTS_ARG in block


@pytest.mark.slow
@pytest.mark.parametrize(
    ("index", "name", "emotion"),
    [(0, "repeng", "happy"), (1, "steering_vectors", "happy"), (2, "nnsight", "happy")],
)
def test_the_readme_examples_steer_as_we_do(clean, request, tmp_path, index, name, emotion):
    """Each block runs with `model` and `input_ids` given and the test's results folder in
    place of "results"; the `logits` it leaves change as our steering at strength 1.0."""
    bench = clean
    library(name)
    model = request.getfixturevalue("nnsight_model") if name == "nnsight" else bench.model
    code = readme_blocks()[index].replace(RESULTS_ARG, f"results={str(bench.results)!r}")
    # From a file, as a reader's script: nnsight reads a trace's `with` block back from
    # its source file. No inference mode around it, as in the README.
    script = tmp_path / f"readme_{name}.py"
    script.write_text(code)
    scope = {"model": model, "input_ids": bench.ids}
    exec(compile(code, str(script), "exec"), scope)
    logits = scope["logits"][0, -1].detach().double()
    import torch

    theirs = torch.log_softmax(logits, dim=-1).numpy() - bench.base
    _agree(f"README {name}", theirs, bench.ours(emotion, 1.0))
