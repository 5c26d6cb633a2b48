from emotion_vectors.jobs import logging_to
from emotion_vectors.jobs.corpus import write_neutral_passages

with logging_to(snakemake.log[0]):
    write_neutral_passages(
        snakemake.input.neutral, snakemake.output[0], snakemake.input.get("dialogues")
    )
