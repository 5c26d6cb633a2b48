"""The reviewed word forms of the 171 emotions (config/emotions/word-forms.yaml): complete,
well formed, free of the stem rule's over-matches and misses; token matching for the logit
lens; the naming rule over many emotions; the shipped scenarios name no emotion at all."""

from __future__ import annotations

import re
import time
from collections import defaultdict

import pytest

from emotion_vectors.config import ConfigError, read_emotion_list, read_synonyms
from emotion_vectors.wordforms import FORM, forms_of, read_word_forms, token_is_form
from emotion_vectors.wording import find_forbidden, forbidden_pattern, naming_emotions, word_forms

from .conftest import ROOT

FORMS_FILE = ROOT / "config/emotions/word-forms.yaml"
EMOTIONS = read_emotion_list(ROOT / "config/emotions/all-171.txt")
TABLE = read_word_forms(FORMS_FILE)
SYNONYMS = read_synonyms(ROOT / "config/corpus/synonyms.yaml")

# Forms that may appear under more than one emotion: only within one family.
SHARED_FORMS = {
    form: {"hope", "hopeful"}
    for form in ("hope", "hopes", "hoped", "hoping", "hopeful", "hopefully", "hopefulness")
}


def test_every_emotion_has_an_entry():
    assert len(EMOTIONS) == 171
    assert set(TABLE) == set(EMOTIONS)


def test_single_word_emotions_list_themselves_and_phrases_their_hyphenated_spelling():
    for emotion in EMOTIONS:
        expected = emotion.replace(" ", "-")
        assert expected in TABLE[emotion], emotion


def test_every_form_is_one_well_formed_word():
    for emotion, forms in TABLE.items():
        assert len(set(forms)) == len(forms), emotion
        for form in forms:
            assert FORM.match(form), (emotion, form)


def test_empty_lists_carry_a_comment():
    """An empty list must say why on its line or the line above."""
    lines = FORMS_FILE.read_text().splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^\s+[a-z -]+: \[\]", line):
            assert "#" in line or lines[i - 1].lstrip().startswith("#"), line


def test_shared_forms_only_from_the_allowlist():
    owners = defaultdict(set)
    for emotion, forms in TABLE.items():
        for form in forms:
            owners[form].add(emotion)
    shared = {form: emotions for form, emotions in owners.items() if len(emotions) > 1}
    assert shared == SHARED_FORMS


@pytest.mark.parametrize(
    ("token", "emotion"),
    [
        ("easy", "at ease"),
        ("ease", "at ease"),
        ("edge", "on edge"),
        ("sleep", "sleepy"),
        ("angr", "angry"),
        ("happ", "happy"),
        ("happen", "happy"),
        ("fear", "afraid"),
        ("joy", "happy"),
        ("kinds", "kind"),
        ("tire", "tired"),
        ("please", "pleased"),
        ("worn", "worn out"),
        ("madly", "mad"),
        ("said", "sad"),
        ("", "calm"),
    ],
)
def test_over_matches_are_not_forms(token, emotion):
    assert not token_is_form(token, forms_of(emotion, TABLE))


@pytest.mark.parametrize(
    ("token", "emotion"),
    [
        ("stress", "stressed"),
        ("jealousy", "jealous"),
        ("amusement", "amused"),
        ("annoyance", "annoyed"),
        ("bliss", "blissful"),
        ("optimism", "optimistic"),
        ("ecstasy", "ecstatic"),
        ("defiance", "defiant"),
        ("happier", "happy"),
        ("anger", "angry"),
        ("self-confidence", "self-confident"),
        ("grief", "grief-stricken"),
        ("worn-out", "worn out"),
    ],
)
def test_real_forms_match(token, emotion):
    assert token_is_form(token, forms_of(emotion, TABLE))


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        (" Happy", True),
        ("Ġhappiness", True),
        ("▁sad", True),
        ("sad.", True),
        ("ĠSAD", True),
        ('"sad,"', True),
        ("Ġhapp", False),
        ("sa", False),
        ("saddle", False),
        ("sad-ish", False),
    ],
)
def test_token_is_form_strips_markers_case_and_punctuation(token, expected):
    forms = forms_of("happy", TABLE) | forms_of("sad", TABLE)
    assert token_is_form(token, forms) is expected


def test_forms_of_falls_back_to_generated_inflections():
    assert forms_of("wistful", TABLE) == frozenset(word_forms("wistful"))
    assert {"wistful", "wistfully"} <= forms_of("wistful", TABLE)
    assert forms_of("down in the dumps", TABLE) == frozenset()
    assert forms_of("happy", {"happy": ["happy"]}) == frozenset({"happy"})


@pytest.mark.parametrize(
    ("content", "key", "problem"),
    [
        ("forms: [happy]\n", "forms", "mapping"),
        ("other: {}\n", "forms", "mapping"),
        ("forms:\n  Happy: [happy]\n", "forms.Happy", "not a valid emotion name"),
        ("forms:\n  happy: happy\n", "forms.happy", "list"),
        ("forms:\n  happy: [happy, happier, Happiest]\n", "forms.happy[2]", "not a word form"),
        ("forms:\n  happy: [happy, happy ness]\n", "forms.happy[1]", "not a word form"),
        ("forms:\n  happy: [happy, a-b-c]\n", "forms.happy[1]", "not a word form"),
        ("forms:\n  happy: [happy, 3]\n", "forms.happy[1]", "not a word form"),
        ("forms:\n  happy: [happy, happier, happy]\n", "forms.happy[2]", "duplicate"),
        ("forms:\n  sad: [sad]\n  sad: [sadly]\n", "", "key 'sad' is written twice"),
    ],
)
def test_read_word_forms_errors_name_file_and_key(tmp_path, content, key, problem):
    path = tmp_path / "forms.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError) as info:
        read_word_forms(path)
    assert info.value.file == str(path)
    assert info.value.key == key
    assert problem in info.value.problem
    assert str(path) in str(info.value)


def test_read_word_forms_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        read_word_forms(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("forms: {happy: [happy\n")
    with pytest.raises(ConfigError, match="malformed YAML"):
        read_word_forms(bad)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("She was happier than ever.", [("happy", "happier")]),
        # "at ease" is also a listed synonym of calm.
        ("By evening he felt at ease.", [("at ease", "at ease"), ("calm", "at ease")]),
        ("She looked worn-out after the shift.", [("worn out", "worn-out")]),
        ("The stress of it kept him awake.", [("stressed", "stress")]),
        ("The bus left at nine and the street was wet.", []),
        ("It was easy to find the edge of the map.", []),
    ],
)
def test_naming_emotions(text, expected):
    assert naming_emotions(text, EMOTIONS, TABLE, SYNONYMS) == expected


def test_naming_emotions_uses_synonyms_and_table():
    assert naming_emotions("Her fury grew.", ["angry"], {}, {"angry": ["fury"]}) == [
        ("angry", "fury")
    ]
    assert naming_emotions("Her fury grew.", ["angry"], {}) == []
    assert naming_emotions("Such jealousy.", ["jealous"], TABLE) == [("jealous", "jealousy")]


def test_forbidden_pattern_with_forms_keeps_its_old_behaviour():
    assert find_forbidden("Such jealousy.", forbidden_pattern("jealous")) is None
    pattern = forbidden_pattern("jealous", (), ["jealousy"])
    assert find_forbidden("Such Jealousy!", pattern) == "Jealousy"
    assert find_forbidden("He was jealous.", pattern) == "jealous"
    assert find_forbidden("Jealousyish", pattern) is None
    assert find_forbidden("A grief stricken man.", forbidden_pattern("x", (), ["grief-stricken"]))


def test_naming_emotions_is_fast():
    texts = [f"Passage {i}: the bus left at nine and the street was wet." for i in range(60)]
    naming_emotions(texts[0], EMOTIONS, TABLE, SYNONYMS)  # compile the patterns once
    started = time.perf_counter()
    for text in texts:
        naming_emotions(text, EMOTIONS, TABLE, SYNONYMS)
    assert time.perf_counter() - started < 1.0


def test_shipped_scenarios_name_no_emotion_of_the_run():
    """A passage that names any of the 171 emotions (not only its own) gives the answer
    away; read without read_scenarios so that this test fails on its own."""
    import yaml

    data = yaml.safe_load((ROOT / "config/corpus/scenarios.yaml").read_text())
    offending = [
        (emotion, i, found)
        for emotion, passages in data["scenarios"].items()
        for i, text in enumerate(passages)
        if (found := naming_emotions(text, EMOTIONS, TABLE, SYNONYMS))
    ]
    assert offending == []
