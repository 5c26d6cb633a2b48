from emotion_vectors.jobs import workflow_job
from emotion_vectors.jobs.export import export_control_vectors

with workflow_job(snakemake):
    emotions = snakemake.params.emotions
    export_control_vectors(
        about={**snakemake.wildcards, "source": snakemake.params.source},
        inputs=dict(snakemake.input.items()),
        analysis_layer=snakemake.params.analysis_layer,
        outputs=dict(zip(emotions, snakemake.output.all_layers, strict=True)),
        layer_outputs=dict(zip(emotions, snakemake.params.layer_outputs, strict=True)),
        manifest=snakemake.output.manifest,
        safetensors=snakemake.output.safetensors,
    )
