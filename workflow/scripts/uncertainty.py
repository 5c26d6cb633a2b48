from emotion_vectors.jobs import workflow_job
from emotion_vectors.jobs.uncertainty import uncertainty

with workflow_job(snakemake):
    uncertainty(
        model=snakemake.wildcards.model,
        corpus=snakemake.wildcards.corpus,
        layer=snakemake.params.layer,
        variance=snakemake.params.variance,
        activation_files=list(snakemake.input.activations),
        neutral_file=snakemake.input.neutral,
        scenario_file=snakemake.input.scenarios[0] if snakemake.input.scenarios else None,
        settings=snakemake.params.settings,
        outputs=dict(snakemake.output.items()),
    )
