from emotion_vectors.jobs import logging_to
from emotion_vectors.steering import run_steering_effects

with logging_to(snakemake.log[0]):
    run_steering_effects(
        model=snakemake.params.model,
        corpus=snakemake.wildcards.corpus,
        layer=snakemake.params.layer,
        vector_file=snakemake.input.vectors,
        norms_file=snakemake.input.norms,
        settings=snakemake.params.settings,
        cross_emotions=snakemake.params.cross,
        outputs=dict(snakemake.output.items()),
        threads=snakemake.threads,
    )
