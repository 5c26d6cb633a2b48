# lens analyses (per model and corpus, downstream of the cached vectors): every emotion
# vector read through the model's own final norm and unembedding.
LENS = RUN.settings["lens"]

LENS_DIR = f"{RESULTS}/{{model}}/{{corpus}}/lens"
LENS_TARGETS = [
    "lens.json",
    "top_tokens.png",
    "hit_rate_by_layer.png",
    "top_tokens.html",
]

ANALYSIS_TARGETS.append(
    lambda model, corpus: [f"{RESULTS}/{model}/{corpus}/lens/{n}" for n in LENS_TARGETS]
)


rule logit_lens:
    input:
        vectors=lambda w: vector_files(w.model, w.corpus),
    output:
        json=f"{LENS_DIR}/lens.json",
        tokens=f"{LENS_DIR}/tokens.csv",
        summary=report(
            f"{LENS_DIR}/summary.csv",
            caption="../report/lens_summary.rst",
            category="Logit lens",
            labels=lambda w: {
                "model": w.model,
                "corpus": w.corpus,
                "table": "summary",
            },
        ),
        html=report(
            f"{LENS_DIR}/top_tokens.html",
            caption="../report/lens_summary.rst",
            category="Logit lens",
            labels=lambda w: {
                "model": w.model,
                "corpus": w.corpus,
                "table": "top tokens",
            },
        ),
        figure=report(
            f"{LENS_DIR}/top_tokens.png",
            caption="../report/lens_top_tokens.rst",
            category="Logit lens",
            labels=lambda w: {
                "model": w.model,
                "corpus": w.corpus,
                "figure": "top tokens",
            },
        ),
        layers_table=f"{LENS_DIR}/hit_rate_by_layer.csv",
        layers_figure=report(
            f"{LENS_DIR}/hit_rate_by_layer.png",
            caption="../report/lens_layers.rst",
            category="Logit lens",
            labels=lambda w: {
                "model": w.model,
                "corpus": w.corpus,
                "figure": "hit rate",
            },
        ),
    log:
        f"{RESULTS}/logs/{{model}}/{{corpus}}/logit_lens.log",
    conda:
        "../../environment.yml"
    threads: model_threads
    resources:
        **MODEL_RESOURCES,
    params:
        model=lambda w: model_params(w.model),
        layer=lambda w: RUN.models[w.model].layer_for_analysis,
        layers=lambda w: RUN.layers[w.model],
        settings=LENS,
    script:
        "../scripts/logit_lens.py"
