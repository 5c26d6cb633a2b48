"""The logit lens: what an emotion vector says about the next token when it is read out
through the model's own final norm and unembedding.

Our vectors live in the pre-norm residual stream (every stored layer is a decoder block's
own output, see activations.py), so the final norm applies before the unembedding. For a
single vector v an RMSNorm returns v's direction times the norm's gain (Gemma's RMSNorm
scales by 1 + weight), so going through the model's own norm module handles every variant:

    change in logits = unembed(final_norm(v)) - unembed(final_norm(0))

The second term removes any bias of the norm or the unembedding (zero for Llama and Gemma).
A state that is already post-norm (transformers' `hidden_states[-1]`) must not be normed
again: pass `post_norm=True` for such vectors and the norm is skipped.

A token "is a form of" an emotion word when their stems agree (see `word_stem`).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger("emotion_vectors")

# Suffixes stripped (longest first, one per round, two rounds at most) while at least
# three letters remain. The list is deliberately short: it merges inflections and the
# common derivations of emotion words, not unrelated words that share a root.
SUFFIXES = sorted(
    [
        "liness",
        "iness",
        "ness",
        "ment",
        "ation",
        "ated",
        "ate",
        "ion",
        "fully",
        "ful",
        "ily",
        "ly",
        "ity",
        "ous",
        "ing",
        "ed",
        "es",
        "s",
    ],
    key=len,
    reverse=True,
)
MIN_STEM = 3
# A longer stem that starts with a shorter one of at least this many letters also counts
# ("panic" ~ "panicked", "nostalgia" -> "nostalg" ~ "nostalgic").
MIN_PREFIX = 5
# Words of a multi-word emotion that carry no emotion ("at ease", "worn out", "self-...").
STOPWORDS = frozenset({"a", "an", "the", "at", "on", "in", "of", "out", "up", "self"})


@functools.lru_cache(maxsize=1 << 16)
def word_stem(word: str) -> str:
    """Lower-case letters of `word`, with common English suffixes stripped, final
    'a'/'e'/'i'/'y' dropped and a final 'er' read as 'r', e.g.

    happy, happiness, happily -> happ;  angry, anger -> angr;  sad, sadness -> sad;
    loving, love, lovely -> lov;  desperate, desperation, desperately -> desper.

    Stems never drop below three letters, so 'afraid' and 'fear' stay apart."""
    stem = re.sub(r"[^a-z]", "", word.lower())
    for _ in range(2):
        for suffix in SUFFIXES:
            if stem.endswith(suffix) and len(stem) - len(suffix) >= MIN_STEM:
                stem = stem[: -len(suffix)]
                break
        else:
            break
    while len(stem) > MIN_STEM and stem[-1] in "aeiy":
        stem = stem[:-1]
    if len(stem) > MIN_STEM + 1 and stem.endswith("er"):
        stem = stem[:-2] + "r"
    return stem


def content_words(emotion: str) -> list[str]:
    """The words of an emotion name that can be matched ("worn out" -> ["worn"])."""
    words = [w for w in re.split(r"[\s-]+", emotion.lower()) if w]
    kept = [w for w in words if w not in STOPWORDS]
    return kept or words


@functools.lru_cache(maxsize=65536)  # the same tokens come up at many layers
def is_form_of(token: str, emotion: str) -> bool:
    """Whether a decoded token is a form of (any content word of) the emotion name.
    Tokens with fewer than three letters never match."""
    letters = re.sub(r"[^a-z]", "", token.lower())
    if len(letters) < MIN_STEM:
        return False
    a = word_stem(letters)
    for word in content_words(emotion):
        b = word_stem(word)
        if a == b:
            return True
        short, long = sorted((a, b), key=len)
        if len(short) >= MIN_PREFIX and long.startswith(short):
            return True
    return False


def final_norm(model):
    """The norm applied to the last residual state before the unembedding."""
    base = model.base_model
    for name in ("norm", "final_layernorm", "ln_f", "final_norm"):
        module = getattr(base, name, None)
        if module is not None:
            return module
    language_model = getattr(base, "language_model", None)
    if language_model is not None and getattr(language_model, "norm", None) is not None:
        return language_model.norm
    raise RuntimeError(f"cannot find the final norm of {type(model).__name__}")


def logit_changes(vectors: np.ndarray, norm, unembedding, post_norm: bool = False) -> np.ndarray:
    """[emotions, vocab] change in next-token logits that each vector causes when read out
    through `norm` (skipped when `post_norm`) and `unembedding` (a module: width -> vocab)."""
    import torch

    weight = next(unembedding.parameters())
    v = torch.as_tensor(np.array(vectors), dtype=weight.dtype, device=weight.device)
    with torch.inference_mode():
        # The zero vector's logits ride along as the last row: a separate one-row pass
        # would read the whole unembedding matrix again for one row.
        rows = torch.cat([v, torch.zeros_like(v[:1])])
        out = unembedding(rows if post_norm else norm(rows))
        changes = out[:-1] - out[-1:]
    return changes.float().cpu().numpy()


@dataclass
class LensResult:
    emotions: list[str]
    promoted: list[list[tuple[int, str, float]]]  # per emotion: (token id, text, change)
    suppressed: list[list[tuple[int, str, float]]]
    hits: list[bool]

    @property
    def hit_rate(self) -> float:
        return float(np.mean(self.hits)) if self.hits else float("nan")


def top_indices(changes: np.ndarray, top_k: int, largest: bool = True) -> np.ndarray:
    """[rows, k] indices of each row's k largest (or smallest) values, best first, ties
    broken by the lower index. torch.topk finds each row's k-th value for all rows at once;
    every index at or beyond it is then sorted exactly, so ties at the boundary are
    resolved the same way whatever topk returned."""
    import torch

    values = np.asarray(changes, dtype=np.float32)
    if values.ndim == 1:
        values = values[None]
    signed = values if largest else -values
    k = min(top_k, values.shape[1])
    kth = torch.topk(torch.from_numpy(signed), k, dim=1).values[:, -1].numpy()
    out = np.empty((len(values), k), dtype=np.int64)
    for r, (row, threshold) in enumerate(zip(signed, kth, strict=True)):
        candidates = np.flatnonzero(row >= threshold)
        out[r] = candidates[np.lexsort((candidates, -row[candidates]))][:k]
    return out


def top_tokens(changes: np.ndarray, decode, top_k: int) -> tuple[list, list]:
    """Top-k promoted and suppressed tokens of one row of logit changes."""
    high, low = top_indices(changes, top_k)[0], top_indices(changes, top_k, largest=False)[0]
    up = [(int(i), decode(int(i)).strip(), float(changes[i])) for i in high]
    down = [(int(i), decode(int(i)).strip(), float(changes[i])) for i in low]
    return up, down


def logit_lens(
    emotions: Sequence[str],
    changes: np.ndarray,
    decode,
    top_k: int = 10,
    suppressed: bool = True,
) -> LensResult:
    """Rank tokens by their logit change; an emotion hits when one of its top-k promoted
    tokens is a form of the emotion word. `suppressed=False` skips the suppressed tokens
    (left empty), which the hit rate does not need."""
    changes = np.asarray(changes)
    high = top_indices(changes, top_k)
    low = top_indices(changes, top_k, largest=False) if suppressed else None
    promoted, down_lists, hits = [], [], []
    for r, (emotion, row) in enumerate(zip(emotions, changes, strict=True)):
        up = [(int(i), decode(int(i)).strip(), float(row[i])) for i in high[r]]
        down = (
            [(int(i), decode(int(i)).strip(), float(row[i])) for i in low[r]]
            if low is not None
            else []
        )
        promoted.append(up)
        down_lists.append(down)
        hits.append(any(is_form_of(text, emotion) for _, text, _ in up))
    return LensResult(list(emotions), promoted, down_lists, hits)


# ---------------------------------------------------------------- the workflow job


def run_lens(
    loaded,
    corpus: str,
    layer: int,
    layers: Sequence[int],
    vector_files: Sequence[str],
    top_k: int,
    figure_emotions: Sequence[str],
    outputs: Mapping[str, str],
) -> dict:
    """The logit lens of every emotion at the analysis layer (tables, figure, headline
    JSON) and the hit rate at every computed layer, for a loaded model (models.LoadedModel)."""
    import time

    import pandas as pd

    from .store import read_vector_matrix, write_json_atomic

    started = time.perf_counter()
    spec = loaded.spec
    norm, unembedding = final_norm(loaded.model), loaded.model.get_output_embeddings()
    tokenizer = loaded.tokenizer

    @functools.cache
    def decode(i: int) -> str:
        # The same tokens come up for many emotions and layers; decode each once.
        return tokenizer.decode([i])

    by_layer, analysis = [], None
    for lay, path in zip(layers, vector_files, strict=True):
        emotions, matrix = read_vector_matrix(path)
        changes = logit_changes(matrix, norm, unembedding)
        # Other layers only need the hit rate, hence only the promoted tokens.
        result = logit_lens(emotions, changes, decode, top_k, suppressed=lay == layer)
        by_layer.append({"layer": lay, "hit_rate": result.hit_rate, "hits": sum(result.hits)})
        if lay == layer:
            analysis = result
    if analysis is None:
        raise ValueError(f"layer {layer} is not among the vector files' layers {list(layers)}")

    rows = []
    for e, up, down in zip(analysis.emotions, analysis.promoted, analysis.suppressed, strict=True):
        for direction, toks in (("promoted", up), ("suppressed", down)):
            for rank, (tid, text, change) in enumerate(toks, 1):
                rows.append(
                    {
                        "emotion": e,
                        "direction": direction,
                        "rank": rank,
                        "token_id": tid,
                        "token": text,
                        "logit_change": change,
                        "is_form": is_form_of(text, e),
                    }
                )
    pd.DataFrame(rows).to_csv(outputs["tokens"], index=False)
    summary = pd.DataFrame(
        {
            "emotion": analysis.emotions,
            "hit": analysis.hits,
            "promoted": [" | ".join(t for _, t, _ in up) for up in analysis.promoted],
            "suppressed": [" | ".join(t for _, t, _ in down) for down in analysis.suppressed],
        }
    )
    summary.to_csv(outputs["summary"], index=False)
    _write_summary_html(summary, spec.key, layer, top_k, analysis.hit_rate, outputs["html"])
    layer_table = pd.DataFrame(by_layer)
    layer_table.to_csv(outputs["layers_table"], index=False)
    shown = [e for e in figure_emotions if e in analysis.emotions] or analysis.emotions[:8]
    plot_top_tokens(analysis, shown, spec.key, layer, outputs["figure"])
    plot_hit_rate_by_layer(layer_table, spec.key, layer, top_k, outputs["layers_figure"])
    headline = {
        "model": spec.key,
        "corpus": corpus,
        "layer": layer,
        "top_k": top_k,
        "device": loaded.device,
        "dtype": loaded.dtype,
        "hit_rate": round(analysis.hit_rate, 4),
        "n_emotions": len(analysis.emotions),
        "hits": [e for e, hit in zip(analysis.emotions, analysis.hits, strict=True) if hit],
    }
    write_json_atomic(headline, outputs["json"])
    log.info("logit lens of %s in %.1f s: %s", spec.key, time.perf_counter() - started, headline)
    return headline


def _write_summary_html(summary, model: str, layer: int, top_k: int, rate: float, path) -> None:
    import html

    head = (
        f"<h2>Logit lens: {html.escape(model)}, layer {layer}</h2>"
        f"<p>Top {top_k} promoted and suppressed tokens of each denoised emotion vector "
        f"read through the final norm and unembedding. Hit (own word or a form of it among "
        f"the promoted tokens): {rate:.1%} of {len(summary)} emotions.</p>"
    )
    table = summary.to_html(index=False, escape=True, border=0)
    style = (
        "<style>body{font-family:sans-serif;font-size:13px}td,th{padding:2px 8px;"
        "text-align:left;border-bottom:1px solid #ddd}</style>"
    )
    Path(path).write_text(
        f"<html><head><meta charset='utf-8'>{style}</head><body>{head}{table}</body></html>\n"
    )


def plot_top_tokens(result: LensResult, emotions: Sequence[str], model: str, layer: int, path):
    """One panel per emotion: its promoted tokens and their logit change, own forms in red."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(4, len(emotions))
    nrows = -(-len(emotions) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.6 * cols, 3.4 * nrows), squeeze=False)
    for ax in axes.flat[len(emotions) :]:
        ax.axis("off")
    for ax, emotion in zip(axes.flat, emotions, strict=False):
        i = result.emotions.index(emotion)
        toks = result.promoted[i][::-1]
        labels = [repr(t)[1:-1] or "␣" for _, t, _ in toks]
        colors = ["#c0392b" if is_form_of(t, emotion) else "#7f8c8d" for _, t, _ in toks]
        ax.barh(range(len(toks)), [c for _, _, c in toks], color=colors)
        ax.set_yticks(range(len(toks)), labels, fontsize=9)
        ax.set_title(f"{emotion} ({'hit' if result.hits[i] else 'no hit'})", fontsize=11)
        ax.tick_params(axis="x", labelsize=8)
        ax.set_xlabel("logit change", fontsize=9)
    fig.suptitle(
        f"Logit lens: top promoted tokens, {model}, layer {layer} (red: a form of the emotion)",
        fontsize=12,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_hit_rate_by_layer(table, model: str, layer: int, top_k: int, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.8))
    ax.plot(table["layer"], 100 * table["hit_rate"], marker="o")
    ax.axvline(layer, color="grey", linestyle="--", label=f"analysis layer {layer}")
    ax.set_xlabel("layer")
    ax.set_ylabel(f"emotions with own word in top {top_k} (%)")
    ax.set_title(f"Logit-lens hit rate by layer, {model}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
