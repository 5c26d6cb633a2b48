"""emotion-vectors: emotion directions in the residual stream of open language models.

The workflow (Snakefile) computes them; this package holds the logic and the public API:

    from emotion_vectors import load_vectors, load_activations, load_passages
"""

from .api import load_activations, load_passages, load_vectors

__all__ = ["load_activations", "load_passages", "load_vectors"]
__version__ = "0.1.0"
