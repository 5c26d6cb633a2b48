from emotion_vectors.analyses import run_model_analyses
from emotion_vectors.jobs import logging_to

with logging_to(snakemake.log[0]):
    run_model_analyses(
        model=snakemake.params.model,
        corpus=snakemake.wildcards.corpus,
        analysis_layer=snakemake.params.analysis_layer,
        vector_files={
            int(name.removeprefix("layer_")): path
            for name, path in snakemake.input.items()
            if name.startswith("layer_")
        },
        norms_file=snakemake.input.norms,
        lens_settings=snakemake.params.lens,
        steering_settings=snakemake.params.steering,
        cross_emotions=snakemake.params.cross,
        steering_layers=snakemake.params.steering_layers,
        outputs=dict(snakemake.output.items()),
        threads=snakemake.threads,
    )
