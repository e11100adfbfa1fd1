"""The pool's communities: spectral clusters of its kNN graph, and where they pull class centres.

A class centre made of 2 to 10 labels, half of them wrong, is pulled toward
the regions its wrong labels sit in (``docs/benchmarks/nas_protocol.md``,
*What the filter lacks is the class centres*). The pool shows where the
classes really are: on embeddings whose nearest neighbour is nearly always of
the same class, the communities of the pool's kNN graph follow the classes
more closely than k-means cells do (digits: 88 % of the rows in the
community matched to their class, against 79 %). :func:`anchor_centres` moves
each class centre toward the centre of the community its labels point to, by
as much as its labels disagree with that community.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment

from ._pool import PoolView

__all__ = ["anchor_centres", "pool_communities"]

# At most this many pool rows are clustered (their kNN graph once per pool,
# one spectral embedding per number of classes); the other rows, labeled ones
# included, join the community of their nearest clustered row.
_COMMUNITY_SAMPLE = 4096
# Neighbours per row in the graph whose communities are sought.
_N_NEIGHBORS = 10


def _knn_affinity(view: PoolView, seed: int):
    """The sampled rows, their symmetric kNN connectivity and the clustering's seed, cached on ``view``.

    The same for every number of communities, so it is built once per pool
    and seed; it is what ``SpectralClustering(affinity="nearest_neighbors")``
    builds inside.
    """
    from sklearn.neighbors import kneighbors_graph

    cache = view.__dict__.setdefault("_knn_affinity", {})
    if seed not in cache:
        rng = np.random.default_rng(seed)
        n = view.n
        rows = (np.arange(n) if n <= _COMMUNITY_SAMPLE
                else np.sort(rng.choice(n, _COMMUNITY_SAMPLE, replace=False)))
        spectral_seed = int(rng.integers(0, 2**31 - 1))
        affinity = None
        if rows.size >= _N_NEIGHBORS + 2:
            connectivity = kneighbors_graph(view.Z[rows], n_neighbors=_N_NEIGHBORS,
                                            include_self=True)
            affinity = 0.5 * (connectivity + connectivity.T)
        cache[seed] = (rows, affinity, spectral_seed)
    return cache[seed]


def pool_communities(view: PoolView, n_communities: int, seed: int | None):
    """Spectral communities of the pool's kNN graph, cached on ``view`` per ``(k, seed)``.

    Parameters
    ----------
    view : PoolView
        The pool's unit rows (``view.Z``).
    n_communities : int
        How many communities to cut the graph into (the number of classes).
    seed : int or None
        Seeds the row sample and the spectral clustering. ``None``: drawn once
        and reused for this pool.

    Returns
    -------
    rows : ndarray of int
        The pool rows that were clustered (all rows of a pool of at most
        4,096).
    labels : ndarray of int, shape (len(rows),)
        The community of each clustered row.
    medians : ndarray of shape (n_communities', n_features)
        The geometric median of each community's rows. ``None`` when the pool
        is too small to be cut (fewer rows than ``_N_NEIGHBORS + 2`` or than
        communities).
    """
    from sklearn.cluster import SpectralClustering

    # Imported here: the centroid filter imports this module.
    from ._centroid import geometric_median

    cache = view.__dict__.setdefault("_communities", {})
    if seed is None:
        # One draw per pool, kept for the unseeded filter's later calls.
        seed = view.__dict__.setdefault("_unseeded_community_seed",
                                        int(np.random.default_rng().integers(0, 2**31 - 1)))
    key = (int(n_communities), int(seed))
    if key not in cache:
        rows, affinity, spectral_seed = _knn_affinity(view, int(seed))
        k = int(n_communities)
        if affinity is None or rows.size < k + 1 or k < 2:
            cache[key] = (rows, None, None)
            return cache[key]
        with warnings.catch_warnings():
            # A kNN graph in a few pieces is still cut; scikit-learn says so.
            warnings.filterwarnings("ignore", message="Graph is not fully connected")
            labels = SpectralClustering(
                n_clusters=k, affinity="precomputed", assign_labels="cluster_qr",
                random_state=spectral_seed,
            ).fit_predict(affinity)
        Z = view.Z[rows]
        medians = np.stack([geometric_median(Z[labels == m]) for m in range(int(labels.max()) + 1)])
        cache[key] = (rows, labels, medians)
    return cache[key]


def community_of(view: PoolView, positions: np.ndarray, rows: np.ndarray,
                 labels: np.ndarray) -> np.ndarray:
    """The community of each pool row in ``positions``: its own, or its nearest clustered row's."""
    where = np.searchsorted(rows, positions)
    where = np.minimum(where, rows.size - 1)
    out = np.where(rows[where] == positions, labels[where], -1)
    missing = np.flatnonzero(out < 0)
    if missing.size:
        A = view.Z[positions[missing]]
        B = view.Z[rows]
        # Unit rows: the nearest row has the largest inner product.
        sims = A @ B.T
        sims = sims.toarray() if sp.issparse(sims) else np.asarray(sims)
        out[missing] = labels[sims.argmax(axis=1)]
    return out


def anchor_centres(centers: np.ndarray, view: PoolView, positions: np.ndarray, y: np.ndarray,
                   n_classes: int, seed: int | None) -> np.ndarray:
    """Class centres moved toward the pool community their labels point to.

    The communities are named by the one-to-one assignment that agrees with
    the most labels (Hungarian method on the community x label count table).
    Class ``c`` matched to community ``m`` is moved when ``m`` holds at least
    two of its labels and more of them than of any other class; it moves to
    ``w * median(m) + (1 - w) * centre``, with ``w`` the share of ``c``'s labels
    that lie outside ``m``: a class whose labels all sit in its community keeps
    its own centre, one whose labels are scattered by wrong answers takes the
    community's.

    Parameters
    ----------
    centers : ndarray of shape (n_classes, n_features)
        The centres made of the labels (unit-row space).
    view : PoolView
    positions : ndarray of int
        Pool row of each label.
    y : ndarray of int
        The given labels, encoded ``0 .. n_classes - 1``.
    n_classes : int
    seed : int or None
        See :func:`pool_communities`.

    Returns
    -------
    centers : ndarray of shape (n_classes, n_features)
        A new array; ``centers`` itself is not changed.

    Examples
    --------
    Two groups of pool rows; class 1 has two labels in the right group and a
    wrong answer in the left one, so its centre is pulled a third of the way
    to the right group's median:

    >>> import numpy as np
    >>> from skal.filters._pool import PoolView
    >>> rng = np.random.default_rng(0)
    >>> left = np.c_[np.ones(20), 0.05 * rng.standard_normal(20)]
    >>> right = np.c_[0.05 * rng.standard_normal(20), np.ones(20)]
    >>> view = PoolView(np.vstack([left, right]))
    >>> positions, y = np.array([0, 1, 2, 20, 21]), np.array([0, 0, 1, 1, 1])
    >>> centers = np.array([view.Z[:2].mean(0), view.Z[[2, 20, 21]].mean(0)])
    >>> moved = anchor_centres(centers, view, positions, y, 2, seed=0)
    >>> bool(np.allclose(moved[0], centers[0]))  # class 0's labels all sit in its community
    True
    >>> _, labels, medians = pool_communities(view, 2, seed=0)
    >>> right = medians[labels[20]]
    >>> bool(np.allclose(moved[1], centers[1] + (right - centers[1]) / 3))
    True
    """
    out = np.array(centers, dtype=np.float64, copy=True)
    if np.bincount(y, minlength=n_classes).max() < 2:
        # No class could gather the two votes a pull needs: nothing to cut.
        return out
    rows, labels, medians = pool_communities(view, n_classes, seed)
    if labels is None:
        return out
    community = community_of(view, np.asarray(positions), rows, labels)
    counts = np.zeros((medians.shape[0], n_classes))
    np.add.at(counts, (community, y), 1.0)
    matched_rows, matched_classes = linear_sum_assignment(counts, maximize=True)
    for m, c in zip(matched_rows, matched_classes):
        votes = counts[m, c]
        if votes < 2 or votes < counts[m].max():
            continue
        outside = 1.0 - votes / counts[:, c].sum()
        out[c] = outside * medians[m] + (1.0 - outside) * out[c]
    return out
