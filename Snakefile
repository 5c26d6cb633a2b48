# emotion-vectors: emotion directions in the residual stream of open language models.
# Run `snakemake --cores 1`; configure in config/config.yaml and config/models.yaml.
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")


# The working directory's config/config.yaml if it has one (a deployed copy), else this
# repository's, so `snakemake --directory elsewhere` runs the shipped defaults.
DEFAULT_CONFIG = (
    "config/config.yaml"
    if Path("config/config.yaml").exists()
    else f"{workflow.basedir}/config/config.yaml"
)


configfile: DEFAULT_CONFIG


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/corpus.smk"
include: "workflow/rules/activations.smk"
include: "workflow/rules/vectors.smk"
include: "workflow/rules/geometry.smk"
include: "workflow/rules/lens.smk"
include: "workflow/rules/steering.smk"


rule all:
    default_target: True
    input:
        all_targets(),
