from emotion_vectors.jobs import extract_activations, logging_to

with logging_to(snakemake.log[0]):
    extract_activations(
        model=snakemake.params.model,
        layers=snakemake.params.layers,
        extraction=snakemake.params.extraction,
        passage_files=list(snakemake.input.passages),
        neutral_file=snakemake.input.neutral,
        outputs=list(snakemake.output.activations),
        neutral_output=snakemake.output.neutral,
        report=snakemake.output.report,
        cache=snakemake.params.cache,
        threads=snakemake.threads,
    )
