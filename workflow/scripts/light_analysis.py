from emotion_vectors.jobs import run_light_analysis, workflow_job

with workflow_job(snakemake):
    run_light_analysis(snakemake)
