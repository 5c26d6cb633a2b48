from emotion_vectors.jobs import workflow_job
from emotion_vectors.render.geometry import plot_layer_sweep_comparison

with workflow_job(snakemake):
    plot_layer_sweep_comparison(
        sweeps=dict(zip(snakemake.params.models, snakemake.input.sweeps, strict=True)),
        num_layers=snakemake.params.num_layers,
        analysis_layers=snakemake.params.analysis_layers,
        corpus=snakemake.wildcards.corpus,
        output=snakemake.output[0],
    )
