# Passages do not depend on the model: written once, shared by every model of a sweep.


rule template_passages:
    input:
        templates=RUN.sections["corpus"]["templates"],
    output:
        [LAYOUT.passages(e, "templates") for e in RUN.emotions],
    log:
        LAYOUT.log("corpus", "template_passages"),
    localrule: True
    conda:
        "../envs/analysis.yaml"
    params:
        emotions=RUN.emotions,
    script:
        "../scripts/write_template_passages.py"


rule neutral_passages:
    input:
        neutral=RUN.sections["corpus"]["neutral"],
    output:
        LAYOUT.neutral_passages("templates"),
    log:
        LAYOUT.log("corpus", "neutral_passages"),
    localrule: True
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/write_neutral_passages.py"


# The story corpus: one job per run loads the writer once and writes only the emotions that
# are missing from its story cache (results/corpus/cache/<writer>/), keyed by the writer and
# every setting that changes the stories; each per-emotion file is a link to its entry.
# The writer's job is sized like any job that loads that model; its params leave the
# sizing out, as model_params does, so a new memory figure does not rewrite the stories.
STORY_WRITER = RUN.sections["stories"].get("writer_spec")
if STORY_WRITER:
    STORY_RESOURCES = job_resources(ModelSpec(**STORY_WRITER))
    STORY_WRITER = {
        **STORY_WRITER,
        "extra": {
            k: v for k, v in STORY_WRITER["extra"].items() if k not in SIZING_KEYS
        },
    }
    STORY_THREADS = STORY_RESOURCES.cpus
    STORY_RESOURCE_ARGS = {
        k: v for k, v in STORY_RESOURCES.as_snakemake().items() if v is not None
    }
else:
    STORY_THREADS, STORY_RESOURCE_ARGS = 1, {}
# Settings of the stories section that do not change a story: changing one must not run
# the writer's job (and everything after it) again.
NOT_WRITING = (
    "writer",
    "writer_spec",
    "pool_start",
    "neutral_dialogues",
    "judge_emotions",
)


rule story_passages:
    input:
        topics=RUN.sections["stories"]["topics"],
        synonyms=RUN.sections["stories"]["synonyms"],
        word_forms=RUN.sections["word_forms"],
    output:
        stories=[LAYOUT.passages(e, "stories") for e in RUN.emotions],
        report=LAYOUT.story_report(),
    log:
        LAYOUT.log("corpus", "story_passages"),
    conda:
        "../envs/model.yaml"
    threads: STORY_THREADS
    resources:
        **STORY_RESOURCE_ARGS,
    params:
        writer=STORY_WRITER,
        settings={
            k: v for k, v in RUN.sections["stories"].items() if k not in NOT_WRITING
        },
        emotions=RUN.emotions,
        cache=LAYOUT.story_cache(RUN.sections["stories"]["writer"]),
    script:
        "../scripts/write_story_passages.py"


rule neutral_story_passages:
    input:
        neutral=RUN.sections["corpus"]["neutral"],
        dialogues=RUN.sections["stories"]["neutral_dialogues"],
    output:
        LAYOUT.neutral_passages("stories"),
    log:
        LAYOUT.log("corpus", "neutral_story_passages"),
    localrule: True
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/write_neutral_passages.py"
