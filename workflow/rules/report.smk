# Headline numbers per model, from every registered analysis's headline JSON, and the
# cross-model comparison page.


rule summary:
    input:
        unpack(summary_inputs),
    output:
        LAYOUT.summary("{model}"),
    log:
        LAYOUT.log("{model}", "summary"),
    localrule: True
    conda:
        "../envs/analysis.yaml"
    params:
        corpora=CORPORA,
        analyses=[a.name for a in HEADLINED],
        num_layers=lambda w: RUN.models[w.model].num_layers,
    script:
        "../scripts/write_summary.py"


rule comparison:
    input:
        [LAYOUT.summary(model) for model in RUN.models],
    output:
        csv=LAYOUT.comparison("summary.csv"),
        html=report(
            LAYOUT.comparison("summary.html"),
            caption="../report/comparison.rst",
            category="Models compared",
        ),
    log:
        LAYOUT.log("comparison"),
    localrule: True
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/write_comparison.py"


extra_targets(
    None,
    lambda model, corpus: [
        LAYOUT.summary(model),
        LAYOUT.comparison("summary.csv"),
        LAYOUT.comparison("summary.html"),
    ],
)
