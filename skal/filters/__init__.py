"""Noise filters: which of the annotator's labels to believe."""

from ._aum import AUMFilter
from ._base import NoiseFilter
from ._centroid import CentroidFilter
from ._cluster_vote import ClusterVoteFilter
from ._confident_learning import ConfidentLearningFilter
from ._cross_validation import CrossValidationFilter
from ._fine import FINEFilter
from ._graph import GraphFilter
from ._ideal import IdealFilter
from ._knn import KNNFilter

__all__ = [
    "NoiseFilter",
    "AUMFilter",
    "CrossValidationFilter",
    "ConfidentLearningFilter",
    "KNNFilter",
    "CentroidFilter",
    "FINEFilter",
    "GraphFilter",
    "ClusterVoteFilter",
    "IdealFilter",
]
