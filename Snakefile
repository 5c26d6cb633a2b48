# emotion-vectors: emotion directions in the residual stream of open language models.
# Run `snakemake --cores 1`; configure in config/config.yaml and config/models.yaml.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


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
