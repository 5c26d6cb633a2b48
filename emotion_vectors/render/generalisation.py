"""Figures and the HTML table of the generalisation measurements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from . import pyplot, render, save

COLOURS = {"templates": "tab:blue", "stories": "tab:orange"}


def plot_accuracy(
    by_layer: pd.DataFrame, corpora: Sequence[str], analysis_layer: int, model: str,
    result: Mapping, output: str,
) -> None:  # fmt: skip
    """Left: implicit-scenario accuracy by layer per corpus (centred on the neutral
    reference; thin: transductive), chance and the lexical baseline. Right: |r| of PC1 with
    valence and the template-story cosines by layer."""
    plt = pyplot()
    fig, (ax, right) = plt.subplots(1, 2, figsize=(11.5, 5.2))
    if "top1" in by_layer:
        for c in corpora:
            sub, col = by_layer[by_layer["corpus"] == c], COLOURS.get(c)
            ax.plot(sub["layer"], sub["top1"], "-o", ms=3, color=col, label=f"{c} top-1")
            ax.plot(sub["layer"], sub["top3"], "--", color=col, label=f"{c} top-3")
            ax.plot(sub["layer"], sub["top1_transductive"], "-", lw=0.6, alpha=0.6, color=col,
                    label=f"{c} top-1, transductive")  # fmt: skip
            if "top1_expository" in sub and sub["top1_expository"].notna().any():
                ax.plot(sub["layer"], sub["top1_expository"], ":", lw=0.8, color=col,
                        label=f"{c} top-1, expository neutral")  # fmt: skip
        first = by_layer.iloc[0]
        ax.axhline(first["chance_top1"], color="grey", lw=1, label="chance top-1")
        ax.axhline(first["chance_top3"], color="grey", lw=1, ls="--", label="chance top-3")
        lexical = (result.get("lexical_baseline") or {}).get("top1") or {}
        if lexical.get("value") is not None:
            ax.axhline(lexical["value"], color="tab:purple", lw=1, ls="-.",
                       label="words alone (layer 0) top-1")  # fmt: skip
        first_corpus = result["per_corpus"].get(corpora[0]) or {}
        name = first_corpus.get("strongest_baseline")
        if name and "input embeddings" not in name:
            ax.axhline(first_corpus["baselines"][name]["value"], color="tab:red", lw=1, ls="-.",
                       label=f"strongest baseline: {name}")  # fmt: skip
        ax.set_title(f"implicit scenarios ({int(first['passages'])} passages)", fontsize=10)
    ax.axvline(analysis_layer, color="k", lw=0.5, ls=":")
    ax.set_xlabel("layer")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.03)  # top-3 is often exactly 1
    # Below the axes: inside, the box hid the top-3 curves of the middle layers.
    ax.legend(fontsize=6.5, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3)
    for c in corpora:
        sub = by_layer[by_layer["corpus"] == c]
        right.plot(sub["layer"], sub["valence_r"], "-o", ms=3, color=COLOURS.get(c), label=c)
    if "agreement_diagonal" in by_layer:
        sub = by_layer[by_layer["corpus"] == corpora[0]]
        right.plot(sub["layer"], sub["agreement_diagonal"], "-", color="tab:green",
                   label="cos same")  # fmt: skip
        right.plot(sub["layer"], sub["agreement_off_diagonal"], ":", color="tab:green",
                   label="cos other")  # fmt: skip
    right.axvline(analysis_layer, color="k", lw=0.5, ls=":")
    right.set_xlabel("layer")
    right.set_title("|r| PC1 vs valence; template-story cosine", fontsize=10)
    right.set_ylim(-0.2, 1)
    right.legend(fontsize=7, loc="lower right", bbox_to_anchor=(1, 0.1))
    fig.suptitle(model)
    save(fig, output, dpi=110)


def plot_agreement(agreement, emotions: Sequence[str], model: str, layer: int, output) -> None:
    plt = pyplot()
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
    save(fig, output, dpi=110)


def interval(m: Mapping | None, percent: bool = False) -> str:
    """'0.43 [0.31, 0.56]' of a measure dict, '–' when missing."""
    if not m or m.get("value") is None:
        return "–"
    fmt = (lambda x: f"{100 * x:.0f} %") if percent else (lambda x: f"{x:.2f}")
    ci = m.get("ci") or [None, None]
    text = fmt(m["value"])
    return text if None in ci else f"{text} [{fmt(ci[0])}, {fmt(ci[1])}]"


def table_html(result: Mapping) -> str:
    rows = []
    for c, e in result["per_corpus"].items():
        cells = [c] + (_scenario_cells(e) if e.get("top1") is not None else ["–"] * 8)
        r = e.get("valence_r")
        cells.append("–" if r is None else f"{r:.2f} ({e['valence_n']})")
        rows.append(cells)
    title = f"{result['model']}: generalisation, layer {result['analysis_layer']}"
    return render("generalisation.html", title=title, rows=rows, notes=_notes(result))


def _scenario_cells(e: Mapping) -> list[str]:
    held = e["held_out_layer"]
    name = e.get("strongest_baseline")
    base = (e.get("baselines") or {}).get(name)
    diff = (e.get("versus_baselines") or {}).get(name)
    return [
        interval(e["top1"]),
        interval(e.get("top1_grand_mean")),
        f"{name}: {interval(base)}" if base else "–",
        f"{interval(diff)}, p = {diff['mcnemar']['p']:.2g}" if diff else "–",
        interval(e["top3"]),
        f"{e['top1']['chance']:.2f} / {e['top3']['chance']:.2f}",
        f"{_two(e.get('top1_expository'))} / {_two(e.get('top1_transductive'))}",
        f"{interval(held['top1'])} (layers {held['chosen_on_half_0']}, {held['chosen_on_half_1']})",
    ]


def _two(x) -> str:
    return "–" if x is None else f"{x:.2f}"


def _notes(result: Mapping) -> list[str]:
    notes = []
    for c, e in result["per_corpus"].items():
        versus = e.get("versus_baselines") or {}
        if versus:
            each = "; ".join(
                f"{name}: top-1 {interval(e['baselines'][name])}, vectors − it "
                f"{interval(v)} (McNemar {v['mcnemar']['only_vectors']} vs "
                f"{v['mcnemar']['only_baseline']} discordant, p = {v['mcnemar']['p']:.2g})"
                for name, v in versus.items()
            )
            verdict = "beat" if e.get("beats_baselines") else "do not beat"
            notes.append(f"{c}: lexical baselines on the same scenarios — {each}. The vectors "
                         f"{verdict} every baseline (each paired CI above 0).")  # fmt: skip
        top = e.get("most_predicted")
        if top:
            notes.append(f"{c}: most predicted emotion {top['emotion']} "
                         f"({top['passages']} of {e['passages']} passages).")  # fmt: skip
    agree = result.get("agreement")
    if agree:
        notes.append(
            f"Corpus agreement at layer {result['analysis_layer']}: cosine between an "
            f"emotion's template and story vectors {agree['diagonal_mean']:.2f} on average, "
            f"between different emotions {agree['off_diagonal_mean']:.2f}; the nearest story "
            f"vector is the emotion's own for {agree['matched_share']:.0%} of {agree['n']} "
            f"emotions (chance {agree['chance']:.0%})."
        )
    return notes


def plot_confusion(
    confusion: pd.DataFrame, emotions: Sequence[str], model: str, layer: int, result: Mapping,
    output: str,
) -> None:  # fmt: skip
    """One heatmap per corpus: rows the scenarios' emotion, columns the emotion predicted
    (top-1, headline reference), cells the number of passages."""
    plt = pyplot()
    corpora = list(dict.fromkeys(confusion["corpus"])) if len(confusion) else []
    if not corpora:
        fig, ax = plt.subplots(figsize=(5, 1.5))
        ax.axis("off")
        ax.text(0.5, 0.5, "no scenario test in this run", ha="center", va="center")
        save(fig, output, dpi=110)
        return
    n = len(emotions)
    size = max(6.5, 0.32 * n + 2.5)
    fig, axes = plt.subplots(1, len(corpora), figsize=(size * len(corpora), size * 0.9),
                             squeeze=False)  # fmt: skip
    for ax, corpus in zip(axes[0], corpora, strict=True):
        sub = confusion[confusion["corpus"] == corpus]
        counts = sub.pivot(index="emotion", columns="predicted", values="passages")
        counts = counts.loc[list(emotions), list(emotions)].to_numpy()
        im = ax.imshow(counts, cmap="Blues", vmin=0)
        for i, j in zip(*counts.nonzero(), strict=True):
            colour = "white" if counts[i, j] > counts.max() / 2 else "black"
            ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=6, color=colour)
        ax.set_xticks(range(n), emotions, rotation=90, fontsize=7)
        ax.set_yticks(range(n), emotions, fontsize=7)
        ax.set_xlabel("taken for (top-1)")
        ax.set_ylabel("scenario written for")
        top1 = (result["per_corpus"].get(corpus) or {}).get("top1") or {}
        ax.set_title(f"{corpus}: top-1 {interval(top1)}", fontsize=9)
        fig.colorbar(im, ax=ax, shrink=0.6, label="passages")
    fig.suptitle(f"{model}, layer {layer}:\nwhat each emotion's scenarios are taken for",
                 fontsize=10)  # fmt: skip
    save(fig, output, dpi=110)
