"""The numerical core: normalisation, blocked δ-ball graphs, k-means helpers.

Everything here works on tiles of the pool so that no dense ``N x N`` matrix
is ever held in memory; distances come from BLAS matrix products (NumPy) or
from torch on the device the user picked.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp

from ._validation import check_embeddings, check_positive, check_random_state

__all__ = [
    "unit_normalize",
    "iter_row_blocks",
    "block_rows_for",
    "delta_ball_graph",
    "nearest_other_cluster_distance",
    "purity_delta",
    "fit_kmeans",
    "csr_gather_rows",
    "row_sq_norms",
    "sq_dists_block",
    "kernel_block",
    "min_sq_dist_to",
    "median_bandwidth",
    "sample_ball_sizes",
    "estimate_graph_bytes",
]

# Points k-means is fitted on when the purity δ is estimated from a sample.
_KMEANS_SAMPLE = 20_000
# Host tile of the δ-ball graph build (bytes) and its fewest rows.
_HOST_TILE_BYTES = 32 * 2**20
_MIN_TILE_ROWS = 128
# Default memory for one distance tile (bytes).
_TILE_BYTES = 256 * 2**20
# Float64 rows unit_normalize converts at a time.
_NORMALIZE_BLOCK_BYTES = 32 * 2**20


def unit_normalize(X: np.ndarray, *, dtype=np.float32) -> np.ndarray:
    """Divide by the largest norm, then project every row onto the unit sphere.

    This is ProbCover's feature normalisation. Rows of norm zero stay zero (they
    have no direction); they are never within any ball of positive radius of a
    unit vector except when ``delta > 1``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    dtype : numpy dtype, default=np.float32
        Output dtype (float32 halves the memory of the tiles and doubles BLAS speed).

    Returns
    -------
    Xn : ndarray of shape (n_samples, n_features)
    """
    X = np.asarray(X)
    n = X.shape[0]
    # Row blocks in float64: the same arithmetic, element by element, as on
    # the whole array, without three float64 copies of it (3 GB at 10^6 x 128).
    step = max(1, _NORMALIZE_BLOCK_BYTES // (8 * max(1, X.shape[1])))
    norms = np.empty(n, dtype=np.float64)
    for s in range(0, n, step):
        norms[s:s + step] = np.linalg.norm(np.asarray(X[s:s + step], dtype=np.float64), axis=1)
    max_norm = norms.max() if n else 0.0
    out = np.empty(X.shape, dtype=dtype)
    for s in range(0, n, step):
        Xb = np.asarray(X[s:s + step], dtype=np.float64)
        nb = norms[s:s + step]
        if max_norm > 0:
            Xb = Xb / max_norm
            nb = nb / max_norm
        safe = np.where(nb > 0, nb, 1.0)
        out[s:s + step] = Xb / safe[:, None]
    return out


def block_rows_for(n_cols: int, *, itemsize: int = 4, tile_bytes: int = _TILE_BYTES) -> int:
    """Number of rows of a tile with ``n_cols`` columns that fits in ``tile_bytes``."""
    return int(max(1, min(max(n_cols, 1), tile_bytes // max(1, n_cols * itemsize))))


def iter_row_blocks(n_rows: int, block_rows: int) -> Iterator[slice]:
    """Yield consecutive row slices covering ``range(n_rows)``, the last one included."""
    for start in range(0, n_rows, block_rows):
        yield slice(start, min(start + block_rows, n_rows))


def _resolve_torch_device(device):
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available")
    return dev


def delta_ball_graph(X: np.ndarray, delta: float, *, normalized: bool = False,
                     block_rows: int | None = None, device: str | None = None,
                     half: bool | str = "auto", expected_edges: float | None = None,
                     screen: str = "auto", prune: bool | str = False,
                     progress: bool = False) -> sp.csr_matrix:
    """Sparse δ-ball graph: edge ``i -> j`` iff ``||x_i - x_j|| < delta``.

    Self-loops are included (every point is in its own ball). The distance is
    the float64 one of the float32 unit vectors (see
    :mod:`skal.strategies._screen`): each tile is screened by one matrix
    product whose error is bounded with proof, and only the pairs the bound
    cannot decide are measured in float64, so the graph is exactly the one
    the float64 definition gives.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Embeddings; unit-normalised here unless ``normalized=True``.
    delta : float
        Ball radius, > 0.
    normalized : bool, default=False
        Set when ``X`` is already on the unit sphere.
    block_rows : int, optional
        Rows per tile; by default a tile holds about 256 MiB.
    device : str, optional
        ``None`` uses NumPy/BLAS; any torch device string (``"cpu"``,
        ``"cuda"``, ``"cuda:1"``, ``"auto"``) runs the tile products in torch there.
    half : bool or "auto", default="auto"
        Compute only the upper-triangle tiles (the relation is symmetric) and
        mirror them inside the same buffer: half the products, and the graph
        is held once (``_mirror_upper``). ``False`` computes every row whole
        (twice the products; kept as a reference path). ``"auto"`` is ``True``.
    expected_edges : float, optional
        An estimate of the edge count (e.g. from :func:`estimate_graph_bytes`)
        used to size the index buffer; sampled here when not given.
    screen : {"auto", "float32", "bfloat16"}, default="auto"
        Precision of the screening products. ``"bfloat16"`` runs them through
        torch (tensor cores on CUDA, AMX on recent Xeons) with a wider proven
        band; ``"auto"`` takes it where it is faster than float32
        (:func:`~skal.strategies._screen.have_fast_bf16`).
    prune : bool or "auto", default=False
        Order the pool by coarse k-means cells and skip the products of chunk
        pairs whose balls are provably farther apart than δ
        (:class:`~skal.strategies._prune.PrunePlan`); the graph is unchanged.
        It pays on data of low intrinsic dimension with small balls; on
        isotropic high-dimensional clusters no chunk pair can be skipped and
        the plan (a small k-means) is wasted. ``"auto"`` makes the plan on
        pools above 4,096 points and uses it only when it skips at least 30%
        of the products.
    progress : bool, default=False
        Show a tqdm bar over tiles.

    Returns
    -------
    graph : scipy.sparse.csr_matrix of shape (n_samples, n_samples), dtype bool
        Row ``i`` lists the points inside the ball of ``x_i`` (the points
        ``x_i`` covers), with sorted column indices.
    """
    delta = check_positive(delta, "delta")
    if half not in (True, False, "auto"):
        raise ValueError(f"half must be True, False or 'auto', got {half!r}")
    Xn = X if normalized else unit_normalize(check_embeddings(X))
    Xn = np.ascontiguousarray(Xn, dtype=np.float32)
    n = Xn.shape[0]
    if block_rows is None:
        # Host tiles of ~32 MiB are reused by the allocator from one tile to
        # the next (larger ones are mapped and unmapped each time: page faults),
        # and waste little of the upper triangle in the half build; devices
        # take the usual 256 MiB.
        block_rows = block_rows_for(n) if device is not None else \
            max(min(n, _MIN_TILE_ROWS), block_rows_for(n, tile_bytes=_HOST_TILE_BYTES))
    # The index buffer is sized from a sampled edge count (grown when short).
    if expected_edges is not None:
        est_edges = float(expected_edges)
    elif n > 2_000:
        sample = np.random.default_rng(0).choice(n, size=128, replace=False)
        est_edges = float(sample_ball_sizes(Xn, delta, sample)[0].mean()) * n
    else:
        est_edges = n * 8.0
    if half == "auto":
        half = True
    from .strategies._screen import ScreenedTiles, have_fast_bf16

    if screen == "auto":
        screen = "bfloat16" if have_fast_bf16(device) else "float32"
    if screen not in ("float32", "bfloat16"):
        raise ValueError(f"screen must be 'auto', 'float32' or 'bfloat16', got {screen!r}")
    if prune not in (True, False, "auto"):
        raise ValueError(f"prune must be True, False or 'auto', got {prune!r}")
    plan = None
    if prune is True or (prune == "auto" and half and n > _PRUNE_MIN):
        from .strategies._prune import PrunePlan

        plan = PrunePlan(Xn, delta)
        if prune == "auto" and plan.visited_fraction() > 0.7:
            plan = None
    if plan is not None:
        # The pruned build works in cell order, upper triangle, then maps back.
        half = True
        Xn = Xn[plan.perm]
    tiles = ScreenedTiles(Xn, delta, device=device, screen=screen)
    if plan is None:
        blocks = [(sl, None) for sl in iter_row_blocks(n, block_rows)]
    else:  # columns made one tile at a time (each may list most of the pool)
        blocks = ((slice(int(plan.starts[lo]), int(plan.starts[hi])), plan.columns(t))
                  for t, (lo, hi) in enumerate(plan.tiles))
    # The pruned build's upper triangle is in cell order: its full rows are
    # assembled straight in pool order instead of being mirrored first.
    indptr, indices = _tiled_graph_csr(tiles, blocks, n, est_edges, half=bool(half),
                                      progress=progress, mirror=plan is None)
    if plan is not None:
        parts = [indptr, indices]
        del indptr, indices
        indptr, indices = _unpermute_upper(plan.perm, parts)
    graph = sp.csr_matrix((edge_flags(indices.size), indices, indptr), shape=(n, n), copy=False)
    graph.has_sorted_indices = True
    return graph


# Pools above this size get block pruning in delta_ball_graph(prune="auto").
_PRUNE_MIN = 4_096


def _tiled_graph_csr(tiles, blocks, n: int, est_edges: float, *, half: bool,
                    progress: bool = False, desc: str = "delta-ball graph",
                    mirror: bool = True):
    """CSR arrays of a δ-ball graph from row blocks of screened tiles.

    Parameters
    ----------
    tiles : skal.strategies._screen.ScreenedTiles
    blocks : iterable of (slice, ndarray or None)
        Row blocks in ascending order covering every row once, each with the
        sorted columns it is compared with (``None``: all, or all from the
        block's first row on when ``half``).
    n : int
        Number of rows.
    est_edges : float
        Estimated edges of the whole graph (sizes the buffer; grown if short).
    half : bool
        The blocks yield the upper triangle only; it is mirrored in place.
    mirror : bool, default=True
        With ``half``, ``False`` returns the upper triangle itself (diagonal
        included), for :func:`_unpermute_upper`.

    Returns
    -------
    indptr : ndarray of int64
    indices : ndarray of int32 (int64 above 2**31 rows), rows sorted
    """
    if progress:
        from tqdm.auto import tqdm

        blocks = tqdm(blocks, desc=desc, unit="tile")
    idx_dtype = np.int32 if n < 2**31 else np.int64
    counts_all = np.zeros(n, dtype=np.int64)
    # Sized for the whole graph even in the half build, which mirrors in place:
    # pages never written are never mapped, so this costs nothing extra. One
    # buffer instead of per-tile pieces concatenated at the end, which would
    # hold the whole graph twice at its peak.
    buffer = np.empty(int(est_edges * 1.1) + n, dtype=idx_dtype)
    nnz = 0
    for sl, col_idx in blocks:
        cols, counts = tiles.edges(sl, upper=half, col_idx=col_idx)
        counts_all[sl] = counts
        if nnz + cols.size > buffer.size:
            # realloc remaps a large block instead of copying it: no double peak.
            buffer.resize(max(nnz + cols.size, int(buffer.size * 1.5)), refcheck=False)
        buffer[nnz:nnz + cols.size] = cols
        nnz += cols.size
        del cols
    if half and mirror:
        return _mirror_upper(buffer, counts_all)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts_all, out=indptr[1:])
    # Give the unused tail of the buffer back (an in-place realloc shrinks
    # the mapping) instead of keeping it alive behind a view.
    buffer.resize(max(nnz, 1), refcheck=False)
    return indptr, (buffer[:nnz] if buffer.size != nnz else buffer)


def _unpermute_upper(perm: np.ndarray, parts: list):
    """Full symmetric CSR in pool order, rows sorted, from the upper triangle built in order ``perm``.

    ``parts`` is ``[indptr, indices]`` of the upper triangle (each row's
    columns from its own position on, diagonal first, sorted); it is emptied.
    Row ``t`` of the full graph in build order is column ``t`` of the upper
    triangle without its diagonal (the rows before ``t`` holding it, from one
    CSR-to-CSC conversion) followed by row ``t`` itself; row ``i`` of the
    result is that row for ``t = inv[i]``, relabelled through ``perm`` and
    sorted. Mirroring in build order first (:func:`_mirror_upper`) and then
    gathering rows wrote every edge twice more: at 10^9 edges this saves
    about 10 s. The graph is held about twice (upper triangle, its CSC copy
    and the result).
    """
    up_idx = parts.pop()
    up_ptr = parts.pop()
    n = perm.size
    ones = np.ones(up_idx.size, dtype=bool)
    low = sp.csr_matrix((ones, up_idx, up_ptr), shape=(n, n), copy=False).tocsc()
    del ones
    low_ptr, low_idx = low.indptr.astype(np.int64, copy=False), low.indices
    del low
    inv = np.empty(n, dtype=np.int64)
    inv[perm] = np.arange(n)
    # Column t lists the rows r <= t, ascending: its last entry is t itself.
    full = (np.diff(low_ptr) - 1) + np.diff(up_ptr)
    out_ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(full[inv], out=out_ptr[1:])
    perm_c = perm.astype(up_idx.dtype)
    out = np.empty(int(out_ptr[-1]), dtype=up_idx.dtype)
    lo_start, lo_stop = low_ptr[:-1].tolist(), (low_ptr[1:] - 1).tolist()
    up_start, up_stop = up_ptr[:-1].tolist(), up_ptr[1:].tolist()
    for start, stop in _edge_chunks(out_ptr):
        a, b = out_ptr[start], out_ptr[stop]
        pieces = []
        for t in inv[start:stop].tolist():
            pieces.append(low_idx[lo_start[t]:lo_stop[t]])
            pieces.append(up_idx[up_start[t]:up_stop[t]])
        out[a:b] = perm_c[np.concatenate(pieces)]
        _sort_rows(out_ptr[start:stop + 1] - a, out[a:b], n)
    return out_ptr, out


def _sort_rows(indptr: np.ndarray, indices: np.ndarray, n_cols: int) -> None:
    """Sort the column indices of every CSR row, in ``indices`` itself."""
    ptr = indptr.astype(indices.dtype) if indices.size < 2**31 else indptr
    chunk = sp.csr_matrix((np.ones(indices.size, dtype=bool), indices, ptr),
                          shape=(indptr.size - 1, n_cols), copy=False)
    chunk.has_sorted_indices = False
    chunk.sort_indices()
    if not np.shares_memory(chunk.indices, indices):
        indices[:] = chunk.indices


def _concat_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``concatenate([arange(s, s + l) for s, l in zip(starts, lengths)])``, vectorised."""
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    shift = starts - np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return np.repeat(shift, lengths) + np.arange(total)


def edge_flags(n_edges: int) -> np.ndarray:
    """The ``data`` of an unweighted CSR graph: ``True`` per edge, stored once.

    A zero-stride read-only view instead of ``n_edges`` bytes: at 250 M edges
    that is 250 MB less at the peak of a build. SciPy keeps such a view as
    it is and copies it only in operations that need contiguous data.
    """
    return np.broadcast_to(np.True_, (int(n_edges),))


def _mirror_upper(buffer: np.ndarray, up_counts: np.ndarray):
    """Full symmetric CSR from its upper triangle, built inside the triangle's own buffer.

    ``buffer`` holds the upper-triangle rows (diagonal first, sorted) back to
    back at its front, row ``r`` having ``up_counts[r]`` entries, and is large
    enough for the full graph (it is grown otherwise). Row ``r`` of the result
    is its strictly-lower part (column ``r`` of the upper triangle) followed
    by its upper part, so rows stay sorted.

    One pass over row chunks, from the last to the first: a chunk's upper
    rows are copied out (a contiguous slice), written to their final places,
    and transposed (scipy's O(E) CSR-to-CSC conversion) into the ends of the
    lower parts of the rows after them. Every write lands at or after the
    chunk's own start, so no upper row that is still to be read is
    overwritten: the graph is held once, plus chunk temporaries of a few
    tens of MB.

    Returns
    -------
    indptr : ndarray of int64, shape (n + 1,)
    indices : ndarray, ``buffer`` itself, trimmed to the edge count
    """
    n = up_counts.size
    up_counts = up_counts.astype(np.int64, copy=False)
    up_ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(up_counts, out=up_ptr[1:])
    n_upper = int(up_ptr[-1])
    # Column counts of the upper triangle, less the diagonal: the lower lengths.
    low = np.zeros(n, dtype=np.int64)
    for s in range(0, n_upper, _EDGE_CHUNK):
        low += np.bincount(buffer[s:min(n_upper, s + _EDGE_CHUNK)], minlength=n)
    low -= 1
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(low + up_counts, out=indptr[1:])
    total = int(indptr[-1])
    if buffer.size < total:
        buffer.resize(total, refcheck=False)
    up_dst = indptr[:-1] + low  # final start of each row's upper part (>= up_ptr)
    low_end = up_dst.copy()  # lower parts fill from their ends, highest rows first
    long_rows = n_upper >= 256 * n  # then a Python loop of slice copies is cheaper
    for start, stop in reversed(_edge_chunks(up_ptr)):
        rs = slice(start, stop)
        base = int(up_ptr[start])
        chunk = buffer[base:int(up_ptr[stop])].copy()
        if long_rows:
            for r in range(start, stop):
                a, b = int(up_ptr[r]) - base, int(up_ptr[r + 1]) - base
                buffer[up_dst[r]:up_dst[r] + (b - a)] = chunk[a:b]
        else:
            buffer[_concat_ranges(up_dst[rs], up_counts[rs])] = chunk
        # The chunk's rows without their diagonal entries, transposed: column
        # c lists (ascending) the chunk's rows below c.
        keep = np.ones(chunk.size, dtype=bool)
        keep[up_ptr[start:stop] - base] = False
        strict = chunk[keep]
        del chunk, keep
        ptr = up_ptr[start:stop + 1] - base - np.arange(stop - start + 1)
        t = sp.csr_matrix((np.ones(strict.size, dtype=bool), strict, ptr),
                          shape=(stop - start, n), copy=False).tocsc()
        per_col = np.diff(t.indptr).astype(np.int64)
        low_end -= per_col
        buffer[_concat_ranges(low_end, per_col)] = t.indices + buffer.dtype.type(start)
        del strict, t
    if buffer.size > total:
        buffer.resize(total, refcheck=False)  # shrinking remaps, nothing is copied
    return indptr, buffer


def _edge_chunks(ptr: np.ndarray, chunk_edges: int | None = None) -> list[tuple[int, int]]:
    """Consecutive row ranges of a CSR ``ptr`` holding about ``chunk_edges`` edges each."""
    chunk_edges = _EDGE_CHUNK if chunk_edges is None else chunk_edges
    n = ptr.size - 1
    out, start = [], 0
    while start < n:
        stop = int(np.searchsorted(ptr, ptr[start] + chunk_edges, side="right")) - 1
        stop = min(max(stop, start + 1), n)
        out.append((start, stop))
        start = stop
    return out


# From this mean row length on, csr_gather_rows copies row slices in a loop.
_SLICE_ROWS_FROM = 64


def csr_gather_rows(indptr: np.ndarray, indices: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Concatenate the column indices of the given CSR rows.

    Short rows are gathered through one index array of every edge; long rows
    (``_SLICE_ROWS_FROM`` edges on average or more) as slices joined by one
    ``np.concatenate``, which moves each edge once instead of building and
    reading an int64 index for it (4,000 rows of 1,000 edges: 5.8 ms against
    44.7 ms; the loop's cost per row, about 0.7 us, wins from ~64 edges a row).
    """
    rows = np.asarray(rows, dtype=np.int64)
    if rows.size == 0:
        return np.empty(0, dtype=indices.dtype)
    starts = indptr[rows]
    lengths = indptr[rows + 1] - starts
    if int(lengths.sum()) >= _SLICE_ROWS_FROM * rows.size:
        stops = (starts + lengths).tolist()
        return np.concatenate([indices[a:b] for a, b in zip(starts.tolist(), stops)])
    return indices[_concat_ranges(starts, lengths)]


# Edges handled per chunk by the chunked sparse helpers below: bounds their
# temporary arrays to a few tens of MB whatever the graph's size.
_EDGE_CHUNK = 1 << 22


def csr_row_sums(indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, *,
                 chunk_edges: int = _EDGE_CHUNK) -> np.ndarray:
    """``out[r] = sum(values[indices[indptr[r]:indptr[r+1]]])`` in bounded memory.

    Equivalent to ``graph @ values`` for a CSR graph with unit weights, but
    without the float copy of the whole data array that scipy makes for a
    boolean matrix.
    """
    out = np.zeros(indptr.size - 1, dtype=np.float64)
    for start, stop in _edge_chunks(indptr, chunk_edges):
        lengths = np.diff(indptr[start:stop + 1])
        seg = values[indices[indptr[start]:indptr[stop]]]
        owner = np.repeat(np.arange(stop - start), lengths)
        out[start:stop] = np.bincount(owner, weights=seg, minlength=stop - start)
    return out


def subtract_neighbour_weights(score: np.ndarray, indptr: np.ndarray, indices: np.ndarray,
                               rows: np.ndarray, weights: np.ndarray, *,
                               chunk_edges: int = _EDGE_CHUNK) -> None:
    """``score[j] -= weights[k]`` for every ``j`` in row ``rows[k]``, in bounded memory.

    Rows are processed in groups whose edges fit in ``chunk_edges``, so a pick
    that covers a huge region never materialises all of its edges at once.
    """
    n = score.size
    rows = np.asarray(rows, dtype=np.int64)
    if rows.size == 0:
        return
    lengths = indptr[rows + 1] - indptr[rows]
    cum = np.cumsum(lengths)
    start = 0
    while start < rows.size:
        base = cum[start - 1] if start else 0
        stop = int(np.searchsorted(cum, base + chunk_edges, side="right"))
        stop = min(max(stop, start + 1), rows.size)
        neighbours = csr_gather_rows(indptr, indices, rows[start:stop])
        w = weights[start:stop]
        # Usually every weight is the same (newly covered points all gave 1):
        # count the neighbours then, instead of repeating a weight per edge.
        same = bool(np.all(w == w[0]))
        if neighbours.size > n // 8:
            if same:
                score -= float(w[0]) * np.bincount(neighbours, minlength=n)
            else:
                score -= np.bincount(neighbours, weights=np.repeat(w, lengths[start:stop]),
                                     minlength=n)
        else:
            np.subtract.at(score, neighbours, float(w[0]) if same
                           else np.repeat(w, lengths[start:stop]))
        start = stop


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
    from .strategies._screen import float32_tie_window

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
    step = max(_MIN_TILE_ROWS, block_rows_for(n, tile_bytes=_HOST_TILE_BYTES))
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


def row_sq_norms(X: np.ndarray) -> np.ndarray:
    """Squared Euclidean norm of every row, accumulated in float64."""
    X = np.asarray(X)
    return np.einsum("ij,ij->i", X, X, dtype=np.float64)


def sq_dists_block(A: np.ndarray, B: np.ndarray, a_sq: np.ndarray | None = None,
                   b_sq: np.ndarray | None = None) -> np.ndarray:
    """Squared Euclidean distances between the rows of ``A`` and ``B`` (one BLAS product).

    Parameters
    ----------
    A : ndarray of shape (n_a, n_features)
    B : ndarray of shape (n_b, n_features)
    a_sq, b_sq : ndarray, optional
        Precomputed squared row norms (see :func:`row_sq_norms`).

    Returns
    -------
    d2 : ndarray of shape (n_a, n_b), dtype of ``A @ B.T``
        Clipped at zero (the expansion can go slightly negative by rounding).
    """
    if a_sq is None:
        a_sq = row_sq_norms(A)
    if b_sq is None:
        b_sq = row_sq_norms(B)
    G = A @ B.T
    G *= -2.0
    G += a_sq.astype(G.dtype, copy=False)[:, None]
    G += b_sq.astype(G.dtype, copy=False)[None, :]
    np.maximum(G, 0.0, out=G)
    return G


def kernel_block(A: np.ndarray, B: np.ndarray, bandwidth: float, kernel: str = "rbf", *,
                 a_sq: np.ndarray | None = None, b_sq: np.ndarray | None = None) -> np.ndarray:
    """Kernel values between the rows of ``A`` and ``B``.

    Parameters
    ----------
    A : ndarray of shape (n_a, n_features)
    B : ndarray of shape (n_b, n_features)
    bandwidth : float
        Kernel width ``sigma`` > 0.
    kernel : {"rbf", "laplacian"}, default="rbf"
        ``"rbf"``: ``exp(-(||a - b|| / sigma)**2)`` (MaxHerding's kernel);
        ``"laplacian"``: ``exp(-||a - b|| / sigma)``.
    a_sq, b_sq : ndarray, optional
        Precomputed squared row norms.

    Returns
    -------
    K : ndarray of shape (n_a, n_b)
    """
    K = sq_dists_block(A, B, a_sq, b_sq)
    if kernel == "rbf":
        K *= -1.0 / (bandwidth * bandwidth)
    elif kernel == "laplacian":
        np.sqrt(K, out=K)
        K *= -1.0 / bandwidth
    else:
        raise ValueError(f"kernel must be 'rbf' or 'laplacian', got {kernel!r}")
    np.exp(K, out=K)
    return K


def min_sq_dist_to(X: np.ndarray, centers: np.ndarray, *, x_sq: np.ndarray | None = None,
                   block_rows: int | None = None) -> np.ndarray:
    """Squared distance of every row of ``X`` to its nearest row of ``centers``.

    Tiles over the centres so that only ``n_samples x block_rows`` distances are
    held at a time.

    Returns
    -------
    d2 : ndarray of shape (n_samples,), float64
        ``inf`` when ``centers`` is empty.
    """
    n = X.shape[0]
    out = np.full(n, np.inf, dtype=np.float64)
    if centers.shape[0] == 0:
        return out
    if x_sq is None:
        x_sq = row_sq_norms(X)
    if block_rows is None:
        block_rows = block_rows_for(n, itemsize=X.dtype.itemsize)
    c_sq = row_sq_norms(centers)
    for sl in iter_row_blocks(centers.shape[0], block_rows):
        D = sq_dists_block(centers[sl], X, c_sq[sl], x_sq)
        np.minimum(out, D.min(axis=0), out=out)
    return out


def median_bandwidth(X: np.ndarray, *, n_sample: int = 2000, random_state=None) -> float:
    """Median heuristic: the median distance between distinct points of a sample.

    Used as the default kernel width of MaxHerding so that the kernel is never
    degenerate (the reference code crashes when no width is given).

    Returns
    -------
    sigma : float
        Positive; 1.0 when every sampled point coincides.
    """
    rng = check_random_state(random_state)
    n = X.shape[0]
    idx = rng.choice(n, size=min(n, n_sample), replace=False) if n > n_sample else np.arange(n)
    S = np.asarray(X[idx], dtype=np.float64)
    d2 = sq_dists_block(S, S)
    iu = np.triu_indices(S.shape[0], k=1)
    d = np.sqrt(d2[iu])
    d = d[d > 0]
    return float(np.median(d)) if d.size else 1.0


def sample_ball_sizes(Xn: np.ndarray, delta: float, rows: np.ndarray) -> tuple[np.ndarray, list]:
    """Exact δ-balls (``||x - y|| < delta``) of a few rows, by brute force.

    Parameters
    ----------
    Xn : ndarray of shape (n_samples, n_features)
        Unit-normalised embeddings.
    delta : float
    rows : ndarray of int
        The rows whose balls are computed.

    Returns
    -------
    sizes : ndarray of int64, shape (len(rows),)
    members : list of ndarray
        The sorted member indices of each ball.
    """
    from .strategies._screen import ScreenedTiles, exact_within

    Xn = np.ascontiguousarray(Xn, dtype=np.float32)
    rows = np.asarray(rows, dtype=np.int64)
    # Same proven screen as the graph build, so sampled balls are exact too.
    screen = ScreenedTiles(Xn, delta)
    zero = screen.zero_rows
    members = []
    step = max(1, block_rows_for(Xn.shape[0]))
    # One tile buffer for every block: a fresh 256 MB product per block would
    # be page-faulted in each time (about a third of the product's cost).
    buf = np.empty((min(step, rows.size), Xn.shape[0]), dtype=np.float32)
    for sl in iter_row_blocks(rows.size, step):
        r = rows[sl]
        S = np.matmul(Xn[r], Xn.T, out=buf[:r.size])
        if zero.size:
            S[:, zero] = screen.mid
            S[np.isin(r, zero)] = screen.mid
        S[np.arange(r.size), r] = 2.0  # every point is in its own ball
        # A flat index search and a divmod: NumPy's 2-D nonzero is several
        # times slower on wide tiles (10^6 columns).
        flat = np.flatnonzero(S > screen.lo)
        ii, jj = np.divmod(flat, S.shape[1])
        keep = S.ravel()[flat] > screen.hi
        del flat
        band = np.flatnonzero(~keep)
        if band.size:
            keep[band] = exact_within(Xn, r[ii[band]], jj[band], delta)
        ii, jj = ii[keep], jj[keep]
        members.extend(np.split(jj.astype(np.int64), np.searchsorted(ii, np.arange(1, r.size))))
    sizes = np.array([m.size for m in members], dtype=np.int64)
    return sizes, members


def estimate_graph_bytes(Xn: np.ndarray, delta: float, *, n_sample: int = 256,
                         random_state=None) -> tuple[float, int]:
    """Estimate the edge count and memory of the δ-ball graph from a row sample.

    Returns
    -------
    n_edges : float
        Estimated number of stored edges (self-loops included).
    n_bytes : int
        Estimated size of the CSR arrays (int32 indices, bool data, int64 indptr).
    """
    rng = check_random_state(random_state)
    n = Xn.shape[0]
    rows = rng.choice(n, size=min(n, n_sample), replace=False)
    sizes, _ = sample_ball_sizes(Xn, delta, rows)
    n_edges = float(sizes.mean()) * n
    return n_edges, int(n_edges * 5 + 8 * (n + 1))
