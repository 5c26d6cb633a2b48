"""The story corpus: the no-emotion-word rule, prompts, and seeded generation on the real
writer; the shipped implicit scenarios obey the same rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from emotion_vectors.config import ModelSpec, read_scenarios, read_synonyms
from emotion_vectors.stories import (
    EXAMPLE,
    GUARDED_RULES,
    Throughput,
    WriterSettings,
    clean_story,
    forbidden_words,
    story_prompt,
    story_requests,
    write_stories,
    writer_settings,
)
from emotion_vectors.wording import find_forbidden, forbidden_pattern

from .conftest import ROOT


@pytest.mark.parametrize(
    ("emotion", "synonyms", "text", "found"),
    [
        ("happy", [], "She was Happy.", "Happy"),
        ("happy", [], "He smiled happily at her.", "happily"),
        ("happy", [], "Such happiness!", "happiness"),
        ("happy", [], "I was happier then.", "happier"),
        ("happy", [], "What will happen next? She is unhappy.", None),
        ("calm", [], "She calmly folded the letter.", "calmly"),
        ("excited", [], "The excitement grew.", "excitement"),
        ("excited", [], "An exciting day.", "exciting"),
        ("surprised", [], "What a surprise it was.", "surprise"),
        ("bored", [], "A boring lecture.", "boring"),
        ("bored", [], "He drilled a borehole.", None),
        ("grateful", [], "She nodded gratefully.", "gratefully"),
        ("nostalgic", [], "He smiled nostalgically.", "nostalgically"),
        ("angry", ["anger", "mad"], "His anger rose.", "anger"),
        ("angry", ["anger", "mad"], "She made tea in Madrid.", None),
        ("angry", ["anger", "mad"], "It drove him mad.", "mad"),
        ("afraid", ["fear"], "Fears kept him awake.", "Fears"),
        ("at ease", [], "She felt at  ease there.", "at  ease"),
        ("at ease", [], "He was at-ease.", "at-ease"),
        ("at ease", [], "The ease of it; at home.", None),
        ("grief-stricken", [], "A grief stricken man.", "grief stricken"),
        ("worn out", [], "I was worn out by noon.", "worn out"),
        ("calm", ["at ease"], "She felt at ease.", "at ease"),
    ],
)
def test_forbidden_words(emotion, synonyms, text, found):
    assert find_forbidden(text, forbidden_pattern(emotion, synonyms)) == found


def test_shipped_scenarios_never_name_their_emotion():
    """At least 12 emotions with 5 passages each, none using the emotion word, an
    inflection or a listed synonym (read_scenarios refuses such a passage)."""
    synonyms = read_synonyms(ROOT / "config/corpus/synonyms.yaml")
    scenarios = read_scenarios(ROOT / "config/corpus/scenarios.yaml", synonyms)
    assert len(scenarios) >= 12
    assert all(len(p) >= 5 for p in scenarios.values())
    for emotion, passages in scenarios.items():
        pattern = forbidden_pattern(emotion, synonyms.get(emotion, ()))
        assert all(find_forbidden(p, pattern) is None for p in passages), emotion
    # Every scenario emotion has synonyms listed: the word alone is too weak a rule.
    assert set(scenarios) <= set(synonyms)


def test_topics_are_at_least_twenty():
    settings = writer_settings(
        {
            "topics": str(ROOT / "config/corpus/topics.txt"),
            "synonyms": str(ROOT / "config/corpus/synonyms.yaml"),
            "stories_per_topic": 1,
            "sentences": 5,
            "max_new_tokens": 128,
            "temperature": 0.8,
            "top_p": 0.95,
            "seed": 0,
            "batch_size": 24,
            "max_attempts": 3,
            "min_words": 25,
        }
    )
    assert len(settings.topics) >= 20
    assert len(set(settings.topics)) == len(settings.topics)
    assert "fear" in settings.synonyms["afraid"]


def test_requests_mix_first_and_third_person():
    reqs = story_requests("proud", ["a", "b", "c"], 2)
    assert [r.passage_id for r in reqs] == ["s001", "s002", "s003", "s004", "s005", "s006"]
    # Each topic is written once in each person when it is written twice.
    for topic in "abc":
        assert sorted(r.person for r in reqs if r.topic == topic) == ["first", "third"]
    third = [r for r in reqs if r.person == "third"]
    assert all(r.character for r in third)
    assert all(not r.character for r in reqs if r.person == "first")


def test_prompt_forbids_the_word_and_opens_the_story():
    first, third = story_requests("lonely", ["walking a dog"], 2)[:2]
    avoid = forbidden_words("lonely", ["lonesome", "loneliness"], ["lonely", "loneliness"])
    assert avoid == ["lonely", "loneliness", "lonesome"]
    user, opening = story_prompt(first, 5, "guarded", avoid)
    assert opening == "I"
    assert "first person" in user and "walking a dog" in user
    assert user.rstrip().endswith("Never use: lonely, loneliness, lonesome.")
    user, opening = story_prompt(third, 5, "guarded", avoid)
    assert opening == third.character and f"{third.character} (" in user
    # The guarded prompts of two requests share everything up to the story's particulars,
    # which the sampler runs once per batch.
    a, _ = story_prompt(first, 5, "guarded", avoid)
    head = a[: a.index("Now a story")]
    assert user.startswith(head) and head == GUARDED_RULES.format(sentences=5) + EXAMPLE
    listed, _ = story_prompt(first, 5, "listed", avoid)
    assert listed == GUARDED_RULES.format(sentences=5) + a[len(head) :]
    user, opening = story_prompt(first, 5, "plain")
    assert "Never use the word 'lonely'" in user and "first person" in user
    with pytest.raises(ValueError, match="unknown story prompt style"):
        story_prompt(first, 5, "terse")


def test_clean_story_cuts_at_the_last_full_sentence():
    assert clean_story("I", " waited. Then the **door** opened! And so") == (
        "I waited. Then the door opened!"
    )
    assert clean_story("Tom", ' said "hi." He left') == 'Tom said "hi."'


def _tiny(seed: int, batch_size: int = 2, max_attempts: int = 2) -> WriterSettings:
    return WriterSettings(
        topics=("waiting for a bus", "baking bread"),
        stories_per_topic=1,
        sentences=3,
        max_new_tokens=24,
        temperature=0.8,
        top_p=0.95,
        seed=seed,
        batch_size=batch_size,
        max_attempts=max_attempts,
        min_words=1,
    )


def test_same_seed_same_stories_other_seed_other_stories(smollm2):
    """Seeded, batched sampling on the real writer: reproducible, and the seed matters."""
    m, tok = smollm2.model, smollm2.tokenizer
    a, stats = write_stories(m, tok, ["proud"], _tiny(0), Throughput())["proud"]
    b, _ = write_stories(m, tok, ["proud"], _tiny(0), Throughput())["proud"]
    c, _ = write_stories(m, tok, ["proud"], _tiny(1), Throughput())["proud"]
    assert len(a) >= 1
    assert a.equals(b)
    assert a["text"].tolist() != c["text"].tolist()
    assert stats["generated"] >= stats["requested"] == 2
    pattern = forbidden_pattern("proud")
    assert all(find_forbidden(t, pattern) is None for t in a["text"])
    assert set(a["person"]) <= {"first", "third"}


def test_a_story_does_not_depend_on_its_batch(smollm2):
    """Each story draws from its own seed: written alone, or in a batch of another size
    mixed with another emotion's stories (other padding, other rows), an emotion's stories
    and their rejection statistics are the same (float32)."""
    m, tok = smollm2.model, smollm2.tokenizer
    alone = write_stories(m, tok, ["proud"], _tiny(0, batch_size=1, max_attempts=1), Throughput())
    mixed = write_stories(
        m, tok, ["bored", "proud"], _tiny(0, batch_size=3, max_attempts=1), Throughput()
    )
    assert alone["proud"][0].equals(mixed["proud"][0])
    assert alone["proud"][1] == mixed["proud"][1]
    assert set(mixed) == {"bored", "proud"}


@pytest.mark.parametrize("name", ["stories.yaml", "stories-1.5b.yaml"])
def test_story_config_runs_both_corpora_on_the_scenario_emotions(name):
    import yaml

    from emotion_vectors.run_config import load_run_config

    cfg = yaml.safe_load((ROOT / "config" / name).read_text())
    run = load_run_config(cfg, label=f"config/{name}")
    assert run.corpora == ["templates", "stories"]
    synonyms = read_synonyms(ROOT / "config/corpus/synonyms.yaml")
    scenarios = read_scenarios(ROOT / "config/corpus/scenarios.yaml", synonyms)
    # Every emotion of the story run has scenarios (the scenario file has more emotions
    # than the story run writes stories for; the test scores the emotions both have).
    assert set(run.emotions) <= set(scenarios)
    assert run.sections["stories"]["writer_spec"]["chat"] is True
    # The writer is the model whose two corpora are compared.
    assert run.sections["stories"]["writer"] in run.models
    assert load_run_config({}).corpora == ["templates"]  # the default run stays template-based


def test_the_full_story_config_writes_every_emotion_and_judges_the_scenario_ones():
    """config/stories-1.5b-all.yaml: all 171 emotions, the writer settings of the 288-story
    run (so the two share cache entries), and a judge over its 12 emotions only."""
    import yaml

    from emotion_vectors.run_config import load_run_config
    from emotion_vectors.stories import story_cache_key, writer_settings

    def load(name: str):
        cfg = yaml.safe_load((ROOT / "config" / name).read_text())
        return load_run_config(cfg, label=f"config/{name}")

    full, small = load("stories-1.5b-all.yaml"), load("stories-1.5b.yaml")
    assert len(full.emotions) == 171 and full.models == small.models
    assert sorted(full.sections["stories"]["judge_emotions"]) == sorted(small.emotions)
    assert small.sections["stories"]["judge_emotions"] == small.emotions  # unset: all
    for emotion in small.emotions:
        keys = set()
        for run in (full, small):
            stories = run.sections["stories"]
            spec = ModelSpec(**stories["writer_spec"])  # the writer job's own key
            writer = {**spec.fingerprint(), "key": spec.key}
            keys.add(story_cache_key(writer, emotion, writer_settings(stories)))
        assert len(keys) == 1, emotion


def _job_script(cache: Path, out: Path, emotions: list[str]) -> str:
    """A story-writing job as the workflow runs it, in its own process."""
    from dataclasses import asdict

    from emotion_vectors.config import read_models

    # float32: a story is then the same whichever rows share its batch, so the resumed run
    # (fewer emotions, other batches) can be compared with an uninterrupted one exactly.
    spec = read_models(ROOT / "config/models.yaml")["smollm2-135m-instruct"]
    writer = {**asdict(spec), "dtype": "float32"}
    # Six of the shipped topics (a file beside the cache): six stories an emotion are
    # enough to kill a writer between two emotions, at a quarter of the time of all 24.
    topics = cache.parent / "topics.txt"
    if not topics.exists():
        shipped = (ROOT / "config/corpus/topics.txt").read_text().splitlines()
        topics.write_text("\n".join([t for t in shipped if t.strip() and t[0] != "#"][:6]) + "\n")
    settings = {
        "topics": str(topics),
        "synonyms": str(ROOT / "config/corpus/synonyms.yaml"),
        "word_forms": str(ROOT / "config/emotions/word-forms.yaml"),
        "stories_per_topic": 1,
        "sentences": 3,
        "max_new_tokens": 16,
        "temperature": 0.8,
        "top_p": 0.95,
        "seed": 0,
        "batch_size": 8,
        "max_attempts": 1,
        "min_words": 1,
        "prompt": "guarded",
    }
    outputs = [str(out / f"{e}.parquet") for e in emotions]
    return (
        "from emotion_vectors.jobs.stories import write_story_passages\n"
        "from emotion_vectors.stories import writer_settings\n"
        f"write_story_passages({writer!r}, writer_settings({settings!r}), {emotions!r}, "
        f"{outputs!r}, {str(out / 'report.json')!r}, {str(cache)!r}, threads=1)\n"
    )


def test_a_killed_writer_resumes_without_losing_finished_emotions(tmp_path):
    """SIGKILL once the first emotion is stored: the next run writes only the others, keeps
    the stored entry as it was, and ends with the stories of a run never interrupted; a
    damaged story file is written again, the same."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    import pandas as pd

    emotions = ["proud", "bored", "calm"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cache, out = tmp_path / "cache", tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", _job_script(cache, out, emotions)], env=env)
    deadline = time.monotonic() + 300
    while not list(cache.glob("*.parquet")) and proc.poll() is None:
        assert time.monotonic() < deadline, "no emotion stored in 300 s"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stored = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in cache.glob("*.parquet")}
    assert 1 <= len(stored) < len(emotions), "the kill came too late to test a resume"
    subprocess.run([sys.executable, "-c", _job_script(cache, out, emotions)], env=env, check=True)
    report = json.loads((out / "report.json").read_text())
    assert len(report["written"]) == len(emotions) - len(stored)
    for name, (mtime, data) in stored.items():
        assert (cache / name).stat().st_mtime_ns == mtime and (cache / name).read_bytes() == data
    fresh_cache, fresh_out = tmp_path / "fresh-cache", tmp_path / "fresh-out"
    script = _job_script(fresh_cache, fresh_out, emotions)
    subprocess.run([sys.executable, "-c", script], env=env, check=True)
    for emotion in emotions:
        resumed = pd.read_parquet(out / f"{emotion}.parquet")
        assert resumed.equals(pd.read_parquet(fresh_out / f"{emotion}.parquet")), emotion
    # A damaged output damages its cache entry too (a hard link of it): the next run refuses
    # the entry by its checksum and writes that emotion's stories again, the same stories.
    damaged = out / "calm.parquet"
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0x01
    damaged.write_bytes(bytes(data))
    damaged.unlink()  # as the workflow does with an output whose seal no longer matches
    rerun = subprocess.run([sys.executable, "-c", _job_script(cache, out, emotions)], env=env,
                           check=True, capture_output=True, text=True)  # fmt: skip
    assert json.loads((out / "report.json").read_text())["written"] == ["calm"]
    assert rerun.stderr.count("corrupt cache entry") == 1, rerun.stderr[-2000:]
    again = pd.read_parquet(out / "calm.parquet")
    assert again.equals(pd.read_parquet(fresh_out / "calm.parquet"))


def test_a_writer_that_is_not_installed_names_what_to_install(tmp_path):
    """The story job stops at the writer's load with the one line a missing model gives:
    its package and the install command (nothing is written to the cache)."""
    from emotion_vectors.jobs.stories import write_story_passages
    from emotion_vectors.models import ModelUnavailable

    writer = {
        "key": "absent-writer",
        "source": "parts:emotion_vectors_absent_part",
        "num_layers": 2,
        "chat": True,
        "parts": 3,
        "sha256": "0" * 64,
        "gguf_file": "absent.gguf",
        "install": "pip install 'emotion-vectors[absent]'",
    }
    with pytest.raises(ModelUnavailable) as err:
        write_story_passages(writer, _tiny(0), ["proud"], [str(tmp_path / "proud.parquet")],
                             str(tmp_path / "report.json"), str(tmp_path / "cache"))  # fmt: skip
    message = str(err.value)
    assert "'emotion_vectors_absent_part1' (part 1 of 3) is not installed" in message
    assert message.endswith("Provide it with: pip install 'emotion-vectors[absent]'")
    assert not list(tmp_path.glob("cache/*.parquet"))
