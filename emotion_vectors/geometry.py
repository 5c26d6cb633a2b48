"""The geometry of the emotion vectors: principal components against human valence and
arousal, cosine similarities ordered by clustering, the seed's sanity pairs, and how all
of it changes with depth.

Three parts, top to bottom: the maths (plain numpy on [emotions, width] matrices), the
job functions the workflow's scripts call (read vectors, write tables and geometry.json),
and the figures. Everything is deterministic: exact SVD, a fixed sign convention, and
average-linkage clustering with scipy's optimal leaf ordering.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from .norms import norms_for, read_arousal_csv, read_vader_lexicon, vader_source
from .store import read_metadata, read_vector_matrix, write_json_atomic
from .vectors import cosine_matrix

log = logging.getLogger("emotion_vectors")

# Fewer rated emotions than this and a correlation (and a sign taken from it) means nothing.
MIN_RATED = 3

# ---------------------------------------------------------------- maths


@dataclass(frozen=True)
class PCA:
    scores: np.ndarray  # [emotions, k]: each emotion's coordinate on each component
    components: np.ndarray  # [k, width], orthonormal rows
    explained: np.ndarray  # [k]: share of the total variance of the emotion vectors


def pca(vectors: np.ndarray, n_components: int) -> PCA:
    """Top principal components of the rows of `vectors`, by exact SVD in float64.

    SVD fixes each component only up to sign; we make each component's largest-magnitude
    score positive so that the same input always gives the same output. The signs that
    mean something (PC1 = valence) are set afterwards by `orient`.
    """
    x = np.asarray(vectors, dtype=np.float64)
    n, width = x.shape
    if not 1 <= n_components <= min(n - 1, width):
        raise ValueError(
            f"{n_components} components asked of {n} emotion vectors of width {width}; "
            f"at most {min(n - 1, width)} (centered vectors have rank <= emotions - 1)"
        )
    x = x - x.mean(axis=0, keepdims=True)
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    total = float((s**2).sum())
    scores = u[:, :n_components] * s[:n_components]
    components = vt[:n_components]
    biggest = np.abs(scores).argmax(axis=0)
    signs = np.sign(scores[biggest, np.arange(n_components)])
    signs[signs == 0] = 1
    explained = s[:n_components] ** 2 / total if total > 0 else np.zeros(n_components)
    return PCA(scores * signs, components * signs[:, None], explained)


def flip(result: PCA, index: int) -> PCA:
    """The same PCA with component `index` (0-based) pointing the other way."""
    signs = np.ones(result.scores.shape[1])
    signs[index] = -1
    return replace(
        result, scores=result.scores * signs, components=result.components * signs[:, None]
    )


@dataclass(frozen=True)
class Correlation:
    pearson: float
    spearman: float
    n: int


def _ranks(x: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(x)


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    x, y = x - x.mean(), y - y.mean()
    denominator = math.sqrt(float(x @ x) * float(y @ y))
    return float(x @ y / denominator) if denominator > 0 else math.nan


def correlate(x: Sequence[float], y: Sequence[float]) -> Correlation:
    """Pearson and Spearman r over the pairs where both values are known (not NaN)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    known = np.isfinite(x) & np.isfinite(y)
    n = int(known.sum())
    if n < MIN_RATED:
        return Correlation(math.nan, math.nan, n)
    x, y = x[known], y[known]
    return Correlation(_pearson(x, y), _pearson(_ranks(x), _ranks(y)), n)


def orient(
    result: PCA,
    emotions: Sequence[str],
    valence: np.ndarray,
    arousal: np.ndarray | None = None,
    positive_anchors: Sequence[str] = ("happy",),
) -> tuple[PCA, str]:
    """Give the components signs that mean something, and say how PC1's was chosen.

    PC1 is turned to correlate positively with human valence, as in the paper's figures.
    Where fewer than MIN_RATED emotions have a valence, the first of `positive_anchors`
    present in the run gets a positive PC1 score instead. With arousal norms, every later
    component is turned to correlate positively with arousal: a component's sign is
    arbitrary, so this only makes "PC2 tracks arousal" read as r > 0.
    """
    r = correlate(result.scores[:, 0], valence).pearson
    if not math.isnan(r) and r != 0:
        how = "PC1 oriented to correlate positively with human valence"
        if r < 0:
            result = flip(result, 0)
    else:
        anchor = next((a for a in positive_anchors if a in emotions), None)
        if anchor is None:
            how = "PC1 sign arbitrary: no valence norms and no positive anchor in the run"
        else:
            how = f"PC1 oriented so that {anchor!r} scores positive (too few valence norms)"
            if result.scores[list(emotions).index(anchor), 0] < 0:
                result = flip(result, 0)
    if arousal is not None:
        for k in range(1, result.scores.shape[1]):
            if correlate(result.scores[:, k], arousal).pearson < 0:
                result = flip(result, k)
    return result, how


def cluster_order(cosines: np.ndarray) -> np.ndarray:
    """Row order that puts similar vectors together: average-linkage clustering on
    1 - cosine, leaves in scipy's optimal order (adjacent leaves as similar as possible)."""
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    n = cosines.shape[0]
    if n < 3:
        return np.arange(n)
    distance = 1.0 - np.asarray(cosines, dtype=np.float64)
    # Float noise leaves a non-zero diagonal and slight asymmetry; squareform wants neither.
    distance = np.clip((distance + distance.T) / 2, 0.0, 2.0)
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(distance, checks=False), method="average", optimal_ordering=True)
    return leaves_list(tree)


def sanity_table(
    emotions: Sequence[str], cosines: np.ndarray, pairs: Sequence[Mapping[str, str]]
) -> pd.DataFrame:
    """The seed's check: for each pair, the cosine of the two vectors and whether its sign
    is the expected one. Pairs with an emotion outside the run are kept, marked skipped."""
    index = {e: i for i, e in enumerate(emotions)}
    rows = []
    for pair in pairs:
        a, b, expected = pair["a"], pair["b"], pair["expected"]
        absent = [e for e in (a, b) if e not in index]
        if absent:
            rows.append((a, b, expected, math.nan, "skipped", f"not in run: {', '.join(absent)}"))
            continue
        cos = float(cosines[index[a], index[b]])
        ok = cos > 0 if expected == "positive" else cos < 0
        rows.append((a, b, expected, cos, "pass" if ok else "fail", ""))
    return pd.DataFrame(
        rows, columns=["emotion_a", "emotion_b", "expected_sign", "cosine", "result", "note"]
    )


def component_correlations(
    result: PCA, norms: Mapping[str, np.ndarray | None], sources: Mapping[str, str]
) -> pd.DataFrame:
    """Pearson and Spearman r (with n) of every component against every norm given."""
    rows = []
    for name, values in norms.items():
        if values is None:
            continue
        for k in range(result.scores.shape[1]):
            c = correlate(result.scores[:, k], values)
            rows.append((name, f"PC{k + 1}", c.pearson, c.spearman, c.n, sources[name]))
    return pd.DataFrame(rows, columns=["norm", "component", "pearson", "spearman", "n", "source"])


def best_component(correlations: pd.DataFrame, norm: str, candidates: Sequence[str]) -> pd.Series:
    """The row of the candidate component that tracks `norm` best (largest |Pearson r|)."""
    rows = correlations[(correlations.norm == norm) & correlations.component.isin(candidates)]
    return rows.loc[rows.pearson.abs().idxmax()]


def layer_summary(
    emotions: Sequence[str],
    vectors: np.ndarray,
    valence: np.ndarray,
    arousal: np.ndarray | None,
    n_components: int,
    positive_anchors: Sequence[str],
) -> dict:
    """One row of the layer sweep: variance shares and norm correlations at one layer."""
    result, _ = orient(pca(vectors, n_components), emotions, valence, arousal, positive_anchors)
    row = {f"pc{k + 1}_variance": float(v) for k, v in enumerate(result.explained)}
    c = correlate(result.scores[:, 0], valence)
    row |= {"valence_pearson": c.pearson, "valence_spearman": c.spearman, "valence_n": c.n}
    # At some depths valence may sit on another component; say where it is strongest.
    rs = [abs(correlate(result.scores[:, k], valence).pearson) for k in range(n_components)]
    best = int(np.nanargmax(rs)) if not all(math.isnan(r) for r in rs) else 0
    row |= {"valence_best_pc": f"PC{best + 1}", "valence_best_abs_pearson": rs[best]}
    if arousal is not None:
        c2 = correlate(result.scores[:, 1], arousal)
        row |= {"arousal_pearson_pc2": c2.pearson, "arousal_n": c2.n}
        c3 = correlate(result.scores[:, 2], arousal)
        best_k = 2 if c3.pearson > c2.pearson else 1
        row |= {
            "arousal_best_pc": f"PC{best_k + 1}",
            "arousal_pearson_best": max(c2.pearson, c3.pearson),
        }
    return row


# ---------------------------------------------------------------- jobs


@dataclass(frozen=True)
class Norms:
    valence: np.ndarray  # per emotion, NaN where unrated
    valence_source: str
    arousal: np.ndarray | None  # None when no arousal file is configured
    arousal_source: str | None


def load_norms(emotions: Sequence[str], arousal_csv: str | None) -> Norms:
    valence = norms_for(emotions, read_vader_lexicon())
    if arousal_csv is None:
        return Norms(valence, vader_source(), None, None)
    return Norms(
        valence, vader_source(), norms_for(emotions, read_arousal_csv(arousal_csv)), arousal_csv
    )


def _finite_or_none(x: float) -> float | None:
    """JSON has no NaN: an undefined number becomes null."""
    x = float(x)
    return x if math.isfinite(x) else None


def _pc_columns(k: int) -> list[str]:
    return [f"PC{i + 1}" for i in range(k)]


def geometry_tables(
    model: str,
    corpus: str,
    layer: int,
    vector_file: str,
    settings: Mapping,
    arousal_csv: str | None,
    outputs: Mapping[str, str],
) -> dict:
    """PCA, correlations, cosines and sanity pairs at one layer; writes outputs["pca"],
    ["correlations"], ["cosine"], ["sanity"] (CSV) and ["summary"] (geometry.json)."""
    emotions, vectors = read_vector_matrix(vector_file, denoised=True)
    k = settings["pca_components"]
    norms = load_norms(emotions, arousal_csv)
    result, how = orient(
        pca(vectors, k), emotions, norms.valence, norms.arousal, settings["positive_anchors"]
    )
    log.info("%s layer %d: %s", model, layer, how)

    table = pd.DataFrame(result.scores, columns=_pc_columns(k))
    table.insert(0, "emotion", emotions)
    table["valence"] = norms.valence
    table["arousal"] = norms.arousal if norms.arousal is not None else math.nan
    table.to_csv(outputs["pca"], index=False, float_format="%.6g")

    correlations = component_correlations(
        result,
        {"valence": norms.valence, "arousal": norms.arousal},
        {"valence": norms.valence_source, "arousal": norms.arousal_source},
    )
    correlations.to_csv(outputs["correlations"], index=False, float_format="%.6g")

    cosines = cosine_matrix(vectors)
    order = cluster_order(cosines)
    ordered = [emotions[i] for i in order]
    pd.DataFrame(cosines[np.ix_(order, order)], index=ordered, columns=ordered).rename_axis(
        "emotion"
    ).to_csv(outputs["cosine"], float_format="%.6g")

    sanity = sanity_table(emotions, cosines, settings["sanity_pairs"])
    sanity.to_csv(outputs["sanity"], index=False, float_format="%.6g")

    valence = correlations.iloc[0]  # valence x PC1
    if norms.arousal is None:
        arousal = None
        log.info("no arousal norms given (geometry.arousal_csv): arousal not measured")
    else:
        best = best_component(correlations, "arousal", ["PC2", "PC3"])
        arousal = {
            "pearson_pc2": _finite_or_none(
                correlations[
                    (correlations.norm == "arousal") & (correlations.component == "PC2")
                ].pearson.iloc[0]
            ),
            "best_pc": best.component,
            "pearson_best": _finite_or_none(best.pearson),
            "n": int(best.n),
            "source": norms.arousal_source,
        }
    summary = {
        "model": model,
        "corpus": corpus,
        "layer": layer,
        # The precision of the activations the vectors come from (no model runs here).
        **{k: read_metadata(vector_file).get(k) for k in ("dtype", "device")},
        "explained_variance": [float(v) for v in result.explained],
        "valence": {
            "pearson": _finite_or_none(valence.pearson),
            "spearman": _finite_or_none(valence.spearman),
            "n": int(valence.n),
            "source": norms.valence_source,
        },
        "arousal": arousal,
        "sanity": {
            "passed": int((sanity.result == "pass").sum()),
            "total": int((sanity.result != "skipped").sum()),
            "skipped": int((sanity.result == "skipped").sum()),
        },
    }
    write_json_atomic(summary, outputs["summary"])
    unrated = [e for e, v in zip(emotions, norms.valence, strict=True) if math.isnan(v)]
    log.info(
        "%s layer %d: explained %s; PC1 vs valence r=%.3f (n=%d); no valence for %d: %s",
        model,
        layer,
        np.round(result.explained, 4).tolist(),
        valence.pearson,
        valence.n,
        len(unrated),
        ", ".join(unrated),
    )
    log.info("sanity pairs:\n%s", sanity.to_string(index=False))
    return summary


def geometry_layer_sweep(
    vector_files: Mapping[int, str],
    settings: Mapping,
    arousal_csv: str | None,
    output: str,
) -> pd.DataFrame:
    """Variance shares and norm correlations at every stored layer, one row per layer."""
    rows = []
    norms = None
    for layer in sorted(vector_files):
        emotions, vectors = read_vector_matrix(vector_files[layer], denoised=True)
        if norms is None:
            norms = load_norms(emotions, arousal_csv)
        summary = layer_summary(
            emotions,
            vectors,
            norms.valence,
            norms.arousal,
            settings["pca_components"],
            settings["positive_anchors"],
        )
        rows.append({"layer": layer, **summary})
    sweep = pd.DataFrame(rows)
    sweep.to_csv(output, index=False, float_format="%.6g")
    best = (
        sweep.loc[sweep.valence_pearson.idxmax()] if sweep.valence_pearson.notna().any() else None
    )
    if best is not None:
        log.info(
            "best layer for PC1 vs valence: %d (r=%.3f, PC1 %.1f %%)",
            best.layer,
            best.valence_pearson,
            100 * best.pc1_variance,
        )
    return sweep


# ---------------------------------------------------------------- figures


def _free(
    cands: np.ndarray,
    half: np.ndarray,
    placed_c: np.ndarray,
    placed_h: np.ndarray,
    anchors: np.ndarray,
    marker: float,
    bounds: tuple[float, float, float, float] | None,
) -> np.ndarray:
    """Which candidate centres for a box of half-size `half` overlap no placed box and no
    marker, and stay inside `bounds`."""
    ok = np.ones(len(cands), dtype=bool)
    if bounds is not None:
        x0, y0, x1, y1 = bounds
        ok &= (cands[:, 0] - half[0] >= x0) & (cands[:, 0] + half[0] <= x1)
        ok &= (cands[:, 1] - half[1] >= y0) & (cands[:, 1] + half[1] <= y1)
    if len(placed_c):
        reach = placed_h + half
        d = np.abs(cands[:, None, :] - placed_c[None, :, :])
        ok &= ~((d[..., 0] < reach[:, 0]) & (d[..., 1] < reach[:, 1])).any(axis=1)
    d = np.abs(cands[:, None, :] - anchors[None, :, :])
    ok &= ~((d[..., 0] < half[0] + marker) & (d[..., 1] < half[1] + marker)).any(axis=1)
    return ok


def place_labels(
    anchors: np.ndarray,
    sizes: np.ndarray,
    bounds: tuple[float, float, float, float] | None = None,
    marker: float = 2.0,
    step: float | None = None,
    max_rings: int = 400,
) -> np.ndarray:
    """Centres for text boxes, each near its anchor point, no two overlapping.

    `anchors` and `sizes` ([n, 2]: width, height) are in the same units, ideally display
    points so that x and y distances are comparable; `bounds` (x0, y0, x1, y1) keeps the
    boxes inside the axes. Greedy: labels are placed one at a time, those with the fewest
    neighbours first (so isolated points keep their label on top of them), each at the
    first free spot on rings of growing radius around its point. Boxes also keep clear of
    every marker (a square of half-size `marker`). Deterministic and always terminates; a
    label that finds no free spot within `max_rings` rings stays just above its point.
    """
    anchors = np.asarray(anchors, dtype=np.float64)
    half = np.asarray(sizes, dtype=np.float64) / 2
    n = len(anchors)
    if n == 0:
        return anchors.copy()
    step = float(half[:, 1].mean()) if step is None else step
    # Crowding: neighbours within two label heights decide who is placed first.
    dist = np.hypot(*(anchors[:, None, :] - anchors[None, :, :]).transpose(2, 0, 1))
    order = np.argsort((dist < 4 * step).sum(axis=1), kind="stable")
    placed_c = np.empty((0, 2))
    placed_h = np.empty((0, 2))
    result = anchors + np.column_stack([np.zeros(n), half[:, 1] + marker])
    for i in order:
        # Candidate centres: just above the point, then rings of growing radius around it,
        # wider than tall like the labels; the first ring with a free spot wins.
        for ring in range(max_rings + 1):
            if ring == 0:
                cands = anchors[i][None, :] + [0.0, half[i, 1] + marker]
            else:
                count = 8 + 4 * ring
                angles = np.pi / 2 + 2 * np.pi * np.arange(count) / count
                cands = anchors[i] + ring * step * np.column_stack(
                    [2.5 * np.cos(angles), np.sin(angles)]
                )
            ok = _free(cands, half[i], placed_c, placed_h, anchors, marker, bounds)
            if ok.any():
                result[i] = cands[np.argmax(ok)]
                break
        placed_c = np.vstack([placed_c, result[i]])
        placed_h = np.vstack([placed_h, half[i]])
    return result


def boxes_overlap(centres: np.ndarray, sizes: np.ndarray) -> int:
    """How many pairs of boxes (centre, size) overlap: what place_labels avoids."""
    half = np.asarray(sizes) / 2
    d = np.abs(centres[:, None, :] - centres[None, :, :])
    reach = half[:, None, :] + half[None, :, :]
    hit = (d[..., 0] < reach[..., 0]) & (d[..., 1] < reach[..., 1])
    return int(np.triu(hit, k=1).sum())


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_pca(pca_csv: str, summary_json: str, correlations_csv: str, output: str) -> None:
    """PC1 x PC2 scatter of every emotion, labelled, coloured by human valence."""
    plt = _pyplot()
    from matplotlib.colors import TwoSlopeNorm

    table = pd.read_csv(pca_csv)
    summary = json.loads(Path(summary_json).read_text())
    n = len(table)
    fontsize = 7 if n > 60 else 9
    side = 15 if n > 60 else 8
    fig, ax = plt.subplots(figsize=(side, side * 0.8), layout="constrained")
    x, y, valence = table.PC1.to_numpy(), table.PC2.to_numpy(), table.valence.to_numpy()
    rated = np.isfinite(valence)
    limit = max(float(np.nanmax(np.abs(valence))) if rated.any() else 1.0, 1e-9)
    norm = TwoSlopeNorm(vmin=-limit, vcenter=0.0, vmax=limit)
    ax.scatter(x[~rated], y[~rated], s=14, c="0.6", label="no human valence rating", zorder=2)
    points = ax.scatter(
        x[rated], y[rated], s=18, c=valence[rated], cmap="RdBu", norm=norm, zorder=3,
        edgecolors="0.25", linewidths=0.3,
    )  # fmt: skip
    ax.axhline(0, color="0.85", lw=0.8, zorder=1)
    ax.axvline(0, color="0.85", lw=0.8, zorder=1)
    ev = summary["explained_variance"]
    ax.set_xlabel(f"PC1 ({100 * ev[0]:.1f} % of variance)")
    ax.set_ylabel(f"PC2 ({100 * ev[1]:.1f} % of variance)")
    v = summary["valence"]
    r = "n/a" if v["pearson"] is None else f"{v['pearson']:.2f}"
    arousal = summary["arousal"]
    arousal_note = (
        "no arousal norms given (geometry.arousal_csv)"
        if arousal is None
        else f"PC2 vs arousal r = {arousal['pearson_pc2']:.2f} (n = {arousal['n']})"
    )
    # Valence need not sit on PC1 (in SmolLM2-135M it is PC2); say where it is strongest.
    correlations = pd.read_csv(correlations_csv)
    best_note = ""
    if (correlations.norm == "valence").any() and correlations.pearson.notna().any():
        best = best_component(correlations, "valence", list(correlations.component.unique()))
        if best.component != "PC1":
            best_note = f"; strongest valence axis: {best.component} (r = {best.pearson:.2f})"
    ax.set_title(
        f"{summary['model']}, layer {summary['layer']}: emotion vectors on PC1 and PC2\n"
        f"PC1 vs human valence r = {r} (n = {v['n']}){best_note}; {arousal_note}",
        fontsize=11,
    )
    fig.colorbar(points, ax=ax, shrink=0.6, label="human valence (VADER, -4 .. 4)")
    ax.legend(loc="lower right", fontsize=8)

    # Pad the axes so labels at the edges stay inside, then place the labels in display
    # points, where a label's width and height are known, and map them back to data.
    ax.margins(0.08)
    fig.canvas.draw()
    # Freeze the layout: the labels are placed in display points, which must not move.
    fig.set_layout_engine("none")
    renderer = fig.canvas.get_renderer()
    texts = [
        ax.text(xi, yi, name, fontsize=fontsize, ha="center", va="center", zorder=4)
        for xi, yi, name in zip(x, y, table.emotion, strict=True)
    ]
    to_display = ax.transData
    anchors = to_display.transform(np.column_stack([x, y]))
    sizes = np.array([[b.width, b.height] for b in (t.get_window_extent(renderer) for t in texts)])
    sizes += [6.0, 1.0]  # a little air, so neighbouring words do not read as one
    box = ax.get_window_extent(renderer)
    centres = place_labels(anchors, sizes, bounds=(box.x0, box.y0, box.x1, box.y1))
    data_centres = to_display.inverted().transform(centres)
    far = np.hypot(*(centres - anchors).T) > 2.5 * sizes[:, 1].mean()
    for text, (cx, cy), (px, py), moved in zip(
        texts, data_centres, np.column_stack([x, y]), far, strict=True
    ):
        text.set_position((cx, cy))
        if moved:  # a leader line when the label had to move away from its point
            ax.plot([px, cx], [py, cy], color="0.7", lw=0.4, zorder=1)
    fig.savefig(output, dpi=150)
    plt.close(fig)


def plot_cosine(
    cosine_csv: str, model: str, layer: int, output: str, subset: Sequence[str] | None = None
) -> None:
    """Heatmap of the cosine similarities in clustering order, colour centred at 0.
    With `subset`, only those emotions (re-clustered among themselves)."""
    plt = _pyplot()
    from matplotlib.colors import TwoSlopeNorm

    frame = pd.read_csv(cosine_csv, index_col=0)
    title = f"{model}, layer {layer}: cosine similarity of emotion vectors"
    if subset is not None:
        keep = [e for e in frame.index if e in set(subset)]
        frame = frame.loc[keep, keep]
        order = cluster_order(frame.to_numpy())
        frame = frame.iloc[order, order]
        title += f" ({len(keep)} of the seed's emotions)"
    n = len(frame)
    values = frame.to_numpy()
    off_diagonal = values[~np.eye(n, dtype=bool)]
    limit = float(np.abs(off_diagonal).max()) if off_diagonal.size else 1.0
    fontsize = 4.5 if n > 100 else (6 if n > 40 else 9)
    side = max(6.0, n * fontsize * 1.45 / 72 + 2.5)
    fig, ax = plt.subplots(figsize=(side + 1.2, side), layout="constrained")
    image = ax.imshow(
        values, cmap="RdBu_r", norm=TwoSlopeNorm(vmin=-limit, vcenter=0, vmax=limit),
        interpolation="nearest",
    )  # fmt: skip
    ax.set_xticks(range(n), frame.columns, rotation=90, fontsize=fontsize)
    ax.set_yticks(range(n), frame.index, fontsize=fontsize)
    ax.tick_params(length=0)
    ax.set_title(title + "\nordered by average-linkage clustering on 1 - cosine", fontsize=11)
    fig.colorbar(image, ax=ax, shrink=0.4, label="cosine (diagonal = 1, colour scale clipped)")
    fig.savefig(output, dpi=200 if n > 100 else 150)
    plt.close(fig)


def plot_layer_sweep_comparison(
    sweeps: Mapping[str, str],
    num_layers: Mapping[str, int],
    analysis_layers: Mapping[str, int],
    corpus: str,
    output: str,
) -> None:
    """PC1 variance share and PC1-valence r against relative depth, one line per model."""
    plt = _pyplot()

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
    for model, path in sweeps.items():
        sweep = pd.read_csv(path)
        depth = sweep.layer / num_layers[model]
        at = sweep.layer == analysis_layers[model]
        label = f"{model} (analysis layer {analysis_layers[model]} of {num_layers[model]})"
        (line,) = left.plot(depth, sweep.pc1_variance, marker=".", label=label)
        left.plot(depth[at], sweep.pc1_variance[at], "o", ms=9, mfc="none", color=line.get_color())
        right.plot(depth, sweep.valence_pearson, marker=".", color=line.get_color())
        # Dashed: the best of PC1-PC3, since valence may sit on another component.
        right.plot(depth, sweep.valence_best_abs_pearson, ls="--", lw=1, color=line.get_color())
        right.plot(
            depth[at], sweep.valence_pearson[at], "o", ms=9, mfc="none", color=line.get_color()
        )
    left.set(
        xlabel="relative depth (layer / layers)", ylabel="PC1 share of variance", xlim=(0, 1.02)
    )
    right.set(
        xlabel="relative depth (layer / layers)",
        ylabel="Pearson |r| with human valence (VADER)",
        xlim=(0, 1.02),
        ylim=(0, 1),
    )
    left.set_ylim(bottom=0)
    left.set_title("PC1 share of variance")
    right.set_title("PC1 vs human valence (circled: analysis layer)")
    right.plot([], [], color="0.3", label="PC1")
    right.plot([], [], color="0.3", ls="--", lw=1, label="best of PC1-PC3")
    right.legend(fontsize=8, loc="upper left")
    left.legend(fontsize=8, loc="best")
    fig.suptitle(f"Emotion-vector geometry across depth, corpus {corpus!r}")
    fig.savefig(output, dpi=150)
    plt.close(fig)
