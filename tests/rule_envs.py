"""Which software environment (workflow/envs/*.yaml) each rule declares, and what that
environment lets its script import."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from .conftest import ROOT

ENVCHECK_DIR = ROOT / "tests" / "envcheck"
# Distribution names whose import name differs.
IMPORT_NAMES = {
    "pytorch": "torch",
    "scikit-learn": "sklearn",
    "pyyaml": "yaml",
    "vadersentiment": "vaderSentiment",
}
NOT_IMPORTED = {"python", "pip"}


def rule_environments() -> dict[str, dict[str, str | None]]:
    """{rule: {"env": path or None, "script": file name or None}} from workflow/rules/."""
    rules: dict[str, dict[str, str | None]] = {}
    for smk in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        # A rule may sit indented under an `if` (model_analyses: only when an experiment
        # is selected).
        text = smk.read_text()
        for block in re.split(r"^(?=[ \t]*(?:rule|checkpoint) \w+:)", text, flags=re.M):
            head = re.match(r"[ \t]*(?:rule|checkpoint) (\w+):", block)
            if not head:
                continue
            env = re.search(r"^\s+conda:\s*\n\s+\"([^\"]+)\"", block, re.M)
            script = re.search(r"^\s+script:\s*\n\s+\"([^\"]+)\"", block, re.M)
            rules[head.group(1)] = {
                "env": str((smk.parent / env.group(1)).resolve()) if env else None,
                "script": Path(script.group(1)).name if script else None,
            }
    return rules


def env_packages(env_file: str | Path) -> set[str]:
    """Import names of the packages a conda environment file lists (conda and pip)."""
    deps = yaml.safe_load(Path(env_file).read_text())["dependencies"]
    names = []
    for dep in deps:
        names += dep["pip"] if isinstance(dep, dict) else [dep]
    out = set()
    for spec in names:
        name = re.split(r"[<>=!~ \[]", spec.strip(), maxsplit=1)[0].lower()
        if name not in NOT_IMPORTED:
            out.add(IMPORT_NAMES.get(name, name.replace("-", "_")))
    return out


def refused_imports_table(path: Path) -> Path:
    """Write {script: [import names its rule's environment lacks]} for envcheck/."""
    rules = rule_environments()
    envs = {r["env"] for r in rules.values() if r["env"]}
    everything = set().union(*(env_packages(e) for e in envs))
    table: dict[str, list[str]] = {}
    for rule in rules.values():
        if rule["script"] and rule["env"]:
            lacking = everything - env_packages(rule["env"])
            # One script may serve two rules: refuse only what neither environment has.
            prior = set(table.get(rule["script"], lacking))
            table[rule["script"]] = sorted(prior & lacking)
    path.write_text(json.dumps(table, indent=1))
    return path
