"""k-nearest-neighbour filter: a label is noisy when its neighbourhood votes for another class."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.neighbors import NearestNeighbors
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import MIN_CLASS_COUNT, NoiseFilter

__all__ = ["KNNFilter"]


class KNNFilter(NoiseFilter):
    """Flag a label when the given class is not the majority of its labeled neighbours.

    Each labeled point looks at its ``n_neighbors`` nearest *other* labeled
    points. The score of a label is the share of the neighbourhood vote that
    goes to the given class minus the largest share that goes to any other
    class, in ``[-1, 1]``; the label is kept when that margin is ``>= 0``
    (the given class is a, possibly tied, plurality). Ties are kept because
    a tie is no evidence against the annotator.

    Parameters
    ----------
    n_neighbors : int, default=10
        Size of the neighbourhood (capped at ``n_samples - 1``).
    weights : {"uniform", "distance"}, default="uniform"
        ``"distance"`` weighs each neighbour's vote by the inverse of its
        distance (exact duplicates get the largest finite weight).
    metric : str, default="euclidean"
        Any metric of :class:`sklearn.neighbors.NearestNeighbors`. On
        unit-normalised embeddings Euclidean and cosine give the same order.
    min_class_count : int, default=3
        Labels of classes with fewer labels are kept unjudged: a class with one
        or two labels can never be a neighbourhood majority.
    n_jobs : int or None, default=None
        Passed to :class:`~sklearn.neighbors.NearestNeighbors`.

    Attributes
    ----------
    scores_ : ndarray of shape (n_samples,)
        Vote share of the given class minus the best other class's share.
    threshold_ : float
        0.0.
    neighbors_ : ndarray of shape (n_samples, k)
        Indices (into the labeled set) of each point's neighbours.
    clean_mask_ : ndarray of bool
    classes_ : ndarray

    Examples
    --------
    >>> from skal.datasets import load_digits_embeddings
    >>> from skal.noise import make_noisy_labels
    >>> from skal.filters import KNNFilter
    >>> X, y = load_digits_embeddings(return_X_y=True)
    >>> y_noisy, is_noisy = make_noisy_labels(y[:500], 0.3, random_state=0)
    >>> keep = KNNFilter().fit_filter(X[:500], y_noisy)
    >>> bool((~keep[is_noisy]).mean() > 0.7)
    True
    """

    _parameter_constraints: dict = {
        "n_neighbors": [Interval(numbers.Integral, 1, None, closed="left")],
        "weights": [StrOptions({"uniform", "distance"})],
        "metric": [str, callable],
        "min_class_count": MIN_CLASS_COUNT,
        "n_jobs": [numbers.Integral, None],
    }
    accepts_sparse = True

    def __init__(self, n_neighbors=10, *, weights="uniform", metric="euclidean",
                 min_class_count=3, n_jobs=None):
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.metric = metric
        self.min_class_count = min_class_count
        self.n_jobs = n_jobs

    def _fit_filter(self, X, y, n_classes, *, X_unlabeled, rng):
        n = X.shape[0]
        k = min(self.n_neighbors, n - 1)
        nn = NearestNeighbors(n_neighbors=k + 1, metric=self.metric, n_jobs=self.n_jobs).fit(X)
        dist, ind = nn.kneighbors(X)
        # Drop each point itself. With exact duplicates the point is not always
        # in column 0, so remove it by index; rows where it was not returned at
        # all lose their farthest neighbour instead.
        is_self = ind == np.arange(n)[:, None]
        no_self = ~is_self.any(axis=1)
        is_self[no_self, -1] = True
        keep = ~is_self
        ind = ind[keep].reshape(n, k)
        dist = dist[keep].reshape(n, k)
        if self.weights == "distance":
            with np.errstate(divide="ignore"):
                w = 1.0 / dist
            finite = np.isfinite(w)
            cap = w[finite].max() if finite.any() else 1.0
            w[~finite] = cap  # duplicates vote with the largest finite weight
        else:
            w = np.ones_like(dist)
        votes = np.zeros((n, n_classes))
        np.add.at(votes, (np.repeat(np.arange(n), k), y[ind].ravel()), w.ravel())
        votes /= votes.sum(axis=1, keepdims=True)
        own = votes[np.arange(n), y]
        votes[np.arange(n), y] = -np.inf
        scores = own - votes.max(axis=1)
        self.neighbors_ = ind
        return scores, 0.0, scores >= 0.0
