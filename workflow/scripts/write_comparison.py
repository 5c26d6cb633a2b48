from emotion_vectors.jobs import workflow_job
from emotion_vectors.jobs.report import write_comparison

with workflow_job(snakemake):
    write_comparison(list(snakemake.input), snakemake.output.csv, snakemake.output.html)
