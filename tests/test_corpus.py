"""The passages: templates read naturally for every emotion, the neutral set is usable."""

import re

import numpy as np

from emotion_vectors.corpus import neutral_passages, render, template_passages
from emotion_vectors.run_config import load_run_config


def _run():
    return load_run_config({})


def test_every_template_puts_the_emotion_after_a_form_of_feel():
    for t in _run().templates:
        assert re.search(r"\b(felt|feel|feels|feeling) \{emotion\}", t["text"]), t["id"]


def test_multi_word_and_noun_emotions_read_naturally():
    templates = _run().templates
    for emotion in ["at ease", "worn out", "on edge", "grief-stricken", "hope", "self-confident"]:
        df = template_passages(emotion, templates)
        assert len(df) == len(templates)
        for text in df["text"]:
            assert re.search(rf"\b(felt|feel|feels|feeling) {re.escape(emotion)}\b", text)
            assert "{" not in text


def test_templates_vary_in_person_and_setting():
    templates = _run().templates
    persons = [t["person"] for t in templates]
    assert persons.count("first") >= 3 and persons.count("third") >= 3
    assert len({t["text"].split()[0] for t in templates}) >= 8


def test_passage_ids_are_stable_and_unique():
    templates = _run().templates
    a = template_passages("calm", templates)
    b = template_passages("angry", templates)
    assert list(a["passage_id"]) == list(b["passage_id"])
    assert a["passage_id"].is_unique
    assert render("I felt {emotion}.", "at ease") == "I felt at ease."


def test_neutral_set_is_large_and_matches_the_templates_in_length():
    run = _run()
    neutral = neutral_passages(run.neutral)
    assert len(neutral) >= 50 and neutral["passage_id"].is_unique
    assert neutral["text"].is_unique
    n_len = np.median([len(t.split()) for t in run.neutral])
    t_len = np.median([len(render(t["text"], "happy").split()) for t in run.templates])
    assert 0.75 < n_len / t_len < 1.25
    feeling_words = re.compile(r"\b(felt|feel|happy|sad|angry|afraid|love|hate)\b", re.I)
    assert not [t for t in run.neutral if feeling_words.search(t)]
