"""The story corpus: the no-emotion-word rule, prompts, and seeded generation on the real
writer; the shipped implicit scenarios obey the same rule."""

from __future__ import annotations

import pytest

from emotion_vectors.config import read_scenarios, read_synonyms
from emotion_vectors.stories import (
    Throughput,
    WriterSettings,
    clean_story,
    story_prompt,
    story_requests,
    write_emotion,
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
    user, opening = story_prompt(first, 5)
    assert opening == "I"
    assert "first person" in user and "walking a dog" in user
    assert "Never use the word 'lonely'" in user
    user, opening = story_prompt(third, 5)
    assert opening == third.character and third.character in user
    assert "third person" in user


def test_clean_story_cuts_at_the_last_full_sentence():
    assert clean_story("I", " waited. Then the **door** opened! And so") == (
        "I waited. Then the door opened!"
    )
    assert clean_story("Tom", ' said "hi." He left') == 'Tom said "hi."'


def _tiny(seed: int) -> WriterSettings:
    return WriterSettings(
        topics=("waiting for a bus", "baking bread"),
        stories_per_topic=1,
        sentences=3,
        max_new_tokens=24,
        temperature=0.8,
        top_p=0.95,
        seed=seed,
        batch_size=2,
        max_attempts=2,
        min_words=1,
    )


def test_same_seed_same_stories_other_seed_other_stories(smollm2):
    """Seeded, batched sampling on the real writer: reproducible, and the seed matters."""
    m, tok = smollm2.model, smollm2.tokenizer
    a, stats = write_emotion(m, tok, "proud", _tiny(0), Throughput())
    b, _ = write_emotion(m, tok, "proud", _tiny(0), Throughput())
    c, _ = write_emotion(m, tok, "proud", _tiny(1), Throughput())
    assert len(a) >= 1
    assert a.equals(b)
    assert a["text"].tolist() != c["text"].tolist()
    assert stats["generated"] >= stats["requested"] == 2
    pattern = forbidden_pattern("proud")
    assert all(find_forbidden(t, pattern) is None for t in a["text"])
    assert set(a["person"]) <= {"first", "third"}


def test_story_config_runs_both_corpora_on_the_scenario_emotions():
    import yaml

    from emotion_vectors.config import load_run_config

    cfg = yaml.safe_load((ROOT / "config/stories.yaml").read_text())
    run = load_run_config(cfg, label="config/stories.yaml")
    assert run.corpora == ["templates", "stories"]
    synonyms = read_synonyms(ROOT / "config/corpus/synonyms.yaml")
    scenarios = read_scenarios(ROOT / "config/corpus/scenarios.yaml", synonyms)
    # Every emotion of the story run has scenarios (the scenario file has more emotions
    # than the story run writes stories for; the test scores the emotions both have).
    assert set(run.emotions) <= set(scenarios)
    assert run.settings["stories"]["writer_spec"]["chat"] is True
    assert load_run_config({}).corpora == ["templates"]  # the default run stays template-based
