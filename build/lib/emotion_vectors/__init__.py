"""emotion-vectors: emotion directions in the residual stream of open language models.

The workflow (Snakefile) computes them; this package holds the logic and the public API:

    from emotion_vectors import load_vectors, load_activations, load_passages, load_summary
    from emotion_vectors import trace   # the emotions at each token of a text or chat
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

# MKL, torch's CPU BLAS, picks some float32 kernels by the memory alignment of their
# operands, which differs from process to process: 6 of 78 runs of the same extraction
# gave layer-5 states that differed by 1e-4 (in the one-passage forwards of shared
# prefixes). With strict conditional numerical reproducibility 0 of 57 runs differed
# (Fisher p = 0.03), at no measured cost. Set before torch starts MKL (the workflow's jobs
# import this package first); a value the user set wins.
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")

if TYPE_CHECKING:
    from .api import load_activations, load_passages, load_summary, load_vectors, trace

__all__ = ["load_activations", "load_passages", "load_summary", "load_vectors", "trace"]
# The one place the version is written (pyproject.toml reads it; CHANGELOG.md; tags v<version>).
__version__ = "0.1.0"


def __getattr__(name: str):
    # The API pulls in pandas and pyarrow; importing it lazily keeps `import
    # emotion_vectors.paths` (every Snakefile parse, every thin script) from paying for them.
    if name in __all__:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
