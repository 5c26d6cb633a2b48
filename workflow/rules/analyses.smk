# The analyses that need the model itself, per model and corpus: every registered model
# experiment (registry.model_experiments(): the logit lens, the steering experiments and
# their controls) in one job, so the model is loaded once and the experiments share their
# work (emotion_vectors/jobs/model_analyses.py). Adding an emotion changes every vector, so
# they rerun together in any case; changing a setting of one of them reruns this one job.

MODEL_EXPERIMENTS = registry.model_experiments(RUN.analyses)
# The config sections the experiments read, the word forms the lens scores against, and
# the sink rule (positions left out of the preference experiment's means) and the templates
# (the steering controls test words absent from every template passage).
MODEL_CONFIG = {
    **{a.section: RUN.sections[a.section] for a in MODEL_EXPERIMENTS},
    "word_forms": RUN.sections["word_forms"],
    "templates": RUN.sections["corpus"]["templates"],
    "sink_ratio": RUN.sections["extraction"]["sink_ratio"],
    # The rule's version too: a new sink rule reruns the experiments that leave sinks out.
    "sink_rule": sink_rule(RUN.sections["extraction"]["sink_ratio"]),
    # How whole texts (not template passages) are pooled: the EmoBank sentences.
    "passage_pooling": asdict(RUN.pooling("templates").from_passage_start()),
}


# Only when config `analyses` selects a model experiment. Selecting another one later
# reruns this job (its outputs change); the experiments' caches keep that rerun short.
if MODEL_EXPERIMENTS:

    rule model_analyses:
        input:
            vectors=rules.compute_vectors.output.vectors,
            norms=rules.residual_norms.output[0],
            word_forms=RUN.sections["word_forms"],
            # Files the experiments' settings name (emotion lists, ...): a change reruns them.
            settings_files=[
                f for a in MODEL_EXPERIMENTS for f in RUN.section_files[a.section]
            ],
        output:
            **{
                output_name(a.name, key): analysis_output(a.name, key)
                for a in MODEL_EXPERIMENTS
                for key in a.outputs
            },
        log:
            LAYOUT.log("{model}", "{corpus}", "model_analyses"),
        conda:
            "../envs/model.yaml"
        threads: model_threads
        resources:
            **MODEL_RESOURCES,
        params:
            model=lambda w: model_params(w.model),
            layers=lambda w: RUN.layers[w.model],
            analysis_layer=analysis_layer,
            experiments=[a.name for a in MODEL_EXPERIMENTS],
            config=MODEL_CONFIG,
            caches=lambda w: {
                kind: LAYOUT.cache(w.model, kind)
                for a in MODEL_EXPERIMENTS
                for kind in a.caches
            },
        script:
            "../scripts/model_analyses.py"
