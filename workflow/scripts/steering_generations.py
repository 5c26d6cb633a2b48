from emotion_vectors.jobs import logging_to
from emotion_vectors.steering import run_generations

with logging_to(snakemake.log[0]):
    run_generations(
        model=snakemake.params.model,
        layer=snakemake.params.layer,
        vector_file=snakemake.input.vectors,
        norms_file=snakemake.input.norms,
        settings=snakemake.params.settings,
        emotions=snakemake.params.settings["generation_emotions"],
        output_table=snakemake.output.table,
        output_html=snakemake.output.html,
        threads=snakemake.threads,
    )
