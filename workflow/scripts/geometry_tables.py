from emotion_vectors.jobs import workflow_job
from emotion_vectors.jobs.geometry import geometry_tables

with workflow_job(snakemake):
    geometry_tables(
        model=snakemake.wildcards.model,
        corpus=snakemake.wildcards.corpus,
        layer=snakemake.params.layer,
        vector_file=snakemake.input.vectors,
        word_file=snakemake.input.words,
        settings=snakemake.params.settings,
        arousal_csv=snakemake.params.settings["arousal_csv"],
        outputs=dict(snakemake.output.items()),
        glasgow_csv=snakemake.input.glasgow[0] if snakemake.input.glasgow else None,
        word_forms=snakemake.input.word_forms,
        synonyms=snakemake.input.synonyms,
    )
