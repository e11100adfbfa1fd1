"""The pool as the pool filters see it: unit rows, neighbour lists, cached per pool."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["PoolView", "cached_view", "filter_pool_view", "pool_identity", "resolve_pool"]


def resolve_pool(X, X_unlabeled, sample_indices, X_pool):
    """The pool and the labeled rows' positions in it.

    ``X_pool`` with ``sample_indices`` is the pool as given; without it,
    ``[X; X_unlabeled]`` (or ``X`` alone) with the labeled rows first.
    """
    if X_pool is not None:
        return X_pool, sample_indices
    parts = [X] if X_unlabeled is None else [X, X_unlabeled]
    if sp.issparse(X):
        pool = sp.vstack(parts, format="csr")
    else:
        pool = np.vstack(parts) if len(parts) > 1 else X
    return pool, np.arange(X.shape[0], dtype=np.int64)


def pool_identity(pool) -> tuple:
    """A cheap identity of a pool array, for caches kept between rounds.

    The object, its buffer's address, shape, dtype and a hash of 64 rows
    spread over it: a learner hands the same array every round, and telling
    that apart from a new pool must not cost a pass over 10^5 rows.
    """
    n = pool.shape[0]
    probe_rows = np.linspace(0, n - 1, min(n, 64)).astype(np.int64)
    probe_block = pool[probe_rows]
    probe_bytes = (probe_block.toarray() if sp.issparse(probe_block)
                   else np.ascontiguousarray(probe_block)).tobytes()
    data_ptr = (pool.data.__array_interface__["data"][0] if sp.issparse(pool)
                else pool.__array_interface__["data"][0])
    return (id(pool), data_ptr, pool.shape, str(pool.dtype), hash(probe_bytes))


def _unit_rows(A) -> np.ndarray | sp.csr_matrix:
    """Rows on the unit sphere in float32 (zero rows stay zero)."""
    if sp.issparse(A):
        A = sp.csr_matrix(A, dtype=np.float32)
        norms = np.sqrt(np.asarray(A.multiply(A).sum(axis=1)).ravel())
        return sp.csr_matrix(sp.diags(1.0 / np.maximum(norms, 1e-12)) @ A)
    A = np.asarray(A, dtype=np.float32)
    squared = np.einsum("ij,ij->i", A, A)
    # A pool from skal.datasets or a learner is unit-normalised already:
    # reading it as it is spares a 4-byte-per-entry copy and a division
    # (100 MB and ~0.1 s at 50k x 512). Within float32 rounding of 1 counts.
    if A.flags.c_contiguous and bool(np.all((np.abs(squared - 1.0) <= 1e-5) | (squared == 0))):
        return A
    norms = np.sqrt(squared)[:, None]
    return np.ascontiguousarray(A / np.maximum(norms, 1e-12))


def _dense(M) -> np.ndarray:
    return M.toarray() if sp.issparse(M) else np.asarray(M)


class PoolView:
    """Unit-normalised pool with lazily computed nearest-neighbour lists.

    Built once per pool and kept by the filter between rounds (see
    :func:`cached_view`), so that a round only computes the neighbour lists of
    labels it has not seen before: ``n_new × n_pool`` products.
    """

    def __init__(self, pool):
        self.Z = _unit_rows(pool)
        self.n = self.Z.shape[0]
        self._nbrs: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def same_rows(self, other: PoolView) -> bool:
        """Whether ``other`` holds exactly the same unit rows."""
        a, b = self.Z, other.Z
        if a.shape != b.shape or sp.issparse(a) != sp.issparse(b):
            return False
        if sp.issparse(a):
            return (a != b).nnz == 0
        return bool(np.array_equal(a, b))

    def neighbors(self, rows: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``m`` most similar pool points of each row (itself included), with cosines.

        Returns
        -------
        idx : ndarray of int64, shape (len(rows), m')
        cos : ndarray of float32, shape (len(rows), m')
            ``m' = min(m, n_pool)``; sorted by decreasing cosine.
        """
        m = min(m, self.n)
        missing = [int(r) for r in rows if int(r) not in self._nbrs
                   or self._nbrs[int(r)][0].size < m]
        # Blocks of rows keep the temporary similarity matrix near 64 MB.
        block = max(1, (16 * 2**20) // max(self.n, 1))
        for start in range(0, len(missing), block):
            part = np.asarray(missing[start:start + block], dtype=np.int64)
            # The pool on the left: BLAS streams it once in its own layout
            # (~20 % faster than the transposed product at 10 rows x 50k).
            S = _dense(self.Z @ self.Z[part].T).astype(np.float32, copy=False).T
            top, vals = _largest(S, m)
            for r, t, v in zip(part, top, vals):
                self._nbrs[int(r)] = (t.astype(np.int64), v)
        idx = np.stack([self._nbrs[int(r)][0][:m] for r in rows])
        cos = np.stack([self._nbrs[int(r)][1][:m] for r in rows])
        return idx, cos

    def local_knn_graph(self, nodes: np.ndarray, k: int) -> sp.csr_matrix:
        """Symmetric Gaussian-weighted kNN graph among ``nodes`` (sorted pool indices).

        Weight ``exp(-(d / σ)²)`` with ``d`` the Euclidean distance on the
        sphere and ``σ`` the median distance to the ``k``-th neighbour, so
        that the weights do not depend on the embedding's scale.

        The neighbour lists of the last call are kept: when ``nodes`` only
        adds to the previous set (an active-learning round), only the new
        nodes' similarities are computed, and only the old lists that a new
        node can enter (one at least as similar as their ``k``-th
        neighbour) are merged with the new candidates; this gives the lists
        computed afresh (exactly, but for ties at the ``k``-th place).
        """
        n = nodes.size
        k = min(k, n - 1)
        idx, cos = self._knn_lists(nodes, k)
        d = np.sqrt(np.maximum(2.0 - 2.0 * cos.astype(np.float64), 0.0))
        sigma = float(np.median(d.max(axis=1))) if d.size else 1.0
        w = np.exp(-(d / max(sigma, 1e-12)) ** 2)
        cols = np.searchsorted(nodes, idx)
        G = sp.csr_matrix((w.ravel(), cols.ravel(), np.arange(0, n * k + 1, k)), shape=(n, n))
        return G.maximum(G.T).tocsr()

    def _knn_lists(self, nodes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Each node's ``k`` most similar other nodes (pool indices) and their cosines."""
        cached = getattr(self, "_graph", None)
        if (cached is not None and cached[2] == k and cached[0].size <= nodes.size
                and np.isin(cached[0], nodes, assume_unique=True).all()):
            old_nodes, old_idx, _, old_cos = cached
            new_nodes = np.setdiff1d(nodes, old_nodes, assume_unique=True)
            if new_nodes.size == 0:
                return old_idx, old_cos
            S = _dense(self.Z[new_nodes] @ self.Z[nodes].T).astype(np.float32, copy=False)
            S[np.arange(new_nodes.size), np.searchsorted(nodes, new_nodes)] = -np.inf
            new_idx, new_cos = _top_k(S, nodes, k)
            old_pos = np.searchsorted(nodes, old_nodes)
            is_new = np.ones(nodes.size, dtype=bool)
            is_new[old_pos] = False
            idx = np.empty((nodes.size, k), dtype=np.int64)
            cos = np.empty((nodes.size, k), dtype=np.float32)
            idx[old_pos], cos[old_pos] = old_idx, old_cos
            idx[is_new], cos[is_new] = new_idx, new_cos
            # An old list changes only where a new node is at least as close
            # as its k-th neighbour (ties included, for the canonical order);
            # new labels sit far from most old nodes, so few lists are merged.
            to_old = S[:, ~is_new].T                      # (old nodes, new nodes)
            touched = np.flatnonzero(to_old.max(axis=1) >= old_cos[:, -1])
            if touched.size:
                cand_cos = np.hstack([old_cos[touched], to_old[touched]])
                cand_idx = np.hstack([old_idx[touched],
                                      np.broadcast_to(new_nodes, (touched.size, new_nodes.size))])
                merged_idx, merged_cos = _top_k(cand_cos, None, k, cand_idx)
                idx[old_pos[touched]], cos[old_pos[touched]] = merged_idx, merged_cos
        else:
            Zv = self.Z[nodes]
            S = _dense(Zv @ Zv.T).astype(np.float32, copy=False)
            np.fill_diagonal(S, -np.inf)
            idx, cos = _top_k(S, nodes, k)
        self._graph = (nodes.copy(), idx, k, cos)
        return idx, cos


def _largest(S: np.ndarray, k: int, *, ordered: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the positions and values of the ``k`` largest entries.

    By decreasing value when ``ordered``; otherwise in no particular order
    (for callers that sort them their own way).
    """
    # The k largest sit at the end of an ascending partition (no negated copy).
    top = np.argpartition(S, S.shape[1] - k, axis=1)[:, S.shape[1] - k:]
    vals = np.take_along_axis(S, top, axis=1)
    if not ordered:
        return top, vals
    order = np.argsort(-vals, axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1), np.take_along_axis(vals, order, axis=1)


def _top_k(S: np.ndarray, labels: np.ndarray | None, k: int,
           cand: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the ``k`` largest entries of ``S`` (as ``labels[col]`` or ``cand[row, col]``)."""
    top, vals = _largest(S, k, ordered=False)
    # A canonical order (by value, then index) so merged and fresh lists agree.
    ids = labels[top] if cand is None else np.take_along_axis(cand, top, axis=1)
    order = np.lexsort((ids, -vals), axis=1)
    return np.take_along_axis(ids, order, axis=1), np.take_along_axis(vals, order, axis=1)


def cached_view(est, pool) -> PoolView:
    """The filter's PoolView of ``pool``, rebuilt only when the pool changes.

    The array's identity (:func:`pool_identity`) is
    checked first: the learner hands the same array every round. Another
    array (a copy, a reloaded pool) is normalised and compared with the
    cached view's unit rows; when they are equal the cached view, with its
    neighbour lists and clusters, is kept. No pass over the pool is paid
    for a pool seen for the first time beyond its normalisation.
    """
    ident = pool_identity(pool)
    cached = getattr(est, "_pool_cache", None)
    if cached is not None and cached[0] == ident:
        return cached[1]
    view = PoolView(pool)
    if cached is not None and cached[1].same_rows(view):
        view = cached[1]
    est._pool_cache = (ident, view)
    return view


def filter_pool_view(est, X, X_unlabeled, sample_indices, X_pool) -> tuple[PoolView, np.ndarray]:
    """A pool filter's view of its pool and the labeled rows' positions in it.

    A pool given as ``X_pool`` is cached on ``est`` (:func:`cached_view`), so
    its neighbour lists and clusterings serve later rounds. A pool stacked
    here from ``X`` and ``X_unlabeled`` is new at every call (its rows move
    as labels are bought) and is not cached.
    """
    pool, positions = resolve_pool(X, X_unlabeled, sample_indices, X_pool)
    view = cached_view(est, pool) if X_pool is not None else PoolView(pool)
    return view, positions
