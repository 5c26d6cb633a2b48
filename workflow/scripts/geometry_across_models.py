from emotion_vectors.jobs import workflow_job
from emotion_vectors.jobs.geometry import geometry_across_models
from emotion_vectors.render.geometry import plot_geometry_across_models

with workflow_job(snakemake):
    models = snakemake.params.models
    geometry_across_models(
        layers=snakemake.params.layers,
        vector_files=dict(zip(models, snakemake.input.vectors, strict=True)),
        word_files=dict(zip(models, snakemake.input.words, strict=True)),
        settings=snakemake.params.settings,
        outputs={"csv": snakemake.output.csv, "json": snakemake.output.json},
    )
    plot_geometry_across_models(
        snakemake.output.csv, snakemake.params.settings["permutations"], snakemake.output.png
    )
