from emotion_vectors.jobs import workflow_job
from emotion_vectors.jobs.vectors import compute_vectors

with workflow_job(snakemake):
    compute_vectors(
        model=snakemake.wildcards.model,
        analysis_layer=snakemake.params.analysis_layer,
        layers=snakemake.params.layers,
        variance=snakemake.params.variance,
        activation_files=list(snakemake.input.activations),
        neutral_file=snakemake.input.neutral,
        output=snakemake.output.vectors,
        meta_output=snakemake.output.meta,
    )
