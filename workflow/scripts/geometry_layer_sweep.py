from emotion_vectors.jobs import logging_to
from emotion_vectors.jobs.geometry import geometry_layer_sweep

with logging_to(snakemake.log[0]):
    geometry_layer_sweep(
        vector_file=snakemake.input.vectors,
        layers=snakemake.params.layers,
        settings=snakemake.params.settings,
        arousal_csv=snakemake.params.settings["arousal_csv"],
        output=snakemake.output[0],
        glasgow_csv=snakemake.input.glasgow[0] if snakemake.input.glasgow else None,
        word_forms=snakemake.input.word_forms,
    )
