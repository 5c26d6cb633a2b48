from emotion_vectors.generalisation import scenario_activations
from emotion_vectors.jobs import logging_to

with logging_to(snakemake.log[0]):
    scenario_activations(
        model=snakemake.params.model,
        layers=snakemake.params.layers,
        scenarios=snakemake.input.scenarios,
        output=snakemake.output[0],
        threads=snakemake.threads,
    )
