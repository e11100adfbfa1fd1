"""A second opinion from the pool: its k-means clusters matched one-to-one to classes.

With 2 to 10 labels per class, a class centre made of the labels alone is
shaky, but the unlabeled pool shows where the dense regions are. Cutting the
pool into as many clusters as there are classes and naming each cluster by the
one-to-one assignment that agrees with the most given labels (the Hungarian
method on the cluster x label count table) gives every label a class that
does not depend on its own class's few labels: a wrong label seldom lands in
the cluster its name was matched to, and a right one usually does.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment

from .._kmeans import kmeans
from ..neighbors import nearest_center
from ._pool import PoolView

__all__ = ["match_clusters_to_classes", "one_to_one_names", "pool_cluster_centres"]

# At most this many pool rows are clustered; the rest only need their nearest
# centre. Keeps the one-off cost per pool bounded (about 0.06-0.08 s at 512-d with
# the restarts below, on 2 cores); with anchor_to_pool on, a first round runs
# one clustering per number of classes seen, so each must be cheap.
_CLUSTER_SAMPLE = 2048
# Restarts of k-means; the clustering is computed once per pool and reused by
# every round, so the best of several restarts is affordable.
_N_INIT = 10


def pool_cluster_centres(view: PoolView, n_clusters: int, seed: int | None) -> np.ndarray:
    """K-means centres of the unit-normalised pool, cached on ``view`` per ``(k, seed)``.

    Parameters
    ----------
    view : PoolView
        The pool's unit rows (``view.Z``).
    n_clusters : int
        Number of clusters (at most the number of rows clustered).
    seed : int or None
        Seeds the row sample and k-means. ``None``: an unseeded clustering,
        drawn once and then reused for this pool (an unseeded filter would
        otherwise cluster the pool afresh at every call).

    Returns
    -------
    centres : ndarray of shape (n_clusters', n_features)
    """
    cache = view.__dict__.setdefault("_matched_centres", {})
    key = (int(n_clusters), None if seed is None else int(seed))
    if key not in cache:
        if seed is None:
            seed = int(np.random.default_rng().integers(0, 2**31 - 1))
        rng = np.random.default_rng(seed)
        n = view.n
        rows = (np.arange(n) if n <= _CLUSTER_SAMPLE
                else np.sort(rng.choice(n, _CLUSTER_SAMPLE, replace=False)))
        Z = view.Z[rows]
        k = int(min(max(1, n_clusters), rows.size))
        if sp.issparse(Z):
            # Sparse rows (wide text features): scikit-learn's k-means keeps
            # them sparse; the batched one here works on dense rows.
            from sklearn.cluster import KMeans

            km = KMeans(n_clusters=k, n_init=_N_INIT, random_state=seed).fit(Z)
            cache[key] = np.asarray(km.cluster_centers_, dtype=np.float64)
        else:
            cache[key] = kmeans(Z, k, n_init=_N_INIT, random_state=seed)[0]
    return cache[key]


def one_to_one_names(counts: np.ndarray) -> np.ndarray:
    """The class of each cluster under the one-to-one naming that agrees with the most labels.

    ``counts[m, c]`` is the number of labels of class ``c`` in cluster ``m``;
    the naming maximises the labels that agree with their cluster's class
    (the Hungarian method). Returns one class per cluster, -1 for a cluster
    left without one (only when there are more clusters than classes).

    >>> one_to_one_names(np.array([[2, 1], [3, 0]])).tolist()
    [1, 0]
    """
    rows, cols = linear_sum_assignment(counts, maximize=True)
    name = np.full(counts.shape[0], -1, dtype=np.int64)
    name[rows] = cols
    return name


def match_clusters_to_classes(view: PoolView, positions: np.ndarray, y: np.ndarray,
                              n_classes: int, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The class each labeled row's pool cluster is matched to.

    Parameters
    ----------
    view : PoolView
        The pool.
    positions : ndarray of int
        Pool row of each label.
    y : ndarray of int
        The given labels, encoded ``0 .. n_classes - 1``.
    n_classes : int
    seed : int or None
        See :func:`pool_cluster_centres`.

    Returns
    -------
    matched : ndarray of int, shape (n_labels,)
        Class of the cluster each label falls in. The pool is cut into at
        most ``n_classes`` clusters, so every cluster gets a class.
    clusters : ndarray of int, shape (n_labels,)
        Cluster of each label.

    Examples
    --------
    Two tight groups; the labels of the left one say 0, 0, 1 and of the right
    one 1, 1: the left cluster is named 0, the right 1.

    >>> import numpy as np
    >>> from skal.filters._pool import PoolView
    >>> pool = np.array([[1, 0], [1, .1], [1, -.1], [0, 1], [.1, 1], [-.1, 1]])
    >>> view = PoolView(pool)
    >>> matched, _ = match_clusters_to_classes(view, np.array([0, 1, 2, 3, 4]),
    ...                                        np.array([0, 0, 1, 1, 1]), 2, seed=0)
    >>> matched.tolist()
    [0, 0, 0, 1, 1]
    """
    centres = pool_cluster_centres(view, n_classes, seed)
    clusters = nearest_center(view.Z[positions], centres)
    counts = np.zeros((centres.shape[0], n_classes))
    np.add.at(counts, (clusters, y), 1.0)
    return one_to_one_names(counts)[clusters], clusters
