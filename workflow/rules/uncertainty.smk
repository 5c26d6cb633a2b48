# A bootstrap over the passages of every emotion (the templates, paired across emotions),
# per (model, corpus), from the pooled activations: intervals of PC1-valence r and of the
# implicit-scenario accuracy. No model load.


rule uncertainty:
    input:
        activations=rules.extract_activations.output.activations,
        neutral=rules.extract_activations.output.neutral,
        scenarios=lambda w: (
            [rules.scenario_activations.output[0].format(model=w.model)]
            if SCENARIOS
            else []
        ),
    output:
        **analysis_outputs("uncertainty"),
    log:
        LAYOUT.log("{model}", "{corpus}", "uncertainty"),
    localrule: True
    conda:
        "../envs/analysis.yaml"
    params:
        analysis="uncertainty",
        layer=analysis_layer,
        variance=RUN.sections["vectors"]["neutral_variance"],
        settings=settings_of("uncertainty"),
    script:
        "../scripts/light_analysis.py"
