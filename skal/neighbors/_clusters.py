"""k-means helpers and the purity δ: how far a point may look before it leaves its cluster."""

from __future__ import annotations

import math

import numpy as np

from .._validation import check_embeddings, check_random_state
from . import _tiles
from ._distances import row_sq_norms
from ._tiles import _resolve_torch_device, block_rows_for, iter_row_blocks, unit_normalize

# Points k-means is fitted on when the purity δ is estimated from a sample.
_KMEANS_SAMPLE = 20_000


def fit_kmeans(X: np.ndarray, n_clusters: int, *, random_state=None,
               minibatch_above: int = 50_000) -> tuple[np.ndarray, np.ndarray]:
    """K-means labels and centres; mini-batch k-means on large pools.

    Returns
    -------
    labels : ndarray of shape (n_samples,)
    centers : ndarray of shape (n_clusters, n_features)
    """
    from sklearn.cluster import KMeans, MiniBatchKMeans

    n_clusters = int(min(max(1, n_clusters), X.shape[0]))
    seed = int(check_random_state(random_state).integers(0, 2**31 - 1))
    if X.shape[0] > minibatch_above:
        km = MiniBatchKMeans(n_clusters=n_clusters, random_state=seed, n_init=3,
                             batch_size=max(1024, 20 * n_clusters))
    else:
        km = KMeans(n_clusters=n_clusters, random_state=seed, n_init=1)
    labels = km.fit_predict(X)
    return labels.astype(np.int64), km.cluster_centers_


def nearest_other_cluster_distance(Xn: np.ndarray, labels: np.ndarray, *,
                                   block_rows: int | None = None,
                                   device: str | None = None,
                                   rows: np.ndarray | None = None) -> np.ndarray:
    """Distance of each unit vector to the nearest point of a *different* cluster.

    A ball of radius δ around ``x`` is cluster-pure iff this distance is ``>= δ``,
    so one pass gives the purity of every δ at once.

    Parameters
    ----------
    Xn : ndarray of shape (n_samples, n_features)
        Unit vectors.
    labels : ndarray of shape (n_samples,)
        Cluster of every point.
    block_rows : int, optional
        Rows per tile.
    device : str, optional
        Torch device for the products.
    rows : ndarray of int, optional
        Only compute the distance for these points (each still against the
        whole pool); used to estimate the purity quantile on huge pools.

    Returns
    -------
    dist : ndarray of shape (n_samples,) or (len(rows),)
        ``inf`` where every point shares the cluster of ``x``.
    """
    Xn = np.ascontiguousarray(Xn, dtype=np.float32)
    labels = np.asarray(labels)
    n = Xn.shape[0]
    rows = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
    if block_rows is None:
        block_rows = block_rows_for(n)
    out = np.full(rows.size, np.inf, dtype=np.float64)
    from ..strategies._screen import float32_tie_window

    window = float32_tie_window(Xn)
    if device is not None:
        import torch

        dev = _resolve_torch_device(device)
        Xt = torch.from_numpy(Xn).to(dev)
        lt = torch.from_numpy(labels).to(dev)
        rt = torch.from_numpy(rows).to(dev)
    if device is None:
        return _nearest_other_numpy(Xn, labels, rows, window, out)
    for sl in iter_row_blocks(rows.size, block_rows):
        r = rows[sl]
        # float32 products find the nearest other-cluster points up to a
        # proven rounding window; every candidate in it is re-measured in
        # float64 so that the δ quantile is exact.
        St = Xt[rt[sl]] @ Xt.T
        St.masked_fill_(lt[rt[sl]][:, None] == lt[None, :], float("-inf"))
        bt = St.max(dim=1).values
        nz = torch.nonzero(St >= (bt - window)[:, None], as_tuple=True)
        ii, jj = nz[0].cpu().numpy(), nz[1].cpu().numpy()
        best = bt.double().cpu().numpy()
        ok = np.isfinite(best)[ii]
        ii, jj = ii[ok], jj[ok]
        diff = Xn[r[ii]].astype(np.float64) - Xn[jj].astype(np.float64)
        dist = np.sqrt(np.einsum("ij,ij->i", diff, diff))
        blk = out[sl]
        np.minimum.at(blk, ii, dist)
        out[sl] = blk
    return out


def _nearest_other_numpy(Xn, labels, rows, window, out):
    """NumPy path of :func:`nearest_other_cluster_distance`.

    The pool is sorted by cluster, so a row's own cluster is one contiguous
    column range of its tile, masked before the maximum. Tiles mix rows of
    any clusters: with many clusters and a sampled set of rows, one tile per
    cluster would be a few rows each, far too thin for BLAS.
    """
    n = Xn.shape[0]
    order = np.argsort(labels, kind="stable")
    Xs = Xn[order]
    sorted_labels = labels[order]
    own_lo = np.searchsorted(sorted_labels, labels[rows], side="left")
    own_hi = np.searchsorted(sorted_labels, labels[rows], side="right")
    step = max(_tiles._MIN_TILE_ROWS, block_rows_for(n, tile_bytes=_tiles._HOST_TILE_BYTES))
    # The tile is reused: a fresh one per block would be page-faulted in again.
    buf = np.empty((min(step, rows.size), n), dtype=np.float32)
    for sl in iter_row_blocks(rows.size, step):
        r = rows[sl]
        S = np.matmul(Xn[r], Xs.T, out=buf[:r.size])
        for i, (lo, hi) in enumerate(zip(own_lo[sl], own_hi[sl])):
            S[i, lo:hi] = -np.inf
        best = S.max(axis=1)
        # Every point within the proven float32 window of the best is
        # re-measured in float64, so the distances (and δ) are exact.
        flat = np.flatnonzero(S >= (best - window)[:, None])
        del S
        ii, jj = np.divmod(flat, n)
        ok = np.isfinite(best)[ii]  # rows whose cluster is the whole pool have none
        ii, jj = ii[ok], order[jj[ok]]
        diff = Xn[r[ii]].astype(np.float64) - Xn[jj].astype(np.float64)
        dist = np.sqrt(np.einsum("ij,ij->i", diff, diff))
        blk = np.full(r.size, np.inf)
        np.minimum.at(blk, ii, dist)
        out[sl] = blk
    return out


def purity_delta(X: np.ndarray, n_clusters: int, *, purity: float = 0.95,
                 grid_step: float | None = None, normalized: bool = False,
                 random_state=None, device: str | None = None,
                 sample_rows: int | None = None, return_details: bool = False):
    """The largest δ for which at least ``purity`` of the δ-balls are cluster-pure.

    Clusters come from k-means with ``n_clusters`` clusters (ProbCover's
    heuristic, with as many clusters as classes). Instead of rebuilding a graph
    for every δ of a grid, the distance of every point to its nearest point of
    another cluster is computed once; the fraction of pure balls at δ is then
    ``mean(d_other >= δ)`` and the answer is a quantile.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    n_clusters : int
        Number of k-means clusters (usually the number of classes).
    purity : float, default=0.95
        Required fraction of pure balls.
    grid_step : float, optional
        Round the answer *down* to a multiple of this step (the reference code
        searches a grid of 0.05); ``None`` returns the exact largest δ.
    normalized : bool, default=False
        Set when ``X`` is already on the unit sphere.
    random_state : int, Generator or None
    device : str, optional
        Torch device for the distance pass (see :func:`delta_ball_graph`).
    sample_rows : int, optional
        Estimate the quantile from this many random rows (each against the
        whole pool) instead of all of them: ``sample_rows x n`` products
        instead of ``n x n``, for pools of ``10^6`` points.
    return_details : bool, default=False
        Also return ``(d_other, cluster_labels)``.

    Returns
    -------
    delta : float
    """
    if not 0 < purity <= 1:
        raise ValueError(f"purity must be in (0, 1], got {purity}")
    Xn = X if normalized else unit_normalize(check_embeddings(X))
    rng = check_random_state(random_state)
    n = Xn.shape[0]
    sampled = sample_rows is not None and sample_rows < n
    if sampled and n > _KMEANS_SAMPLE:
        # k-means too is fitted on a sample (then every point takes its
        # nearest centre): on 10^5+ points a full fit costs more than the pass.
        fit_on = np.sort(rng.choice(n, size=_KMEANS_SAMPLE, replace=False))
        _, centers = fit_kmeans(Xn[fit_on], n_clusters, random_state=rng)
        labels = nearest_center(Xn, centers)
    else:
        labels, _ = fit_kmeans(Xn, n_clusters, random_state=rng)
    rows = np.sort(rng.choice(n, size=int(sample_rows), replace=False)) if sampled else None
    d_other = nearest_other_cluster_distance(Xn, labels, device=device, rows=rows)
    n = d_other.size
    # #{d < δ} <= (1 - purity) * n; the largest such δ is the (k+1)-th smallest value.
    k = int(math.floor((1.0 - purity) * n + 1e-9))
    srt = np.sort(d_other)
    delta = float(srt[min(k, n - 1)])
    if not np.isfinite(delta):
        delta = 2.0  # one cluster: every ball is pure; the diameter of the sphere
    if grid_step is not None:
        delta = math.floor(delta / grid_step + 1e-9) * grid_step
    delta = max(delta, 1e-6)
    if return_details:
        return delta, d_other, labels
    return delta


def nearest_center(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Index of the nearest row of ``centers`` (Euclidean) for every row of ``X``, blocked."""
    centers = np.asarray(centers, dtype=X.dtype)
    c_sq = row_sq_norms(centers)
    out = np.empty(X.shape[0], dtype=np.int64)
    for sl in iter_row_blocks(X.shape[0], block_rows_for(centers.shape[0])):
        # ||x||^2 is the same for every centre, so it drops out of the argmin.
        out[sl] = np.argmin(c_sq[None, :] - 2.0 * (X[sl] @ centers.T), axis=1)
    return out
