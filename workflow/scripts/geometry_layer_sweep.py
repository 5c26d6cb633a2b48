from emotion_vectors.jobs import workflow_job
from emotion_vectors.jobs.geometry import geometry_layer_sweep

with workflow_job(snakemake):
    geometry_layer_sweep(
        vector_file=snakemake.input.vectors,
        layers=snakemake.params.layers,
        settings=snakemake.params.settings,
        arousal_csv=snakemake.params.settings["arousal_csv"],
        output=snakemake.output[0],
        glasgow_csv=snakemake.input.glasgow[0] if snakemake.input.glasgow else None,
        word_forms=snakemake.input.word_forms,
    )
