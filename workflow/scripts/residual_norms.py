from emotion_vectors.jobs import workflow_job
from emotion_vectors.jobs.extraction import residual_norms

with workflow_job(snakemake):
    residual_norms(
        model=snakemake.params.model,
        pooling=snakemake.params.pooling,
        neutral_file=snakemake.input.neutral,
        output=snakemake.output[0],
        threads=snakemake.threads,
    )
