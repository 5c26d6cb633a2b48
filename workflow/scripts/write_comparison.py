from emotion_vectors.jobs import logging_to
from emotion_vectors.jobs.report import write_comparison

with logging_to(snakemake.log[0]):
    write_comparison(list(snakemake.input), snakemake.output.csv, snakemake.output.html)
