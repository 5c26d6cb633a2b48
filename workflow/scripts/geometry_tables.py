from emotion_vectors.geometry import geometry_tables
from emotion_vectors.jobs import logging_to

with logging_to(snakemake.log[0]):
    geometry_tables(
        model=snakemake.wildcards.model,
        corpus=snakemake.wildcards.corpus,
        layer=snakemake.params.layer,
        vector_file=snakemake.input.vectors,
        settings=snakemake.params.settings,
        arousal_csv=snakemake.params.arousal_csv,
        outputs={
            key: getattr(snakemake.output, key)
            for key in ("summary", "pca", "correlations", "cosine", "sanity")
        },
    )
