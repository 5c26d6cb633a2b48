from emotion_vectors.jobs import workflow_job
from emotion_vectors.render.geometry import plot_pca

with workflow_job(snakemake):
    plot_pca(
        snakemake.input.pca,
        snakemake.input.summary,
        snakemake.input.correlations,
        snakemake.output[0],
    )
