# Headline numbers per model and the cross-model comparison page.


rule summary:
    input:
        meta=lambda w: [paths.vector_meta_file(RESULTS, w.model, c) for c in CORPORA],
        geometry=analysis_json("geometry"),
        lens=analysis_json("lens"),
        steering=analysis_json("steering"),
        generalisation=f"{RESULTS}/{{model}}/generalisation/generalisation.json",
    output:
        f"{RESULTS}/{{model}}/summary.json",
    log:
        f"{RESULTS}/logs/{{model}}/summary.log",
    localrule: True
    conda:
        "../../environment.yml"
    params:
        corpora=CORPORA,
        num_layers=lambda w: RUN.models[w.model].num_layers,
    script:
        "../scripts/write_summary.py"


rule comparison:
    input:
        [f"{RESULTS}/{model}/summary.json" for model in RUN.models],
    output:
        csv=f"{RESULTS}/comparison/summary.csv",
        html=report(
            f"{RESULTS}/comparison/summary.html",
            caption="../report/comparison.rst",
            category="Models compared",
        ),
    log:
        f"{RESULTS}/logs/comparison.log",
    localrule: True
    conda:
        "../../environment.yml"
    script:
        "../scripts/write_comparison.py"


ANALYSIS_TARGETS.append(
    lambda model, corpus: [
        f"{RESULTS}/{model}/summary.json",
        f"{RESULTS}/comparison/summary.csv",
        f"{RESULTS}/comparison/summary.html",
    ]
)
