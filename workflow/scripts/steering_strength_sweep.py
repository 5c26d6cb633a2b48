from emotion_vectors.jobs import logging_to
from emotion_vectors.steering import run_strength_sweep

with logging_to(snakemake.log[0]):
    run_strength_sweep(
        model=snakemake.params.model,
        layer=snakemake.params.layer,
        vector_file=snakemake.input.vectors,
        norms_file=snakemake.input.norms,
        settings=snakemake.params.settings,
        emotions=snakemake.params.settings["sweep_emotions"],
        output_table=snakemake.output.table,
        output_figure=snakemake.output.figure,
        threads=snakemake.threads,
    )
