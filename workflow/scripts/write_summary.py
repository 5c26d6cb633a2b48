from emotion_vectors.jobs import workflow_job
from emotion_vectors.jobs.report import write_summary

with workflow_job(snakemake):
    corpora, names = snakemake.params.corpora, snakemake.params.analyses
    given = dict(snakemake.input.items())
    write_summary(
        snakemake.output[0],
        model=snakemake.wildcards.model,
        num_layers=snakemake.params.num_layers,
        meta_files={c: given[f"meta_{c}"] for c in corpora},
        analysis_files={
            c: {a: given[f"{a}_{c}"] for a in names if f"{a}_{c}" in given} for c in corpora
        },
        model_files={a: given[a] for a in names if a in given},
    )
