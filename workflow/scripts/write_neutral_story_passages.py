from emotion_vectors.jobs import logging_to
from emotion_vectors.stories import write_neutral_story_passages

with logging_to(snakemake.log[0]):
    write_neutral_story_passages(
        snakemake.input.neutral, snakemake.input.dialogues, snakemake.output[0]
    )
