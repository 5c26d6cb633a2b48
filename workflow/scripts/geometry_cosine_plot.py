from emotion_vectors.jobs import logging_to
from emotion_vectors.render.geometry import plot_cosine

with logging_to(snakemake.log[0]):
    plot_cosine(
        snakemake.input.cosine,
        model=snakemake.wildcards.model,
        layer=snakemake.params.layer,
        output=snakemake.output[0],
        subset=snakemake.params.subset,
    )
