# llama.cpp control vectors (GGUF) per (model, corpus): one file per emotion with every
# layer from 2 on (llama.cpp has no slot for layer 1) and a manifest, and one file per
# emotion with one layer alone (the analysis layer by default; any layer on request:
# `snakemake results/<model>/<corpus>/llamacpp/layer-12/happy.gguf`). Beside them, every
# vector of every layer in one safetensors file, for repeng, steering-vectors, nnsight and
# the hubs (emotion_vectors/interop.py). No model load.


extra_targets("export", analysis_layer_files)

EXPORT_INPUTS = {
    "vectors": rules.compute_vectors.output.vectors,
    "meta": rules.compute_vectors.output.meta,
    "norms": rules.residual_norms.output[0],
}


rule export_control_vectors:
    input:
        **EXPORT_INPUTS,
    output:
        all_layers=[
            LAYOUT.control_vector("{model}", e, "{corpus}") for e in RUN.emotions
        ],
        manifest=LAYOUT.output("export", "manifest", "{model}", "{corpus}"),
        safetensors=LAYOUT.shared_vectors("{model}", "{corpus}"),
    log:
        LAYOUT.log("{model}", "{corpus}", "export_control_vectors"),
    localrule: True
    conda:
        "../envs/analysis.yaml"
    params:
        source=lambda w: RUN.models[w.model].source,
        analysis_layer=analysis_layer,
        emotions=RUN.emotions,
        layer_outputs=lambda w: analysis_layer_files(w.model, w.corpus),
    script:
        "../scripts/export_control_vectors.py"


rule export_layer:
    input:
        **EXPORT_INPUTS,
    output:
        [
            LAYOUT.control_vector("{model}", e, "{corpus}", "{layer}")
            for e in RUN.emotions
        ],
    log:
        LAYOUT.log("{model}", "{corpus}", "export_layer_{layer}"),
    localrule: True
    conda:
        "../envs/analysis.yaml"
    params:
        source=lambda w: RUN.models[w.model].source,
        emotions=RUN.emotions,
    script:
        "../scripts/export_layer.py"


# `snakemake export`: the control vectors of every model, without the other analyses.
rule export:
    input:
        [
            path
            for model in RUN.models
            for corpus in CORPORA
            for path in [
                LAYOUT.output("export", "manifest", model, corpus),
                LAYOUT.shared_vectors(model, corpus),
            ]
            + analysis_layer_files(model, corpus)
        ],
