"""Do the vectors carry the emotion concept or only its word? Three measurements per model,
for every corpus (templates, stories) side by side:

- corpus agreement: the cosine between each emotion's template vector and its story vector
  (the diagonal) against the cosines between different emotions (off the diagonal), and
  how often an emotion's nearest story vector is its own;
- implicit scenarios: passages that evoke an emotion without naming it (never its word,
  inflections or synonyms; checked when the config is read) are pooled by the model and
  scored against every candidate emotion's vector; top-1 and top-3 accuracy against chance;
- valence: PC1 of the vectors against human valence ratings (VADER), on the emotions the
  corpora share, so the corpora are compared on the same words.

Scoring: each passage's pooled activation minus the mean over all scenario passages (the
vectors are likewise each emotion's mean minus the mean over emotions, so a direction common
to every passage does not favour one emotion), projected on each unit-length denoised
vector; the highest projection is the prediction.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from .store import (
    activation_table,
    read_activation_layers,
    read_vector_matrix,
    write_json_atomic,
)

log = logging.getLogger("emotion_vectors")


def _unit(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float64)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


def corpus_agreement(a: np.ndarray, b: np.ndarray) -> dict:
    """Rows of `a` and `b` are the same emotions in the same order (two corpora). Returns
    the cosine matrix and its diagonal / off-diagonal means, and the share of emotions whose
    most similar row of `b` is their own (chance: 1 / n)."""
    cos = _unit(a) @ _unit(b).T
    n = cos.shape[0]
    off = ~np.eye(n, dtype=bool)
    return {
        "cosine": cos,
        "diagonal_mean": float(np.diag(cos).mean()),
        "off_diagonal_mean": float(cos[off].mean()) if n > 1 else None,
        "matched_share": float((cos.argmax(axis=1) == np.arange(n)).mean()),
        "chance": 1.0 / n,
        "n": n,
    }


def score_scenarios(
    activations: np.ndarray, labels: Sequence[str], emotions: Sequence[str], vectors: np.ndarray
) -> dict:
    """Top-1 / top-3 accuracy of projecting centred scenario activations on unit vectors.
    Only passages whose emotion is a candidate count."""
    keep = np.array([lab in emotions for lab in labels])
    acts = np.asarray(activations, dtype=np.float64)
    acts = acts - acts.mean(axis=0)
    scores = acts[keep] @ _unit(vectors).T
    truth = np.array([list(emotions).index(lab) for lab in labels if lab in emotions])
    order = np.argsort(-scores, axis=1)
    rank = np.argmax(order == truth[:, None], axis=1)  # 0 = top-1
    n = len(emotions)
    return {
        "top1": float((rank == 0).mean()),
        "top3": float((rank < 3).mean()),
        "chance_top1": 1.0 / n,
        "chance_top3": min(3, n) / n,
        "candidates": n,
        "passages": int(keep.sum()),
        "rank": rank,
        "predicted": order[:, :3],
    }


def valence_pc1(emotions: Sequence[str], vectors: np.ndarray, valence: Mapping[str, float]) -> dict:
    """Pearson r between PC1 of the (centred) vectors and human valence, on the rated
    emotions; the PC's sign is arbitrary, so r is reported with PC1 oriented to positive."""
    from .norms import norms_for

    x = np.asarray(vectors, dtype=np.float64)
    x = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    pc1 = x @ vt[0]
    ratings = norms_for(emotions, valence)
    rated = ~np.isnan(ratings)
    if rated.sum() < 3:
        return {"r": None, "n": int(rated.sum())}
    r = float(np.corrcoef(pc1[rated], ratings[rated])[0, 1])
    return {"r": abs(r), "n": int(rated.sum())}


# ---------------------------------------------------------------- scenario activations


def read_scenario_table(path: str | Path) -> pd.DataFrame:
    """emotion, passage_id, text of every scenario passage, in file order."""
    from .config import read_yaml

    table = read_yaml(Path(path))["scenarios"]
    rows = [
        {"emotion": e, "passage_id": f"{e.replace(' ', '_')}-{i + 1}", "text": t.strip()}
        for e, texts in table.items()
        for i, t in enumerate(texts)
    ]
    return pd.DataFrame(rows)


def scenario_activations(
    model: Mapping, layers: Sequence[int], scenarios: str, output: str, threads: int = 1
) -> None:
    """Pool every scenario passage over all its tokens at every layer (one model load)."""
    import torch

    from .activations import extract
    from .config import ModelSpec
    from .models import load_model
    from .store import write_parquet_atomic

    if threads and threads > 0:
        torch.set_num_threads(threads)
    df = read_scenario_table(scenarios)
    t0 = time.perf_counter()
    loaded = load_model(ModelSpec(**model))
    result = extract(
        loaded.model,
        loaded.tokenizer,
        df["text"].tolist(),
        list(layers),
        batch_size=16,
        max_length=512,
        pool_start=0,
    )
    meta = {"model": model["key"], "scenarios": str(scenarios), "device": loaded.device}
    table = activation_table(df["passage_id"].tolist(), result.n_tokens, result.pooled, meta)
    table = table.append_column("emotion", pa.array(df["emotion"].tolist()))
    write_parquet_atomic(table, output)
    log.info("pooled %d scenario passages in %.1f s", len(df), time.perf_counter() - t0)


# ---------------------------------------------------------------- the workflow job


def _read_layer(path: str) -> tuple[list[str], np.ndarray]:
    return read_vector_matrix(path, denoised=True)


def generalisation(
    model: str,
    corpora: Sequence[str],
    layers: Sequence[int],
    analysis_layer: int,
    vector_files: Mapping[str, Mapping[int, str]],
    scenario_file: str | None,
    outputs: Mapping[str, str],
) -> dict:
    """Every measurement above, at every layer, for every corpus; writes the JSON headline,
    a per-layer CSV, a per-passage CSV, the figures and an HTML table for the report."""
    import pyarrow.parquet as pq

    from .norms import read_vader_lexicon, vader_source

    valence = read_vader_lexicon()
    # The emotions every corpus has (all corpora share the run's emotion list today).
    per_corpus = {c: _read_layer(vector_files[c][analysis_layer])[0] for c in corpora}
    common = [e for e in per_corpus[corpora[0]] if all(e in v for v in per_corpus.values())]

    scen = None
    if scenario_file:
        scen = pq.read_table(scenario_file)
        labels = scen.column("emotion").to_pylist()
        ids = scen.column("passage_id").to_pylist()
        candidates = [e for e in dict.fromkeys(labels) if e in common]
        cand_set = set(candidates)
        scen_acts = read_activation_layers(scenario_file, layers)
    rows, passages = [], []
    agreement_at_layer = None
    for layer in layers:
        mats = {}
        for c in corpora:
            names, matrix = _read_layer(vector_files[c][layer])
            index = {e: i for i, e in enumerate(names)}
            mats[c] = matrix[[index[e] for e in common]]
        for c in corpora:
            row = {"layer": layer, "corpus": c}
            pc1 = valence_pc1(common, mats[c], valence)
            row.update({f"valence_{k}": v for k, v in pc1.items()})
            if scen is not None and len(candidates) >= 2:
                cand = mats[c][[common.index(e) for e in candidates]]
                s = score_scenarios(scen_acts[layer], labels, candidates, cand)
                row.update({k: s[k] for k in ("top1", "top3", "chance_top1", "chance_top3")})
                row["candidates"], row["passages"] = s["candidates"], s["passages"]
                if layer == analysis_layer:
                    scored = [
                        (p, lab) for p, lab in zip(ids, labels, strict=True) if lab in cand_set
                    ]
                    for (pid, lab), rank, pred in zip(
                        scored, s["rank"], s["predicted"], strict=True
                    ):
                        passages.append(
                            {
                                "corpus": c,
                                "passage_id": pid,
                                "emotion": lab,
                                "rank": int(rank) + 1,
                                "top3": ", ".join(candidates[j] for j in pred),
                            }
                        )
            rows.append(row)
        if "templates" in mats and "stories" in mats:
            agree = corpus_agreement(mats["templates"], mats["stories"])
            for row in rows[-len(corpora) :]:
                row.update(
                    {
                        "agreement_diagonal": agree["diagonal_mean"],
                        "agreement_off_diagonal": agree["off_diagonal_mean"],
                        "agreement_matched": agree["matched_share"],
                    }
                )
            if layer == analysis_layer:
                agreement_at_layer = agree

    by_layer = pd.DataFrame(rows)
    by_layer.to_csv(outputs["by_layer"], index=False)
    pd.DataFrame(passages, columns=["corpus", "passage_id", "emotion", "rank", "top3"]).to_csv(
        outputs["passages"], index=False
    )
    headline = _headline(by_layer, corpora, analysis_layer, agreement_at_layer)
    result = {
        "model": model,
        "analysis_layer": analysis_layer,
        "corpora": list(corpora),
        "emotions": len(common),
        "scenario_emotions": candidates if scen is not None else [],
        "valence_source": vader_source(),
        **headline,
    }
    write_json_atomic(result, outputs["json"])
    plot_accuracy(by_layer, corpora, analysis_layer, model, outputs["accuracy_png"])
    plot_agreement(agreement_at_layer, common, model, analysis_layer, outputs["agreement_png"])
    Path(outputs["table"]).write_text(table_html(result))
    return result


def _headline(by_layer: pd.DataFrame, corpora, analysis_layer, agreement) -> dict:
    per = {}
    for c in corpora:
        sub = by_layer[by_layer["corpus"] == c]
        at = sub[sub["layer"] == analysis_layer].iloc[0].to_dict()
        entry = {
            "valence_r": _num(at.get("valence_r")),
            "valence_n": _num(at.get("valence_n")),
        }
        if "top1" in sub:
            best = sub.loc[sub["top1"].idxmax()]
            entry.update(
                {
                    "top1": _num(at.get("top1")),
                    "top3": _num(at.get("top3")),
                    "chance_top1": _num(at.get("chance_top1")),
                    "chance_top3": _num(at.get("chance_top3")),
                    "best_layer": int(best["layer"]),
                    "best_top1": float(best["top1"]),
                    "top3_at_best_layer": float(best["top3"]),
                    "mean_top1_over_layers": float(sub["top1"].mean()),
                }
            )
        per[c] = entry
    out: dict = {"per_corpus": per}
    if agreement is not None:
        out["agreement"] = {
            k: agreement[k]
            for k in ("diagonal_mean", "off_diagonal_mean", "matched_share", "chance", "n")
        }
    scored = {c: e["top1"] for c, e in per.items() if e.get("top1") is not None}
    if len(scored) > 1:
        out["better_on_scenarios"] = max(scored, key=scored.get)
    return out


def _num(value):
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return float(value) if not isinstance(value, int) else value


# ---------------------------------------------------------------- figures and table


def plot_accuracy(by_layer, corpora, analysis_layer, model, output) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    colours = {"templates": "tab:blue", "stories": "tab:orange"}
    ax = axes[0]
    if "top1" in by_layer:
        for c in corpora:
            sub = by_layer[by_layer["corpus"] == c]
            col = colours.get(c)
            ax.plot(sub["layer"], sub["top1"], "-o", ms=3, color=col, label=f"{c} top-1")
            ax.plot(sub["layer"], sub["top3"], "--", color=col, label=f"{c} top-3")
        first = by_layer.iloc[0]
        ax.axhline(first["chance_top1"], color="grey", lw=1, label="chance top-1")
        ax.axhline(first["chance_top3"], color="grey", lw=1, ls="--", label="chance top-3")
        ax.set_title(f"implicit scenarios ({int(first['passages'])} passages)")
    ax.axvline(analysis_layer, color="k", lw=0.5, ls=":")
    ax.set_xlabel("layer")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.03)  # top-3 is often exactly 1
    ax.legend(fontsize=7)
    ax = axes[1]
    for c in corpora:
        sub = by_layer[by_layer["corpus"] == c]
        ax.plot(sub["layer"], sub["valence_r"], "-o", ms=3, color=colours.get(c), label=c)
    if "agreement_diagonal" in by_layer:
        sub = by_layer[by_layer["corpus"] == corpora[0]]
        ax.plot(sub["layer"], sub["agreement_diagonal"], "-", color="tab:green", label="cos same")
        ax.plot(
            sub["layer"], sub["agreement_off_diagonal"], ":", color="tab:green", label="cos other"
        )
    ax.axvline(analysis_layer, color="k", lw=0.5, ls=":")
    ax.set_xlabel("layer")
    ax.set_title("|r| PC1 vs valence; template-story cosine")
    ax.set_ylim(-0.2, 1)
    ax.legend(fontsize=7)
    fig.suptitle(model)
    fig.tight_layout()
    fig.savefig(output, dpi=110)
    plt.close(fig)


def plot_agreement(agreement, emotions, model, layer, output) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if agreement is None:
        fig, ax = plt.subplots(figsize=(5, 1.5))
        ax.axis("off")
        ax.text(0.5, 0.5, "one corpus only: no corpus agreement", ha="center", va="center")
    else:
        n = len(emotions)
        size = max(5.0, 0.28 * n + 2)
        fig, ax = plt.subplots(figsize=(size, size * 0.85))
        im = ax.imshow(agreement["cosine"], cmap="RdBu_r", vmin=-1, vmax=1)
        if n <= 40:
            ax.set_xticks(range(n), emotions, rotation=90, fontsize=7)
            ax.set_yticks(range(n), emotions, fontsize=7)
        ax.set_xlabel("story vector")
        ax.set_ylabel("template vector")
        ax.set_title(
            f"{model}, layer {layer}: same emotion {agreement['diagonal_mean']:.2f}, "
            f"others {agreement['off_diagonal_mean']:.2f}",
            fontsize=9,
        )
        fig.colorbar(im, ax=ax, shrink=0.7)
    fig.tight_layout()
    fig.savefig(output, dpi=110)
    plt.close(fig)


def table_html(result: Mapping) -> str:
    head = ["corpus", "top-1", "top-3", "chance top-1 / top-3", "best layer (top-1, top-3)"]
    head += ["PC1–valence |r| (n)"]
    body = []
    for c, e in result["per_corpus"].items():
        cells = [c]
        if e.get("top1") is not None:
            cells += [
                f"{e['top1']:.2f}",
                f"{e['top3']:.2f}",
                f"{e['chance_top1']:.2f} / {e['chance_top3']:.2f}",
                f"{e['best_layer']} ({e['best_top1']:.2f}, {e['top3_at_best_layer']:.2f})",
            ]
        else:
            cells += ["–"] * 4
        r = e.get("valence_r")
        cells.append("–" if r is None else f"{r:.2f} ({e['valence_n']})")
        body.append("<tr>" + "".join(f"<td>{html.escape(str(x))}</td>" for x in cells) + "</tr>")
    agree = result.get("agreement")
    note = ""
    if agree:
        note = (
            f"<p>Corpus agreement at layer {result['analysis_layer']}: cosine between an "
            f"emotion's template and story vectors {agree['diagonal_mean']:.2f} on average, "
            f"between different emotions {agree['off_diagonal_mean']:.2f}; the nearest story "
            f"vector is the emotion's own for {agree['matched_share']:.0%} of {agree['n']} "
            f"emotions (chance {agree['chance']:.0%}).</p>"
        )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><style>body{font-family:sans-serif}"
        "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:4px 8px}</style>"
        f"</head><body><h2>{html.escape(result['model'])}: generalisation, layer "
        f"{result['analysis_layer']}</h2><table><tr>"
        + "".join(f"<th>{html.escape(h)}</th>" for h in head)
        + "</tr>"
        + "".join(body)
        + f"</table>{note}</body></html>\n"
    )
