"""The pool's communities: spectral clusters of its kNN graph, and where they pull class centres.

A class centre made of 2 to 10 labels, half of them wrong, is pulled toward
the regions its wrong labels sit in (``docs/benchmarks/nas_protocol_notebook.md``,
*What the filter lacks is the class centres*). The pool shows where the
classes really are: on embeddings whose nearest neighbour is nearly always of
the same class, the communities of the pool's kNN graph follow the classes
more closely than k-means cells do (digits: 88 % of the rows in the
community matched to their class, against 79 %). :func:`anchor_centres` moves
each class centre toward the centre of the community its labels point to, by
as much as its labels disagree with that community.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from ._cluster_match import one_to_one_names
from ._geometric_median import geometric_median
from ._pool import PoolView

__all__ = ["anchor_centres", "match_communities_to_classes", "pool_communities", "pulled_pairs"]

# At most this many pool rows are clustered (their kNN graph and spectral
# embedding once per pool, widened when more classes appear); the other rows,
# labeled ones included, join the community of their nearest clustered row.
_COMMUNITY_SAMPLE = 2048
# Neighbours per row in the graph whose communities are sought.
_N_NEIGHBORS = 10
# Eigenvectors computed beyond the number of communities asked for.
_SPARE_VECTORS = 6
# Up to this many sampled rows, the eigenvectors come from a dense solve.
_DENSE_SOLVE = 600


def _knn_affinity(view: PoolView, seed: int):
    """The sampled rows, their symmetric kNN connectivity, the eigensolver's seed and the rows' vectors.

    Cached on ``view``.

    The same for every number of communities, so it is built once per pool
    and seed; it is the graph ``SpectralClustering(affinity="nearest_neighbors")``
    would build.
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
        sampled = view.Z[rows]
        if rows.size >= _N_NEIGHBORS + 2:
            connectivity = kneighbors_graph(sampled, n_neighbors=_N_NEIGHBORS, include_self=True)
            affinity = 0.5 * (connectivity + connectivity.T)
        cache[seed] = (rows, affinity, spectral_seed, sampled)
    return cache[seed]


def _n_components(view: PoolView, seed: int) -> int:
    """Connected components of the sampled rows' kNN graph, cached on ``view``.

    A graph of more components than the communities asked for has no single
    cut into that many communities: the leading eigenvalue (1) repeats once
    per component, any basis of that eigenspace is as good as another, and
    the QR cut would merge components arbitrarily. Pools whose classes each
    span several separate regions look like this; the centres are then left
    as the labels make them.
    """
    from scipy.sparse.csgraph import connected_components

    cache = view.__dict__.setdefault("_n_components", {})
    if seed not in cache:
        _, affinity, _, _ = _knn_affinity(view, seed)
        cache[seed] = (0 if affinity is None
                       else int(connected_components(affinity, directed=False)[0]))
    return cache[seed]


def _spectral_vectors(view: PoolView, seed: int, n_vectors: int) -> np.ndarray:
    """The sampled rows' spectral embedding, at least ``n_vectors`` columns, cached on ``view``.

    The eigenvectors of the normalised affinity ``D^-1/2 A D^-1/2`` with the
    largest eigenvalues (those of the normalised Laplacian with the smallest),
    scaled by ``D^-1/2`` as in scikit-learn's ``spectral_embedding``. The
    leading ``k`` columns of a wider solve span the same space as a solve for
    ``k`` (up to round-off where eigenvalues tie), so one solve serves every
    smaller number of communities: in a NAS round the number of classes seen
    grows call by call (6, 9, 10, ...), and a solve per number cost a first
    round 0.15 s each on a 4,096-row sample.
    """
    from scipy.sparse.linalg import eigsh

    cache = view.__dict__.setdefault("_spectral_vectors", {})
    vectors = cache.get(seed)
    if vectors is None or vectors.shape[1] < n_vectors:
        rows, affinity, spectral_seed, _ = _knn_affinity(view, seed)
        n = rows.size
        # Spare columns so that the classes a later call sees reuse this solve.
        width = min(max(n_vectors, (vectors.shape[1] if vectors is not None else 0))
                    + _SPARE_VECTORS, n - 1)
        degree = np.asarray(affinity.sum(axis=1)).ravel()
        scale = 1.0 / np.sqrt(degree)
        normalised = sp.diags(scale) @ affinity @ sp.diags(scale)
        if n <= _DENSE_SOLVE:
            _, eigenvectors = np.linalg.eigh(normalised.toarray())
            eigenvectors = eigenvectors[:, ::-1][:, :width]
        else:
            # Lanczos on the largest eigenvalues needs no factorisation (the
            # shift-invert mode scikit-learn uses spends most of its time in one).
            start = np.random.default_rng(spectral_seed).uniform(-1.0, 1.0, n)
            eigenvalues, eigenvectors = eigsh(normalised, k=width, which="LA", v0=start)
            eigenvectors = eigenvectors[:, np.argsort(-eigenvalues)]
        vectors = eigenvectors * scale[:, None]
        cache[seed] = vectors
    return vectors[:, :n_vectors]


def _cluster_qr(vectors: np.ndarray) -> np.ndarray:
    """Hard communities from a spectral embedding by column-pivoted QR (Damle, Minden and Ying, 2019).

    The pivots pick ``k`` rows that are as far from each other's span as
    possible, one per community; the rotation that brings those rows nearest to
    the coordinate axes (a polar factor) is applied to every row, and a row
    joins the axis it is largest along. No random restarts, and the result does
    not change when the embedding is rotated, so any basis of the eigenspace
    gives the same communities.
    """
    from scipy.linalg import qr, svd

    k = vectors.shape[1]
    _, pivots = qr(vectors.T, pivoting=True, mode="r")
    left, _, right = svd(vectors[pivots[:k]].T)
    return np.abs(vectors @ (left @ right)).argmax(axis=1)


def community_seed(view: PoolView, seed: int | None) -> int:
    """``seed``, or for an unseeded filter one draw per pool, kept for its later calls."""
    if seed is None:
        seed = view.__dict__.setdefault("_unseeded_community_seed",
                                        int(np.random.default_rng().integers(0, 2**31 - 1)))
    return int(seed)


def pool_communities(view: PoolView, n_communities: int, seed: int | None):
    """Spectral communities of the pool's kNN graph, cached on ``view`` per ``(k, seed)``.

    Parameters
    ----------
    view : PoolView
        The pool's unit rows (``view.Z``).
    n_communities : int
        How many communities to cut the graph into (the number of classes).
    seed : int or None
        Seeds the row sample and the eigensolver's start. ``None``: drawn once
        and reused for this pool.

    Returns
    -------
    rows : ndarray of int
        The pool rows that were clustered (all rows of a pool of at most
        2,048).
    labels : ndarray of int, shape (len(rows),)
        The community of each clustered row.
    medians : CommunityMedians
        ``medians[m]`` is the geometric median of community ``m``'s rows
        (``len(medians)`` communities). ``None`` (and ``labels`` too) when
        the pool is too small to be cut (fewer rows than ``_N_NEIGHBORS + 2``
        or than communities) or its kNN graph falls into more connected
        components than communities (no single cut exists).
    """
    cache = view.__dict__.setdefault("_communities", {})
    seed = community_seed(view, seed)
    key = (int(n_communities), int(seed))
    if key not in cache:
        rows, affinity, _, sampled = _knn_affinity(view, int(seed))
        k = int(n_communities)
        if (affinity is None or rows.size < k + 1 or k < 2
                or _n_components(view, int(seed)) > k):
            cache[key] = (rows, None, None)
            return cache[key]
        found = _cluster_qr(_spectral_vectors(view, int(seed), k))
        # Communities named 0 .. k' - 1 (an axis no row is largest along is no community).
        _, labels = np.unique(found, return_inverse=True)
        cache[key] = (rows, labels, CommunityMedians(sampled, labels))
    return cache[key]


class CommunityMedians:
    """The geometric median of each community's rows, computed when first asked for.

    A call pulls at most a few classes toward their communities, so most
    medians are never needed (a median of 400 rows at 512-d takes about 3 ms,
    and a round cuts the pool for several numbers of classes).
    """

    def __init__(self, Z, labels: np.ndarray):
        self._Z = Z
        self._labels = labels
        self._found: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return int(self._labels.max()) + 1

    def __getitem__(self, m) -> np.ndarray:
        m = int(m)
        if not 0 <= m < len(self):
            raise IndexError(f"community {m} out of range 0 .. {len(self) - 1}")
        if m not in self._found:
            members = self._Z[self._labels == m]
            # Started at the mean: on a few hundred rows the default start, the
            # coordinate-wise median, costs ten times the iterations themselves
            # (2.4 ms against 0.3 ms in all for 200 rows at 512-d). Weiszfeld's
            # iteration stops within 1e-7 of the same point from either start
            # from 3 dimensions on; on unit rows in 2-d, where it crawls along
            # the circle, the two stops can differ by about 4e-3.
            start = np.asarray(members.mean(axis=0)).ravel()
            self._found[m] = geometric_median(members, init=start)
        return self._found[m]


def _clustered_vectors(view: PoolView, rows: np.ndarray):
    """``view.Z[rows]``, taken from the kNN graph's cache when these are its sampled rows."""
    for cached_rows, _, _, sampled in view.__dict__.get("_knn_affinity", {}).values():
        if cached_rows is rows:
            return sampled
    return view.Z[rows]


def community_of(view: PoolView, positions: np.ndarray, rows: np.ndarray,
                 labels: np.ndarray) -> np.ndarray:
    """The community of each pool row in ``positions``: its own, or its nearest clustered row's.

    The nearest clustered row of a pool row does not depend on the number of
    communities, so it is kept on ``view`` for the later calls (which judge
    the same labels again, and a few more).
    """
    cache = view.__dict__.setdefault("_nearest_clustered", {})
    entry = cache.get(id(rows))
    if entry is None or entry[0] is not rows:
        # Held with the rows it belongs to: an id is only reused once they are gone.
        entry = cache[id(rows)] = (rows, np.full(view.n, -1, dtype=np.intp),
                                   _clustered_vectors(view, rows))
        entry[1][rows] = np.arange(rows.size)
    _, nearest, clustered = entry
    unknown = np.unique(positions[nearest[positions] < 0])
    if unknown.size:
        # Unit rows: the nearest row has the largest inner product. The
        # clustered rows on the left: a product with ``clustered.T`` on the
        # right takes numpy's slow strided path for one or a few rows (7 ms
        # for one row against 2,048 at 512-d, instead of 0.1 ms).
        sims = clustered @ view.Z[unknown].T
        sims = sims.toarray() if sp.issparse(sims) else np.asarray(sims)
        nearest[unknown] = sims.argmax(axis=0)
    return labels[nearest[positions]]


def anchor_centres(centers: np.ndarray, view: PoolView, positions: np.ndarray, y: np.ndarray,
                   n_classes: int, seed: int | None, *,
                   fade_after: int | None = None) -> np.ndarray:
    """Class centres moved toward the pool community their labels point to.

    The communities are named by the one-to-one assignment that agrees with
    the most labels (Hungarian method on the community x label count table).
    Class ``c`` matched to community ``m`` is moved when ``m`` holds at least
    two of its labels and no fewer of them than of any other class; it moves to
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
    fade_after : int or None, default=None
        When given, the weight of a class with ``n`` labels is multiplied by
        ``min(1, fade_after / n)``: the more labels, the more their own
        centre is trusted.

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
    votes = community_votes(view, positions, y, n_classes, seed)
    if votes is None:
        return out
    counts = votes.counts
    for m, c in pulled_pairs(counts):
        out[c] = pulled_centre(out[c], votes.medians[m], counts[m, c], counts[:, c].sum(),
                               fade_after)
    return out


def pulled_pairs(counts: np.ndarray) -> list[tuple[int, int]]:
    """The (community, class) pairs :func:`anchor_centres` pulls, from the vote table.

    The communities are named by the one-to-one assignment that agrees with
    the most labels; a pair counts when the community holds at least two of
    the class's labels and no fewer of them than of any other class.
    """
    name = one_to_one_names(counts)
    return [(m, int(c)) for m, c in enumerate(name)
            if c >= 0 and counts[m, c] >= 2 and counts[m, c] >= counts[m].max()]


class CommunityVotes(NamedTuple):
    """The pool's communities (as :func:`pool_communities` gives them) and the labels' votes."""

    rows: np.ndarray
    labels: np.ndarray
    medians: CommunityMedians
    #: ``counts[m, c]``: the labels of class ``c`` whose pool row lies in community ``m``.
    counts: np.ndarray
    #: The community of each label.
    community: np.ndarray


def community_votes(view: PoolView, positions: np.ndarray, y: np.ndarray, n_classes: int,
                    seed: int | None, *, n_communities: int | None = None) -> CommunityVotes | None:
    """The pool's communities and how many labels of each class each one holds.

    The pool is cut into ``n_communities`` communities (default: one per
    class). ``None`` when the pool cannot be cut.
    """
    k = n_classes if n_communities is None else n_communities
    rows, labels, medians = pool_communities(view, k, seed)
    if labels is None:
        return None
    community = community_of(view, np.asarray(positions), rows, labels)
    counts = np.zeros((len(medians), n_classes))
    np.add.at(counts, (community, y), 1.0)
    return CommunityVotes(rows, labels, medians, counts, community)


def match_communities_to_classes(view: PoolView, positions: np.ndarray, y: np.ndarray,
                                 n_classes: int, seed: int | None) -> np.ndarray | None:
    """The class each label's pool community is matched to.

    The communities are those :func:`anchor_centres` pulls toward, named by
    the one-to-one assignment that agrees with the most labels; there are at
    most ``n_classes`` of them, so every one gets a class. The arguments are
    :func:`community_votes`'s. Returns ``None`` when the pool cannot be cut,
    else the matched class of each label (``int``, one per label).

    Examples
    --------
    Three tight groups on the axes; the labels say 0, 0, 2 in the first, 1, 1
    in the second and 2 in the third: the first group is named 0 although one
    of its labels says 2.

    >>> import numpy as np
    >>> from skal.filters._pool import PoolView
    >>> jitter = 0.03 * np.random.default_rng(1).standard_normal((45, 3))
    >>> view = PoolView(np.repeat(np.eye(3), 15, axis=0) + jitter)
    >>> positions = np.array([0, 1, 2, 15, 16, 30])
    >>> match_communities_to_classes(view, positions, np.array([0, 0, 2, 1, 1, 2]),
    ...                              3, seed=0).tolist()
    [0, 0, 0, 1, 1, 2]
    """
    votes = community_votes(view, positions, y, n_classes, seed)
    return None if votes is None else one_to_one_names(votes.counts)[votes.community]


def pulled_centre(centre: np.ndarray, median: np.ndarray, inside: float, n_labels: float,
                  fade_after: int | None) -> np.ndarray:
    """``centre`` moved toward ``median`` by the share of its ``n_labels`` labels not ``inside``.

    With ``fade_after``, that weight is multiplied by ``min(1, fade_after / n_labels)``.
    """
    weight = 1.0 - inside / n_labels
    if fade_after is not None:
        weight *= min(1.0, fade_after / n_labels)
    return weight * median + (1.0 - weight) * centre
