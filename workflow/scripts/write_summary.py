from emotion_vectors.jobs import logging_to
from emotion_vectors.report import write_summary

with logging_to(snakemake.log[0]):
    corpora = snakemake.params.corpora
    write_summary(
        model=snakemake.wildcards.model,
        num_layers=snakemake.params.num_layers,
        meta_files=dict(zip(corpora, snakemake.input.meta, strict=True)),
        geometry_files=dict(zip(corpora, snakemake.input.geometry, strict=True)),
        lens_files=dict(zip(corpora, snakemake.input.lens, strict=True)),
        steering_files=dict(zip(corpora, snakemake.input.steering, strict=True)),
        generalisation_file=snakemake.input.generalisation,
        output=snakemake.output[0],
    )
