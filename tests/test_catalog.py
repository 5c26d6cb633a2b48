"""What the Snakemake workflow catalog reads and checks, the release's version, the per-rule
software environments, and the --configfile check. Fast: no model, no workflow run (the
.test config runs in tests/test_steering.py and, deployed as a module, in test_deploy.py)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
import yaml

from emotion_vectors import __version__
from emotion_vectors.config import check_configfiles, configfile_arguments

from .conftest import ROOT
from .rule_envs import ENVCHECK_DIR, env_packages, refused_imports_table, rule_environments

# What a job of a rule without torch must not find, and what Snakemake's own environment
# (where the Snakefile is parsed under --sdm conda) does not have.
HEAVY = "numpy,pandas,pyarrow,torch,transformers,sklearn,scipy,matplotlib,gguf,safetensors"


def test_the_catalog_file_says_how_to_use_the_workflow():
    settings = yaml.safe_load((ROOT / ".snakemake-workflow-catalog.yml").read_text())
    usage = settings["usage"]
    assert set(usage) == {"mandatory-flags", "software-stack-deployment", "report"}
    assert usage["report"] is True
    assert isinstance(usage["mandatory-flags"]["desc"], str)
    assert isinstance(usage["mandatory-flags"]["flags"], str | list)
    stack = usage["software-stack-deployment"]
    assert set(stack) <= {"conda", "apptainer", "apptainer+conda"}
    assert all(isinstance(v, bool) for v in stack.values())
    # Declared only once `--sdm conda` has run somewhere; it has not (README, "Software
    # environments"), and the README must say so as long as the catalog says false.
    readme = (ROOT / "README.md").read_text()
    if not stack["conda"]:
        assert "`--sdm conda` has never been run" in readme


def test_the_standardized_layout():
    """workflow/Snakefile is the main definition (snakedeploy deploys it); the top-level
    Snakefile only includes it; rule modules end in .smk."""
    assert (ROOT / "workflow" / "Snakefile").exists()
    top = (ROOT / "Snakefile").read_text()
    assert 'include: "workflow/Snakefile"' in top and "rule default:" in top
    assert list((ROOT / "workflow" / "rules").glob("*.smk"))
    assert re.search(
        r"snakemake.*workflow|workflow.*snakemake", (ROOT / "README.md").read_text(), re.I | re.S
    )


def test_config_readme_describes_every_config_file():
    readme = (ROOT / "config" / "README.md").read_text()
    config = ROOT / "config"
    for path in sorted(config.rglob("*")):
        rel = path.relative_to(config)
        if path.is_dir() or rel.name == "README.md":
            continue
        # The trace texts are examples in a folder the README describes as a whole.
        named = "traces/" if rel.parts[0] == "traces" else rel.as_posix()
        assert f"`{named}`" in readme, f"config/README.md does not describe {rel}"


def test_the_version_is_written_once_and_the_changelog_has_it():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)
    changelog = (ROOT / "CHANGELOG.md").read_text()
    releases = re.findall(r"^## (\d+\.\d+\.\d+)", changelog, re.M)
    assert releases and releases[0] == __version__


def test_the_licence_and_the_citation_agree_with_the_package():
    """LICENSE is the licence pyproject.toml declares (snakedeploy copies it into a
    deployment), and CITATION.cff cites this version under it (its schema was checked with
    cffconvert --validate when it was written)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0" and citation["type"] == "software"
    assert citation["version"] == __version__ and citation["license"] == project["license"]
    assert citation["authors"] and all(
        "name" in a or "family-names" in a for a in citation["authors"]
    )


def test_every_rule_with_a_script_has_an_environment_of_its_own():
    rules = rule_environments()
    envs = sorted((ROOT / "workflow" / "envs").glob("*.yaml"))
    assert len(envs) >= 2
    used = set()
    for name, rule in rules.items():
        if rule["script"]:
            assert rule["env"], f"rule {name} has no conda: environment"
            assert Path(rule["env"]).parent == ROOT / "workflow" / "envs", name
            used.add(Path(rule["env"]))
    assert used == set(envs), "an environment in workflow/envs/ is used by no rule"
    # The rules that load a model get torch; the others do not need it.
    for name in ("extract_activations", "model_analyses", "trace_texts", "story_passages"):
        assert "torch" in env_packages(rules[name]["env"]), name
    for name in ("compute_vectors", "geometry_tables", "export_control_vectors", "summary"):
        assert "torch" not in env_packages(rules[name]["env"]), name
    # And the README says which rules need which environment.
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Software environments") :]
    for name, rule in rules.items():
        if rule["script"]:
            assert f"`{name}`" in section, f"README does not place rule {name}"


def test_the_environment_check_refuses_what_a_rule_lacks(tmp_path):
    """The mechanism tests/test_steering.py runs the .test workflow under: a job of a rule
    without torch cannot import it; the same job can import numpy."""
    table = refused_imports_table(tmp_path / "refused.json")
    env = {"PYTHONPATH": str(ENVCHECK_DIR), "EMOTION_VECTORS_ENV_CHECK": str(table)}
    script = tmp_path / "tmpab12cd.compute_vectors.py"
    for module, ok in (("numpy", True), ("torch", False), ("transformers.models", False)):
        script.write_text(f"import {module}\n")
        proc = subprocess.run([sys.executable, script], env=env, capture_output=True, text=True)
        assert (proc.returncode == 0) == ok, (module, proc.stderr)
        if not ok:
            assert "not in the software environment of the rule" in proc.stderr
    script = tmp_path / "tmpab12cd.extract_activations.py"
    script.write_text("import torch\n")
    assert subprocess.run([sys.executable, script], env=env).returncode == 0


def test_the_snakefile_parses_in_snakemakes_own_environment(tmp_path):
    """Under --sdm conda the Snakefile is parsed where only Snakemake is installed: no numpy,
    pyarrow or torch at parse time (they are refused here, and the dry run still plans)."""
    env = {"PYTHONPATH": str(ENVCHECK_DIR), "EMOTION_VECTORS_REFUSE": HEAVY}
    cmd = [sys.executable, "-m", "snakemake", "-n", "--cores", "1"]
    cmd += ["--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "extract_activations" in proc.stdout
    # The refusal is real: the same environment cannot import numpy.
    probe = subprocess.run([sys.executable, "-c", "import numpy"], env=env)
    assert probe.returncode != 0


def test_configfile_arguments_are_found_in_a_snakemake_command_line():
    args = ["-n", "--configfile", "a.yaml", "b.yaml", "--cores", "2", "--configfile=c.yaml"]
    assert configfile_arguments(args) == ["a.yaml", "b.yaml", "c.yaml"]
    assert configfile_arguments(["--config", "x=1", "all"]) == []


def test_a_malformed_configfile_is_named(tmp_path):
    """Snakemake reads --configfile before the workflow and does not name the file;
    ./bootstrap.sh run checks the files first and names file, line and problem."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("emotions: [happy\n  layers: 3\n")
    message = check_configfiles(["--configfile", str(bad)])
    assert message.startswith(f"emotion-vectors: configuration error: {bad}: malformed YAML")
    assert "line 2" in message
    assert check_configfiles(["--configfile", str(tmp_path / "none.yaml")]).endswith(
        "file not found"
    )
    listed = tmp_path / "list.yaml"
    listed.write_text("- happy\n")
    assert "must be a mapping" in check_configfiles(["--configfile", str(listed)])
    good = tmp_path / "good.yaml"
    good.write_text("emotions: [happy, sad]\n")
    assert check_configfiles(["--configfile", str(good)]) is None

    run = subprocess.run(
        ["bash", str(ROOT / "bootstrap.sh"), "run", "-n", "--configfile", str(bad)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode != 0
    assert f"{bad}: malformed YAML at line 2" in run.stderr
    assert "Snakemake version" not in run.stdout + run.stderr  # snakemake never started
    # Plain snakemake: Snakemake's own message, without the file's name (README says so).
    cmd = [sys.executable, "-m", "snakemake", "-n", "--snakefile", str(ROOT / "Snakefile")]
    plain = subprocess.run(
        [*cmd, "--directory", str(tmp_path), "--configfile", str(bad)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    said = plain.stdout + plain.stderr
    assert plain.returncode != 0 and "not valid JSON or YAML" in said and str(bad) not in said


@pytest.mark.parametrize("env_file", sorted((ROOT / "workflow" / "envs").glob("*.yaml")))
def test_environment_files_pin_what_pyproject_pins(env_file):
    """The conda environments ask for the same versions as the pip install."""
    pins = {}
    for spec in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        name, bound = re.match(r"([A-Za-z0-9_.-]+)(.*)", spec).groups()
        pins[name.lower()] = bound.strip()
    deps = yaml.safe_load(env_file.read_text())["dependencies"]
    listed = []
    for dep in deps:
        listed += dep["pip"] if isinstance(dep, dict) else [dep]
    checked = 0
    for spec in listed:
        name, bound = re.match(r"([A-Za-z0-9_.-]+)(.*)", spec).groups()
        name = {"pytorch": "torch"}.get(name.lower(), name.lower())
        if name in pins:
            assert bound.split("#")[0].strip() == pins[name], (env_file.name, name)
            checked += 1
    assert checked >= 8


def test_config_errors_name_the_file_that_holds_the_key(tmp_path):
    """Snakemake merges the default config, every --configfile and --config: the error
    names the source whose value is wrong, not all of them. Each file is read strictly: a
    key written twice, or a YAML alias bomb (9 levels of 9 aliases, a billion strings once
    expanded), is one line that names the file, within seconds."""
    cmd = [sys.executable, "-m", "snakemake", "-n", "--snakefile", str(ROOT / "Snakefile"),
           "--directory", str(tmp_path)]  # fmt: skip

    def said(*args: str) -> list[str]:
        proc = subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=120)
        assert proc.returncode != 0
        lines = (proc.stdout + proc.stderr).splitlines()
        assert not any(line.startswith("Traceback") for line in lines)
        return [line for line in lines if "configuration error" in line]

    zero, four = tmp_path / "zero.yaml", tmp_path / "four.yaml"
    zero.write_text("steering:\n  strength: 0\n")
    four.write_text("emotions: [happy, sad, calm, afraid]\n")
    assert said("--configfile", str(zero), str(four)) == [
        f"emotion-vectors: configuration error: {zero}: steering.strength: "
        "0 is less than or equal to the minimum of 0"
    ]
    assert said("--configfile", str(four), "--config", "emotions=[happy,happy]") == [
        "emotion-vectors: configuration error: --config: emotions[1]: duplicate emotion 'happy'"
    ]
    nan = tmp_path / "nan.yaml"
    nan.write_text("steering:\n  strength: .nan\n")
    assert said("--configfile", str(four), str(nan)) == [
        f"emotion-vectors: configuration error: {nan}: steering.strength: "
        "nan is not a finite number"
    ]
    twice = tmp_path / "twice.yaml"
    twice.write_text("emotions: [happy, sad]\nemotions: [calm]\n")
    assert said("--configfile", str(twice)) == [
        f"emotion-vectors: configuration error: {twice}: malformed YAML at line 2, column 1: "
        "key 'emotions' is written twice (first on line 1)"
    ]
    assert "written twice" in check_configfiles(["--configfile", str(twice)])
    bomb = tmp_path / "bomb.yaml"
    levels = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]")
    bomb.write_text("\n".join([*levels, "emotions: *i"]) + "\n")
    assert said("--configfile", str(bomb)) == [
        f"emotion-vectors: configuration error: {bomb}: malformed YAML at line 1, column 4: "
        "YAML anchors are not accepted in config files; write the value out"
    ]


def test_bootstrap_help_answers_before_installing_anything(tmp_path):
    """`./bootstrap.sh --help` (or help, -h) prints the commands and creates no .venv/; an
    unknown command prints them on stderr with status 2, also installing nothing."""
    script = tmp_path / "bootstrap.sh"
    script.write_text((ROOT / "bootstrap.sh").read_text())
    for flag in ("--help", "help", "-h"):
        done = subprocess.run(["bash", str(script), flag], capture_output=True, text=True)
        assert done.returncode == 0 and "usage: ./bootstrap.sh COMMAND" in done.stdout
    wrong = subprocess.run(["bash", str(script), "nope"], capture_output=True, text=True)
    assert wrong.returncode == 2 and "usage: ./bootstrap.sh COMMAND" in wrong.stderr
    assert not (tmp_path / ".venv").exists()


def test_the_wheel_holds_every_module_and_the_command(tmp_path):
    """A plain `pip install .` (not editable) gets the whole package, jobs/ and render/
    included, py.typed, and the `emotion-vectors` command."""
    import shutil
    import zipfile

    # Built from a copy: setuptools leaves a build/ folder in the source tree.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "emotion_vectors", source / "emotion_vectors", ignore=skip)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         str(source), "-w", str(tmp_path)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("emotion_vectors-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in (ROOT / "emotion_vectors").rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            assert path.relative_to(ROOT).as_posix() in names, path
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry).decode()
    assert "emotion-vectors = emotion_vectors.cli:main" in text


def test_the_readmes_interop_commands_are_the_pins_bootstrap_installs():
    """The steering libraries install by the README's two commands, which bootstrap.sh runs
    (WITH_INTEROP=1, as CI does before tests/test_interop.py) with pyproject.toml's pins:
    the interop extra with dependencies, the two others without theirs."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extra = project["project"]["optional-dependencies"]["interop"]
    without = project["tool"]["emotion-vectors"]["interop-without-dependencies"]
    assert all("==" in pin for pin in extra + without)
    readme = (ROOT / "README.md").read_text()
    assert "pip install -e '.[interop]'" in readme
    assert f"pip install --no-deps {' '.join(without)}" in readme
    for pin in extra:
        assert pin.replace("==", " ") in readme, pin  # "nnsight 0.8.1" in the comment
    bootstrap = (ROOT / "bootstrap.sh").read_text()
    assert "pip install --quiet -e '.[interop]'" in bootstrap
    assert '["tool"]["emotion-vectors"]["interop-without-dependencies"]' in bootstrap
    assert "--no-deps --no-warn-conflicts -r .venv/interop-no-deps.txt" in bootstrap
    # Not one of them pins a numpy or transformers that the project would not allow.
    assert not any(pin.split("==")[0] in {"numpy", "transformers"} for pin in extra + without)
