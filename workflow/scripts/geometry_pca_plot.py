from emotion_vectors.jobs import logging_to
from emotion_vectors.render.geometry import plot_pca

with logging_to(snakemake.log[0]):
    plot_pca(
        snakemake.input.pca,
        snakemake.input.summary,
        snakemake.input.correlations,
        snakemake.output[0],
    )
