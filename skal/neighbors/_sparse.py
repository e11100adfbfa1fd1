"""CSR helpers for graphs of 10^8 edges: chunked row sums, gathers, and assembly from upper triangles."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

# Edges handled per chunk by the chunked sparse helpers below: bounds their
# temporary arrays to a few tens of MB whatever the graph's size.
_EDGE_CHUNK = 1 << 22


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
