"""Figures and HTML pages of the analyses, apart from their maths: one module per analysis.
Every figure is written with matplotlib's Agg backend (no display needed)."""

from __future__ import annotations

import html
from typing import Any


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend, imported on first use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, path: str, dpi: int = 110, tight: bool = True) -> None:
    """Write a figure and free it (`tight`: tighten the layout first)."""
    if tight:
        fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)


def fmt_p(p: float, draws: int | None = None) -> str:
    """'p = 0.03', or 'p ≤ 0.001' when p is the smallest value `draws` control draws allow."""
    if draws and p <= 1 / (draws + 1) + 1e-12:
        return f"p ≤ {1 / (draws + 1):.2g}"
    return f"p = {p:.2g}"


def html_page(title: str, body: str, style: str = "") -> str:
    """A self-contained HTML page (UTF-8, sans-serif, bordered tables)."""
    base = (
        "body{font-family:sans-serif;font-size:13px;margin:1.5em}table{border-collapse:"
        "collapse}td,th{padding:3px 8px;text-align:left;vertical-align:top;"
        "border-bottom:1px solid #ddd}"
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{base}{style}</style></head><body>{body}</body></html>\n"
    )
