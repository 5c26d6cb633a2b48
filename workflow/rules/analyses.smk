# The analyses that need the model itself, per model and corpus: the logit lens and every
# steering experiment in one job, so the model is loaded once and the steering experiments
# share their unsteered prompt pass and baselines (emotion_vectors/analyses.py). Adding an
# emotion changes every vector, so these analyses all rerun together in any case; changing
# a lens or steering setting reruns this one job.


rule model_analyses:
    input:
        # Named layer_<L>, so the job gets {layer: file} back from snakemake.input.
        unpack(
            lambda w: {
                f"layer_{layer}": paths.vector_file(RESULTS, w.model, layer, w.corpus)
                for layer in RUN.layers[w.model]
            }
        ),
        norms=STEERING_NORMS,
    output:
        lens_json=f"{LENS_DIR}/lens.json",
        lens_tokens=f"{LENS_DIR}/tokens.csv",
        lens_summary=report(
            f"{LENS_DIR}/summary.csv",
            caption="../report/lens_summary.rst",
            category="Logit lens",
            labels=lambda w: {
                "model": w.model,
                "corpus": w.corpus,
                "table": "summary",
            },
        ),
        lens_html=report(
            f"{LENS_DIR}/top_tokens.html",
            caption="../report/lens_summary.rst",
            category="Logit lens",
            labels=lambda w: {
                "model": w.model,
                "corpus": w.corpus,
                "table": "top tokens",
            },
        ),
        lens_figure=report(
            f"{LENS_DIR}/top_tokens.png",
            caption="../report/lens_top_tokens.rst",
            category="Logit lens",
            labels=lambda w: {
                "model": w.model,
                "corpus": w.corpus,
                "figure": "top tokens",
            },
        ),
        lens_layers_table=f"{LENS_DIR}/hit_rate_by_layer.csv",
        lens_layers_figure=report(
            f"{LENS_DIR}/hit_rate_by_layer.png",
            caption="../report/lens_layers.rst",
            category="Logit lens",
            labels=lambda w: {
                "model": w.model,
                "corpus": w.corpus,
                "figure": "hit rate",
            },
        ),
        json=f"{STEERING_DIR}/steering.json",
        self_table=report(
            f"{STEERING_DIR}/self.csv",
            caption="../report/steering_self.rst",
            category="Steering",
            labels=lambda w: {
                "model": w.model,
                "corpus": w.corpus,
                "result": "self table",
            },
        ),
        self_figure=report(
            f"{STEERING_DIR}/self.png",
            caption="../report/steering_self.rst",
            category="Steering",
            labels=lambda w: {"model": w.model, "corpus": w.corpus, "result": "self"},
        ),
        cross_table=report(
            f"{STEERING_DIR}/cross.csv",
            caption="../report/steering_cross.rst",
            category="Steering",
            labels=lambda w: {
                "model": w.model,
                "corpus": w.corpus,
                "result": "cross table",
            },
        ),
        cross_figure=report(
            f"{STEERING_DIR}/cross.png",
            caption="../report/steering_cross.rst",
            category="Steering",
            labels=lambda w: {"model": w.model, "corpus": w.corpus, "result": "cross"},
        ),
        strength_table=f"{STEERING_DIR}/strength_sweep.csv",
        strength_figure=report(
            f"{STEERING_DIR}/strength_sweep.png",
            caption="../report/steering_strength.rst",
            category="Steering",
            labels=lambda w: {
                "model": w.model,
                "corpus": w.corpus,
                "result": "strengths",
            },
        ),
        layer_table=f"{STEERING_DIR}/layer_sweep.csv",
        layer_figure=report(
            f"{STEERING_DIR}/layer_sweep.png",
            caption="../report/steering_layers.rst",
            category="Steering",
            labels=lambda w: {
                "model": w.model,
                "corpus": w.corpus,
                "result": "layers",
            },
        ),
        generations_table=f"{STEERING_DIR}/generations.csv",
        generations_html=report(
            f"{STEERING_DIR}/generations.html",
            caption="../report/steering_generations.rst",
            category="Steering",
            labels=lambda w: {
                "model": w.model,
                "corpus": w.corpus,
                "result": "generations",
            },
        ),
    log:
        f"{RESULTS}/logs/{{model}}/{{corpus}}/model_analyses.log",
    conda:
        "../../environment.yml"
    threads: model_threads
    resources:
        **MODEL_RESOURCES,
    params:
        model=lambda w: model_params(w.model),
        analysis_layer=lambda w: RUN.models[w.model].layer_for_analysis,
        steering_layers=lambda w: STEERING_LAYERS[w.model],
        lens=LENS,
        steering={k: v for k, v in STEERING.items() if k != "cross_emotions"},
        cross=STEERING_CROSS,
    script:
        "../scripts/model_analyses.py"
