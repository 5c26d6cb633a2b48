"""Figures of the geometry analysis: the labelled PC1 x PC2 scatter (with a label placer
that keeps every label readable), the cosine heatmaps, the valence controls and the
cross-model layer sweep."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..geometry import best_component, cluster_order
from . import fmt_p, pyplot, save


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


def plot_pca(pca_csv: str, summary_json: str, correlations_csv: str, output: str) -> None:
    """PC1 x PC2 scatter of every emotion, labelled, coloured by human valence."""
    plt = pyplot()
    from matplotlib.colors import TwoSlopeNorm

    table = pd.read_csv(pca_csv)
    summary = json.loads(Path(summary_json).read_text())
    n = len(table)
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
    ax.set_title(_pca_title(summary, pd.read_csv(correlations_csv)), fontsize=11)
    fig.colorbar(points, ax=ax, shrink=0.6, label="human valence (VADER, -4 .. 4)")
    ax.legend(loc="lower right", fontsize=8)
    _label_points(fig, ax, x, y, list(table.emotion), fontsize=7 if n > 60 else 9)
    save(fig, output, dpi=150, tight=False)


def _pca_title(summary: Mapping, correlations: pd.DataFrame) -> str:
    v = summary["valence"]
    r = "n/a" if v["pearson"] is None else f"{v['pearson']:.2f}"
    if v.get("ci") and None not in v["ci"]:
        r += f" [{v['ci'][0]:.2f}, {v['ci'][1]:.2f}]"
    if v.get("null_p95") is not None:
        r += f", shuffled-label null p95 {v['null_p95']:.2f}"
    arousal = summary["arousal"]
    arousal_note = (
        "no arousal norms given (geometry.arousal_csv)"
        if arousal is None
        else f"PC2 vs arousal r = {arousal['pearson_pc2']:.2f} (n = {arousal['n']})"
    )
    # Valence need not sit on PC1; say where it is strongest.
    best_note = ""
    if (correlations.norm == "valence").any() and correlations.pearson.notna().any():
        best = best_component(correlations, "valence", list(correlations.component.unique()))
        if best.component != "PC1":
            best_note = f"; strongest valence axis: {best.component} (r = {best.pearson:.2f})"
    return (
        f"{summary['model']}, layer {summary['layer']}: emotion vectors on PC1 and PC2\n"
        # Three lines: on the 8-inch figure of a small run one line clipped at both ends.
        f"PC1 vs human valence r = {r} (n = {v['n']}){best_note}\n{arousal_note}"
    )


def _label_points(fig, ax, x: np.ndarray, y: np.ndarray, names: Sequence[str], fontsize) -> None:
    """Label every point without overlaps: pad the axes so labels at the edges stay inside,
    place the labels in display points, where a label's width and height are known, and
    map them back to data; a leader line where a label had to move away from its point."""
    ax.margins(0.08)
    fig.canvas.draw()
    # Freeze the layout: the labels are placed in display points, which must not move.
    fig.set_layout_engine("none")
    renderer = fig.canvas.get_renderer()
    texts = [
        ax.text(xi, yi, name, fontsize=fontsize, ha="center", va="center", zorder=4)
        for xi, yi, name in zip(x, y, names, strict=True)
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
        if moved:
            ax.plot([px, cx], [py, cy], color="0.7", lw=0.4, zorder=1)


def plot_valence_controls(
    summary_json: str, null_csv: str, output: str, probe_layers_csv: str | None = None
) -> None:
    """The valence axis against its controls: the shuffled-label null of |r| (histogram
    and 95th percentile), the observed r with its interval, the same PCA on the input
    embeddings of the emotion words, and (dashed) a cross-validated linear probe of valence
    from each (what they carry in any direction). With `probe_layers_csv`, a second panel:
    the synonym-grouped probe at every layer, layer 0 (the words) included."""
    plt = pyplot()
    summary = json.loads(Path(summary_json).read_text())
    v = summary["valence"]
    null = pd.read_csv(null_csv)["abs_r"].to_numpy()
    layers = pd.read_csv(probe_layers_csv) if probe_layers_csv else None
    if layers is not None and len(layers):
        fig, (ax, right) = plt.subplots(1, 2, figsize=(14, 4.6), width_ratios=(1, 1))
        _plot_probe_layers(right, layers, summary["layer"])
    else:
        fig, ax = plt.subplots(figsize=(8, 4.2))
    ax.hist(null, bins=40, range=(0, 1), color="0.75",
            label=f"shuffled labels, VADER ({len(null)})")  # fmt: skip
    ax.axvline(v["null_p95"], color="0.4", ls=":", label=f"null 95th pct {v['null_p95']:.2f}")
    glasgow = summary.get("valence_glasgow") or {}
    rows = [("PC1, VADER", v["pearson"], v.get("ci"), "#e67e22")]
    if glasgow.get("value") is not None:
        rows.insert(0, ("PC1, Glasgow", glasgow["value"], glasgow.get("ci"), "#c0392b"))
    word = v.get("word_embedding") or {}
    if word.get("value") is not None:
        rows.append(
            ("PC1 of the words' input embeddings", word["value"], word.get("ci"), "#2c7fb8")
        )
    top = ax.get_ylim()[1]
    for i, (label, r, ci, colour) in enumerate(rows):
        if r is None:
            continue
        height = top * (0.85 - 0.12 * i)
        ax.axvline(abs(r), color=colour, lw=1.5, label=f"{label}: r = {r:.2f}")
        if ci and None not in ci:
            ax.plot(
                _abs_interval(ci),
                [height, height],
                color=colour,
                lw=4,
                alpha=0.5,
                solid_capstyle="butt",
            )
    # The verdict's control: the probe with near-synonyms in one fold, on the vectors and on
    # the words (layer 0), for the norms the verdict uses.
    norm = summary.get("valence_verdict_norm") or "vader"
    probe = (summary.get("probe") or {}).get(f"valence_{norm}") or {}
    for part, label, colour in (
        ("vectors", "the vectors", "#c0392b"),
        ("layer0", "the words", "#2c7fb8"),
    ):
        r = (probe.get(part) or {}).get("value")
        if r is not None:
            name = f"probe ({norm.capitalize()}, synonyms in one fold), {label}: {r:.2f}"
            ax.axvline(r, color=colour, lw=1, ls="--", label=name)
    ax.set(xlim=(0, 1), xlabel="|Pearson r| with human valence", ylabel="shuffles")
    n_glasgow = f", {glasgow['n']} in Glasgow" if glasgow.get("n") else ""
    ax.set_title(
        f"{summary['model']}, layer {summary['layer']}: the valence axis against its controls\n"
        f"{v['n']} emotions rated in VADER{n_glasgow}; permutation "
        f"{fmt_p(v['p'], v['permutations'])}; bars: 95 % intervals",
        fontsize=10,
    )
    ax.legend(fontsize=8, loc="center", framealpha=0.9)
    save(fig, output, dpi=130)


def _abs_interval(ci) -> list[float]:
    """The interval of |r| from that of r: from 0 when it spans 0."""
    low, high = sorted(abs(float(x)) for x in ci)
    return [0.0, high] if ci[0] < 0 < ci[1] else [low, high]


PROBE_COLOURS = {"valence_glasgow": "#c0392b", "valence_vader": "#e67e22", "arousal": "#2c7fb8"}


def _plot_probe_layers(ax, table: pd.DataFrame, analysis_layer: int) -> None:
    """Probe r (band: 95 % bootstrap interval over emotions) and the component's r per layer."""
    for target, rows in table.groupby("target", sort=False):
        colour = PROBE_COLOURS.get(target, "0.3")
        rows = rows.sort_values("layer")
        ax.plot(rows.layer, rows.probe_r, "-o", ms=3, color=colour, label=f"probe, {target}")
        ax.fill_between(
            rows.layer, rows.probe_ci_low, rows.probe_ci_high, color=colour, alpha=0.15, lw=0
        )
        component = rows.component.iloc[0]
        ax.plot(rows.layer, rows.component_r, ":", color=colour, label=f"{component} r, {target}")
    ax.axvline(analysis_layer, color="0.5", lw=0.8, ls="--")
    ax.axhline(0, color="0.8", lw=0.6)
    ax.set(
        xlabel="layer (0 = input embeddings of the words)",
        ylabel="Pearson r with the human rating",
        ylim=(-0.3, 1),
    )
    ax.set_title("lexical control: ridge probe, 10 folds, near-synonyms in one fold", fontsize=10)
    ax.legend(fontsize=7, loc="lower right", framealpha=0.9)


def plot_cosine(
    cosine_csv: str, model: str, layer: int, output: str, subset: Sequence[str] | None = None
) -> None:
    """Heatmap of the cosine similarities in clustering order, colour centred at 0.
    With `subset`, only those emotions (re-clustered among themselves)."""
    plt = pyplot()
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
    save(fig, output, dpi=200 if n > 100 else 150, tight=False)


def plot_layer_sweep_comparison(
    sweeps: Mapping[str, str],
    num_layers: Mapping[str, int],
    analysis_layers: Mapping[str, int],
    corpus: str,
    output: str,
) -> None:
    """PC1 variance share and PC1-valence r against relative depth, one line per model."""
    plt = pyplot()

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
    save(fig, output, dpi=150, tight=False)


def plot_geometry_across_models(table_csv: str, permutations: int, output: str) -> None:
    """One row per pair of models: how well their emotion-emotion cosine matrices agree
    (residual stream at each analysis layer, and the input embeddings of the words as the
    control), with bootstrap intervals and the permutation null's 95th percentile."""
    plt = pyplot()
    table = pd.read_csv(table_csv)
    fig, ax = plt.subplots(figsize=(8, 1.8 + 0.9 * max(len(table), 1)), layout="constrained")
    kinds = [("residual", "residual stream", "#c0392b", 0.12),
             ("embedding", "input embeddings of the words", "#2c7fb8", -0.12)]  # fmt: skip
    for y, row in enumerate(table.itertuples()):
        for kind, label, colour, dy in kinds:
            r = getattr(row, f"{kind}_r")
            low, high = getattr(row, f"{kind}_r_low"), getattr(row, f"{kind}_r_high")
            ax.plot([low, high], [y + dy] * 2, color=colour, lw=4, alpha=0.5)
            ax.plot(r, y + dy, "o", color=colour, label=label if y == 0 else None)
            ax.plot(getattr(row, f"{kind}_null_p95"), y + dy, "|", color="0.3", ms=12)
            p = fmt_p(getattr(row, f"{kind}_p"), permutations)
            ax.annotate(f"r = {r:.2f}, {p}", (high, y + dy), xytext=(6, -3),
                        textcoords="offset points", fontsize=8)  # fmt: skip
    ax.plot([], [], "|", color="0.3", ms=12, label="95th pct of the permutation null")
    ax.set_yticks(range(len(table)))
    ax.set_yticklabels(
        [f"{r.model_a} L{r.layer_a}\nvs {r.model_b} L{r.layer_b}\n({r.emotions} emotions)"
         for r in table.itertuples()], fontsize=8,
    )  # fmt: skip
    ax.set(xlim=(-0.2, 1.25), ylim=(-0.6, len(table) - 0.4))
    ax.set_xlabel("Pearson r between the two models' emotion-emotion cosines (Mantel)")
    ax.axvline(0, color="0.8", lw=0.8)
    ax.set_title(
        "Do the models share one emotion geometry? Bars: 95 % bootstrap over emotions",
        fontsize=10,
    )
    fig.legend(fontsize=8, loc="outside lower center", ncols=3, frameon=False)
    save(fig, output, dpi=130, tight=False)  # the constrained layout keeps the legend outside
