"""The results layout, in one place: the rules, the Python API, the tests and the benchmarks
all take their paths from here, so renaming an output is a one-line change.

results/
  corpus/<corpus>/<emotion>.parquet              passages per emotion (model-independent)
  corpus/neutral.parquet                         the neutral set (neutral_stories.parquet:
                                                 with the neutral dialogues added)
  corpus/stories.json                            story writing: rejections, throughput
  corpus/cache/<writer>/<key>.parquet            content-addressed story cache
  <model>/cache/<kind>/<key>.parquet             content-addressed caches (activations, ...);
                                                 activation and word entries have a checksum
                                                 beside them (integrity.sidecar)
  <model>/residual_norms.json                    the steering unit: residual norm per layer
  <model>/<corpus>/activations/<emotion>.parquet pooled activations, one column per layer
  <model>/<corpus>/neutral_activations.parquet   the same for the neutral set
  <model>/<corpus>/word_embeddings.parquet       input embedding of each emotion word
  <model>/<corpus>/extraction.json               what the last extraction computed
  <model>/<corpus>/vectors/vectors.parquet       raw and denoised vectors, a column per layer
  <model>/<corpus>/vectors/meta.json             layers, analysis layer, denoising
  <model>/<corpus>/vectors/vectors.safetensors   every denoised vector and the steering
                                                 unit, to share (written by the export)
  <model>/<corpus>/<analysis>/...                one folder per registered analysis
                                                 (registry.py names its files)
  <model>/<corpus>/traces/<text>.{html,csv}      emotion trace of each text in traces.folder
  <model>/<corpus>/llamacpp/<emotion>.gguf       llama.cpp control vector, every layer
  <model>/<corpus>/llamacpp/layer-<L>/<emotion>.gguf   ... the analysis layer alone
  <model>/generalisation/...                     per-model analyses (all corpora side by side)
  <model>/summary.json                           the model's headline numbers
  comparison/...                                 across models
  logs/...                                       one log per job
  .seals/<output>.json                           what each job wrote: checksum, size, mtime
                                                 (integrity.seal, checked on every parse)

Every function takes plain strings, so Snakemake wildcards ("{model}") pass through.
"""

from __future__ import annotations

from pathlib import Path

from . import registry
from .config import emotion_slug

DEFAULT_CORPUS = "templates"


class Layout:
    """Paths under one results folder (`Layout("results")`)."""

    def __init__(self, root: str | Path = "results") -> None:
        self.root = str(root)

    def _path(self, *parts: str) -> str:
        return str(Path(self.root, *parts))

    # ------------------------------------------------------------ passages

    def passages(self, emotion: str, corpus: str = DEFAULT_CORPUS) -> str:
        return self._path("corpus", corpus, f"{emotion_slug(emotion)}.parquet")

    def passages_dir(self, corpus: str = DEFAULT_CORPUS) -> str:
        return self._path("corpus", corpus)

    def neutral_passages(self, corpus: str = DEFAULT_CORPUS) -> str:
        """The neutral set of a corpus: the story corpus adds neutral dialogues to it."""
        name = "neutral" if corpus == DEFAULT_CORPUS else f"neutral_{corpus}"
        return self._path("corpus", f"{name}.parquet")

    def story_report(self) -> str:
        return self._path("corpus", "stories.json")

    def story_cache(self, writer: str) -> str:
        return self._path("corpus", "cache", writer)

    # ------------------------------------------------------------ per model

    def cache(self, model: str, kind: str = "activations") -> str:
        return self._path(model, "cache", kind)

    def residual_norms(self, model: str) -> str:
        return self._path(model, "residual_norms.json")

    def summary(self, model: str) -> str:
        return self._path(model, "summary.json")

    # ------------------------------------------------------------ per model and corpus

    def activations(self, model: str, emotion: str, corpus: str = DEFAULT_CORPUS) -> str:
        return self._path(model, corpus, "activations", f"{emotion_slug(emotion)}.parquet")

    def neutral_activations(self, model: str, corpus: str = DEFAULT_CORPUS) -> str:
        return self._path(model, corpus, "neutral_activations.parquet")

    def word_embeddings(self, model: str, corpus: str = DEFAULT_CORPUS) -> str:
        return self._path(model, corpus, "word_embeddings.parquet")

    def extraction_report(self, model: str, corpus: str = DEFAULT_CORPUS) -> str:
        return self._path(model, corpus, "extraction.json")

    def vectors(self, model: str, corpus: str = DEFAULT_CORPUS) -> str:
        return self._path(model, corpus, "vectors", "vectors.parquet")

    def vector_meta(self, model: str, corpus: str = DEFAULT_CORPUS) -> str:
        return self._path(model, corpus, "vectors", "meta.json")

    def shared_vectors(self, model: str, corpus: str = DEFAULT_CORPUS) -> str:
        """Every denoised vector of every layer in one safetensors file (interop.py)."""
        return self._path(model, corpus, "vectors", "vectors.safetensors")

    def output(self, analysis: str, key: str, model: str, corpus: str = DEFAULT_CORPUS) -> str:
        """File `key` of a registered analysis (registry.py names it), for one model and
        corpus; a per-model analysis (scope "model") ignores the corpus."""
        entry = registry.analysis(analysis)
        name = entry.outputs[key].file if key in entry.outputs else entry.files[key]
        if entry.scope == "model":
            return self._path(model, entry.directory, name)
        return self._path(model, corpus, entry.directory, name)

    def outputs(self, analysis: str, model: str, corpus: str = DEFAULT_CORPUS) -> dict[str, str]:
        """{key: path} of every file of a registered analysis."""
        keys = registry.analysis(analysis).outputs
        return {key: self.output(analysis, key, model, corpus) for key in keys}

    def trace(self, model: str, name: str, corpus: str = DEFAULT_CORPUS, kind: str = "html") -> str:
        """The emotion trace of text `name` (traces.folder): its page (html) or its
        per-token table (csv)."""
        folder = registry.analysis("traces").directory
        return self._path(model, corpus, folder, f"{name}.{kind}")

    def control_vector(
        self, model: str, emotion: str, corpus: str = DEFAULT_CORPUS, layer: int | str | None = None
    ) -> str:
        """An emotion's llama.cpp control vector: every layer, or (`layer`) that layer alone."""
        parts = [model, corpus, "llamacpp"] + ([f"layer-{layer}"] if layer is not None else [])
        return self._path(*parts, f"{emotion_slug(emotion)}.gguf")

    def control_vector_manifest(self, model: str, corpus: str = DEFAULT_CORPUS) -> str:
        return self._path(model, corpus, "llamacpp", "export.json")

    # ------------------------------------------------------------ across models, logs

    def comparison(self, name: str) -> str:
        return self._path("comparison", name)

    def log(self, *parts: str) -> str:
        """results/logs/<parts...>.log: one log file per job."""
        *folders, name = parts
        return self._path("logs", *folders, f"{name}.log")
