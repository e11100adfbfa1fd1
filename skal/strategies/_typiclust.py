"""TypiClust (Hacohen et al., 2022): the most typical point of the least-labeled clusters."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval

from ..neighbors import block_rows_for, fit_kmeans, iter_row_blocks, row_sq_norms, sq_dists_block
from ._base import (
    RANDOM_STATE_CONSTRAINT,
    CoverageStrategyMixin,
    QueryStrategy,
    random_choice_unlabeled,
)

__all__ = ["TypiClust", "typicality"]


def typicality(X: np.ndarray, k: int) -> np.ndarray:
    """``1 / (mean distance to the k nearest other points + 1e-5)`` for every row of ``X``.

    Distances are Euclidean; the point itself is not its own neighbour. Rows
    are processed in tiles so memory stays ``O(block x n)``.

    Parameters
    ----------
    X : ndarray of shape (n, n_features)
    k : int
        Number of neighbours, ``1 <= k < n``.

    Returns
    -------
    typicality : ndarray of shape (n,)
    """
    n = X.shape[0]
    if n < 2:  # a lone point has no neighbours; it is its cluster's only choice
        return np.ones(n, dtype=np.float64)
    k = int(min(max(1, k), n - 1))
    sq = row_sq_norms(X)
    out = np.empty(n, dtype=np.float64)
    for sl in iter_row_blocks(n, block_rows_for(n, itemsize=8)):
        D = sq_dists_block(X[sl], X, sq[sl], sq).astype(np.float64, copy=False)
        D[np.arange(sl.stop - sl.start), np.arange(sl.start, sl.stop)] = np.inf
        part = np.partition(D, k - 1, axis=1)[:, :k]
        out[sl] = 1.0 / (np.sqrt(part).mean(axis=1) + 1e-5)
    return out


class TypiClust(CoverageStrategyMixin, QueryStrategy):
    """TypiClust: cluster the pool, then take the most typical point of the least-labeled clusters.

    The pool is clustered by k-means into ``K = min(|L| + budget, max_clusters)``
    clusters; clusters of at most ``min_cluster_size`` points are dropped. Each
    pick visits the cluster with the fewest labeled points (``covering`` ones,
    plus ``noisy_weight`` times the others), larger clusters first on ties,
    and takes its unlabeled point of highest typicality, computed inside the
    cluster with ``k = min(n_neighbors, |cluster| // 2)`` neighbours. When no
    cluster has an unlabeled point left, the remaining picks are uniform.

    Parameters
    ----------
    max_clusters : int, default=500
        Upper bound on ``K``.
    min_cluster_size : int, default=5
        Clusters with this many points or fewer are never visited.
    n_neighbors : int, default=20
        Neighbours of the typicality estimate.
    noisy_weight : float in [0, 1], default=0.0
        How much a labeled point outside ``covering`` counts as a label of its
        cluster (0: NAS, the cluster looks unlabeled again; 1: plain TypiClust).
    random_state : int, numpy Generator or None, default=None
        Seeds k-means and tie-breaking.

    Attributes
    ----------
    cluster_labels_ : ndarray of shape (n_samples,)
        K-means cluster of every pool point (last call).
    n_clusters_ : int
        ``K`` of the last call.

    Examples
    --------
    >>> import numpy as np
    >>> from skal.strategies import TypiClust
    >>> X = np.random.default_rng(0).normal(size=(300, 4))
    >>> TypiClust(random_state=0).select(X, 5).shape
    (5,)
    """

    _parameter_constraints: dict = {
        "max_clusters": [Interval(Integral, 1, None, closed="left")],
        "min_cluster_size": [Interval(Integral, 0, None, closed="left")],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "noisy_weight": [Interval(Real, 0, 1, closed="both")],
        "random_state": RANDOM_STATE_CONSTRAINT,
    }

    def __init__(self, *, max_clusters=500, min_cluster_size=5, n_neighbors=20, noisy_weight=0.0,
                 random_state=None):
        self.max_clusters = max_clusters
        self.min_cluster_size = min_cluster_size
        self.n_neighbors = n_neighbors
        self.noisy_weight = noisy_weight
        self.random_state = random_state

    def _clusters(self, X, n_clusters, rng):
        # k-means over the pool is the expensive step; reuse it when a later
        # round asks for the same K on the same pool with the same seed. The
        # seed is always drawn, so the picks do not depend on the cache.
        seed = int(rng.integers(0, 2**31 - 1))
        key = (self._pool_key(X), n_clusters, seed)
        if getattr(self, "_cluster_key", None) != key:
            self.cluster_labels_, _ = fit_kmeans(X, n_clusters, random_state=seed)
            self._cluster_key = key
        return self.cluster_labels_

    def get_pool_cache(self) -> dict[str, np.ndarray]:
        """The k-means labels of the last pool, with the ``K`` and seed they were fitted with.

        See :meth:`QueryStrategy.get_pool_cache`; a later ``select`` that draws
        the same seed for the same ``K`` on the same pool reuses them.
        """
        key = getattr(self, "_cluster_key", None)
        if key is None:
            return {}
        return {"fingerprint": np.array([key[0], type(self).__name__, repr(key[1:])]),
                "fit": np.array(key[1:], dtype=np.int64),
                "cluster_labels": np.asarray(self.cluster_labels_, dtype=np.int64)}

    def set_pool_cache(self, X, arrays) -> bool:
        """Install saved k-means labels when they belong to pool ``X`` (see the base class)."""
        try:
            fit = tuple(int(v) for v in np.asarray(arrays["fit"], dtype=np.int64).reshape(-1))
            labels = np.asarray(arrays["cluster_labels"])
        except (KeyError, TypeError, ValueError):
            return False
        if len(fit) != 2:
            return False
        X = self._cache_matches(X, arrays, fit)
        if X is None or labels.shape != (X.shape[0],) or labels.dtype.kind not in "iu":
            return False
        if labels.size and (labels.min() < 0 or labels.max() >= fit[0]):
            return False
        self.cluster_labels_ = labels.astype(np.int64)
        self._cluster_key = (self._pool_key(X),) + fit
        return True

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_cluster_key", None)
        state.pop("_pool_fp", None)
        return state

    def _select(self, X, budget, *, labeled, covering, estimator, rng):
        n = X.shape[0]
        K = int(min(labeled.size + budget, self.max_clusters, n))
        self.n_clusters_ = K
        clusters = self._clusters(X, K, rng)
        sizes = np.bincount(clusters, minlength=K)
        counts = np.bincount(clusters[covering], minlength=K).astype(np.float64)
        noisy = np.setdiff1d(labeled, covering)
        if noisy.size and self.noisy_weight > 0:
            counts += self.noisy_weight * np.bincount(clusters[noisy], minlength=K)
        available = np.ones(n, dtype=bool)
        available[labeled] = False
        open_ = (sizes > self.min_cluster_size) & (np.bincount(clusters[available], minlength=K) > 0)
        typ_cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        picks = []
        for _ in range(budget):
            cand = np.flatnonzero(open_)
            if cand.size == 0:
                break
            # Fewest labels first, larger clusters first among those; then random.
            order = np.lexsort((rng.random(cand.size), -sizes[cand], counts[cand]))
            c = int(cand[order[0]])
            if c not in typ_cache:
                members = np.flatnonzero(clusters == c)
                k = min(self.n_neighbors, members.size // 2)
                typ_cache[c] = (members, typicality(X[members], max(k, 1)))
            members, typ = typ_cache[c]
            ok = available[members]
            score = np.where(ok, typ, -np.inf)
            best = score.max()
            ties = np.flatnonzero(score >= best - 1e-12 * max(1.0, abs(best)))
            x = int(members[ties[rng.integers(ties.size)]])
            picks.append(x)
            available[x] = False
            counts[c] += 1.0
            if not available[members].any():
                open_[c] = False
        picks = np.asarray(picks, dtype=np.int64)
        if picks.size < budget:
            rest = random_choice_unlabeled(n, budget - picks.size, np.concatenate([labeled, picks]), rng)
            picks = np.concatenate([picks, rest])
        return picks
