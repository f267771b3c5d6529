"""Merging asks into questions: plain Python, no Django (see engine.py)."""

from .embedders import E5Embedder, Embedder, USEEmbedder, load_embedder
from .engine import Assignment, Cluster, Locks, MergeEngine, PairScore, Thresholds
from .learn import Transform, fit_transform
from .normalise import exact_key, match_key

__all__ = [
    "Assignment",
    "Cluster",
    "E5Embedder",
    "Embedder",
    "Locks",
    "MergeEngine",
    "PairScore",
    "Thresholds",
    "Transform",
    "USEEmbedder",
    "exact_key",
    "fit_transform",
    "load_embedder",
    "match_key",
]
