"""The report jobs: summary.json per model, and the cross-model comparison (CSV and HTML)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..render.report import comparison_html
from ..report import build_summary, comparison_rows
from ..store import write_json_atomic


def write_summary(output: str, **inputs) -> dict:
    """summary.json of one model; `inputs` as `report.build_summary` takes them."""
    summary = build_summary(**inputs)
    write_json_atomic(summary, output)
    return summary


def write_comparison(summary_files: Sequence[str], csv_out: str, html_out: str) -> pd.DataFrame:
    summaries = [json.loads(Path(p).read_text()) for p in summary_files]
    rows = comparison_rows(summaries)
    Path(csv_out).parent.mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame(rows)
    df.to_csv(csv_out, index=False)
    Path(html_out).write_text(comparison_html(rows))
    return df
