from emotion_vectors.analyses import run_residual_norms
from emotion_vectors.jobs import logging_to

with logging_to(snakemake.log[0]):
    run_residual_norms(
        model=snakemake.params.model,
        neutral_file=snakemake.input.neutral,
        output=snakemake.output[0],
        threads=snakemake.threads,
    )
