from emotion_vectors.jobs import workflow_job
from emotion_vectors.jobs.traces import trace_texts

with workflow_job(snakemake):
    trace_texts(
        model=snakemake.params.model,
        corpus=snakemake.wildcards.corpus,
        layer=snakemake.params.layer,
        vector_file=snakemake.input.vectors,
        neutral_file=snakemake.input.neutral,
        texts=dict(zip(snakemake.params.names, snakemake.input.texts, strict=True)),
        settings=snakemake.params.settings,
        sink_ratio=snakemake.params.sinks["ratio"],
        outputs={"json": snakemake.output.json, "index": snakemake.output.index},
        pages=list(snakemake.output.pages),
        tables=list(snakemake.output.tables),
        threads=snakemake.threads,
    )
