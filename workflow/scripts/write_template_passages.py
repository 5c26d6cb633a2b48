from emotion_vectors.jobs import workflow_job
from emotion_vectors.jobs.corpus import write_template_passages

with workflow_job(snakemake):
    write_template_passages(
        snakemake.input.templates, snakemake.params.emotions, list(snakemake.output)
    )
