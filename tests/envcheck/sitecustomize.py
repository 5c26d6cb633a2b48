"""Run a workflow job with only its rule's software environment importable.

On PYTHONPATH with EMOTION_VECTORS_ENV_CHECK naming a JSON file {script name: [import names
to refuse]} (tests/rule_envs.py writes it from workflow/envs/*.yaml and the rules' `conda:`
lines), every Python process whose script is one of the workflow's refuses to import the
packages its rule's environment lacks, as a job under `--sdm conda` would find them
missing. Other processes (snakemake itself, pytest) are untouched, unless
EMOTION_VECTORS_REFUSE lists packages (comma-separated) to refuse in every process: Snakemake's
own environment under --sdm conda, where the Snakefile is parsed."""

import json
import os
import sys


def _refused_here() -> set:
    refused = set(filter(None, os.environ.get("EMOTION_VECTORS_REFUSE", "").split(",")))
    table = os.environ.get("EMOTION_VECTORS_ENV_CHECK")
    script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if table and script.endswith(".py"):
        with open(table) as fh:
            for name, packages in json.load(fh).items():
                # Snakemake runs a rule's script as .snakemake/scripts/tmpXXXX.<script name>
                if script == name or script.endswith("." + name):
                    refused |= set(packages)
    return refused


class _NotInThisEnvironment:
    def __init__(self, refused: set):
        self.refused = refused

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in self.refused:
            where = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "?"
            raise ModuleNotFoundError(
                f"No module named {name!r}: not in the software environment of the rule "
                f"that runs {where} (workflow/envs/)",
                name=name,
            )
        return None


_refused = _refused_here()
if _refused:
    sys.meta_path.insert(0, _NotInThisEnvironment(_refused))
