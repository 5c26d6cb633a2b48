from emotion_vectors.jobs import workflow_job
from emotion_vectors.render.geometry import plot_valence_controls

with workflow_job(snakemake):
    plot_valence_controls(
        snakemake.input.summary,
        snakemake.input.valence_null,
        snakemake.output[0],
        probe_layers_csv=snakemake.input.probe_layers,
    )
