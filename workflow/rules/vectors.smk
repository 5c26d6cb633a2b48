# Emotion vectors per (model, corpus): one output file per layer. The layers differ from
# model to model, so the rule is declared once per model.

for _model in RUN.models:

    rule:
        name:
            rule_name("emotion_vectors", _model)
        input:
            activations=activation_files(_model, "{corpus}"),
            neutral=paths.neutral_activation_file(RESULTS, _model, "{corpus}"),
        output:
            vectors=vector_files(_model, "{corpus}"),
            meta=paths.vector_meta_file(RESULTS, _model, "{corpus}"),
        log:
            f"{RESULTS}/logs/{_model}/{{corpus}}/emotion_vectors.log",
        localrule: True
        conda:
            "../../environment.yml"
        params:
            model=_model,
            layers=RUN.layers[_model],
            analysis_layer=RUN.models[_model].layer_for_analysis,
            variance=RUN.settings["vectors"]["neutral_variance"],
        script:
            "../scripts/compute_vectors.py"
