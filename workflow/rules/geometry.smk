# Geometry of the emotion vectors, per (model, corpus), downstream of the stored vectors
# (never of the activations): PCA against human valence and arousal (VADER, the shipped
# Glasgow Norms) with its controls (a shuffled-label null, within-sign r, the layer-wise
# lexical probe with near-synonyms in one fold), cosine similarities ordered by clustering,
# the seed's sanity pairs, a layer sweep, and one cross-model figure per corpus.

GEOMETRY = settings_of("geometry")
# The subset heatmap only says something new when the run has more emotions than it shows.
GEOMETRY_HAS_SUBSET = 2 <= len(GEOMETRY["heatmap_subset"]) < len(RUN.emotions)
GEOMETRY_COMPARISON = LAYOUT.comparison("{corpus}_layer_sweep.png")
# Shared geometry needs two models at least.
# The norms files the geometry reads: a changed file (checksum-checked at parse time for
# Glasgow), word-form list or synonym list reruns it.
GEOMETRY_NORMS = {
    "arousal": [GEOMETRY["arousal_csv"]] if GEOMETRY["arousal_csv"] else [],
    "glasgow": [GEOMETRY["glasgow"]["path"]] if GEOMETRY["glasgow"] else [],
    "word_forms": RUN.sections["word_forms"],
}
GEOMETRY_ACROSS = {
    key: LAYOUT.comparison(f"{{corpus}}_geometry_across_models.{key}")
    for key in ("csv", "json", "png")
}

extra_targets(
    "geometry",
    lambda model, corpus: [GEOMETRY_COMPARISON.format(corpus=corpus)]
    + ([GEOMETRY_ACROSS["png"].format(corpus=corpus)] if len(RUN.models) > 1 else [])
    + (
        [LAYOUT.output("geometry", "cosine_subset_png", model, corpus)]
        if GEOMETRY_HAS_SUBSET
        else []
    ),
)


rule geometry_tables:
    input:
        **GEOMETRY_NORMS,
        vectors=rules.compute_vectors.output.vectors,
        words=rules.extract_activations.output.words,
        synonyms=RUN.sections["stories"]["synonyms"],
    output:
        **analysis_outputs(
            "geometry",
            [
                "json",
                "pca",
                "correlations",
                "cosine",
                "sanity",
                "valence_null",
                "probe_layers",
            ],
        ),
    log:
        LAYOUT.log("{model}", "{corpus}", "geometry", "tables"),
    localrule: True
    conda:
        "../envs/analysis.yaml"
    params:
        layer=analysis_layer,
        settings=GEOMETRY,
    script:
        "../scripts/geometry_tables.py"


rule geometry_layer_sweep:
    input:
        **GEOMETRY_NORMS,
        vectors=rules.compute_vectors.output.vectors,
    output:
        analysis_output("geometry", "layer_sweep"),
    log:
        LAYOUT.log("{model}", "{corpus}", "geometry", "layer_sweep"),
    localrule: True
    conda:
        "../envs/analysis.yaml"
    params:
        layers=lambda w: RUN.layers[w.model],
        settings=GEOMETRY,
    script:
        "../scripts/geometry_layer_sweep.py"


rule geometry_pca_plot:
    input:
        pca=rules.geometry_tables.output.pca,
        summary=rules.geometry_tables.output.json,
        correlations=rules.geometry_tables.output.correlations,
    output:
        analysis_output("geometry", "pca_png"),
    log:
        LAYOUT.log("{model}", "{corpus}", "geometry", "pca_plot"),
    localrule: True
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/geometry_pca_plot.py"


rule geometry_controls_plot:
    input:
        summary=rules.geometry_tables.output.json,
        valence_null=rules.geometry_tables.output.valence_null,
        probe_layers=rules.geometry_tables.output.probe_layers,
    output:
        analysis_output("geometry", "controls_png"),
    log:
        LAYOUT.log("{model}", "{corpus}", "geometry", "controls_plot"),
    localrule: True
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/geometry_controls_plot.py"


rule geometry_cosine_plot:
    input:
        cosine=rules.geometry_tables.output.cosine,
    output:
        analysis_output("geometry", "cosine_png"),
    log:
        LAYOUT.log("{model}", "{corpus}", "geometry", "cosine_plot"),
    localrule: True
    conda:
        "../envs/analysis.yaml"
    params:
        layer=analysis_layer,
        subset=None,
    script:
        "../scripts/geometry_cosine_plot.py"


use rule geometry_cosine_plot as geometry_cosine_subset_plot with:
    output:
        analysis_output("geometry", "cosine_subset_png"),
    log:
        LAYOUT.log("{model}", "{corpus}", "geometry", "cosine_subset_plot"),
    params:
        layer=analysis_layer,
        subset=GEOMETRY["heatmap_subset"],


rule geometry_layer_sweep_comparison:
    input:
        sweeps=expand(
            LAYOUT.output("geometry", "layer_sweep", "{model}", "{{corpus}}"),
            model=RUN.models,
        ),
    output:
        report(
            GEOMETRY_COMPARISON,
            caption="../report/geometry_layer_sweep.rst",
            category="Geometry",
            subcategory="All models",
        ),
    log:
        LAYOUT.log("comparison", "{corpus}_layer_sweep"),
    localrule: True
    conda:
        "../envs/analysis.yaml"
    params:
        models=list(RUN.models),
        num_layers={m: spec.num_layers for m, spec in RUN.models.items()},
        analysis_layers={m: spec.layer_for_analysis for m, spec in RUN.models.items()},
    script:
        "../scripts/geometry_layer_sweep_comparison.py"


rule geometry_across_models:
    input:
        vectors=expand(
            LAYOUT.vectors("{model}", "{{corpus}}"),
            model=RUN.models,
        ),
        words=expand(
            LAYOUT.word_embeddings("{model}", "{{corpus}}"),
            model=RUN.models,
        ),
    output:
        csv=GEOMETRY_ACROSS["csv"],
        json=GEOMETRY_ACROSS["json"],
        png=report(
            GEOMETRY_ACROSS["png"],
            caption="../report/geometry_across_models.rst",
            category="Geometry",
            subcategory="All models",
        ),
    log:
        LAYOUT.log("comparison", "{corpus}_geometry_across_models"),
    localrule: True
    conda:
        "../envs/analysis.yaml"
    params:
        models=list(RUN.models),
        layers={m: spec.layer_for_analysis for m, spec in RUN.models.items()},
        settings=GEOMETRY,
    script:
        "../scripts/geometry_across_models.py"
