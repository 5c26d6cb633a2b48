from emotion_vectors.jobs import logging_to
from emotion_vectors.lens import run_lens

with logging_to(snakemake.log[0]):
    run_lens(
        model=snakemake.params.model,
        corpus=snakemake.wildcards.corpus,
        layer=snakemake.params.layer,
        layers=snakemake.params.layers,
        vector_files=list(snakemake.input.vectors),
        top_k=snakemake.params.settings["top_k"],
        figure_emotions=snakemake.params.settings["figure_emotions"],
        outputs=dict(snakemake.output.items()),
        threads=snakemake.threads,
    )
