# steering analyses (per model and corpus, downstream of the cached vectors). Each
# experiment is its own rule, so changing one steering setting reruns only that one; the
# mean residual norms are per model and never depend on a steering setting.
from emotion_vectors.config import read_emotion_list, resolve_path, validate_schema

# The $ref'd section schemas get no defaults from the top-level validation; fill them here.
try:
    STEERING = validate_schema(
        dict(RUN.settings["steering"]),
        "steering.schema.yaml",
        CONFIG_LABEL + ": steering",
    )
    STEERING_CROSS = [
        e
        for e in read_emotion_list(resolve_path(STEERING["cross_emotions"]))
        if e in RUN.emotions
    ]
except ConfigError as err:
    sys.exit(f"emotion-vectors: configuration error: {err}")
STEERING_DIR = f"{RESULTS}/{{model}}/{{corpus}}/steering"


def analysis_vectors(w):
    layer = RUN.models[w.model].layer_for_analysis
    return paths.vector_file(RESULTS, w.model, layer, w.corpus)


def steering_sweep_layers(model):
    """Every layer_stride-th computed layer, and the analysis layer."""
    chosen = RUN.layers[model][:: STEERING["layer_stride"]]
    return sorted(set(chosen) | {RUN.models[model].layer_for_analysis})


def steering_targets(model, corpus):
    folder = f"{RESULTS}/{model}/{corpus}/steering"
    return [
        f"{folder}/steering.json",
        f"{folder}/self.png",
        f"{folder}/cross.png",
        f"{folder}/strength_sweep.png",
        f"{folder}/layer_sweep.png",
        f"{folder}/generations.html",
    ]


ANALYSIS_TARGETS.append(steering_targets)


def steering_report(name, caption, w_label):
    return report(
        f"{STEERING_DIR}/{name}",
        caption=f"../report/{caption}",
        category="Steering",
        labels=lambda w: {"model": w.model, "corpus": w.corpus, "result": w_label},
    )


rule residual_norms:
    input:
        neutral=paths.neutral_corpus_file(RESULTS),
    output:
        f"{RESULTS}/{{model}}/residual_norms.json",
    log:
        f"{RESULTS}/logs/{{model}}/residual_norms.log",
    conda:
        "../../environment.yml"
    threads: workflow.cores
    params:
        model=lambda w: model_params(w.model),
    script:
        "../scripts/residual_norms.py"


rule steering_effects:
    input:
        vectors=analysis_vectors,
        norms=f"{RESULTS}/{{model}}/residual_norms.json",
    output:
        json=f"{STEERING_DIR}/steering.json",
        self_table=steering_report("self.csv", "steering_self.rst", "self table"),
        self_figure=steering_report("self.png", "steering_self.rst", "self"),
        cross_table=steering_report("cross.csv", "steering_cross.rst", "cross table"),
        cross_figure=steering_report("cross.png", "steering_cross.rst", "cross"),
    log:
        f"{RESULTS}/logs/{{model}}/{{corpus}}/steering_effects.log",
    conda:
        "../../environment.yml"
    threads: workflow.cores
    params:
        model=lambda w: model_params(w.model),
        layer=lambda w: RUN.models[w.model].layer_for_analysis,
        settings=STEERING,
        cross=STEERING_CROSS,
    script:
        "../scripts/steering_effects.py"


rule steering_strength_sweep:
    input:
        vectors=analysis_vectors,
        norms=f"{RESULTS}/{{model}}/residual_norms.json",
    output:
        table=f"{STEERING_DIR}/strength_sweep.csv",
        figure=steering_report(
            "strength_sweep.png", "steering_strength.rst", "strengths"
        ),
    log:
        f"{RESULTS}/logs/{{model}}/{{corpus}}/steering_strength_sweep.log",
    conda:
        "../../environment.yml"
    threads: workflow.cores
    params:
        model=lambda w: model_params(w.model),
        layer=lambda w: RUN.models[w.model].layer_for_analysis,
        settings=STEERING,
    script:
        "../scripts/steering_strength_sweep.py"


rule steering_layer_sweep:
    input:
        vectors=lambda w: [
            paths.vector_file(RESULTS, w.model, layer, w.corpus)
            for layer in steering_sweep_layers(w.model)
        ],
        norms=f"{RESULTS}/{{model}}/residual_norms.json",
    output:
        table=f"{STEERING_DIR}/layer_sweep.csv",
        figure=steering_report("layer_sweep.png", "steering_layers.rst", "layers"),
    log:
        f"{RESULTS}/logs/{{model}}/{{corpus}}/steering_layer_sweep.log",
    conda:
        "../../environment.yml"
    threads: workflow.cores
    params:
        model=lambda w: model_params(w.model),
        layers=lambda w: steering_sweep_layers(w.model),
        analysis_layer=lambda w: RUN.models[w.model].layer_for_analysis,
        settings=STEERING,
        emotions=STEERING_CROSS,
    script:
        "../scripts/steering_layer_sweep.py"


rule steering_generations:
    input:
        vectors=analysis_vectors,
        norms=f"{RESULTS}/{{model}}/residual_norms.json",
    output:
        table=f"{STEERING_DIR}/generations.csv",
        html=steering_report(
            "generations.html", "steering_generations.rst", "generations"
        ),
    log:
        f"{RESULTS}/logs/{{model}}/{{corpus}}/steering_generations.log",
    conda:
        "../../environment.yml"
    threads: workflow.cores
    params:
        model=lambda w: model_params(w.model),
        layer=lambda w: RUN.models[w.model].layer_for_analysis,
        settings=STEERING,
    script:
        "../scripts/steering_generations.py"
