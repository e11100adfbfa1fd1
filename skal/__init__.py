"""skal: scikit-learn compatible active learning with a noisy annotator.

The public names are re-exported here::

    from skal import NoiseAwareActiveLearner, ProbCover, AUMFilter, NoisyOracle
"""

from . import datasets, filters, noise, strategies
from .filters import (
    AUMFilter,
    CentroidFilter,
    ClusterVoteFilter,
    ConfidentLearningFilter,
    CrossValidationFilter,
    FINEFilter,
    GraphFilter,
    IdealFilter,
    KNNFilter,
    NoiseFilter,
)
from .learner import DeltaSchedule, NoiseAwareActiveLearner
from .noise import NoisyOracle, make_noisy_labels
from .strategies import (
    BADGE,
    Coreset,
    EntropySampling,
    LeastConfidenceSampling,
    MarginSampling,
    MaxHerding,
    ProbCover,
    QueryStrategy,
    RandomSampling,
    TypiClust,
)

__version__ = "0.1.0"

# Co-Teaching pulls in skorch; import it only when asked for.
_LAZY = {"CoTeachingClassifier": ("skal.coteaching", "CoTeachingClassifier")}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'skal' has no attribute {name!r}")


__all__ = [
    "NoiseAwareActiveLearner",
    "DeltaSchedule",
    "QueryStrategy",
    "RandomSampling",
    "ProbCover",
    "MaxHerding",
    "TypiClust",
    "Coreset",
    "LeastConfidenceSampling",
    "MarginSampling",
    "EntropySampling",
    "BADGE",
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
    "NoisyOracle",
    "make_noisy_labels",
    "CoTeachingClassifier",
    "datasets",
    "filters",
    "noise",
    "strategies",
    "__version__",
]
