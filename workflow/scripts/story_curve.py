from emotion_vectors.jobs import workflow_job
from emotion_vectors.jobs.story_curve import story_curve

with workflow_job(snakemake):
    story_curve(
        model=snakemake.params.model,
        story_files=list(snakemake.input.stories),
        neutral_file=snakemake.input.neutral,
        scenario_file=snakemake.input.scenarios,
        template_files=list(snakemake.input.get("templates") or []),
        template_neutral=snakemake.input.get("templates_neutral") or None,
        layer=snakemake.params.layer,
        pooling=snakemake.params.pooling,
        settings=snakemake.params.settings,
        outputs={
            "json": snakemake.output.json,
            "csv": snakemake.output.table,
            "png": snakemake.output.png,
        },
        threads=snakemake.threads,
    )
