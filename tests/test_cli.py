"""The command line (emotion_vectors/cli.py) on a finished run of the real workflow (the
light project of tests/conftest.py): what each command prints or writes agrees with the
public API and with the workflow's own files, and every problem is one line, status 2."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from emotion_vectors import load_summary, load_vectors, trace
from emotion_vectors.export import read_control_vector
from emotion_vectors.layout import Layout

from .conftest import MODEL, ROOT
from .extend_guide import EMOTIONS

pytestmark = pytest.mark.slow


def cli(*args, cwd=ROOT) -> subprocess.CompletedProcess:
    """`python -m emotion_vectors ARGS` as a user runs it (the installed package)."""
    return subprocess.run(
        [sys.executable, "-m", "emotion_vectors", *map(str, args)],
        cwd=cwd, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.fixture(scope="module")
def results(light_project):
    assert light_project["run"].returncode == 0, light_project["run"].stderr[-3000:]
    return str(light_project["project"] / "results")


def test_summary_prints_every_verdict_with_its_control_and_the_json_as_stored(results):
    summary = load_summary(MODEL, results=results)
    shown = cli("summary", MODEL, "--results", results)
    assert shown.returncode == 0, shown.stderr
    assert f"{MODEL} (templates): 4 emotions" in shown.stdout
    for name, verdict in summary["holds"].items():
        word = {True: "holds", False: "does not hold", None: "not measured"}[verdict]
        assert f"  {name}: {word}\n" in shown.stdout
    assert "measures (value [95 % interval]):" in shown.stdout
    as_json = cli("summary", MODEL, "--results", results, "--json")
    assert json.loads(as_json.stdout) == summary


def test_vectors_are_written_as_the_api_reads_them(results, tmp_path):
    expected = load_vectors(MODEL, 5, results=results, denoised=False)
    for suffix in (".csv", ".parquet", ".npy"):
        out = tmp_path / f"v{suffix}"
        done = cli("vectors", MODEL, "--results", results, "--layer", "5", "--raw", "--out", out)
        assert done.returncode == 0, done.stderr
        if suffix == ".csv":
            got = pd.read_csv(out, index_col="emotion").to_numpy(np.float32)
        elif suffix == ".parquet":
            got = pd.read_parquet(out).to_numpy()
        else:
            got = np.load(out)
            assert (tmp_path / "v.emotions.txt").read_text().split("\n")[:-1] == list(
                expected.index
            )
        np.testing.assert_array_equal(got, expected.to_numpy())
    picked = cli("vectors", MODEL, "--results", results, "--emotions", "sad,calm")
    norms = np.linalg.norm(load_vectors(MODEL, results=results).loc[["sad", "calm"]], axis=1)
    assert f"  sad: norm {norms[0]:.4g}\n  calm: norm {norms[1]:.4g}" in picked.stdout


def test_export_writes_the_workflows_control_vector(results, tmp_path):
    """At strength 1 the command's file holds the directions the workflow's export wrote;
    at strength 0.5, half of them."""
    mine = tmp_path / "calm.gguf"
    done = cli("export", MODEL, "calm", "--results", results, "--out", str(mine))
    assert done.returncode == 0, done.stderr
    theirs = read_control_vector(Layout(results).control_vector(MODEL, "calm"))
    ours = read_control_vector(mine)
    assert sorted(ours.directions) == sorted(theirs.directions)
    for index, direction in theirs.directions.items():
        np.testing.assert_array_equal(ours.directions[index], direction)
    half = tmp_path / "half.gguf"
    cli("export", MODEL, "calm", "--results", results, "--out", str(half), "--strength", "0.5")
    for index, direction in read_control_vector(half).directions.items():
        np.testing.assert_allclose(direction, 0.5 * theirs.directions[index], rtol=1e-6)


def test_trace_prints_the_apis_top_emotions_per_token(results, tmp_path):
    text = "She opened the letter and smiled."
    frame = trace(MODEL, text, results=results)
    out = tmp_path / "trace.csv"
    done = cli("trace", MODEL, text, "--results", results, "--out", str(out))
    assert done.returncode == 0, done.stderr
    written = pd.read_csv(out, keep_default_na=False)
    np.testing.assert_allclose(written[EMOTIONS].to_numpy(), frame[EMOTIONS].to_numpy(), rtol=1e-6)
    shown = cli("trace", MODEL, text, "--results", results, "--top", "1").stdout.splitlines()
    assert len(shown) == len(frame)
    for line, (_, row) in zip(shown, frame.iterrows(), strict=True):
        assert line.split()[-2] == row[EMOTIONS].astype(float).idxmax()


@pytest.mark.parametrize(
    "args, says",
    [
        (["summary", "no-such-model"], "summary not found at"),
        (["vectors", MODEL, "--emotions", "calm,serene"], "no vectors for ['serene']"),
        (["vectors", MODEL, "--layer", "7"], "layer 7"),
        (["export", MODEL, "serene", "--out", "x.gguf"], "no vector for 'serene'"),
        (["trace", MODEL], "give the text, or --file PATH, or --chat PATH"),
    ],
)
def test_a_problem_is_one_line_and_status_2(results, args, says):
    done = cli(*args, "--results", results)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("emotion-vectors: error: ")
    assert says in done.stderr, done.stderr
