# Generalisation beyond the emotion word, per model: corpus agreement (templates vs
# stories), accuracy on implicit scenarios, valence against human norms; every corpus side
# by side. The scenario passages go through the model once (one small job per model).


rule scenario_activations:
    input:
        scenarios=SCENARIOS or [],
    output:
        f"{RESULTS}/{{model}}/generalisation/scenario_activations.parquet",
    log:
        f"{RESULTS}/logs/{{model}}/scenario_activations.log",
    conda:
        "../../environment.yml"
    threads: model_threads
    resources:
        **MODEL_RESOURCES,
    params:
        model=lambda w: model_params(w.model),
        layers=lambda w: RUN.layers[w.model],
    script:
        "../scripts/scenario_activations.py"


rule generalisation:
    input:
        unpack(generalisation_inputs),
    output:
        json=f"{RESULTS}/{{model}}/generalisation/generalisation.json",
        by_layer=f"{RESULTS}/{{model}}/generalisation/by_layer.csv",
        passages=f"{RESULTS}/{{model}}/generalisation/scenario_predictions.csv",
        accuracy_png=report(
            f"{RESULTS}/{{model}}/generalisation/accuracy_by_layer.png",
            caption="../report/generalisation_accuracy.rst",
            category="Generalisation",
            subcategory="{model}",
        ),
        agreement_png=report(
            f"{RESULTS}/{{model}}/generalisation/agreement.png",
            caption="../report/generalisation_agreement.rst",
            category="Generalisation",
            subcategory="{model}",
        ),
        table=report(
            f"{RESULTS}/{{model}}/generalisation/table.html",
            caption="../report/generalisation_table.rst",
            category="Generalisation",
            subcategory="{model}",
        ),
    log:
        f"{RESULTS}/logs/{{model}}/generalisation.log",
    localrule: True
    conda:
        "../../environment.yml"
    params:
        corpora=CORPORA,
        layers=lambda w: RUN.layers[w.model],
        analysis_layer=lambda w: RUN.models[w.model].layer_for_analysis,
    script:
        "../scripts/generalisation.py"


ANALYSIS_TARGETS.append(
    lambda model, corpus: [f"{RESULTS}/{model}/generalisation/generalisation.json"]
)
