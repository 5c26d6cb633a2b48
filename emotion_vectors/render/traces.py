"""The HTML pages of emotion traces: tokens coloured by their top emotion, each leading
emotion along the text, and the top emotions per message."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from markupsafe import Markup

from ..traces import readable, top_emotions
from . import pyplot, render

if TYPE_CHECKING:  # the frames come from traces.trace_frame, which imports pandas
    import pandas as pd

# Lines drawn along the text: the emotions with the highest mean over the readable tokens.
LINES = 6


def _colours(emotions: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    plt = pyplot()
    # 40 distinct colours (tab20, then tab20b), so the seed's 30 emotions never share one.
    palette = [plt.get_cmap("tab20")(i)[:3] for i in range(20)]
    palette += [plt.get_cmap("tab20b")(i)[:3] for i in range(20)]
    return {e: palette[i % len(palette)] for i, e in enumerate(emotions)}


def _css(rgb: tuple[float, float, float], alpha: float) -> str:
    r, g, b = (int(255 * c) for c in rgb)
    return f"rgba({r},{g},{b},{alpha:.2f})"


def tokens_html(frame, colours: Mapping[str, tuple]) -> str:
    """The text, token by token: background = the token's top emotion (opacity: how far
    above the text's typical top value), a tooltip with its three highest emotions."""
    return render("tokens.html", tokens=_tokens(frame, colours))


def _tokens(frame, colours: Mapping[str, tuple]) -> list[dict]:
    """Per token: its text as lines, its kind (special, sink or text), the role of the
    message it opens (None inside a message), and its colour and tooltip or its norm."""
    emotions = frame.attrs["emotions"]
    values = frame[emotions].to_numpy()
    top = values.argmax(axis=1)
    peak = values.max(axis=1)
    ok = ~(frame["special"].to_numpy() | frame["sink"].to_numpy())
    scale = np.percentile(peak[ok], 95) if ok.any() else 1.0
    scale = scale if scale > 0 else 1.0
    tokens, last_message = [], None
    for k, row in enumerate(frame.itertuples(index=False)):
        token: dict = {"role": None, "lines": row.token.split("\n")}
        if row.message != last_message and row.message >= 0:
            token["role"] = row.role
            last_message = row.message
        if row.special:
            token["kind"] = "special"
        elif row.sink:
            token.update(kind="sink", norm=f"{row.norm:.0f}")
        else:
            order = np.argsort(values[k])[::-1][:3]
            alpha = float(np.clip(peak[k] / scale, 0.08, 1.0)) * 0.6  # text stays readable
            token.update(
                kind="text",
                colour=_css(colours[emotions[top[k]]], alpha),
                tip=", ".join(f"{emotions[i]} {values[k, i]:+.1f}" for i in order),
            )
        tokens.append(token)
    return tokens


def line_plot(frame, colours: Mapping[str, tuple], title: str) -> str:
    """A PNG (base64) of the leading emotions' projections along the text, readable tokens
    only, with message boundaries marked."""
    plt = pyplot()
    emotions = frame.attrs["emotions"]
    rows = readable(frame)
    lead = rows[emotions].mean().sort_values(ascending=False).index[:LINES]
    fig, ax = plt.subplots(figsize=(11, 3.2))
    for e in lead:
        ax.plot(rows["position"], rows[e], lw=1.1, color=colours[e], label=e)
    starts = frame[frame["message"] >= 0].groupby("message")["position"].min()
    for position in starts:
        role = frame.loc[frame["position"] == position, "role"].iloc[0]
        ax.axvline(position, color="0.6", lw=0.6, ls="--")
        ax.text(position, 1.0, f" {role}", transform=ax.get_xaxis_transform(), fontsize=7,
                va="top", color="0.4")  # fmt: skip
    ax.axhline(0, color="black", lw=0.5)
    ax.set_xlabel("token position")
    ax.set_ylabel("projection − neutral")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, ncol=LINES, loc="lower center", bbox_to_anchor=(0.5, 1.08))
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _top_table(frame, k: int) -> str:
    return render("top_table.html", rows=_top_rows(frame, k))


def _top_rows(frame, k: int) -> list[dict]:
    """Per message (1-based; None: the whole text), its role, tokens and top emotions."""
    return [
        {
            "message": None if entry["message"] < 0 else entry["message"] + 1,
            "role": entry["role"],
            "tokens": entry["tokens"],
            "top": ", ".join(f"{e} ({v:+.2f})" for e, v in entry["top"]),
        }
        for entry in top_emotions(frame, k)
    ]


def trace_page(name: str, sections: Sequence[tuple[str, pd.DataFrame]], model: str, layer: int,
               top_k: int = 3) -> str:  # fmt: skip
    """One text's page: per section (as written; with the model's own reply), the coloured
    tokens, the line plot and the top emotions per message."""
    emotions = sections[0][1].attrs["emotions"]
    colours = _colours(emotions)
    parts = []
    for label, frame in sections:
        png = line_plot(frame, colours, f"{name}, {label}: the {LINES} leading emotions")
        parts.append(
            {
                "label": label,
                "tokens": _tokens(frame, colours),
                "png": Markup(f"data:image/png;base64,{png}"),  # base64: nothing to escape
                "rows": _top_rows(frame, top_k),
            }
        )
    return render(
        "trace_page.html",
        title=f"emotion trace: {name}",
        name=name,
        model=model,
        layer=layer,
        key=[(e, _css(colours[e], 0.6)) for e in emotions],
        sections=parts,
    )


def index_page(summary: Mapping) -> str:
    """The list of traced texts, each with its top emotions per message."""
    rows = []
    for name, entry in summary["texts"].items():
        sections = []
        for label, messages in entry.items():
            if label in ("file", "reply") or not isinstance(messages, list):
                continue
            tops = "; ".join(
                f"{m['role'] or 'text'}: {', '.join(e for e, _ in m['top'])}" for m in messages
            )
            sections.append((label, tops))
        rows.append({"name": name, "sections": sections, "reply": entry.get("reply")})
    return render(
        "index_page.html",
        title="emotion traces",
        model=summary["model"],
        corpus=summary["corpus"],
        layer=summary["layer"],
        rows=rows,
    )
