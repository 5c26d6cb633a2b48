from emotion_vectors.geometry import geometry_layer_sweep
from emotion_vectors.jobs import logging_to

with logging_to(snakemake.log[0]):
    geometry_layer_sweep(
        vector_files=dict(zip(snakemake.params.layers, snakemake.input.vectors, strict=True)),
        settings=snakemake.params.settings,
        arousal_csv=snakemake.params.arousal_csv,
        output=snakemake.output[0],
    )
