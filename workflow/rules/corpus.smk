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


# The story corpus: one job per run loads the writer once and writes only the emotions that
# are missing from its story cache (results/corpus/cache/<writer>/), keyed by the writer and
# every setting that changes the stories; each per-emotion file is a link to its entry.
rule story_passages:
    input:
        topics=RUN.settings["stories"]["topics"],
        synonyms=RUN.settings["stories"]["synonyms"],
    output:
        stories=[paths.corpus_file(RESULTS, e, "stories") for e in RUN.emotions],
        report=f"{RESULTS}/corpus/stories.json",
    log:
        f"{RESULTS}/logs/corpus/story_passages.log",
    conda:
        "../../environment.yml"
    threads: STORY_THREADS
    resources:
        **STORY_RESOURCE_ARGS,
    params:
        writer=STORY_WRITER,
        settings={
            k: v
            for k, v in RUN.settings["stories"].items()
            if k not in ("writer", "writer_spec", "pool_start", "neutral_dialogues")
        },
        emotions=RUN.emotions,
        cache=f"{RESULTS}/corpus/cache/{RUN.settings['stories']['writer']}",
    script:
        "../scripts/write_story_passages.py"


rule neutral_story_passages:
    input:
        neutral=RUN.settings["corpus"]["neutral"],
        dialogues=RUN.settings["stories"]["neutral_dialogues"],
    output:
        paths.neutral_corpus_file(RESULTS, "stories"),
    log:
        f"{RESULTS}/logs/corpus/neutral_story_passages.log",
    localrule: True
    conda:
        "../../environment.yml"
    script:
        "../scripts/write_neutral_story_passages.py"
