"""Running this repository's workflow in a subprocess, as the tests and benchmarks do:
`python -m snakemake` with the Snakefile beside this package, against any working
directory."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SNAKEFILE = ROOT / "Snakefile"


class WorkflowFailed(RuntimeError):
    """A snakemake run exited non-zero; the message holds the command and its output tail."""


def snakemake_command(workdir: str | Path, *args: str, cores: int = 2) -> list[str]:
    """The command line of a run of this workflow in `workdir`."""
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(SNAKEFILE),
        "--directory",
        str(workdir),
        "--cores",
        str(cores),
        *args,
    ]


def run_snakemake(
    workdir: str | Path,
    *args: str,
    cores: int = 2,
    check: bool = True,
    timeout: float | None = 1200,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """Run the workflow in `workdir`, output captured; raise WorkflowFailed when `check`
    and it fails. `env` adds to (or overrides) this process's environment."""
    from .config import check_configfiles

    cmd = snakemake_command(workdir, *args, cores=cores)
    problem = check_configfiles(list(args))
    if problem and check:
        raise WorkflowFailed(problem)
    if problem:  # as the user sees it from ./bootstrap.sh run: one line, nothing run
        return subprocess.CompletedProcess(cmd, 1, "", problem + "\n")
    env = {**os.environ, **(env or {})}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    if check and proc.returncode != 0:
        raise WorkflowFailed(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-5000:]}\n"
            f"{proc.stderr[-5000:]}"
        )
    return proc
