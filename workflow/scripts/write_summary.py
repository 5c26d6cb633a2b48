from emotion_vectors.jobs import logging_to
from emotion_vectors.jobs.report import write_summary

with logging_to(snakemake.log[0]):
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
