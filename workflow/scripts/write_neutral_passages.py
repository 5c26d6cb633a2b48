from emotion_vectors.jobs import workflow_job
from emotion_vectors.jobs.corpus import write_neutral_passages

with workflow_job(snakemake):
    write_neutral_passages(
        snakemake.input.neutral, snakemake.output[0], snakemake.input.get("dialogues")
    )
