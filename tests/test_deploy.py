"""The workflow deployed as a Snakemake module, the way the workflow catalog tells users to:
`snakedeploy deploy-workflow <repo> <dir> --tag v<version>`, then `snakemake --cores all` in
<dir>, with the `.test/` config files (on a lighter run) in place of the shipped ones.

Offline, GitHub is played by a local repository: this working tree committed and tagged
v<version> at a path ending in github.com/<owner>/<name>, so that snakedeploy takes it for a
GitHub repository (it clones it and checks the tag out) and writes the Snakefile a real
deployment gets, `github("<owner>/<name>", path="workflow/Snakefile", tag="v...")`.
Snakemake reads such a module from its own bare clone of the repository under
$XDG_CACHE_HOME/snakemake/.../snakemake-git-cache/github.com/<owner>/<name>, fetching only
when the tag is missing there; the test puts the clone there itself.

The deployment runs in a Python environment that has every dependency but NOT the
emotion_vectors package (a bare venv that sees this one's site-packages without its .pth
files, so not the editable install either): the workflow must find its package in the
release it was deployed from."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import yaml

from emotion_vectors import __version__
from emotion_vectors.layout import Layout

from .conftest import MODEL, ROOT

pytestmark = pytest.mark.slow

OWNER_REPO = "emotion-vectors/emotion-vectors"
TAG = f"v{__version__}"


def _git(*args: str, cwd: Path) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _working_tree(dest: Path) -> Path:
    """This working tree's files (tracked and untracked, not the ignored ones: no .venv/,
    no results/) copied to `dest`."""
    files = _git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT)
    for name in filter(None, files.split("\0")):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def _release(tmp: Path) -> Path:
    """This working tree as a git repository with the release tag."""
    repo = _working_tree(tmp / "github.com" / OWNER_REPO)
    _git("init", "-q", "-b", "main", cwd=repo)
    _git("add", "-A", cwd=repo)
    _git("commit", "-q", "-m", f"release {TAG}", cwd=repo)
    _git("tag", TAG, cwd=repo)
    return repo


def _python_without_the_package(tmp: Path) -> Path:
    """A venv whose only site-packages entry is this environment's, added as a plain path:
    its .pth files (the editable install of emotion_vectors) are not processed."""
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


DEPLOYED_CONFIG = {
    **yaml.safe_load((ROOT / ".test" / "config" / "config.yaml").read_text()),
    "emotions": ["happy", "sad", "calm", "afraid"],
    "corpora": ["templates"],
    "analyses": ["geometry", "lens", "uncertainty"],
}


@pytest.fixture(scope="module")
def github(tmp_path_factory):
    """GitHub, played offline: the tagged release repository, and Snakemake's bare clone of
    it in a cache of its own (Snakemake fetches only when the ref is missing there)."""
    tmp = tmp_path_factory.mktemp("deploy")
    repo = _release(tmp)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp / "cache")}
    env.pop("PYTHONPATH", None)
    git_cache = tmp / "cache" / "snakemake" / "snakemake" / "source-cache"
    git_cache = git_cache / "snakemake-git-cache" / "github.com" / OWNER_REPO
    git_cache.parent.mkdir(parents=True)
    _git("clone", "-q", "--bare", str(repo), str(git_cache), cwd=tmp)
    python = _python_without_the_package(tmp)
    probe = subprocess.run([python, "-c", "import emotion_vectors"], cwd=tmp, env=env)
    assert probe.returncode != 0, "the deployment's Python must not see the package"
    return {"tmp": tmp, "repo": repo, "env": env, "python": python}


def _deploy(github: dict, name: str, *ref: str) -> Path:
    """`snakedeploy deploy-workflow <the GitHub repo> <dest> <ref>`, as the README says."""
    dest = github["tmp"] / name
    snakedeploy = Path(sys.executable).parent / "snakedeploy"
    subprocess.run(
        [snakedeploy, "deploy-workflow", f"file://{github['repo']}", dest, *ref],
        check=True,
        capture_output=True,
        env=github["env"],
    )
    return dest


@pytest.fixture(scope="module")
def deployment(github):
    repo, env, python = github["repo"], github["env"], github["python"]
    dest = _deploy(github, "analysis", "--tag", TAG)
    # The deployment's own config: the .test files, on a lighter run (four emotions, the
    # templates, a model-free analysis and one model experiment): what this test checks is
    # that a deployed module runs every kind of job from its release, not every analysis
    # (the .test run itself does that, in tests/test_steering.py). It saves ~4 min of CI.
    for path in (ROOT / ".test" / "config").iterdir():
        shutil.copy2(path, dest / "config" / path.name)
    (dest / "config" / "config.yaml").write_text(yaml.safe_dump(DEPLOYED_CONFIG))

    def snakemake(*args: str, timeout: int) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [python, "-m", "snakemake", *args],
            cwd=dest,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-6000:]
        return proc

    run = snakemake("--cores", "2", timeout=2400)
    snakemake("--report", "report.zip", timeout=600)
    return {"dest": dest, "repo": repo, "run": run}


def test_snakedeploy_writes_a_github_module_at_the_tag(deployment):
    snakefile = (deployment["dest"] / "workflow" / "Snakefile").read_text()
    assert f'github("{OWNER_REPO}", path="workflow/Snakefile", tag="{TAG}")' in snakefile
    assert "use rule * from emotion_vectors" in snakefile
    # snakedeploy copied the shipped config and profiles beside it.
    assert (deployment["dest"] / "config" / "models.yaml").exists()
    assert (deployment["dest"] / "profiles" / "default" / "config.yaml").exists()


def test_the_deployment_runs_its_own_config_end_to_end(deployment):
    results = deployment["dest"] / "results"
    layout = Layout(results)
    summary = json.loads(Path(layout.summary(MODEL)).read_text())
    assert set(summary["corpora"]) == {"templates"}
    emotions, _ = _vector_emotions(layout, "templates")
    assert sorted(emotions) == sorted(DEPLOYED_CONFIG["emotions"])
    meta = json.loads(Path(layout.vector_meta(MODEL)).read_text())
    assert meta["layers"] == DEPLOYED_CONFIG["layers"]
    # A model-free analysis and a model experiment ran, with their headlines.
    assert "valence_r" in summary and "lens_hit_rate" in summary and "bootstrap" in summary
    assert Path(layout.comparison("summary.html")).exists()


def _vector_emotions(layout, corpus):
    from emotion_vectors.store import read_vector_matrix

    return read_vector_matrix(layout.vectors(MODEL, corpus), 20)


def test_jobs_ran_the_release_extracted_from_git(deployment):
    """Every job log names the code that ran: the tagged release, extracted from the git
    repository into the deployment's .snakemake/, not this clone."""
    commit = _git("rev-parse", f"{TAG}^{{commit}}", cwd=deployment["repo"]).strip()
    extracted = deployment["dest"] / ".snakemake" / "emotion-vectors" / "source" / commit
    package = extracted / "emotion_vectors"
    assert (package / "__init__.py").exists()
    logs_folder = Path(Layout(deployment["dest"] / "results").log("any")).parent
    logs = list(logs_folder.rglob("*.log"))
    assert len(logs) > 10
    for log in logs:
        head = log.read_text().splitlines()[0]
        assert head.endswith(f"emotion-vectors {__version__} from {package.resolve()}"), log


def test_the_report_holds_the_results(deployment):
    with zipfile.ZipFile(deployment["dest"] / "report.zip") as report:
        names = report.namelist()
    assert any(n.endswith("report.html") for n in names)
    assert sum(n.endswith(".png") for n in names) >= 5


def test_a_deployment_from_a_local_folder_plans_once_its_path_is_absolute(tmp_path):
    """snakedeploy's local provider writes the module path relative to the deployment
    (README, "Deploy as a Snakemake module"); with the absolute path the README gives, the
    module is read from the folder and plans the whole study."""
    source = _working_tree(tmp_path / "emotion-vectors")
    dest = tmp_path / "analysis"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    snakedeploy = Path(sys.executable).parent / "snakedeploy"
    subprocess.run(
        [snakedeploy, "deploy-workflow", str(source), dest, "--branch", "main"],
        check=True,
        capture_output=True,
    )
    snakefile = dest / "workflow" / "Snakefile"
    text = snakefile.read_text()
    assert '"workflow/Snakefile"' in text  # relative: what snakedeploy 0.17.1 writes
    snakefile.write_text(text.replace('"workflow/Snakefile"', f'"{source}/workflow/Snakefile"'))
    for path in (ROOT / ".test" / "config").iterdir():
        shutil.copy2(path, dest / "config" / path.name)
    plan = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "2"],
        cwd=dest,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert plan.returncode == 0, plan.stderr[-4000:]
    assert "story_passages" in plan.stdout and "model_analyses" in plan.stdout


@pytest.mark.parametrize("ref", ["branch", "commit"])
def test_a_branch_or_commit_deployment_extracts_its_tree_and_plans_the_study(github, ref):
    """Until a release is tagged the README deploys a branch or pins a commit: Snakemake
    reads the module at that ref, and the workflow extracts that tree and imports its
    package at parse time, in a Python without the package."""
    commit = _git("rev-parse", "HEAD", cwd=github["repo"]).strip()
    branch = _git("branch", "--show-current", cwd=github["repo"]).strip()
    value = branch if ref == "branch" else commit
    dest = _deploy(github, f"by-{ref}", f"--{ref}", value)
    snakefile = (dest / "workflow" / "Snakefile").read_text()
    assert f'github("{OWNER_REPO}", path="workflow/Snakefile", {ref}="{value}")' in snakefile
    for path in (ROOT / ".test" / "config").iterdir():
        shutil.copy2(path, dest / "config" / path.name)
    plan = subprocess.run(
        [github["python"], "-m", "snakemake", "-n", "--cores", "2"],
        cwd=dest,
        env=github["env"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert plan.returncode == 0, plan.stderr[-4000:]
    assert "story_passages" in plan.stdout and "model_analyses" in plan.stdout
    extracted = dest / ".snakemake" / "emotion-vectors" / "source" / commit
    assert (extracted / "emotion_vectors" / "__init__.py").exists()
