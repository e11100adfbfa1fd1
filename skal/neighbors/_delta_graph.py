"""The exact δ-ball graph of a pool, built tile by tile on the CPU or a torch device."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._validation import check_embeddings, check_positive
from . import _tiles
from ._ball_sizes import sample_ball_sizes
from ._sparse import _mirror_upper, _unpermute_upper, edge_flags
from ._tiles import block_rows_for, iter_row_blocks, unit_normalize


def delta_ball_graph(X: np.ndarray, delta: float, *, normalized: bool = False,
                     block_rows: int | None = None, device: str | None = None,
                     half: bool | str = "auto", expected_edges: float | None = None,
                     screen: str = "auto", prune: bool | str = False,
                     superset: sp.csr_matrix | None = None,
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
    superset : scipy.sparse.csr_matrix, optional
        A graph of the same pool known to hold every edge of this one,
        typically its δ-ball graph at a radius at least ``delta`` (the graph a
        strategy had before its δ shrank). Only the pairs it holds are
        compared (:class:`~skal.neighbors._subgraph.SupersetPlan`), in place of
        ``prune``; the result is exact when the superset really holds every
        edge. It is used when it saves at least 30 % of the products.
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
    # Checked before any work (the edge count below samples the pool).
    if superset is not None and (not sp.issparse(superset) or superset.shape != (n, n)):
        raise ValueError(f"superset must be a sparse ({n}, {n}) graph of the same pool, "
                         f"got {type(superset).__name__} of shape "
                         f"{getattr(superset, 'shape', None)}")
    if block_rows is None:
        # Host tiles of ~32 MiB are reused by the allocator from one tile to
        # the next (larger ones are mapped and unmapped each time: page faults),
        # and waste little of the upper triangle in the half build; devices
        # take the usual 256 MiB.
        block_rows = block_rows_for(n) if device is not None else \
            max(min(n, _tiles._MIN_TILE_ROWS), block_rows_for(n, tile_bytes=_tiles._HOST_TILE_BYTES))
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
    from ..strategies._screen import ScreenedTiles, have_fast_bf16

    if screen == "auto":
        screen = "bfloat16" if have_fast_bf16(device) else "float32"
    if screen not in ("float32", "bfloat16"):
        raise ValueError(f"screen must be 'auto', 'float32' or 'bfloat16', got {screen!r}")
    if prune not in (True, False, "auto"):
        raise ValueError(f"prune must be True, False or 'auto', got {prune!r}")
    plan = None
    if superset is not None:
        from ._subgraph import SupersetPlan

        plan = SupersetPlan(superset)
        if plan.visited_fraction() > _SUPERSET_MAX_VISITED:
            plan = None
        prune = False
    if prune is True or (prune == "auto" and half and n > _PRUNE_MIN):
        from ..strategies._prune import PrunePlan

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
# A superset plan that still computes more than this share of the half
# build's products is dropped: reordering and mapping back would cost more.
_SUPERSET_MAX_VISITED = 0.7


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
