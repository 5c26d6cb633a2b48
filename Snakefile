# emotion-vectors: emotion directions in the residual stream of open language models.
# Run `snakemake --cores 1`; configure in config/config.yaml and config/models.yaml.
import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")

# The emotion_vectors package lives beside this file; importable even where it was not
# pip-installed (e.g. a conda environment built from environment.yml alone).
sys.path.insert(0, workflow.basedir)
from emotion_vectors.config import ConfigError, read_yaml

# The working directory's config/config.yaml if it has one (a deployed copy), else this
# repository's, so `snakemake --directory elsewhere` runs the shipped defaults.
DEFAULT_CONFIG = (
    "config/config.yaml"
    if Path("config/config.yaml").exists()
    else f"{workflow.basedir}/config/config.yaml"
)

try:
    # Snakemake's own YAML error does not name the file; check the file first.
    read_yaml(Path(DEFAULT_CONFIG))
except ConfigError as err:
    sys.exit(f"emotion-vectors: configuration error: {err}")


configfile: DEFAULT_CONFIG


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/corpus.smk"
include: "workflow/rules/activations.smk"
include: "workflow/rules/vectors.smk"
include: "workflow/rules/geometry.smk"
include: "workflow/rules/analyses.smk"
include: "workflow/rules/generalisation.smk"
include: "workflow/rules/uncertainty.smk"
include: "workflow/rules/export.smk"
include: "workflow/rules/traces.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(),


# `snakemake vectors`: the emotion vectors of every model, without the analyses.
rule vectors:
    input:
        vector_targets(),
