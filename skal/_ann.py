"""Approximate δ-ball graphs for pools too large for the exact tiled build.

The exact build costs ``N^2 d`` multiply-adds; at ``10^6 x 128`` that is hours
on a laptop. The approximate build partitions the sphere with k-means into
``n_cells`` cells (an inverted file, as in IVF indexes) and compares each
cell only with its ``n_probe`` nearest cells. The cell-pair relation is made
symmetric before any distance is computed, and the boundary check is the
same float64 one as the exact build, so the approximate graph is a symmetric
*subgraph* of the exact one: it never invents an edge, it may only miss
pairs that fall in cells that were not probed. :func:`estimate_missed_edges`
measures how many on a random sample of rows.

When ``faiss`` is installed (the ``ann`` extra) it assigns points to cells
faster than the NumPy path; the graph itself is identical in both cases
because the per-cell products are ours.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from ._validation import check_positive, check_random_state
from .neighbors import block_rows_for, edge_flags, iter_row_blocks, sample_ball_sizes
from .neighbors._delta_graph import _tiled_graph_csr
from .neighbors._sparse import _concat_ranges, _unpermute_upper

# One screened product per block of about this size: large enough for BLAS,
# and few enough blocks per cell that its columns are gathered once or twice.
_TILE_BYTES = 128 * 2**20
# Rows whose exact balls choose n_probe="auto" (each against the whole pool).
_CHOICE_ROWS = 2000
# Standard errors of the sampled recall kept as margin (95 % one-sided).
_CHOICE_Z = 1.645
# Share of the pool, least similar to its own centroid, sampled as heavily as the rest.
_FAR_SHARE = 0.1

__all__ = ["ivf_delta_ball_graph", "choose_n_probe", "estimate_missed_edges", "have_faiss"]


def have_faiss() -> bool:
    """Whether the optional ``faiss`` package can be imported."""
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def _train_cells(Xn: np.ndarray, n_cells: int, rng: np.random.Generator,
                 n_train: int = 100_000, n_iter: int = 10) -> np.ndarray:
    """Spherical k-means centroids on a sample (Lloyd iterations, all BLAS)."""
    n = Xn.shape[0]
    sample = Xn[rng.choice(n, size=min(n, max(n_train, 20 * n_cells)), replace=False)]
    C = _seed_cells(sample, n_cells, rng)
    sample64 = sample.astype(np.float64)
    for _ in range(n_iter):
        assign = _assign(sample, C)
        # Per-cell sums as one sparse product (np.add.at would scatter row by row).
        member = sp.csr_matrix((np.ones(assign.size), (assign, np.arange(assign.size))),
                               shape=(n_cells, assign.size))
        sums = np.asarray(member @ sample64)
        counts = np.bincount(assign, minlength=n_cells)
        empty = counts == 0
        # Re-seed empty cells on random sample points so that no cell is wasted.
        sums[empty] = sample[rng.choice(sample.shape[0], size=int(empty.sum()), replace=False)]
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        C = (sums / np.where(norms > 0, norms, 1.0)).astype(np.float32)
    return C


def _seed_cells(sample: np.ndarray, n_cells: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeds from at most ``20 * n_cells`` rows of the training sample.

    Random seeds leave some cells holding several dense regions and others
    splitting one; products grow with the sum over compared cell pairs of
    ``|A| |B|``, so uneven cells cost time (10^6 x 128 with 1,000 cells:
    7.9 x 10^10 pair products from random seeds, 4.7 x 10^10 from these).
    """
    m = sample.shape[0]
    if n_cells >= m:
        return sample.copy()
    from sklearn.cluster import kmeans_plusplus

    sub = sample[rng.choice(m, size=min(m, 20 * n_cells), replace=False)]
    seeds, _ = kmeans_plusplus(sub.astype(np.float64), n_cells,
                               random_state=int(rng.integers(2**31 - 1)))
    norms = np.linalg.norm(seeds, axis=1, keepdims=True)
    return (seeds / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def _assign(X: np.ndarray, C: np.ndarray, *, return_sim: bool = False):
    """Index of the nearest unit centroid (largest dot product) of each row.

    With ``return_sim``, also that largest dot product (float32).
    """
    out = np.empty(X.shape[0], dtype=np.int64)
    sim = np.empty(X.shape[0], dtype=np.float32)
    for sl in iter_row_blocks(X.shape[0], block_rows_for(C.shape[0])):
        S = X[sl] @ C.T
        out[sl] = np.argmax(S, axis=1)
        sim[sl] = S[np.arange(S.shape[0]), out[sl]]
    return (out, sim) if return_sim else out


def _assign_faiss(X: np.ndarray, C: np.ndarray, *, return_sim: bool = False):
    import faiss

    index = faiss.IndexFlatIP(C.shape[1])
    index.add(np.ascontiguousarray(C, dtype=np.float32))
    sim, idx = index.search(np.ascontiguousarray(X, dtype=np.float32), 1)
    out = idx[:, 0].astype(np.int64)
    return (out, sim[:, 0]) if return_sim else out


def ivf_delta_ball_graph(Xn: np.ndarray, delta: float, *, n_cells: int | None = None,
                         n_probe: int | str = "auto", min_recall: float = 0.999,
                         backend: str = "auto", random_state=None,
                         expected_edges: float | None = None, progress: bool = False,
                         return_info: bool = False):
    """Approximate δ-ball graph of unit vectors through an inverted-file partition.

    Parameters
    ----------
    Xn : ndarray of shape (n_samples, n_features)
        Unit-normalised embeddings (see :func:`skal.neighbors.unit_normalize`).
    delta : float
        Ball radius, > 0; edge ``i -> j`` iff ``||x_i - x_j|| < delta``.
    n_cells : int, optional
        Number of k-means cells; default ``sqrt(n_samples)`` (at least 1).
    n_probe : int or "auto", default="auto"
        Each cell is compared with its ``n_probe`` nearest cells (itself
        included); the relation is symmetrised, so a pair of cells is compared
        when either one probes the other. ``n_probe >= n_cells`` is exact.
        ``"auto"`` takes the smallest count that keeps ``min_recall`` of the
        edges of sampled rows (see :func:`choose_n_probe`).
    min_recall : float in (0, 1], default=0.999
        The share of edges ``n_probe="auto"`` must keep, estimated on the
        exact balls of a row sample.
    backend : {"auto", "numpy", "faiss"}, default="auto"
        Who assigns points to cells; ``"auto"`` takes faiss when installed.
    random_state : int, Generator or None
        Seeds the k-means training sample.
    expected_edges : float, optional
        An estimate of the edge count used to size the index buffer; sampled
        here when not given.
    progress : bool, default=False
        Show a tqdm bar over cells.
    return_info : bool, default=False
        Also return a dict: ``n_cells``, ``n_probe`` (the count used),
        ``sampled_recall`` (the recall of that count on the rows that chose
        it, ``None`` when ``n_probe`` was given) and ``compared_pairs`` (the
        point pairs multiplied, diagonal blocks included).

    Returns
    -------
    graph : scipy.sparse.csr_matrix of shape (n_samples, n_samples), dtype bool
        Symmetric, self-loops included, a subgraph of the exact δ-ball graph.
    info : dict
        Only with ``return_info=True``.
    """
    delta = check_positive(delta, "delta")
    if backend not in ("auto", "numpy", "faiss"):
        raise ValueError(f"backend must be 'auto', 'numpy' or 'faiss', got {backend!r}")
    if backend == "faiss" and not have_faiss():
        raise ImportError("backend='faiss' needs the faiss package: pip install 'skal[ann]'")
    use_faiss = backend == "faiss" or (backend == "auto" and have_faiss())
    rng = check_random_state(random_state)
    Xn = np.ascontiguousarray(Xn, dtype=np.float32)
    n = Xn.shape[0]
    if n_cells is None:
        n_cells = int(max(1, round(math.sqrt(n))))
    n_cells = int(min(max(1, n_cells), n))
    auto = isinstance(n_probe, str)
    if auto and n_probe != "auto":
        raise ValueError(f"n_probe must be a positive int or 'auto', got {n_probe!r}")
    if not 0 < min_recall <= 1:
        raise ValueError(f"min_recall must be in (0, 1], got {min_recall!r}")

    C = _train_cells(Xn, n_cells, rng)
    cell, own_sim = (_assign_faiss if use_faiss else _assign)(Xn, C, return_sim=True)
    perm = np.argsort(cell, kind="stable")
    starts = np.searchsorted(cell[perm], np.arange(n_cells + 1))

    # Probe lists by centroid similarity, then symmetrised: (A, B) is compared
    # iff B is among A's probes or A among B's, which keeps the graph symmetric.
    CC = C @ C.T
    order = np.argsort(-CC, axis=1)
    sampled_recall = None
    if auto:
        rows, weights, strata = _choice_sample(own_sim, _CHOICE_ROWS, rng)
        sizes, balls = sample_ball_sizes(Xn, delta, rows)
        if expected_edges is None:
            expected_edges = float(np.dot(weights, sizes))
        n_probe, sampled_recall = choose_n_probe(order, cell, rows, balls, min_recall,
                                                 z=_CHOICE_Z, weights=weights, strata=strata)
    n_probe = int(min(max(1, n_probe), n_cells))
    probes = order[:, :n_probe]
    pair = sp.csr_matrix((np.ones(probes.size, dtype=bool),
                          (np.repeat(np.arange(n_cells), n_probe), probes.ravel())),
                         shape=(n_cells, n_cells))
    # Each cell is compared with itself, whatever the centroid ranking says.
    pair = (pair + pair.T + sp.identity(n_cells, dtype=bool, format="csr")).tocsr()
    pair.sort_indices()

    if expected_edges is None:
        sample = rng.choice(n, size=min(n, 128), replace=False)
        expected_edges = float(sample_ball_sizes(Xn, delta, sample)[0].mean()) * n
    from .strategies._screen import ScreenedTiles

    # Built in cell order, upper triangle only: each compared pair of cells is
    # multiplied once (cell A's rows against the later cells it is paired
    # with), then the full rows are assembled in pool order (_unpermute_upper).
    # The exact build's proven float32 screen decides every pair: no rounding
    # errors.
    Xp = Xn[perm]
    tiles = ScreenedTiles(Xp, delta)
    blocks = _upper_cell_blocks(pair, starts)
    indptr, indices = _tiled_graph_csr(tiles, blocks, n, float(expected_edges), half=True,
                                      progress=progress, desc="ivf delta graph", mirror=False)
    del tiles, Xp, own_sim
    parts = [indptr, indices]
    del indptr, indices
    indptr, indices = _unpermute_upper(perm, parts)
    g = sp.csr_matrix((edge_flags(indices.size), indices, indptr), shape=(n, n), copy=False)
    g.has_sorted_indices = True
    if not return_info:
        return g
    sizes = np.diff(starts)
    upper = sp.triu(pair, k=1).tocoo()
    compared = float(np.sum(sizes[upper.row] * sizes[upper.col].astype(np.float64))
                     + np.sum(sizes * (sizes + 1.0) / 2.0))
    return g, {"n_cells": n_cells, "n_probe": n_probe, "sampled_recall": sampled_recall,
               "compared_pairs": compared}


def _choice_sample(own_sim: np.ndarray, m: int, rng: np.random.Generator):
    """Rows for :func:`choose_n_probe`, half of them from the points furthest from their centre.

    A ball reaches unprobed cells mostly from points far from their own
    centroid: on a 200,000-point mixture the tenth of the points least
    similar to their centre held 85 % of the missed edges. Sampling that
    tenth as heavily as the rest (each row weighted by the share of the pool
    it stands for) measures those misses with far fewer rows than a uniform
    sample.

    Returns
    -------
    rows : ndarray of int, sorted
    weights : ndarray of float
        Points of the pool each sampled row stands for (stratum size over
        rows drawn from it).
    strata : ndarray of int
        0 for the far stratum, 1 for the rest.
    """
    n = own_sim.size
    if m >= n:
        return np.arange(n), np.ones(n), np.zeros(n, dtype=np.int64)
    n_far = max(1, int(math.ceil(_FAR_SHARE * n)))
    far = np.argpartition(own_sim, n_far - 1)[:n_far]
    is_far = np.zeros(n, dtype=bool)
    is_far[far] = True
    near = np.flatnonzero(~is_far)
    m_far = min(n_far, m // 2)
    m_near = min(near.size, m - m_far)
    rows = np.concatenate([rng.choice(far, size=m_far, replace=False),
                           rng.choice(near, size=m_near, replace=False)])
    weights = np.concatenate([np.full(m_far, n_far / max(m_far, 1)),
                              np.full(m_near, near.size / max(m_near, 1))])
    strata = np.repeat(np.array([0, 1]), [m_far, m_near])
    order = np.argsort(rows)
    return rows[order], weights[order], strata[order]


def choose_n_probe(order: np.ndarray, cell: np.ndarray, rows: np.ndarray, balls: list,
                   min_recall: float, *, z: float = 1.645, weights: np.ndarray | None = None,
                   strata: np.ndarray | None = None) -> tuple[int, float]:
    """The smallest probe count whose cell pairs keep ``min_recall`` of the edges, with confidence.

    An edge from row ``r`` (cell ``a``) to ``b`` (cell ``c``) is found with
    ``p`` probes iff ``a == c``, or ``c`` is among the first ``p`` cells of
    ``order[a]``, or ``a`` among those of ``order[c]`` (the symmetrised
    relation the build compares). So each sampled edge needs
    ``min(rank_a(c), rank_c(a)) + 1`` probes, and one pass gives the sampled
    recall of every probe count.

    Missed edges come in clumps (a point between clusters misses many at
    once), so the sampled recall of a count varies a lot between samples. The
    count returned is the smallest whose recall is at least ``min_recall``
    at the lower end of a one-sided normal interval. The recall is a ratio
    of weighted per-row sums (missed edges over ball sizes); its standard
    error is that of a stratified ratio estimator.

    Parameters
    ----------
    order : ndarray of int, shape (n_cells, n_cells)
        Each cell's cells by decreasing centroid similarity (the probe order).
    cell : ndarray of int, shape (n_samples,)
        The cell of every point.
    rows : ndarray of int
        The sampled rows.
    balls : list of ndarray
        Their exact balls (:func:`skal.neighbors.sample_ball_sizes`).
    min_recall : float in (0, 1]
    z : float, default=1.645
        Standard errors below the sampled recall that must still reach
        ``min_recall`` (1.645: 95 % one-sided); 0 takes the sampled recall
        as it is.
    weights : ndarray of float, optional
        Pool points each row stands for (default 1: a uniform sample).
    strata : ndarray of int, optional
        The stratum each row was drawn from (default: one).

    Returns
    -------
    n_probe : int
    sampled_recall : float
        The weighted share of the sampled edges that ``n_probe`` keeps.
    """
    n_cells = order.shape[0]
    rank = np.empty_like(order)
    rank[np.arange(n_cells)[:, None], order] = np.arange(n_cells)
    sizes = np.array([b.size for b in balls], dtype=np.float64)
    m = sizes.size
    w = np.ones(m) if weights is None else np.asarray(weights, dtype=np.float64)
    h = np.zeros(m, dtype=np.int64) if strata is None else np.asarray(strata, dtype=np.int64)
    total = float(np.dot(w, sizes))
    if total == 0:
        return 1, 1.0
    a = np.repeat(cell[np.asarray(rows, dtype=np.int64)], sizes.astype(np.int64))
    c = cell[np.concatenate(balls)]
    need = np.where(a == c, 1, np.minimum(rank[a, c], rank[c, a]) + 1)
    row_of = np.repeat(np.arange(m), sizes.astype(np.int64))
    # Only the edges a count misses matter; start from the count whose
    # weighted recall alone reaches the target (the interval's lower end is
    # below it), i.e. a weighted quantile of the needs.
    ew = w[row_of]
    srt = np.argsort(need, kind="stable")
    cum = np.cumsum(ew[srt])
    k = int(np.searchsorted(cum, min_recall * total * (1 - 1e-12), side="left"))
    p = int(need[srt[min(k, srt.size - 1)]])
    rest = need > p
    need, row_of = need[rest], row_of[rest]
    del ew, srt, cum
    stratum_ids = np.unique(h)
    while True:
        missed = np.bincount(row_of[need > p], minlength=m).astype(np.float64)
        recall = 1.0 - float(np.dot(w, missed)) / total
        var = 0.0
        for g in stratum_ids:
            sel = h == g
            mg = int(sel.sum())
            if mg < 2:
                continue
            d = missed[sel] - (1.0 - recall) * sizes[sel]
            # Each row stands for w points; the stratum, sum(w) of them.
            n_g = float(w[sel].sum())
            var += n_g**2 * float(np.var(d, ddof=1)) / mg
        se = math.sqrt(var) / total
        if recall - z * se >= min_recall - 1e-12 or not np.any(need > p):
            return p, recall
        p = int(need[need > p].min())


def _upper_cell_blocks(pair: sp.csr_matrix, starts: np.ndarray):
    """Row blocks (positions in cell order) with the sorted columns each is compared with.

    A block of cell ``a`` starting at position ``s`` meets the rest of its own
    cell from ``s`` on and every later cell paired with ``a``: together the
    upper triangle of the compared cell pairs, each pair once.
    """
    sizes = np.diff(starts)
    for a in range(sizes.size):
        lo, hi = int(starts[a]), int(starts[a + 1])
        if hi == lo:
            continue
        nb = pair.indices[pair.indptr[a]:pair.indptr[a + 1]]
        later = nb[nb > a]
        others = _concat_ranges(starts[later], sizes[later])
        step = max(1, block_rows_for(hi - lo + others.size, tile_bytes=_TILE_BYTES))
        for s in range(lo, hi, step):
            yield slice(s, min(hi, s + step)), np.concatenate([np.arange(s, hi), others])


def estimate_missed_edges(Xn: np.ndarray, graph: sp.csr_matrix, delta: float, *,
                          n_sample: int = 500, random_state=None) -> dict:
    """Compare an approximate graph with exact balls on a random sample of rows.

    Parameters
    ----------
    Xn : ndarray of shape (n_samples, n_features)
        The unit-normalised embeddings the graph was built from.
    graph : scipy.sparse.csr_matrix
        The approximate graph.
    delta : float
        Its radius.
    n_sample : int, default=500
        Rows checked by brute force (``n_sample x n_samples`` products).
    random_state : int, Generator or None

    Returns
    -------
    report : dict
        ``n_sampled``; ``exact_edges`` and ``found_edges`` on the sample;
        ``recall`` (found / exact); ``missed_edges_estimate``, the sample's
        missed fraction scaled to the whole graph; ``extra_edges`` (edges not
        in the exact ball, 0 for a correct subgraph).
    """
    rng = check_random_state(random_state)
    n = Xn.shape[0]
    rows = np.sort(rng.choice(n, size=min(n, n_sample), replace=False))
    sizes, members = sample_ball_sizes(Xn, delta, rows)
    found = 0
    extra = 0
    for r, ball in zip(rows, members):
        got = graph.indices[graph.indptr[r]:graph.indptr[r + 1]]
        hit = np.isin(got, ball).sum()
        found += int(hit)
        extra += int(got.size - hit)
    exact = int(sizes.sum())
    recall = found / exact if exact else 1.0
    est_total = float(sizes.mean()) * n
    return {
        "n_sampled": int(rows.size),
        "exact_edges": exact,
        "found_edges": found,
        "recall": float(recall),
        "missed_edges_estimate": float((1.0 - recall) * est_total),
        "extra_edges": extra,
    }
