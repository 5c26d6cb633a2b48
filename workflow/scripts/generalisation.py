from emotion_vectors.jobs import workflow_job
from emotion_vectors.jobs.generalisation import generalisation

with workflow_job(snakemake):
    corpora = snakemake.params.corpora
    generalisation(
        model=snakemake.wildcards.model,
        corpora=corpora,
        layers=snakemake.params.layers,
        analysis_layer=snakemake.params.analysis_layer,
        vector_files={c: snakemake.input[f"vectors_{c}"] for c in corpora},
        word_file=snakemake.input.get("words"),
        scenario_file=snakemake.input.get("scenarios"),
        activation_files={c: snakemake.input.get(f"activations_{c}") for c in corpora},
        passage_files={c: snakemake.input.get(f"passages_{c}") for c in corpora},
        settings=snakemake.params.settings,
        story_judgements=snakemake.input.get("story_judgements"),
        story_files=snakemake.input.get("stories"),
        story_report=snakemake.input.get("story_report"),
        word_forms=snakemake.input.get("word_forms"),
        story_curve=snakemake.input.get("story_curve"),
        outputs=dict(snakemake.output.items()),
    )
