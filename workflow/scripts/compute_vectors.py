from emotion_vectors.jobs import logging_to
from emotion_vectors.jobs.vectors import compute_vectors

with logging_to(snakemake.log[0]):
    compute_vectors(
        model=snakemake.wildcards.model,
        analysis_layer=snakemake.params.analysis_layer,
        layers=snakemake.params.layers,
        variance=snakemake.params.variance,
        activation_files=list(snakemake.input.activations),
        neutral_file=snakemake.input.neutral,
        output=snakemake.output.vectors,
        meta_output=snakemake.output.meta,
    )
