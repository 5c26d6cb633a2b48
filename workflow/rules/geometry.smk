# Geometry of the emotion vectors, per (model, corpus), downstream of the stored vectors
# (never of the activations): PCA against human valence (and arousal, if the user gives
# norms), cosine similarities ordered by clustering, the seed's sanity pairs, a layer
# sweep, and one cross-model figure per corpus.

from emotion_vectors.config import read_emotion_list, resolve_path
from emotion_vectors.norms import NormsError, read_arousal_csv

GEOMETRY_DIR = f"{RESULTS}/{{model}}/{{corpus}}/geometry"
GEOMETRY_LOGS = f"{RESULTS}/logs/{{model}}/{{corpus}}/geometry"
GEOMETRY_COMPARISON = f"{RESULTS}/comparison/{{corpus}}_layer_sweep.png"

try:
    GEOMETRY = RUN.settings["geometry"]
    GEOMETRY_AROUSAL = (
        str(resolve_path(GEOMETRY["arousal_csv"]))
        if GEOMETRY["arousal_csv"] is not None
        else None
    )
    if GEOMETRY_AROUSAL is not None:
        read_arousal_csv(GEOMETRY_AROUSAL)
    GEOMETRY_SUBSET = (
        read_emotion_list(resolve_path(GEOMETRY["heatmap_subset"]))
        if isinstance(GEOMETRY["heatmap_subset"], str)
        else list(GEOMETRY["heatmap_subset"])
    )
except (ConfigError, NormsError) as err:
    sys.exit(f"emotion-vectors: configuration error: {err}")

# The subset heatmap only says something new when the run has more emotions than it shows.
GEOMETRY_SUBSET = [e for e in RUN.emotions if e in set(GEOMETRY_SUBSET)]
GEOMETRY_HAS_SUBSET = 2 <= len(GEOMETRY_SUBSET) < len(RUN.emotions)


GEOMETRY_FILES = [
    "geometry.json",
    "pca.csv",
    "pca.png",
    "cosine.png",
    "layer_sweep.csv",
]
if GEOMETRY_HAS_SUBSET:
    GEOMETRY_FILES.append("cosine_subset.png")

# The per-(model, corpus) targets, and the corpus's cross-model figure.
ANALYSIS_TARGETS.append(
    lambda model, corpus: [
        f"{GEOMETRY_DIR}/{name}".format(model=model, corpus=corpus)
        for name in GEOMETRY_FILES
    ]
    + [GEOMETRY_COMPARISON.format(corpus=corpus)]
)


rule geometry_tables:
    input:
        vectors=lambda w: paths.vector_file(
            RESULTS, w.model, RUN.models[w.model].layer_for_analysis, w.corpus
        ),
        arousal=[GEOMETRY_AROUSAL] if GEOMETRY_AROUSAL else [],
    output:
        summary=f"{GEOMETRY_DIR}/geometry.json",
        pca=report(
            f"{GEOMETRY_DIR}/pca.csv",
            caption="../report/geometry_pca_table.rst",
            category="Geometry",
            subcategory="{model}",
        ),
        correlations=report(
            f"{GEOMETRY_DIR}/correlations.csv",
            caption="../report/geometry_correlations.rst",
            category="Geometry",
            subcategory="{model}",
        ),
        cosine=report(
            f"{GEOMETRY_DIR}/cosine.csv",
            caption="../report/geometry_cosine_table.rst",
            category="Geometry",
            subcategory="{model}",
        ),
        sanity=report(
            f"{GEOMETRY_DIR}/sanity.csv",
            caption="../report/geometry_sanity.rst",
            category="Geometry",
            subcategory="{model}",
        ),
    log:
        f"{GEOMETRY_LOGS}/tables.log",
    localrule: True
    conda:
        "../../environment.yml"
    params:
        layer=lambda w: RUN.models[w.model].layer_for_analysis,
        settings=GEOMETRY,
        arousal_csv=GEOMETRY_AROUSAL,
    script:
        "../scripts/geometry_tables.py"


rule geometry_layer_sweep:
    input:
        vectors=lambda w: vector_files(w.model, w.corpus),
        arousal=[GEOMETRY_AROUSAL] if GEOMETRY_AROUSAL else [],
    output:
        report(
            f"{GEOMETRY_DIR}/layer_sweep.csv",
            caption="../report/geometry_layer_sweep_table.rst",
            category="Geometry",
            subcategory="{model}",
        ),
    log:
        f"{GEOMETRY_LOGS}/layer_sweep.log",
    localrule: True
    conda:
        "../../environment.yml"
    params:
        layers=lambda w: RUN.layers[w.model],
        settings=GEOMETRY,
        arousal_csv=GEOMETRY_AROUSAL,
    script:
        "../scripts/geometry_layer_sweep.py"


rule geometry_pca_plot:
    input:
        pca=f"{GEOMETRY_DIR}/pca.csv",
        summary=f"{GEOMETRY_DIR}/geometry.json",
        correlations=f"{GEOMETRY_DIR}/correlations.csv",
    output:
        report(
            f"{GEOMETRY_DIR}/pca.png",
            caption="../report/geometry_pca.rst",
            category="Geometry",
            subcategory="{model}",
        ),
    log:
        f"{GEOMETRY_LOGS}/pca_plot.log",
    localrule: True
    conda:
        "../../environment.yml"
    script:
        "../scripts/geometry_pca_plot.py"


rule geometry_cosine_plot:
    input:
        cosine=f"{GEOMETRY_DIR}/cosine.csv",
    output:
        report(
            f"{GEOMETRY_DIR}/cosine.png",
            caption="../report/geometry_cosine.rst",
            category="Geometry",
            subcategory="{model}",
        ),
    log:
        f"{GEOMETRY_LOGS}/cosine_plot.log",
    localrule: True
    conda:
        "../../environment.yml"
    params:
        layer=lambda w: RUN.models[w.model].layer_for_analysis,
        subset=None,
    script:
        "../scripts/geometry_cosine_plot.py"


use rule geometry_cosine_plot as geometry_cosine_subset_plot with:
    output:
        report(
            f"{GEOMETRY_DIR}/cosine_subset.png",
            caption="../report/geometry_cosine_subset.rst",
            category="Geometry",
            subcategory="{model}",
        ),
    log:
        f"{GEOMETRY_LOGS}/cosine_subset_plot.log",
    params:
        layer=lambda w: RUN.models[w.model].layer_for_analysis,
        subset=GEOMETRY_SUBSET,


rule geometry_layer_sweep_comparison:
    input:
        sweeps=expand(
            f"{GEOMETRY_DIR}/layer_sweep.csv", model=RUN.models, allow_missing=True
        ),
    output:
        report(
            GEOMETRY_COMPARISON,
            caption="../report/geometry_layer_sweep.rst",
            category="Geometry",
            subcategory="All models",
        ),
    log:
        f"{RESULTS}/logs/comparison/{{corpus}}_layer_sweep.log",
    localrule: True
    conda:
        "../../environment.yml"
    params:
        models=list(RUN.models),
        num_layers={m: spec.num_layers for m, spec in RUN.models.items()},
        analysis_layers={m: spec.layer_for_analysis for m, spec in RUN.models.items()},
    script:
        "../scripts/geometry_layer_sweep_comparison.py"
