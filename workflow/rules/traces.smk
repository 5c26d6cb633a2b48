# Emotion traces of the texts in traces.folder, per (model, corpus): every token's state at
# the analysis layer (or traces.layer) projected on each emotion's unit vector, relative to
# the neutral reference, on one HTML page per text; each chat also with the model's own
# reply. One model load per job (emotion_vectors/jobs/traces.py).


rule trace_texts:
    input:
        vectors=rules.compute_vectors.output.vectors,
        neutral=rules.extract_activations.output.neutral,
        texts=list(TRACE_FILES.values()),
    output:
        **analysis_outputs("traces"),
        pages=trace_files("html"),
        tables=trace_files("csv"),
    log:
        LAYOUT.log("{model}", "{corpus}", "trace_texts"),
    conda:
        "../envs/model.yaml"
    threads: model_threads
    resources:
        **MODEL_RESOURCES,
    params:
        model=lambda w: model_params(w.model),
        layer=lambda w: settings_of("traces")["layer"] or analysis_layer(w),
        names=list(TRACE_FILES),
        settings=settings_of("traces"),
        sinks=sink_rule(RUN.sections["extraction"]["sink_ratio"]),
    script:
        "../scripts/trace_texts.py"


extra_targets("traces", trace_targets)
