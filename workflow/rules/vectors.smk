# Emotion vectors per (model, corpus), every layer in one file (a column pair per layer):
# each emotion's mean minus the mean over emotions (raw), and the same with the neutral
# principal subspace projected out (denoised).


rule compute_vectors:
    input:
        activations=rules.extract_activations.output.activations,
        neutral=rules.extract_activations.output.neutral,
    output:
        vectors=LAYOUT.vectors("{model}", "{corpus}"),
        meta=LAYOUT.vector_meta("{model}", "{corpus}"),
    log:
        LAYOUT.log("{model}", "{corpus}", "compute_vectors"),
    localrule: True
    conda:
        "../envs/analysis.yaml"
    params:
        layers=lambda w: RUN.layers[w.model],
        analysis_layer=analysis_layer,
        variance=RUN.sections["vectors"]["neutral_variance"],
    script:
        "../scripts/compute_vectors.py"
