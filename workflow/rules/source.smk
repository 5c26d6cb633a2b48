# Where the emotion_vectors package (and the files it reads: schemas, the analysis registry,
# the shipped config) comes from. Included first by workflow/Snakefile.
#
# Run from a clone, the repository root above workflow/ holds them. Run as a module (the
# Snakefile that `snakedeploy deploy-workflow` writes: `github("owner/repo", path=
# "workflow/Snakefile", tag=...)`), Snakemake reads this workflow's files one by one from
# the git repository at that tag, and Python cannot import a package from there. The tree
# at that tag is then extracted once into .snakemake/emotion-vectors/source/<commit>/ in the
# working directory (on the shared file system for cluster jobs), so the package the jobs
# import is exactly the release the deployment names, not whatever is installed.
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path


class SourceError(Exception):
    pass


def _git_source(source):
    """(git directory, ref) of a module source Snakemake reads from git, else None: a
    github()/gitlab() source, of which Snakemake keeps a bare clone. (A git+file:// module
    is not one: Snakemake 9.27 itself fails on its rules' scripts with a TypeError in
    sourcecache.join, so the README does not offer it.)
    """
    hosted = getattr(source, "hosted_repo", None)
    if hosted is not None:
        return str(hosted.repo_clone), source.ref
    return None


def _extract_tree(git_dir, ref, into):
    """The tree of `ref` extracted into `into`/<commit>/ once; returns that folder."""
    commit = subprocess.run(
        ["git", "--git-dir", git_dir, "rev-parse", f"{ref}^{{commit}}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    dest = Path(into, commit)
    if (dest / "workflow" / "Snakefile").exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Extract beside it and rename: a parallel parse (a cluster job) never sees half a tree.
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{commit}."))
    archive = subprocess.run(
        ["git", "--git-dir", git_dir, "archive", "--format=tar", commit],
        check=True,
        capture_output=True,
    ).stdout
    # The "data" filter (Python >= 3.10.12) refuses links and paths out of the folder.
    safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tmp, **safe)
    try:
        tmp.rename(dest)
    except OSError:  # another process got there first
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def package_root(source):
    """The folder holding emotion_vectors/ for this workflow source (a SourceFile of the
    repository root)."""
    if source.is_local:
        return Path(source.get_path_or_uri(secret_free=True)).resolve()
    git = _git_source(source)
    if git is None:
        raise SourceError(
            f"this workflow runs from {source.get_path_or_uri(secret_free=True)}, which is "
            "neither a local folder nor a github()/gitlab() repository; deploy it with "
            "snakedeploy from a git host or a local folder, or run it from a clone"
        )
    return _extract_tree(*git, into=Path(".snakemake/emotion-vectors/source").resolve())


try:
    PACKAGE_ROOT = str(package_root(workflow.current_basedir.join("../..")))
except (SourceError, subprocess.CalledProcessError, OSError) as err:
    sys.exit(f"emotion-vectors: cannot locate the workflow's package: {err}")

# Importable here (parse time) and in every job: jobs inherit the environment.
sys.path.insert(0, PACKAGE_ROOT)
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        p for p in (PACKAGE_ROOT, os.environ.get("PYTHONPATH")) if p
    )
)
