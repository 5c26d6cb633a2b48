from emotion_vectors.jobs import workflow_job
from emotion_vectors.jobs.story_checks import judge_stories

with workflow_job(snakemake):
    judge_stories(
        model=snakemake.params.model,
        story_files=list(snakemake.input.stories),
        emotions=snakemake.params.emotions,
        output=snakemake.output[0],
        threads=snakemake.threads,
        scenario_file=snakemake.input.get("scenarios") or None,
    )
