# steering analyses (per model and corpus, downstream of the cached vectors), run by the
# model_analyses job (analyses.smk) together with the logit lens; the mean residual norms
# are per model and never depend on a steering setting, so they are a job of their own.
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
