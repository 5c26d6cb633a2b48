from emotion_vectors.jobs import logging_to
from emotion_vectors.jobs.export import export_layer

with logging_to(snakemake.log[0]):
    export_layer(
        {**snakemake.wildcards, "source": snakemake.params.source},
        dict(snakemake.input.items()),
        int(snakemake.wildcards.layer),
        dict(zip(snakemake.params.emotions, snakemake.output, strict=True)),
    )
