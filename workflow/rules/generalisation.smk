# Generalisation beyond the emotion word, per model: corpus agreement (templates vs
# stories), accuracy on implicit scenarios against chance and a lexical baseline, valence
# against human norms; every corpus side by side. The scenario passages and the neutral
# passages they are centred on (narrative: the headline reference; expository: the old one)
# go through the model once (one small job per model).


rule scenario_activations:
    input:
        scenarios=SCENARIOS or [],
        neutral=rules.neutral_passages.output[0],
        neutral_narrative=settings_of("generalisation")["neutral_narrative"] or [],
    output:
        LAYOUT.output("generalisation", "scenario_activations", "{model}"),
    log:
        LAYOUT.log("{model}", "scenario_activations"),
    conda:
        "../envs/model.yaml"
    threads: model_threads
    resources:
        **MODEL_RESOURCES,
    params:
        model=lambda w: model_params(w.model),
        layers=lambda w: RUN.layers[w.model],
        pooling=asdict(RUN.pooling("templates").from_passage_start()),
        expository=settings_of("generalisation")["expository_reference"],
    script:
        "../scripts/scenario_activations.py"


# The story checks' judge: the subject model asked which emotion each story expresses.
rule story_judgements:
    input:
        stories=[LAYOUT.passages(e, "stories") for e in JUDGED],
        scenarios=SCENARIOS or [],
    output:
        LAYOUT.output("generalisation", "story_judgements", "{model}"),
    log:
        LAYOUT.log("{model}", "story_judgements"),
    conda:
        "../envs/model.yaml"
    threads: model_threads
    resources:
        **MODEL_RESOURCES,
    params:
        model=lambda w: model_params(w.model),
        emotions=JUDGED,
    script:
        "../scripts/story_judgements.py"


rule generalisation:
    input:
        unpack(generalisation_inputs),
    output:
        **analysis_outputs("generalisation"),
    log:
        LAYOUT.log("{model}", "generalisation"),
    localrule: True
    conda:
        "../envs/analysis.yaml"
    params:
        corpora=CORPORA,
        layers=lambda w: RUN.layers[w.model],
        analysis_layer=analysis_layer,
        settings=settings_of("generalisation"),
    script:
        "../scripts/generalisation.py"


# Why stories lose, measured: story vectors from n stories per emotion, per pooling start
# and centring, on the implicit scenarios (runs with the story corpus and scenarios).
rule story_curve:
    input:
        stories=[LAYOUT.passages(e, "stories") for e in RUN.emotions],
        neutral=LAYOUT.neutral_passages("stories"),
        scenarios=LAYOUT.output("generalisation", "scenario_activations", "{model}"),
        # The template corpus, to centre its vectors both ways too.
        templates=(
            [LAYOUT.activations("{model}", e, "templates") for e in RUN.emotions]
            if "templates" in CORPORA
            else []
        ),
        templates_neutral=(
            LAYOUT.neutral_activations("{model}", "templates")
            if "templates" in CORPORA
            else []
        ),
    output:
        json=LAYOUT.output("generalisation", "story_curve", "{model}"),
        table=LAYOUT.output("generalisation", "story_curve_table", "{model}"),
        png=report(
            LAYOUT.output("generalisation", "story_curve_png", "{model}"),
            caption="../report/generalisation_story_curve.rst",
            category="Generalisation",
            subcategory="{model}",
            labels={"corpus": "stories", "file": "story curve"},
        ),
    log:
        LAYOUT.log("{model}", "story_curve"),
    conda:
        "../envs/model.yaml"
    threads: model_threads
    resources:
        **MODEL_RESOURCES,
    params:
        model=lambda w: model_params(w.model),
        layer=analysis_layer,
        pooling=pooling_params("stories"),
        settings={
            **settings_of("generalisation")["story_curve"],
            "bootstrap": settings_of("generalisation")["bootstrap"],
            "seed": settings_of("generalisation")["seed"],
            "neutral_variance": RUN.sections["vectors"]["neutral_variance"],
        },
    script:
        "../scripts/story_curve.py"


extra_targets("generalisation", story_curve_targets)
