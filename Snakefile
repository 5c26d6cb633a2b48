# emotion-vectors: emotion directions in the residual stream of open language models.
# `snakemake --cores 1` here runs the workflow defined in workflow/Snakefile (the layout of
# the Snakemake workflow catalog, and the file `snakedeploy deploy-workflow` deploys).


include: "workflow/Snakefile"


# An include leaves the including file's default target as it was: name it here.
rule default:
    default_target: True
    input:
        all_targets,
