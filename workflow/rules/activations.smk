# One extraction job per (model, corpus) loads the model once and computes only the
# (emotion) groups that are missing from the model's content-addressed activation cache;
# every per-emotion output is then a hard link to its cache entry. Adding an emotion
# reruns this job, but only the new emotion's passages go through the model.


rule extract_activations:
    input:
        passages=passage_files,
        neutral=paths.neutral_corpus_file(RESULTS),
    output:
        activations=[
            str(paths.activation_file(RESULTS, "{model}", e, "{corpus}"))
            for e in RUN.emotions
        ],
        neutral=str(paths.neutral_activation_file(RESULTS, "{model}", "{corpus}")),
        report=f"{RESULTS}/{{model}}/{{corpus}}/extraction.json",
    log:
        f"{RESULTS}/logs/{{model}}/{{corpus}}/extract_activations.log",
    conda:
        "../../environment.yml"
    threads: model_threads
    resources:
        **MODEL_RESOURCES,
    params:
        model=lambda w: model_params(w.model),
        layers=lambda w: RUN.layers[w.model],
        extraction=RUN.settings["extraction"],
        cache=lambda w: str(paths.cache_dir(RESULTS, w.model)),
    script:
        "../scripts/extract_activations.py"
