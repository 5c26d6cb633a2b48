from emotion_vectors.jobs import workflow_job
from emotion_vectors.jobs.generalisation import scenario_activations

with workflow_job(snakemake):
    scenario_activations(
        model=snakemake.params.model,
        layers=snakemake.params.layers,
        pooling=snakemake.params.pooling,
        scenarios=snakemake.input.scenarios,
        neutral_file=snakemake.input.neutral,
        narrative_file=snakemake.input.get("neutral_narrative") or None,
        output=snakemake.output[0],
        threads=snakemake.threads,
        expository=snakemake.params.expository,
    )
