"""The command line: the public API (api.py) for a finished run, without writing Python.

    emotion-vectors summary MODEL                 the headline numbers and verdicts
    emotion-vectors vectors MODEL --out v.csv     one layer's vectors (csv, parquet or npy)
    emotion-vectors trace MODEL "I lost my keys"  the emotions at each token of a text or chat
    emotion-vectors export MODEL calm --out calm.gguf   a llama.cpp control vector

`python -m emotion_vectors ...` is the same. Every command reads `--results` (default
./results) and names the model by its key in config/models.yaml. A problem (no such run, a
damaged file, an unknown emotion) is one line on stderr and exit status 2, no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import __version__
from .layout import DEFAULT_CORPUS
from .store import atomic_path

VECTOR_SUFFIXES = (".csv", ".parquet", ".npy")


def _summary(args: argparse.Namespace) -> None:
    from .api import load_summary
    from .report import fmt_measure

    summary = load_summary(args.model, results=args.results)
    corpus = args.corpus or summary["default_corpus"]
    if corpus not in summary["corpora"]:
        known = list(summary["corpora"])
        raise ValueError(f"{args.model} has no corpus {corpus!r}; it has {known}")
    numbers = {**summary, **summary["corpora"][corpus]}
    if args.json:
        print(json.dumps(numbers if args.corpus else summary, indent=2, sort_keys=True))
        return
    print(f"{args.model} ({corpus}): {numbers.get('emotions')} emotions, analysis layer "
          f"{numbers.get('analysis_layer')} of {summary['num_layers']}, "
          f"{numbers.get('dtype')} on {numbers.get('device')}")  # fmt: skip
    holds, against = numbers.get("holds", {}), numbers.get("decided_against", {})
    if holds:
        print("\nverdicts (decided against the control named):")
        for name in sorted(holds):
            verdict = {True: "holds", False: "does not hold", None: "not measured"}[holds[name]]
            print(f"  {name}: {verdict}")
            if name in against:
                print(textwrap.fill(f"against {against[name]}", 100, initial_indent=" " * 6,
                                    subsequent_indent=" " * 6))  # fmt: skip
    measures = {k: fmt_measure(v) for k, v in sorted(numbers.items()) if isinstance(v, dict)}
    measures = {k: v for k, v in measures.items() if v is not None}
    if measures:
        print("\nmeasures (value [95 % interval]):")
        for name, text in measures.items():
            print(f"  {name}: {text}")


def _vectors(args: argparse.Namespace) -> None:
    from .api import load_vectors

    frame = load_vectors(
        args.model, args.layer, results=args.results, denoised=not args.raw, corpus=args.corpus
    )
    if args.emotions:
        missing = [e for e in args.emotions if e not in frame.index]
        if missing:
            raise ValueError(f"no vectors for {missing}; the run has {_some(frame.index)}")
        frame = frame.loc[args.emotions]
    about = frame.attrs
    if args.out is None:
        norms = (frame.astype("float64") ** 2).sum(axis=1) ** 0.5
        print(f"{about['model']} ({about['corpus']}), layer {about['layer']}, "
              f"{'denoised' if about['denoised'] else 'raw'}: {len(frame)} vectors of width "
              f"{frame.shape[1]}")  # fmt: skip
        for emotion, norm in norms.items():
            print(f"  {emotion}: norm {norm:.4g}")
        return
    out = Path(args.out)
    with atomic_path(out) as tmp:
        if out.suffix == ".csv":
            frame.to_csv(tmp)
        elif out.suffix == ".parquet":
            frame.to_parquet(tmp)
        else:  # .npy: the matrix alone; the emotions, in row order, beside it
            with open(tmp, "wb") as handle:
                np.save(handle, frame.to_numpy())
    if out.suffix == ".npy":
        with atomic_path(out.with_suffix(".emotions.txt")) as tmp:
            Path(tmp).write_text("\n".join(frame.index) + "\n")
    print(f"wrote {len(frame)} vectors of layer {about['layer']} to {out}")


def _chat(path: Path) -> list[dict[str, str]]:
    messages = json.loads(path.read_text())
    if not isinstance(messages, list):
        raise ValueError(f"{path}: a chat is a JSON list of {{role, content}} messages")
    return messages


def _trace(args: argparse.Namespace) -> None:
    from .api import trace

    if sum(x is not None for x in (args.text, args.file, args.chat)) != 1:
        raise ValueError("give the text, or --file PATH, or --chat PATH (one of them)")
    source: str | list[dict[str, str]]
    if args.chat is not None:
        source = _chat(Path(args.chat))
    else:
        source = args.text if args.text is not None else Path(args.file).read_text()
    frame = trace(
        args.model, source, emotions=args.emotions, layer=args.layer, corpus=args.corpus,
        results=args.results, models_file=args.models,
    )  # fmt: skip
    emotions = list(frame.attrs["emotions"])
    if args.out is not None:
        with atomic_path(args.out) as tmp:
            frame.to_csv(tmp, index=False)
        print(f"wrote {len(frame)} tokens x {len(emotions)} emotions to {args.out}")
        return
    for _, row in frame.iterrows():
        scores = row[emotions].astype(float).sort_values(ascending=False)
        top = ", ".join(f"{e} {v:+.2f}" for e, v in scores.head(args.top).items())
        flag = " (sink)" if row.get("sink") else ""
        print(f"{int(row['position']):4d} {row['token']!r:>18}{flag}  {top}")


def _export(args: argparse.Namespace) -> None:
    from .api import load_vectors
    from .export import layer_directions, write_control_vector
    from .integrity import verified
    from .layout import Layout
    from .store import read_residual_norms, read_vector_layers

    layout = Layout(args.results)
    vector_file = Path(layout.vectors(args.model, args.corpus))
    if not vector_file.exists():
        raise FileNotFoundError(f"vectors not found at {vector_file}; run the workflow first")
    verified(vector_file, args.results)
    norms_file = verified(Path(layout.residual_norms(args.model)), args.results)
    layers = args.layer or read_vector_layers(vector_file)
    vectors = {}
    for layer in layers:
        frame = load_vectors(args.model, layer, results=args.results, corpus=args.corpus)
        if args.emotion not in frame.index:
            raise ValueError(f"no vector for {args.emotion!r}; the run has {_some(frame.index)}")
        vectors[layer] = frame.loc[args.emotion].to_numpy()
    norms = read_residual_norms(norms_file)
    directions = layer_directions(vectors, norms)
    if args.strength != 1.0:
        directions = {i: d * args.strength for i, d in directions.items()}
    about = {"model": args.model, "corpus": args.corpus, "emotion": args.emotion,
             "strength": args.strength, "vector": "denoised"}  # fmt: skip
    write_control_vector(args.out, directions, args.model, about)
    print(f"wrote {args.emotion!r} at strength {args.strength} ({len(directions)} layers) "
          f"to {args.out}; llama.cpp: --control-vector {args.out}")  # fmt: skip


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="emotion-vectors",
        description="Read a finished emotion-vectors run: headline numbers, vectors, "
        "token traces, llama.cpp control vectors.",
    )
    top.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str, run) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("model", help="the model's key in config/models.yaml")
        sub.add_argument("--results", default="results", help="the run's results folder")
        sub.add_argument("--corpus", default=None if name == "summary" else DEFAULT_CORPUS,
                         help="templates (default) or stories")  # fmt: skip
        sub.set_defaults(run=run)
        return sub

    summary = command("summary", "the headline numbers and verdicts of a model", _summary)
    summary.add_argument("--json", action="store_true", help="print summary.json as it is")

    vectors = command("vectors", "the emotion vectors of one layer", _vectors)
    vectors.add_argument("--layer", type=int, help="default: the analysis layer")
    vectors.add_argument("--raw", action="store_true", help="the vectors before denoising")
    vectors.add_argument("--emotions", type=_names, help="comma-separated; default: all")
    vectors.add_argument("--out", help=f"write them to a file ({', '.join(VECTOR_SUFFIXES)})")

    trace = command("trace", "the emotions at each token of a text or chat", _trace)
    trace.add_argument("text", nargs="?", help="the text (or use --file / --chat)")
    trace.add_argument("--file", help="a text file")
    trace.add_argument("--chat", help="a JSON list of {role, content} messages")
    trace.add_argument("--emotions", type=_names, help="comma-separated; default: all")
    trace.add_argument("--layer", type=int, help="default: the analysis layer")
    trace.add_argument("--top", type=int, default=3, help="emotions shown per token (3)")
    trace.add_argument("--models", help="the models file (default: ./config/models.yaml)")
    trace.add_argument("--out", help="write the whole table to a CSV file instead")

    export = command("export", "one emotion as a llama.cpp control vector", _export)
    export.add_argument("emotion")
    export.add_argument("--out", required=True, help="the .gguf file to write")
    unit = "1.0 = the layer's mean residual norm (the workflow's unit)"
    export.add_argument("--strength", type=float, default=1.0, help=unit)
    every = "a layer to include (repeatable); default: every stored one"
    export.add_argument("--layer", type=int, action="append", help=every)
    return top


def _some(names: Sequence[str], shown: int = 8) -> str:
    """'3 emotions: a, b, c' or '171 emotions: a, b, ... (first 8)'."""
    names = list(names)
    more = f", ... (first {shown})" if len(names) > shown else ""
    return f"{len(names)} emotions: {', '.join(names[:shown])}{more}"


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    writes_vectors = args.command == "vectors" and args.out is not None
    if writes_vectors and Path(args.out).suffix not in VECTOR_SUFFIXES:
        parser().error(f"--out must end in one of {', '.join(VECTOR_SUFFIXES)}")
    try:
        args.run(args)
    except (OSError, ValueError) as err:
        print(f"emotion-vectors: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
