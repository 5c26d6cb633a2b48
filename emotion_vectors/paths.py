"""The results layout, in one place: the Snakemake rules and the Python API both use it.

results/
  corpus/<corpus>/<emotion>.parquet              passages per emotion (model-independent)
  corpus/neutral.parquet                         the neutral set (neutral_stories.parquet:
                                                 with the neutral dialogues added)
  corpus/stories.json                            story writing: rejections, throughput
  <model>/cache/activations/<key>.parquet        content-addressed activation cache
  <model>/<corpus>/activations/<emotion>.parquet pooled activations, one column per layer
  <model>/<corpus>/neutral_activations.parquet   the same for the neutral set
  <model>/<corpus>/extraction.json               what the last extraction computed
  <model>/<corpus>/vectors/layer-<L>.parquet     raw and denoised vectors of layer L
  <model>/<corpus>/vectors/meta.json             layers, analysis layer, denoising
  <model>/<corpus>/llamacpp/<emotion>.gguf        llama.cpp control vector, every layer
  <model>/<corpus>/llamacpp/layer-<L>/<emotion>.gguf   ... the analysis layer alone
  <model>/generalisation/                        corpus agreement, implicit scenarios
"""

from __future__ import annotations

from pathlib import Path

from .config import emotion_slug

DEFAULT_CORPUS = "templates"


def corpus_file(results: str | Path, emotion: str, corpus: str = DEFAULT_CORPUS) -> Path:
    return Path(results) / "corpus" / corpus / f"{emotion_slug(emotion)}.parquet"


def neutral_corpus_file(results: str | Path, corpus: str = DEFAULT_CORPUS) -> Path:
    """The neutral set of a corpus: the story corpus adds neutral dialogues to it."""
    name = "neutral" if corpus == DEFAULT_CORPUS else f"neutral_{corpus}"
    return Path(results) / "corpus" / f"{name}.parquet"


def generalisation_dir(results: str | Path, model: str) -> Path:
    return Path(results) / model / "generalisation"


def cache_dir(results: str | Path, model: str) -> Path:
    return Path(results) / model / "cache" / "activations"


def activation_file(
    results: str | Path, model: str, emotion: str, corpus: str = DEFAULT_CORPUS
) -> Path:
    return Path(results) / model / corpus / "activations" / f"{emotion_slug(emotion)}.parquet"


def neutral_activation_file(results: str | Path, model: str, corpus: str = DEFAULT_CORPUS) -> Path:
    return Path(results) / model / corpus / "neutral_activations.parquet"


def vector_file(results: str | Path, model: str, layer: int, corpus: str = DEFAULT_CORPUS) -> Path:
    return Path(results) / model / corpus / "vectors" / f"layer-{layer}.parquet"


def vector_meta_file(results: str | Path, model: str, corpus: str = DEFAULT_CORPUS) -> Path:
    return Path(results) / model / corpus / "vectors" / "meta.json"


def control_vector_file(
    results: str | Path,
    model: str,
    emotion: str,
    corpus: str = DEFAULT_CORPUS,
    layer: int | None = None,
) -> Path:
    """An emotion's llama.cpp control vector: every layer, or (`layer`) that layer alone."""
    folder = Path(results) / model / corpus / "llamacpp"
    if layer is not None:
        folder = folder / f"layer-{layer}"
    return folder / f"{emotion_slug(emotion)}.gguf"


def control_vector_manifest(results: str | Path, model: str, corpus: str = DEFAULT_CORPUS) -> Path:
    return Path(results) / model / corpus / "llamacpp" / "export.json"
