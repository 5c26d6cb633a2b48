from emotion_vectors.jobs import workflow_job
from emotion_vectors.jobs.stories import write_story_passages
from emotion_vectors.stories import writer_settings

with workflow_job(snakemake):
    write_story_passages(
        writer=snakemake.params.writer,
        settings=writer_settings(
            {**snakemake.params.settings, "word_forms": snakemake.input.word_forms}
        ),
        emotions=snakemake.params.emotions,
        outputs=list(snakemake.output.stories),
        report=snakemake.output.report,
        cache=snakemake.params.cache,
        threads=snakemake.threads,
    )
