from emotion_vectors.jobs import logging_to
from emotion_vectors.jobs.extraction import residual_norms

with logging_to(snakemake.log[0]):
    residual_norms(
        model=snakemake.params.model,
        pooling=snakemake.params.pooling,
        neutral_file=snakemake.input.neutral,
        output=snakemake.output[0],
        threads=snakemake.threads,
    )
