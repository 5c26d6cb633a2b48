from emotion_vectors.jobs import workflow_job
from emotion_vectors.jobs.extraction import extract_activations

with workflow_job(snakemake):
    extract_activations(
        model=snakemake.params.model,
        layers=snakemake.params.layers,
        pooling=snakemake.params.pooling,
        passage_files=list(snakemake.input.passages),
        neutral_file=snakemake.input.neutral,
        outputs=list(snakemake.output.activations),
        neutral_output=snakemake.output.neutral,
        words_output=snakemake.output.words,
        report=snakemake.output.report,
        cache=snakemake.params.cache,
        words_cache=snakemake.params.words_cache,
        threads=snakemake.threads,
    )
