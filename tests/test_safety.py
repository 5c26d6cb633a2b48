"""Nothing runs that should not: no pickle, no remote code unless a model entry asks."""

import re

from emotion_vectors.config import parse_models

from .conftest import ROOT

SOURCES = [
    *ROOT.glob("emotion_vectors/*.py"),
    *ROOT.glob("workflow/scripts/*.py"),
    *ROOT.glob("workflow/rules/*.smk"),
    ROOT / "Snakefile",
    ROOT / "workflow" / "Snakefile",
]


def test_no_pickle_or_unsafe_torch_load_in_the_project():
    assert len(SOURCES) > 10
    for path in SOURCES:
        text = path.read_text()
        assert not re.search(r"\bimport (c?pickle|dill|joblib)\b", text), path
        for call in re.findall(r"torch\.load\([^)]*\)", text):
            assert "weights_only=True" in call, (path, call)


def test_trust_remote_code_is_off_unless_asked():
    models = parse_models(
        {
            "models": {
                "a": {"source": "hub:x/y", "num_layers": 2},
                "b": {"source": "hub:x/z", "num_layers": 2, "trust_remote_code": True},
            }
        },
        "m.yaml",
    )
    assert models["a"].trust_remote_code is False
    assert models["b"].trust_remote_code is True
    loader = (ROOT / "emotion_vectors" / "models.py").read_text()
    assert '"trust_remote_code": spec.trust_remote_code' in loader
    assert "trust_remote_code=True" not in loader
