"""The package's import graph, function-local imports included: no cycle, and no import
upward (README, "Module map"): the jobs (workflow scripts) build on the library modules,
the public API on both, and nothing below imports what sits above it."""

from __future__ import annotations

import ast
from pathlib import Path

from .conftest import ROOT

PACKAGE = ROOT / "emotion_vectors"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """{module: the package's modules it imports anywhere in its body}. `from . import x`
    counts as importing module `x` when there is one, else the package itself."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    found.add(sub if sub in modules else target)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.Constant) and str(node.value).startswith(
                "emotion_vectors.jobs"
            ):  # importlib.import_module("emotion_vectors.jobs.x"), f-strings alike
                found.add("emotion_vectors.jobs")
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 50 and "emotion_vectors.config" in graph["emotion_vectors.run_config"]
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = import_graph()
    graph["emotion_vectors.config"].add("emotion_vectors.run_config")
    planted = {"emotion_vectors.config", "emotion_vectors.run_config"}
    assert [c for c in cycles(graph) if planted <= set(c)]


def test_nothing_below_imports_the_jobs_or_the_api():
    """Only the jobs import jobs (the registry names an analysis; `jobs.analysis_function`
    runs it), and only the package root (lazily) and the command line import the public
    API."""
    upward = []
    for module, imported in import_graph().items():
        for target in imported:
            into_jobs = target.startswith("emotion_vectors.jobs")
            if into_jobs and not module.startswith("emotion_vectors.jobs"):
                upward.append((module, target))
            above = ("emotion_vectors", "emotion_vectors.cli")
            if target == "emotion_vectors.api" and module not in above:
                upward.append((module, target))
    assert upward == []


def test_the_configuration_reader_is_a_leaf_of_the_readers_it_serves():
    """config.py (YAML, schemas, the project's own files) imports no module that reads an
    analysis section; run_config.py, above them all, puts the run together."""
    graph = import_graph()
    assert graph["emotion_vectors.config"] <= {
        "emotion_vectors.datasets",
        "emotion_vectors.wording",
    }
    assert {"emotion_vectors.registry", "emotion_vectors.inputs"} <= graph[
        "emotion_vectors.run_config"
    ]
