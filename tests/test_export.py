"""llama.cpp control vectors: the layer mapping, the scale, the file format as llama.cpp
checks it, a real `snakemake export` run, and the vectors applied in llama.cpp itself
(llama-cpp-python) against the project's own PyTorch steering."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
from pathlib import Path

import numpy as np
import pytest
import yaml

from emotion_vectors.export import (
    ControlVectorError,
    layer_directions,
    llama_cpp_index,
    our_layer,
    read_control_vector,
    write_control_vector,
)
from emotion_vectors.layout import Layout
from emotion_vectors.models import resolve_dtype
from emotion_vectors.run_config import load_run_config
from emotion_vectors.store import read_vector_matrix

from .conftest import MODEL, run_snakemake

EMOTIONS = ["happy", "sad", "calm"]
N_LAYERS, WIDTH, ANALYSIS = 30, 576, 20


def test_our_layer_l_is_llama_cpp_direction_l_minus_1():
    # Our layer L = output of block L counted from 1 = hidden_states[L]; llama.cpp's
    # direction.N is added to the output of block N counted from 0.
    assert llama_cpp_index(2) == 1
    assert llama_cpp_index(20) == 19
    assert llama_cpp_index(30) == 29
    assert [our_layer(llama_cpp_index(L)) for L in range(2, 31)] == list(range(2, 31))
    with pytest.raises(ValueError, match=r"layer 1 has no llama\.cpp control vector slot"):
        llama_cpp_index(1)


def test_directions_are_unit_vectors_times_the_layer_norm():
    rng = np.random.default_rng(1)
    vectors = {layer: rng.normal(size=16) for layer in (1, 2, 7)}
    norms = {1: 0.5, 2: 3.0, 7: 40.0}
    out = layer_directions(vectors, norms)
    assert sorted(out) == [1, 6]  # layer 1 dropped, the others at L - 1
    for layer in (2, 7):
        d = out[layer - 1]
        assert d.dtype == np.float32
        assert np.linalg.norm(d) == pytest.approx(norms[layer], rel=1e-6)
        unit = vectors[layer] / np.linalg.norm(vectors[layer])
        np.testing.assert_allclose(d / norms[layer], unit, rtol=1e-5, atol=1e-6)


def test_round_trip_through_gguf(tmp_path):
    import gguf

    rng = np.random.default_rng(2)
    directions = {i: rng.normal(size=8).astype(np.float32) for i in (1, 2, 5)}
    path = tmp_path / "cv.gguf"
    # Every kind of value the metadata takes comes back as written (read with gguf's own
    # ReaderField.contents()).
    about = {"emotion": "calm", "layers": [2, 3, 6], "strength": 0.5, "denoised": True,
             "words": ["calm", "serene"], "scales": [0.25, 1.5]}  # fmt: skip
    write_control_vector(path, directions, "tiny", about)
    reader = gguf.GGUFReader(str(path))
    fields = {k: f.contents() for k, f in reader.fields.items()}
    assert fields["general.architecture"] == "controlvector"
    assert fields["controlvector.model_hint"] == "tiny"
    assert fields["controlvector.layer_count"] == 3
    names = [t.name for t in reader.tensors]
    assert names == ["direction.1", "direction.2", "direction.5"]
    for t in reader.tensors:
        assert t.tensor_type == gguf.GGMLQuantizationType.F32
        assert list(t.shape) == [8]
    cv = read_control_vector(path)
    assert cv.layers == [2, 3, 6] and cv.n_embd == 8
    assert cv.metadata == about
    assert [type(v) for v in cv.metadata.values()] == [type(v) for v in about.values()]
    for i, d in directions.items():
        np.testing.assert_array_equal(cv.directions[i], d)
    # The buffer llama_set_adapter_cvec takes: direction.N at (N-1) x n_embd, scaled.
    buf = cv.buffer(0.5)
    assert buf.shape == (5 * 8,)
    np.testing.assert_array_equal(buf[0:8], directions[1] * 0.5)
    np.testing.assert_array_equal(buf[32:40], directions[5] * 0.5)
    assert not buf[16:32].any()
    assert [p.name for p in tmp_path.iterdir()] == ["cv.gguf"]  # no temporary file left


def _raw_gguf(path, tensors):
    import gguf

    writer = gguf.GGUFWriter(str(path), "controlvector")
    for name, array in tensors.items():
        writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


@pytest.mark.parametrize(
    ("tensors", "problem"),
    [
        ({"direction.0": np.ones(4, np.float32)}, "direction.0 makes llama.cpp reject"),
        ({"direction.1": np.ones(4, np.float16)}, "direction.1 is F16, not F32"),
        ({"direction.1": np.ones((2, 2), np.float32)}, "not 1-D"),
        ({"dir.1": np.ones(4, np.float32)}, "'dir.1' is not direction.<layer>"),
        (
            {"direction.1": np.ones(4, np.float32), "direction.2": np.ones(5, np.float32)},
            "different widths",
        ),
    ],
)
def test_files_llama_cpp_would_refuse_are_refused(tmp_path, tensors, problem):
    path = tmp_path / "bad.gguf"
    _raw_gguf(path, tensors)
    with pytest.raises(ControlVectorError, match=problem) as info:
        read_control_vector(path)
    assert str(path) in str(info.value)


def test_the_writer_refuses_a_direction_0(tmp_path):
    with pytest.raises(ValueError, match=r"direction\.0"):
        write_control_vector(tmp_path / "x.gguf", {0: np.ones(4, np.float32)}, "tiny")
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------- the real workflow


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """`snakemake export` on the embedded model: three emotions, every layer."""
    work = tmp_path_factory.mktemp("export")
    cfg = work / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({"emotions": EMOTIONS}))
    run_snakemake(work, "export", "--configfile", str(cfg))
    return work / "results"


@pytest.mark.slow
def test_snakemake_export_writes_one_file_per_emotion(exported):
    manifest = json.loads(Path(Layout(exported).control_vector_manifest(MODEL)).read_text())
    assert manifest["layers"] == list(range(2, N_LAYERS + 1))
    assert manifest["not_exported"] == [1]
    assert manifest["llama_cpp_index"]["20"] == 19
    # The compute dtype `auto` resolved to on this CPU is what the provenance records.
    assert manifest["dtype"] == resolve_dtype("auto", "cpu") and manifest["device"] == "cpu"
    norms = json.loads(Path(Layout(exported).residual_norms(MODEL)).read_text())["mean_norm"]
    for emotion in EMOTIONS:
        full = read_control_vector(Layout(exported).control_vector(MODEL, emotion))
        assert full.model_hint == MODEL and full.n_embd == WIDTH
        assert sorted(full.directions) == list(range(1, N_LAYERS))
        assert full.layer_count == N_LAYERS - 1
        assert full.metadata["emotion"] == emotion
        assert full.metadata["dtype"] == manifest["dtype"]
        for layer in (2, ANALYSIS, N_LAYERS):
            d = full.directions[layer - 1]
            # direction.(L-1) is our layer L's denoised vector at layer L's residual norm.
            emotions, matrix = read_vector_matrix(Layout(exported).vectors(MODEL), layer)
            v = matrix[emotions.index(emotion)]
            assert np.linalg.norm(d) == pytest.approx(norms[str(layer)], rel=1e-5)
            cos = d @ v / np.linalg.norm(d) / np.linalg.norm(v)
            assert cos == pytest.approx(1.0, abs=1e-6)
        single = read_control_vector(Layout(exported).control_vector(MODEL, emotion, layer=20))
        assert list(single.directions) == [19]
        np.testing.assert_array_equal(single.directions[19], full.directions[19])


# ---------------------------------------------------------------- in llama.cpp itself


def _log_softmax(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    x = x - x.max()
    return x - np.log(np.exp(x).sum())


class LlamaCpp:
    """The same GGUF file in llama.cpp, with a control vector set through the C API."""

    def __init__(self, gguf_path: str):
        if os.environ.get("EMOTION_VECTORS_REQUIRE_LLAMA_CPP") == "1":
            import llama_cpp  # CI: a missing binding is a failure, not a skip
        else:
            llama_cpp = pytest.importorskip(
                "llama_cpp", reason="WITH_LLAMA_CPP=1 ./bootstrap.sh install provides it"
            )
        self.api = llama_cpp
        self.llm = llama_cpp.Llama(
            model_path=gguf_path, n_ctx=256, n_threads=2, seed=0, verbose=False
        )

    def logprobs(self, ids, buffer=None, il_start=1, il_end=N_LAYERS) -> np.ndarray:
        """Next-token log-probabilities after `ids`; `buffer` (from ControlVector.buffer)
        applied to llama.cpp blocks il_start..il_end as llama-cli would."""
        ctx = self.llm.ctx
        if buffer is None:
            rc = self.api.llama_set_adapter_cvec(ctx, None, 0, WIDTH, -1, -1)
        else:
            self._keep = np.ascontiguousarray(buffer, dtype=np.float32)
            ptr = self._keep.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            rc = self.api.llama_set_adapter_cvec(ctx, ptr, self._keep.size, WIDTH, il_start, il_end)
        assert rc == 0
        self.llm.reset()
        self.llm.eval(list(ids))
        # The last position's logits, read from the context (Llama.scores keeps them only
        # with logits_all).
        logits = self.api.llama_get_logits_ith(ctx, -1)
        return _log_softmax(np.ctypeslib.as_array(logits, shape=(self.llm.n_vocab(),)))


def _torch_logprobs(model, ids, deltas: dict[int, np.ndarray] | None = None) -> np.ndarray:
    """The project's own steering: `deltas[L]` added to the output of block L (our layer
    L), every position, for all L at once."""
    import torch

    from emotion_vectors.steering import steer

    with contextlib.ExitStack() as stack, torch.inference_mode():
        for layer, delta in (deltas or {}).items():
            stack.enter_context(steer(model, layer, delta))
        logits = model(input_ids=torch.tensor([list(ids)])).logits[0, -1]
    return _log_softmax(logits.float().numpy())


def _compare(torch_change, llama_change, base, k=20):
    """(largest, median) disagreement in the change of log-probability, and the largest
    change, over the tokens that matter: the top k before and after steering on either
    side. llama.cpp multiplies Q4_1 weights with 8-bit quantised activations, so even
    unsteered the two disagree by ~0.25 nat on these tokens; steering is judged against
    the effect it has (up to ~20 nats here) and against the one-layer-off alternatives."""
    tokens = set()
    for lp in (base, base + torch_change, base + llama_change):
        tokens |= set(np.argsort(lp)[-k:].tolist())
    tokens = sorted(tokens)
    diff = np.abs(torch_change[tokens] - llama_change[tokens])
    return float(diff.max()), float(np.median(diff)), float(np.abs(torch_change[tokens]).max())


def _disagreement(both, torch_change, llama_change, k=20) -> tuple[float, float]:
    """(steered, unsteered): the largest difference between the two engines' own
    log-probabilities, with and without the control vector, on the tokens `_compare` uses.
    A change can differ by up to their sum without any fault in the steering: what
    steering must not do is make the engines disagree more than they do unsteered."""
    base_torch, base_llama = both["base_torch"], both["base_llama"]
    tokens = set()
    for lp in (base_torch, base_torch + torch_change, base_torch + llama_change):
        tokens |= set(np.argsort(lp)[-k:].tolist())
    tokens = sorted(tokens)
    steered = (base_torch + torch_change) - (base_llama + llama_change)
    unsteered = base_torch - base_llama
    return float(np.abs(steered[tokens]).max()), float(np.abs(unsteered[tokens]).max())


@pytest.fixture(scope="module")
def both(exported, smollm2):
    from emotion_vectors.models import locate_weights
    from emotion_vectors.steering import he_feels_prompt

    where = locate_weights(smollm2.spec)
    llama = LlamaCpp(f"{where.folder}/{where.gguf_file}")
    settings = load_run_config({"emotions": EMOTIONS}).sections["steering"]
    ids = he_feels_prompt(smollm2.tokenizer, True, settings["question"], settings["answer_prefix"])
    base_torch = _torch_logprobs(smollm2.model, ids)
    base_llama = llama.logprobs(ids)
    return {
        "llama": llama,
        "model": smollm2.model,
        "ids": ids,
        "base_torch": base_torch,
        "base_llama": base_llama,
        "results": exported,
    }


def _changes(both, cv, strength, torch_layers, il_start=1, il_end=N_LAYERS):
    llama_change = (
        both["llama"].logprobs(both["ids"], cv.buffer(strength, N_LAYERS), il_start, il_end)
        - both["base_llama"]
    )
    deltas = {our_layer(i): cv.directions[i] * strength for i in torch_layers}
    torch_change = _torch_logprobs(both["model"], both["ids"], deltas) - both["base_torch"]
    return torch_change, llama_change


@pytest.mark.slow
@pytest.mark.parametrize("emotion", EMOTIONS)
def test_llama_cpp_moves_log_probs_as_pytorch_steering_does(both, emotion):
    """The analysis-layer file at strength 1.0 in llama.cpp changes the next-token
    log-probabilities as our steering at layer 20 does; one layer off it does not."""
    path = Layout(both["results"]).control_vector(MODEL, emotion, layer=ANALYSIS)
    cv = read_control_vector(path)
    torch_change, llama_change = _changes(both, cv, 1.0, [ANALYSIS - 1])
    error, median, effect = _compare(torch_change, llama_change, both["base_torch"])
    steered, unsteered = _disagreement(both, torch_change, llama_change)
    print(
        f"{emotion}: effect up to {effect:.2f} nats; change llama.cpp vs torch {error:.3f} "
        f"(median {median:.3f}); the engines disagree by {steered:.3f} steered, "
        f"{unsteered:.3f} unsteered"
    )
    assert effect > 1.0  # the steering does something worth comparing
    assert median < 0.25
    assert steered < max(0.5, 1.5 * unsteered)

    # The classic bug: the same direction one block late (or early).
    for wrong in (ANALYSIS + 1, ANALYSIS - 1):
        shifted = _torch_logprobs(both["model"], both["ids"], {wrong: cv.directions[19]})
        wrong_error, wrong_median, _ = _compare(
            shifted - both["base_torch"], llama_change, both["base_torch"]
        )
        print(f"  torch at layer {wrong} instead: {wrong_error:.3f} (median {wrong_median:.3f})")
        assert wrong_error > max(1.5, 4 * error), wrong


@pytest.mark.slow
def test_a_file_numbered_like_hidden_states_does_not_match(both, tmp_path):
    """Writing our layer L as direction.L (hidden_states numbering, the off-by-one) makes
    llama.cpp steer one block later than PyTorch did."""
    cv = read_control_vector(Layout(both["results"]).control_vector(MODEL, "sad", layer=20))
    wrong_path = tmp_path / "sad-shifted.gguf"
    write_control_vector(wrong_path, {ANALYSIS: cv.directions[ANALYSIS - 1]}, MODEL)
    wrong = read_control_vector(wrong_path)
    llama_change = (
        both["llama"].logprobs(both["ids"], wrong.buffer(1.0, N_LAYERS)) - both["base_llama"]
    )
    torch_change = (
        _torch_logprobs(both["model"], both["ids"], {ANALYSIS: cv.directions[ANALYSIS - 1]})
        - both["base_torch"]
    )
    error, median, _ = _compare(torch_change, llama_change, both["base_torch"])
    print(
        f"direction.{ANALYSIS} file vs torch at layer {ANALYSIS}: {error:.3f} (median {median:.3f})"
    )
    assert error > 1.5


@pytest.mark.slow
def test_every_layer_at_once_and_the_layer_range(both):
    """The all-layer file: every direction at once (small strength) agrees with PyTorch
    steering all 29 layers; restricted to one block with the layer range it acts like the
    single-layer file."""
    cv = read_control_vector(Layout(both["results"]).control_vector(MODEL, "happy"))
    torch_change, llama_change = _changes(both, cv, 0.05, sorted(cv.directions))
    error, median, effect = _compare(torch_change, llama_change, both["base_torch"])
    print(f"all layers at 0.05: effect {effect:.2f} nats; error {error:.3f} (median {median:.3f})")
    assert effect > 1.0
    assert error < 0.75 and median < 0.25

    index = llama_cpp_index(ANALYSIS)
    torch_change, llama_change = _changes(both, cv, 1.0, [index], il_start=index, il_end=index)
    error, median, effect = _compare(torch_change, llama_change, both["base_torch"])
    steered, unsteered = _disagreement(both, torch_change, llama_change)
    print(
        f"layer range {index} {index}: effect {effect:.2f}; error {error:.3f} "
        f"(median {median:.3f}); engines {steered:.3f} steered, {unsteered:.3f} unsteered"
    )
    assert effect > 1.0 and median < 0.25 and steered < max(0.5, 1.5 * unsteered)
