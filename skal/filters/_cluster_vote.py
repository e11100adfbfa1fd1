"""Cluster vote: the other labels in a label's cluster of the pool vote on it."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils._param_validation import Interval

from ..neighbors import nearest_center
from ._base import RANDOM_STATE, NoiseFilter
from ._cluster_match import pool_cluster_centres
from ._pool import filter_pool_view
from ._votes import clean_posterior

__all__ = ["ClusterVoteFilter"]


class ClusterVoteFilter(NoiseFilter):
    """Flag a label when the other labels of its pool cluster vote for another class.

    The pool (unit-normalised rows) is split by k-means into ``n_clusters``
    clusters (fitted on at most 2,048 sampled rows, best of 10 restarts),
    once per pool and cached between rounds. Every other label in a
    label's cluster casts one vote for its own class; the votes become the
    probability that the label is right under a symmetric noise model with
    an estimated rate (:func:`~skal.filters._votes.clean_posterior`), and a
    label is kept when that probability is at least 0.5. A label alone in
    its cluster has no vote against it and is kept.

    The cluster-level analogue of a kNN vote: on well-clustered embeddings
    the clusters of the whole pool are better class regions than the few
    labels' own neighbourhoods at 1–10 labels per class.

    Parameters
    ----------
    n_clusters : int or None, default=None
        Number of k-means clusters; ``None`` uses the number of classes
        seen in ``y``.
    noise_rate : float in (0, 0.5] or None, default=None
        The symmetric noise rate, when known; ``None`` estimates it.
    min_class_count : int, default=1
        Labels of classes with fewer labels are kept unjudged.
    random_state : int, numpy Generator or None, default=None
        Seeds k-means.

    Attributes
    ----------
    scores_ : ndarray of shape (n_samples,)
        Probability that the label is right.
    threshold_ : float
        0.5.
    noise_rate_ : float
    votes_ : ndarray of shape (n_samples, n_classes)
        Share of the cluster's other labels per class.
    clusters_ : ndarray of int, shape (n_samples,)
        The cluster of each labeled point.
    clean_mask_ : ndarray of bool
    classes_ : ndarray

    Examples
    --------
    >>> import numpy as np
    >>> from skal.datasets import load_digits_embeddings
    >>> from skal.noise import make_noisy_labels
    >>> from skal.filters import ClusterVoteFilter
    >>> X, y = load_digits_embeddings(return_X_y=True)
    >>> idx = np.random.default_rng(0).choice(len(y), 100, replace=False)
    >>> y_noisy, is_noisy = make_noisy_labels(y[idx], 0.3, random_state=0)
    >>> f = ClusterVoteFilter(random_state=0)
    >>> keep = f.fit_filter(X[idx], y_noisy, sample_indices=idx, X_pool=X)
    >>> bool((~keep[is_noisy]).mean() > 0.7)
    True
    """

    uses_unlabeled = True
    uses_pool = True
    accepts_sparse = True

    _parameter_constraints: dict = {
        "n_clusters": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "noise_rate": [Interval(numbers.Real, 0, 0.5, closed="right"), None],
        "min_class_count": [Interval(numbers.Integral, 0, None, closed="left")],
        "random_state": RANDOM_STATE,
    }

    def __init__(self, n_clusters=None, *, noise_rate=None, min_class_count=1,
                 random_state=None):
        self.n_clusters = n_clusters
        self.noise_rate = noise_rate
        self.min_class_count = min_class_count
        self.random_state = random_state

    def _fit_filter(self, X, y, n_classes, *, X_unlabeled, rng, sample_indices, X_pool):
        view, positions = filter_pool_view(self, X, X_unlabeled, sample_indices, X_pool)
        k = int(min(self.n_clusters or n_classes, view.n))
        # The same clustering as CentroidFilter's pool opinion: k-means on at
        # most 2,048 sampled pool rows, cached on the pool's view per (k,
        # seed); an unseeded filter draws one clustering per pool and reuses
        # it (a fresh one per call would cost a k-means every round).
        seed = None if self.random_state is None else int(rng.integers(0, 2**31 - 1))
        centres = pool_cluster_centres(view, k, seed)
        clusters = nearest_center(view.Z[positions], centres)
        W = (clusters[:, None] == clusters[None, :]).astype(np.float64)
        p, rate, shares = clean_posterior(W, y, n_classes, noise_rate=self.noise_rate)
        self.noise_rate_ = rate
        self.votes_ = shares
        self.clusters_ = clusters
        return p, 0.5, p >= 0.5

