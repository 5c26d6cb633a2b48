from emotion_vectors.jobs import workflow_job
from emotion_vectors.jobs.model_analyses import run_model_analyses

with workflow_job(snakemake):
    run_model_analyses(
        model=snakemake.params.model,
        corpus=snakemake.wildcards.corpus,
        analysis_layer=snakemake.params.analysis_layer,
        layers=snakemake.params.layers,
        vector_file=snakemake.input.vectors,
        norms_file=snakemake.input.norms,
        config=snakemake.params.config,
        experiments=snakemake.params.experiments,
        outputs=dict(snakemake.output.items()),
        caches=snakemake.params.caches,
        threads=snakemake.threads,
    )
