# llama.cpp control vectors (GGUF) per (model, corpus): one file per emotion with every
# layer from 2 on (llama.cpp has no slot for layer 1), and one with the analysis layer
# alone. Cheap (no model load), so part of the default target. The outputs name every
# emotion and the model's analysis layer, so the rule is declared once per model.


ANALYSIS_TARGETS.append(
    lambda model, corpus: [paths.control_vector_manifest(RESULTS, model, corpus)]
)

for _model in RUN.models:

    rule:
        name:
            rule_name("export_control_vectors", _model)
        input:
            vectors=vector_files(_model, "{corpus}"),
            norms=f"{RESULTS}/{_model}/residual_norms.json",
            meta=paths.vector_meta_file(RESULTS, _model, "{corpus}"),
        output:
            all_layers=[
                paths.control_vector_file(RESULTS, _model, e, "{corpus}")
                for e in RUN.emotions
            ],
            analysis_layer=[
                paths.control_vector_file(
                    RESULTS,
                    _model,
                    e,
                    "{corpus}",
                    RUN.models[_model].layer_for_analysis,
                )
                for e in RUN.emotions
            ],
            manifest=paths.control_vector_manifest(RESULTS, _model, "{corpus}"),
        log:
            f"{RESULTS}/logs/{_model}/{{corpus}}/export_control_vectors.log",
        localrule: True
        conda:
            "../../environment.yml"
        params:
            model=_model,
            source=RUN.models[_model].source,
            layers=RUN.layers[_model],
            analysis_layer=RUN.models[_model].layer_for_analysis,
            emotions=RUN.emotions,
        script:
            "../scripts/export_control_vectors.py"


# `snakemake export`: the control vectors of every model, without the other analyses.
rule export:
    input:
        [
            paths.control_vector_manifest(RESULTS, model, corpus)
            for model in RUN.models
            for corpus in CORPORA
        ],
