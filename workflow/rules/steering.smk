# steering analyses (per model and corpus, downstream of the cached vectors). Each
# experiment is its own rule and gets only the settings it reads, so changing one setting
# reruns only the rules that use it; the mean residual norms are per model and never
# depend on a steering setting.
from emotion_vectors.config import read_emotion_list, resolve_path

STEERING = RUN.settings["steering"]
try:
    STEERING_CROSS = [
        e
        for e in read_emotion_list(resolve_path(STEERING["cross_emotions"]))
        if e in RUN.emotions
    ]
except ConfigError as err:
    sys.exit(f"emotion-vectors: configuration error: {err}")

STEERING_DIR = f"{RESULTS}/{{model}}/{{corpus}}/steering"
STEERING_NORMS = f"{RESULTS}/{{model}}/residual_norms.json"
STEERING_PROMPT = ("question", "answer_prefix", "batch_size")
# The layer sweep: every layer_stride-th computed layer, and the analysis layer.
STEERING_LAYERS = {
    m: sorted(
        set(RUN.layers[m][:: STEERING["layer_stride"]])
        | {RUN.models[m].layer_for_analysis}
    )
    for m in RUN.models
}
STEERING_TARGETS = [
    "steering.json",
    "self.png",
    "cross.png",
    "strength_sweep.png",
    "layer_sweep.png",
    "generations.html",
]

ANALYSIS_TARGETS.append(
    lambda model, corpus: [
        f"{RESULTS}/{model}/{corpus}/steering/{n}" for n in STEERING_TARGETS
    ]
)


rule residual_norms:
    input:
        neutral=paths.neutral_corpus_file(RESULTS),
    output:
        STEERING_NORMS,
    log:
        f"{RESULTS}/logs/{{model}}/residual_norms.log",
    conda:
        "../../environment.yml"
    threads: model_threads
    resources:
        **MODEL_RESOURCES,
    params:
        model=lambda w: model_params(w.model),
    script:
        "../scripts/residual_norms.py"


rule steering_effects:
    input:
        vectors=lambda w: paths.vector_file(
            RESULTS, w.model, RUN.models[w.model].layer_for_analysis, w.corpus
        ),
        norms=STEERING_NORMS,
    output:
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
    log:
        f"{RESULTS}/logs/{{model}}/{{corpus}}/steering_effects.log",
    conda:
        "../../environment.yml"
    threads: model_threads
    resources:
        **MODEL_RESOURCES,
    params:
        model=lambda w: model_params(w.model),
        layer=lambda w: RUN.models[w.model].layer_for_analysis,
        settings={k: STEERING[k] for k in (*STEERING_PROMPT, "strength")},
        cross=STEERING_CROSS,
    script:
        "../scripts/steering_effects.py"


rule steering_strength_sweep:
    input:
        vectors=lambda w: paths.vector_file(
            RESULTS, w.model, RUN.models[w.model].layer_for_analysis, w.corpus
        ),
        norms=STEERING_NORMS,
    output:
        table=f"{STEERING_DIR}/strength_sweep.csv",
        figure=report(
            f"{STEERING_DIR}/strength_sweep.png",
            caption="../report/steering_strength.rst",
            category="Steering",
            labels=lambda w: {
                "model": w.model,
                "corpus": w.corpus,
                "result": "strengths",
            },
        ),
    log:
        f"{RESULTS}/logs/{{model}}/{{corpus}}/steering_strength_sweep.log",
    conda:
        "../../environment.yml"
    threads: model_threads
    resources:
        **MODEL_RESOURCES,
    params:
        model=lambda w: model_params(w.model),
        layer=lambda w: RUN.models[w.model].layer_for_analysis,
        settings={
            k: STEERING[k]
            for k in (*STEERING_PROMPT, "sweep_strengths", "sweep_emotions")
        },
    script:
        "../scripts/steering_strength_sweep.py"


rule steering_layer_sweep:
    input:
        vectors=lambda w: [
            paths.vector_file(RESULTS, w.model, layer, w.corpus)
            for layer in STEERING_LAYERS[w.model]
        ],
        norms=STEERING_NORMS,
    output:
        table=f"{STEERING_DIR}/layer_sweep.csv",
        figure=report(
            f"{STEERING_DIR}/layer_sweep.png",
            caption="../report/steering_layers.rst",
            category="Steering",
            labels=lambda w: {
                "model": w.model,
                "corpus": w.corpus,
                "result": "layers",
            },
        ),
    log:
        f"{RESULTS}/logs/{{model}}/{{corpus}}/steering_layer_sweep.log",
    conda:
        "../../environment.yml"
    threads: model_threads
    resources:
        **MODEL_RESOURCES,
    params:
        model=lambda w: model_params(w.model),
        layers=lambda w: STEERING_LAYERS[w.model],
        analysis_layer=lambda w: RUN.models[w.model].layer_for_analysis,
        settings={k: STEERING[k] for k in (*STEERING_PROMPT, "strength")},
        emotions=STEERING_CROSS,
    script:
        "../scripts/steering_layer_sweep.py"


rule steering_generations:
    input:
        vectors=lambda w: paths.vector_file(
            RESULTS, w.model, RUN.models[w.model].layer_for_analysis, w.corpus
        ),
        norms=STEERING_NORMS,
    output:
        table=f"{STEERING_DIR}/generations.csv",
        html=report(
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
        f"{RESULTS}/logs/{{model}}/{{corpus}}/steering_generations.log",
    conda:
        "../../environment.yml"
    threads: model_threads
    resources:
        **MODEL_RESOURCES,
    params:
        model=lambda w: model_params(w.model),
        layer=lambda w: RUN.models[w.model].layer_for_analysis,
        settings={
            k: STEERING[k]
            for k in (
                "generation_prompts",
                "generation_emotions",
                "generation_strength",
                "max_new_tokens",
            )
        },
    script:
        "../scripts/steering_generations.py"
