"""The HTML pages of emotion traces: tokens coloured by their top emotion, each leading
emotion along the text, and the top emotions per message."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..traces import readable, top_emotions
from . import html_page, pyplot

if TYPE_CHECKING:  # the frames come from traces.trace_frame, which imports pandas
    import pandas as pd

# Lines drawn along the text: the emotions with the highest mean over the readable tokens.
LINES = 6
STYLE = (
    ".tok{padding:1px 0;border-radius:2px;white-space:pre-wrap}.sink{outline:1px dashed #999;"
    "color:#999}.special{color:#aaa}.text{line-height:1.9;font-family:monospace;"
    "font-size:13px;max-width:70em}.role{font-weight:bold;color:#555}.key span{margin:0 0.6em "
    "4px 0;padding:1px 4px;border-radius:2px;display:inline-block}"
)


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
    emotions = frame.attrs["emotions"]
    values = frame[emotions].to_numpy()
    top = values.argmax(axis=1)
    peak = values.max(axis=1)
    ok = ~(frame["special"].to_numpy() | frame["sink"].to_numpy())
    scale = np.percentile(peak[ok], 95) if ok.any() else 1.0
    scale = scale if scale > 0 else 1.0
    parts, last_message = [], None
    for k, row in enumerate(frame.itertuples(index=False)):
        if row.message != last_message and row.message >= 0:
            parts.append(f"<br><span class='role'>[{html.escape(row.role)}]</span> ")
            last_message = row.message
        text = html.escape(row.token).replace("\n", "↵<br>")
        order = np.argsort(values[k])[::-1][:3]
        tip = ", ".join(f"{emotions[i]} {values[k, i]:+.1f}" for i in order)
        if row.special:
            parts.append(f"<span class='tok special' title='special token'>{text}</span>")
        elif row.sink:
            parts.append(f"<span class='tok sink' title='attention sink (norm {row.norm:.0f}); "
                         f"left out of every summary'>{text}</span>")  # fmt: skip
        else:
            alpha = float(np.clip(peak[k] / scale, 0.08, 1.0)) * 0.6  # text stays readable
            colour = _css(colours[emotions[top[k]]], alpha)
            parts.append(
                f"<span class='tok' style='background:{colour}' title='{html.escape(tip)}'>"
                f"{text}</span>"
            )
    return "<div class='text'>" + "".join(parts) + "</div>"


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
    rows = []
    for entry in top_emotions(frame, k):
        top = ", ".join(f"{e} ({v:+.2f})" for e, v in entry["top"])
        label = "whole text" if entry["message"] < 0 else f"{entry['message'] + 1}: {entry['role']}"
        rows.append(f"<tr><td>{html.escape(label)}</td><td>{entry['tokens']}</td>"
                    f"<td>{html.escape(top)}</td></tr>")  # fmt: skip
    return ("<table><tr><th>message</th><th>tokens</th><th>top emotions (mean projection)"
            "</th></tr>" + "".join(rows) + "</table>")  # fmt: skip


def trace_page(name: str, sections: Sequence[tuple[str, pd.DataFrame]], model: str, layer: int,
               top_k: int = 3) -> str:  # fmt: skip
    """One text's page: per section (as written; with the model's own reply), the coloured
    tokens, the line plot and the top emotions per message."""
    emotions = sections[0][1].attrs["emotions"]
    colours = _colours(emotions)
    key = "".join(
        f"<span style='background:{_css(colours[e], 0.6)}'>{html.escape(e)}</span>"
        for e in emotions
    )
    body = [
        f"<h1>{html.escape(name)}</h1><p>{html.escape(model)}, layer {layer}: each token's "
        "residual state minus the neutral reference, projected on each emotion's unit "
        "vector. A token's colour is its top emotion (stronger: higher above this text's "
        "typical top value); hover for its three highest. Dashed: attention sinks, left out "
        "of every summary.</p>",
        f"<p class='key'>{key}</p>",
    ]
    for label, frame in sections:
        png = line_plot(frame, colours, f"{name}, {label}: the {LINES} leading emotions")
        body += [
            f"<h2>{html.escape(label)}</h2>",
            tokens_html(frame, colours),
            f"<p><img alt='emotions along the text' src='data:image/png;base64,{png}'></p>",
            _top_table(frame, top_k),
        ]
    return html_page(f"emotion trace: {name}", "\n".join(body), STYLE)


def index_page(summary: Mapping) -> str:
    """The list of traced texts, each with its top emotions per message."""
    rows = []
    for name, entry in summary["texts"].items():
        cells = []
        for label, messages in entry.items():
            if label in ("file", "reply") or not isinstance(messages, list):
                continue
            tops = "; ".join(
                f"{m['role'] or 'text'}: {', '.join(e for e, _ in m['top'])}" for m in messages
            )
            cells.append(f"<b>{html.escape(label)}</b>: {html.escape(tops)}")
        reply = entry.get("reply")
        if reply:
            cells.append(f"<b>reply</b>: <i>{html.escape(reply)}</i>")
        rows.append(f"<tr><td><a href='{html.escape(name)}.html'>{html.escape(name)}</a></td>"
                    f"<td>{'<br>'.join(cells)}</td></tr>")  # fmt: skip
    body = (
        f"<h1>Emotion traces: {html.escape(summary['model'])}, {html.escape(summary['corpus'])}"
        f", layer {summary['layer']}</h1><table><tr><th>text</th><th>top emotions per "
        "message</th></tr>" + "".join(rows) + "</table>"
    )
    return html_page("emotion traces", body)
