from emotion_vectors.jobs import logging_to
from emotion_vectors.jobs.stories import write_story_passages
from emotion_vectors.stories import writer_settings

with logging_to(snakemake.log[0]):
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
