from emotion_vectors.jobs import workflow_job
from emotion_vectors.jobs.export import export_layer

with workflow_job(snakemake):
    export_layer(
        {**snakemake.wildcards, "source": snakemake.params.source},
        dict(snakemake.input.items()),
        int(snakemake.wildcards.layer),
        dict(zip(snakemake.params.emotions, snakemake.output, strict=True)),
    )
