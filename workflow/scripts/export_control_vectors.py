from emotion_vectors.export import export_control_vectors
from emotion_vectors.jobs import logging_to

with logging_to(snakemake.log[0]):
    emotions = snakemake.params.emotions
    export_control_vectors(
        model=snakemake.params.model,
        source=snakemake.params.source,
        corpus=snakemake.wildcards.corpus,
        vector_files=dict(zip(snakemake.params.layers, snakemake.input.vectors, strict=True)),
        norms_file=snakemake.input.norms,
        meta_file=snakemake.input.meta,
        analysis_layer=snakemake.params.analysis_layer,
        outputs=dict(zip(emotions, snakemake.output.all_layers, strict=True)),
        layer_outputs=dict(zip(emotions, snakemake.output.analysis_layer, strict=True)),
        manifest=snakemake.output.manifest,
    )
