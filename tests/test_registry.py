"""The registry of analyses (workflow/analyses.yaml) and the results layout that names
their files: every entry is complete, and nothing outside the layout spells a path."""

from __future__ import annotations

import re

import pytest

from emotion_vectors import registry
from emotion_vectors.config import ConfigError
from emotion_vectors.jobs import analysis_function
from emotion_vectors.layout import Layout
from emotion_vectors.run_config import load_run_config

from .conftest import ROOT

ANALYSES = registry.analyses()


@pytest.mark.parametrize("analysis", ANALYSES, ids=lambda a: a.name)
def test_every_registered_analysis_is_complete(analysis):
    if analysis.section:
        assert (ROOT / "workflow" / "schemas" / f"{analysis.section}.schema.yaml").exists()
    for key, out in analysis.outputs.items():
        if out.caption:
            assert (ROOT / "workflow" / "report" / f"{out.caption}.rst").exists(), key
    if analysis.experiment:
        assert callable(analysis_function(analysis, "run"))
    if analysis.headline:
        assert callable(analysis_function(analysis, "headline")) and "json" in analysis.outputs
    if not analysis.experiment:
        # A light analysis has its rules; their file is named after it or its folder.
        rules = [ROOT / "workflow" / "rules" / f"{n}.smk" for n in (analysis.name, "export")]
        assert any(p.exists() for p in rules)


def test_model_experiments_run_in_registry_order():
    names = [a.name for a in registry.model_experiments()]
    # The steering controls reuse the steering session, so they come after steering.
    assert names.index("steering") < names.index("steering_controls")


def test_selecting_analyses_brings_what_they_build_on_in_registry_order():
    names = [a.name for a in ANALYSES]
    assert registry.select("all", "c.yaml") == names
    assert registry.select(["steering_controls", "geometry"], "c.yaml") == [
        "geometry",
        "steering",
        "steering_controls",
    ]
    assert [a.name for a in registry.model_experiments(["geometry", "lens"])] == ["lens"]
    with pytest.raises(ConfigError, match=r"c.yaml: analyses\[0\]: unknown analysis 'pca'"):
        registry.select(["pca"], "c.yaml")
    run = load_run_config({"analyses": ["steering_controls"], "emotions": ["calm", "sad"]})
    assert run.analyses == ["steering", "steering_controls"]
    assert load_run_config({"emotions": ["calm"]}).analyses == names


def test_every_config_section_comes_from_the_registry(tmp_path):
    run = load_run_config({})
    for section in registry.config_sections():
        assert section in run.sections
    with pytest.raises(ConfigError, match=r"steering_controls: Additional properties"):
        load_run_config({"steering_controls": {"random_direction": 30}})


def test_layout_places_outputs_by_scope():
    layout = Layout("r")
    assert layout.output("lens", "json", "m", "stories") == "r/m/stories/lens/lens.json"
    assert layout.output("generalisation", "json", "m", "stories") == (
        "r/m/generalisation/generalisation.json"
    )
    assert layout.output("export", "manifest", "m") == "r/m/templates/llamacpp/export.json"
    assert layout.control_vector("m", "at ease", layer=20) == (
        "r/m/templates/llamacpp/layer-20/at_ease.gguf"
    )
    # Wildcards pass through unchanged, so rules can use the same functions.
    assert layout.vectors("{model}", "{corpus}") == "r/{model}/{corpus}/vectors/vectors.parquet"


# Result file names that only the layout and the registry may spell.
RESULT_NAMES = re.compile(
    r"""["'/](residual_norms\.json|extraction\.json|neutral_activations\.parquet|"""
    r"""vectors\.parquet|summary\.json|scenario_activations\.parquet|[a-z_]+\.log)["']"""
)


@pytest.mark.parametrize(
    "folder", ["emotion_vectors", "workflow/rules", "workflow/scripts", "bench", "tests"]
)
def test_no_results_path_is_built_outside_the_layout(folder):
    """Renaming an output is a change in layout.py or workflow/analyses.yaml alone."""
    offenders = []
    for path in sorted((ROOT / folder).rglob("*.py")) + sorted((ROOT / folder).rglob("*.smk")):
        if path.name in ("layout.py", "test_registry.py"):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if RESULT_NAMES.search(line) or re.search(r"""["']results["']\s*/""", line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def _readme_section(heading: str) -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index(heading)
    end = readme.find("\n## ", start + len(heading))
    return readme[start : end if end > 0 else None]


def test_the_results_layout_names_every_analysis_folder():
    """README, "Results layout": a line per analysis folder, where its scope puts it."""
    section = _readme_section("## Results layout")
    for analysis in registry.analyses():
        where = "<model>/templates/" if analysis.scope == "corpus" else "<model>/"
        assert f"{where}{analysis.directory}/" in section, analysis.name


def test_the_module_map_names_every_module():
    """README, "Module map": every module of the package has its row (jobs/ and render/ as
    one row each)."""
    section = _readme_section("### Module map")
    for path in sorted((ROOT / "emotion_vectors").glob("*.py")):
        if path.stem != "__init__":
            assert f"`{path.stem}`" in section, f"the module map does not name {path.stem}"
    assert "`jobs/<stage>`" in section and "`render/<analysis>`" in section


def test_config_readme_names_every_analysis_and_section():
    """config/README.md lists the registered analyses (config `analyses`) and describes
    every config section an analysis reads."""
    text = (ROOT / "config" / "README.md").read_text()
    listed = text[text.index("- `analyses`:") :].split("\n- ", 1)[0]
    for analysis in registry.analyses():
        assert re.search(rf"\b{analysis.name}\b", listed), analysis.name
    for section in registry.config_sections():
        assert f"`{section}`" in text, section


def test_every_light_analysis_brings_its_rule_file(tmp_path, monkeypatch):
    """workflow/Snakefile includes registry.rule_files(); a registered light analysis
    without workflow/rules/<name>.smk stops the parse with one line naming both."""
    files = registry.rule_files()
    light = [a.name for a in registry.analyses() if not a.experiment]
    assert files == [f"rules/{name}.smk" for name in light]
    snakefile = (ROOT / "workflow" / "Snakefile").read_text()
    assert "for light_rules in LIGHT_RULE_FILES:" in snakefile
    assert not re.search(rf'include: "rules/({"|".join(light)})\.smk"', snakefile)
    registered = (*registry.analyses(), registry.Analysis("toy", "Toy", {}))
    monkeypatch.setattr(registry, "_registry", lambda: registered)
    with pytest.raises(ConfigError, match=r"workflow/analyses\.yaml: toy: .*rules/toy\.smk"):
        registry.rule_files()
