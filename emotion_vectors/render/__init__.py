"""Figures and HTML pages of the analyses, apart from their maths: one module per analysis.
Every figure is written with matplotlib's Agg backend (no display needed). The pages are
jinja2 templates (templates/, each extending page.html), autoescaped: a module prepares the
data (numbers as text, colours, which cell is which) and render() fills in the template."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

TEMPLATES = Path(__file__).parent / "templates"
# Every value a template prints is escaped unless it is Markup (pandas' tables, data URIs);
# a name a template uses but its context lacks is an error, not an empty string.
ENVIRONMENT = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def render(template: str, **context: Any) -> str:
    """The template templates/<template> filled in with `context`."""
    return ENVIRONMENT.get_template(template).render(**context)


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
    """A self-contained HTML page (UTF-8, sans-serif, bordered tables) around `body` and
    `style`, which are markup and CSS as they are; the title is escaped."""
    return render("page.html", title=title, body=Markup(body), style=Markup(style))
