from emotion_vectors.generalisation import generalisation
from emotion_vectors.jobs import logging_to

with logging_to(snakemake.log[0]):
    generalisation(
        model=snakemake.wildcards.model,
        corpora=snakemake.params.corpora,
        layers=snakemake.params.layers,
        analysis_layer=snakemake.params.analysis_layer,
        vector_files={
            c: {layer: snakemake.input[f"{c}_{layer}"] for layer in snakemake.params.layers}
            for c in snakemake.params.corpora
        },
        scenario_file=snakemake.input.get("scenarios"),
        outputs={k: str(v) for k, v in snakemake.output.items()},
    )
