from emotion_vectors.jobs import logging_to
from emotion_vectors.jobs.story_checks import judge_stories

with logging_to(snakemake.log[0]):
    judge_stories(
        model=snakemake.params.model,
        story_files=list(snakemake.input.stories),
        emotions=snakemake.params.emotions,
        output=snakemake.output[0],
        threads=snakemake.threads,
        scenario_file=snakemake.input.get("scenarios") or None,
    )
