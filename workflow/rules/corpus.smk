# Passages do not depend on the model: written once, shared by every model of a sweep.


rule template_passages:
    input:
        templates=RUN.settings["corpus"]["templates"],
    output:
        [paths.corpus_file(RESULTS, e, "templates") for e in RUN.emotions],
    log:
        f"{RESULTS}/logs/corpus/template_passages.log",
    localrule: True
    conda:
        "../../environment.yml"
    params:
        emotions=RUN.emotions,
    script:
        "../scripts/write_template_passages.py"


rule neutral_passages:
    input:
        neutral=RUN.settings["corpus"]["neutral"],
    output:
        paths.neutral_corpus_file(RESULTS),
    log:
        f"{RESULTS}/logs/corpus/neutral_passages.log",
    localrule: True
    conda:
        "../../environment.yml"
    script:
        "../scripts/write_neutral_passages.py"
