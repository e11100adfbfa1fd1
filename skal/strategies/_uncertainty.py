"""Uncertainty sampling: least confidence, margin and entropy."""

from __future__ import annotations

from abc import abstractmethod

import numpy as np

from ..neighbors import iter_row_blocks
from ._base import QueryStrategy

__all__ = [
    "UncertaintySampling",
    "LeastConfidenceSampling",
    "MarginSampling",
    "EntropySampling",
    "predict_proba_blocked",
]

# Rows per predict_proba call, so a huge pool never makes one huge (n, C) temporary.
_PROBA_ROWS = 65_536


def predict_proba_blocked(estimator, X: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``estimator.predict_proba`` on ``X[rows]`` in blocks, checked to be a distribution.

    Raises
    ------
    ValueError
        When the estimator returns something that is not an ``(n, C)`` array of
        finite probabilities.
    """
    out = []
    for sl in iter_row_blocks(rows.size, _PROBA_ROWS):
        out.append(np.asarray(estimator.predict_proba(X[rows[sl]]), dtype=np.float64))
    P = np.concatenate(out) if out else np.empty((0, 1))
    if P.ndim != 2 or P.shape[0] != rows.size:
        raise ValueError(f"estimator.predict_proba returned shape {P.shape}, expected ({rows.size}, n_classes)")
    if not np.isfinite(P).all():
        raise ValueError("estimator.predict_proba returned NaN or infinite probabilities")
    return P


class UncertaintySampling(QueryStrategy):
    """Base of the uncertainty strategies: pick the unlabeled points scored most uncertain.

    Subclasses define :meth:`uncertainty` (higher = more uncertain). Ties are
    broken at random.
    """

    requires_estimator = True
    # X is read only by ``estimator.predict_proba``: sparse pools pass through.
    passes_X_to_estimator = True

    def __init__(self, random_state=None):
        self.random_state = random_state

    @staticmethod
    @abstractmethod
    def uncertainty(P: np.ndarray) -> np.ndarray:
        """Uncertainty of each row of class probabilities ``P`` (higher = more uncertain)."""

    def _select(self, X, budget, *, labeled, covering, estimator, rng):
        selectable = np.ones(X.shape[0], dtype=bool)
        selectable[labeled] = False
        pool = np.flatnonzero(selectable)
        P = predict_proba_blocked(estimator, X, pool)
        u = self.uncertainty(P)
        self.scores_ = u
        # Sort by uncertainty (descending), a random key breaking ties.
        order = np.lexsort((rng.random(pool.size), -u))
        return pool[order[:budget]]


class LeastConfidenceSampling(UncertaintySampling):
    """Pick the points whose most probable class has the lowest probability: ``1 - max_c p_c``.

    Parameters
    ----------
    random_state : int, numpy Generator or None, default=None
        Seeds tie-breaking.

    Attributes
    ----------
    scores_ : ndarray
        Uncertainty of every unlabeled point of the last call, in pool order.
    """

    @staticmethod
    def uncertainty(P: np.ndarray) -> np.ndarray:
        """``1 - max_c p_c``."""
        return 1.0 - P.max(axis=1)


class MarginSampling(UncertaintySampling):
    """Pick the points with the smallest gap between the two most probable classes.

    Parameters
    ----------
    random_state : int, numpy Generator or None, default=None
        Seeds tie-breaking.

    Attributes
    ----------
    scores_ : ndarray
        ``-(p_(1) - p_(2))`` of every unlabeled point of the last call.
    """

    @staticmethod
    def uncertainty(P: np.ndarray) -> np.ndarray:
        """Negative margin ``-(p_(1) - p_(2))`` (a single class has margin 1)."""
        if P.shape[1] < 2:
            return np.full(P.shape[0], -1.0)
        top2 = -np.partition(-P, 1, axis=1)[:, :2]
        return -(top2[:, 0] - top2[:, 1])


class EntropySampling(UncertaintySampling):
    """Pick the points whose predicted class distribution has the largest entropy.

    Parameters
    ----------
    random_state : int, numpy Generator or None, default=None
        Seeds tie-breaking.

    Attributes
    ----------
    scores_ : ndarray
        Entropy (nats) of every unlabeled point of the last call.
    """

    @staticmethod
    def uncertainty(P: np.ndarray) -> np.ndarray:
        """``-sum_c p_c log p_c`` with ``0 log 0 = 0``."""
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(P > 0, P * np.log(np.where(P > 0, P, 1.0)), 0.0)
        return -t.sum(axis=1)
