from emotion_vectors.jobs import logging_to
from emotion_vectors.steering import run_layer_sweep

with logging_to(snakemake.log[0]):
    run_layer_sweep(
        model=snakemake.params.model,
        layers=snakemake.params.layers,
        vector_files=list(snakemake.input.vectors),
        norms_file=snakemake.input.norms,
        settings=snakemake.params.settings,
        emotions=snakemake.params.emotions,
        analysis_layer=snakemake.params.analysis_layer,
        output_table=snakemake.output.table,
        output_figure=snakemake.output.figure,
        threads=snakemake.threads,
    )
