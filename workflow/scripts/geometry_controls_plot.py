from emotion_vectors.jobs import logging_to
from emotion_vectors.render.geometry import plot_valence_controls

with logging_to(snakemake.log[0]):
    plot_valence_controls(
        snakemake.input.summary,
        snakemake.input.valence_null,
        snakemake.output[0],
        probe_layers_csv=snakemake.input.probe_layers,
    )
