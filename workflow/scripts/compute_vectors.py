from emotion_vectors.jobs import compute_vectors, logging_to

with logging_to(snakemake.log[0]):
    compute_vectors(
        model=snakemake.params.model,
        analysis_layer=snakemake.params.analysis_layer,
        layers=snakemake.params.layers,
        variance=snakemake.params.variance,
        activation_files=list(snakemake.input.activations),
        neutral_file=snakemake.input.neutral,
        outputs=dict(zip(snakemake.params.layers, snakemake.output.vectors, strict=True)),
        meta_output=snakemake.output.meta,
    )
