from emotion_vectors.jobs import logging_to
from emotion_vectors.jobs.corpus import write_template_passages

with logging_to(snakemake.log[0]):
    write_template_passages(
        snakemake.input.templates, snakemake.params.emotions, list(snakemake.output)
    )
