# lens analyses (per model and corpus, downstream of the cached vectors): every emotion
# vector read through the model's own final norm and unembedding. The job itself is
# model_analyses (analyses.smk), which loads the model once for the lens and steering.
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
