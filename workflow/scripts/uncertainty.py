from emotion_vectors.jobs import logging_to
from emotion_vectors.jobs.uncertainty import uncertainty

with logging_to(snakemake.log[0]):
    uncertainty(
        model=snakemake.wildcards.model,
        corpus=snakemake.wildcards.corpus,
        layer=snakemake.params.layer,
        variance=snakemake.params.variance,
        activation_files=list(snakemake.input.activations),
        neutral_file=snakemake.input.neutral,
        scenario_file=snakemake.input.scenarios[0] if snakemake.input.scenarios else None,
        settings=snakemake.params.settings,
        outputs=dict(snakemake.output.items()),
    )
