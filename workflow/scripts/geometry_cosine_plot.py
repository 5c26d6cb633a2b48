from emotion_vectors.jobs import workflow_job
from emotion_vectors.render.geometry import plot_cosine

with workflow_job(snakemake):
    plot_cosine(
        snakemake.input.cosine,
        model=snakemake.wildcards.model,
        layer=snakemake.params.layer,
        output=snakemake.output[0],
        subset=snakemake.params.subset,
    )
