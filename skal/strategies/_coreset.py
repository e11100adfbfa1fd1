"""Core-set selection (Sener & Savarese, 2018) by k-center greedy."""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from ..neighbors import min_sq_dist_to, row_sq_norms, sq_dists_block, unit_normalize
from ._base import RANDOM_STATE_CONSTRAINT, CoverageStrategyMixin, QueryStrategy

__all__ = ["Coreset", "k_center_greedy"]


def k_center_greedy(X: np.ndarray, budget: int, dist: np.ndarray, selectable: np.ndarray,
                    rng: np.random.Generator, *, x_sq: np.ndarray | None = None) -> np.ndarray:
    """Farthest-first traversal: repeatedly pick the point farthest from every centre.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    budget : int
    dist : ndarray of shape (n_samples,)
        Current (effective) distance of each point to its nearest centre;
        ``inf`` where there is none. Updated in place.
    selectable : ndarray of bool, shape (n_samples,)
    rng : numpy Generator
        Breaks ties (and picks the first centre when there is none).
    x_sq : ndarray, optional
        Squared row norms of ``X``.

    Returns
    -------
    picks : ndarray of int64, shape (budget,)

    Notes
    -----
    Each pick costs one ``n x d`` product, ``O(budget * n * d)`` in all, and
    only ``n`` distances are kept.
    """
    if x_sq is None:
        x_sq = row_sq_norms(X)
    score = np.where(selectable, dist, -np.inf)
    picks = np.empty(budget, dtype=np.int64)
    for t in range(budget):
        best = score.max()
        if np.isinf(best):  # no centre yet: every point is equally far
            ties = np.flatnonzero(score == best)
        else:
            ties = np.flatnonzero(score >= best - 1e-12 * max(1.0, best))
        x = int(ties[rng.integers(ties.size)]) if ties.size > 1 else int(ties[0])
        picks[t] = x
        d = np.sqrt(sq_dists_block(X[x:x + 1], X, x_sq[x:x + 1], x_sq)[0].astype(np.float64))
        np.minimum(dist, d, out=dist)
        np.minimum(score, d, out=score)
        score[x] = -np.inf
        score[~selectable] = -np.inf
    return picks


class Coreset(CoverageStrategyMixin, QueryStrategy):
    """Core-set: k-center greedy over the embeddings.

    Every pick is the unlabeled point farthest from its nearest centre; the
    centres are the ``covering`` labeled points (NAS passes the predicted-clean
    ones) and the picks made so far. Ties, and the first pick when there is no
    centre at all, are broken at random.

    Parameters
    ----------
    metric : {"euclidean", "cosine"}, default="euclidean"
        ``"cosine"`` runs on unit-normalised embeddings (Euclidean distance on
        the sphere, a monotone function of the cosine distance).
    noisy_weight : float in [0, 1], default=0.0
        Labeled points outside ``covering`` act as centres whose distances are
        stretched by ``1 / noisy_weight``: 0 ignores them (NAS), 1 makes them
        ordinary centres, values in between let them cover a smaller radius.
    random_state : int, numpy Generator or None, default=None
        Seeds tie-breaking and the first centre.

    Attributes
    ----------
    radius_ : float
        Largest distance of a pool point to its nearest centre after the last
        call's picks (the k-center objective).

    Examples
    --------
    >>> import numpy as np
    >>> from skal.strategies import Coreset
    >>> X = np.random.default_rng(0).normal(size=(100, 4))
    >>> Coreset(random_state=0).select(X, 3, labeled=[0, 1]).shape
    (3,)
    """

    _parameter_constraints: dict = {
        "metric": [StrOptions({"euclidean", "cosine"})],
        "noisy_weight": [Interval(Real, 0, 1, closed="both")],
        "random_state": RANDOM_STATE_CONSTRAINT,
    }

    def __init__(self, *, metric="euclidean", noisy_weight=0.0, random_state=None):
        self.metric = metric
        self.noisy_weight = noisy_weight
        self.random_state = random_state

    def _select(self, X, budget, *, labeled, covering, estimator, rng):
        if self.metric == "cosine":
            X = unit_normalize(X, dtype=X.dtype)
        x_sq = row_sq_norms(X)
        dist = np.sqrt(min_sq_dist_to(X, X[covering], x_sq=x_sq))
        noisy = np.setdiff1d(labeled, covering)
        if noisy.size and self.noisy_weight > 0:
            d_noisy = np.sqrt(min_sq_dist_to(X, X[noisy], x_sq=x_sq)) / self.noisy_weight
            np.minimum(dist, d_noisy, out=dist)
        selectable = np.ones(X.shape[0], dtype=bool)
        selectable[labeled] = False
        picks = k_center_greedy(X, budget, dist, selectable, rng, x_sq=x_sq)
        self.radius_ = float(dist.max())
        return picks
