# The jobs that put passages through a model. One extraction job per (model, corpus) loads
# the model once and computes only the (emotion) groups missing from the model's
# content-addressed activation cache; every per-emotion output is then a hard link to its
# cache entry. Adding an emotion reruns this job, but only the new emotion's passages go
# through the model. The residual norms (the steering unit) are per model and never depend
# on an analysis setting, so they are a job of their own.


rule extract_activations:
    input:
        passages=passage_files,
        neutral=lambda w: LAYOUT.neutral_passages(w.corpus),
    output:
        activations=[LAYOUT.activations("{model}", e, "{corpus}") for e in RUN.emotions],
        neutral=LAYOUT.neutral_activations("{model}", "{corpus}"),
        words=LAYOUT.word_embeddings("{model}", "{corpus}"),
        report=LAYOUT.extraction_report("{model}", "{corpus}"),
    log:
        LAYOUT.log("{model}", "{corpus}", "extract_activations"),
    conda:
        "../envs/model.yaml"
    threads: model_threads
    resources:
        **MODEL_RESOURCES,
    params:
        model=lambda w: model_params(w.model),
        layers=lambda w: RUN.layers[w.model],
        pooling=lambda w: pooling_params(w.corpus),
        cache=lambda w: LAYOUT.cache(w.model, "activations"),
        words_cache=lambda w: LAYOUT.cache(w.model, "words"),
    script:
        "../scripts/extract_activations.py"


rule residual_norms:
    input:
        neutral=rules.neutral_passages.output[0],
    output:
        LAYOUT.residual_norms("{model}"),
    log:
        LAYOUT.log("{model}", "residual_norms"),
    conda:
        "../envs/model.yaml"
    threads: model_threads
    resources:
        **MODEL_RESOURCES,
    params:
        model=lambda w: model_params(w.model),
        pooling=asdict(RUN.pooling("templates").from_passage_start()),
    script:
        "../scripts/residual_norms.py"
